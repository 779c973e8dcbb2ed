/**
 * The change trigger: local commits notify it, and it fires once per burst,
 * within a bounded time of the first commit.
 *
 * @module
 */
import { type Clock, isClock, systemClock } from "./clock.ts";
import type { ScheduledTrigger } from "./triggers.ts";

/** Options of {@linkcode debounce}. */
export interface DebounceOptions {
  /**
   * The time source.
   * @default {systemClock}
   */
  clock?: Clock;
  /**
   * The longest a notification waits for its fire, in milliseconds; at least `windowMs`.
   * The default makes every notification fire within `windowMs`; a larger value waits for
   * a quiet `windowMs` (a burst ends) but no longer than this.
   * @default windowMs
   */
  maxWaitMs?: number;
}

/** A running change trigger, from {@linkcode debounce}. */
export interface Debouncer extends ScheduledTrigger {
  /** Reports a change: fires within the window unless one is already pending. Ignored after `stop()`. */
  notify(): void;
  /** Fires now if a fire is pending; otherwise does nothing. */
  flush(): void;
  /**
   * Whether a fire is pending.
   *
   * @returns `true` between a notification and its fire.
   */
  readonly pending: boolean;
}

/**
 * Coalesces change notifications into few fires: the first notification
 * starts a window; the fire comes `windowMs` after the last notification, but
 * never later than `maxWaitMs` after the first. With the default `maxWaitMs`
 * (= `windowMs`) a continuous storm fires once per window and every
 * notification fires within `windowMs`: a local commit starts a send within
 * the window. Notifications during `onFire` start a new window.
 *
 * One timer serves a whole burst (it is re-armed when it comes due early, not
 * on every notification), so 10,000 notifications cost 10,000 comparisons.
 *
 * @param windowMs The quiet time that ends a burst, in milliseconds (the change trigger uses
 *   about 1000).
 * @param options The options.
 * @param onFire Called with `"change"` once per burst.
 * @returns The change trigger.
 * @throws {RangeError} when `windowMs` is not a non-negative finite number or `maxWaitMs` is
 *   not a finite number ≥ `windowMs`.
 * @throws {TypeError} when `clock` is not a clock or `onFire` is not a function.
 *
 * @example Usage
 * ```ts
 * import { debounce } from "./debounce.ts";
 * const changes = debounce(1000, {}, (reason) => console.log(reason)); // "change", once
 * for (let i = 0; i < 10_000; i++) changes.notify();
 * changes.flush();
 * changes.stop();
 * ```
 */
export function debounce(
  windowMs: number,
  options: DebounceOptions,
  onFire: (reason: "change") => void,
): Debouncer {
  const { clock = systemClock, maxWaitMs = windowMs } = options ?? {};
  if (!isClock(clock)) {
    throw new TypeError(
      `Cannot create debounce as 'clock' must have now(), setTimeout() and clearTimeout(): current value is ${
        String(clock)
      }`,
    );
  }
  if (typeof windowMs !== "number" || !Number.isFinite(windowMs) || windowMs < 0) {
    throw new RangeError(
      `Cannot create debounce as 'windowMs' must be a non-negative finite number: current value is ${
        String(windowMs)
      }`,
    );
  }
  if (typeof maxWaitMs !== "number" || !Number.isFinite(maxWaitMs) || maxWaitMs < windowMs) {
    throw new RangeError(
      `Cannot create debounce as 'maxWaitMs' must be a finite number ≥ 'windowMs' (${windowMs}): current value is ${
        String(maxWaitMs)
      }`,
    );
  }
  if (typeof onFire !== "function") {
    throw new TypeError(
      `Cannot create debounce as 'onFire' must be a function: current value is ${String(onFire)}`,
    );
  }

  let stopped = false;
  let firstAt = 0;
  let dueAt: number | null = null;
  let handle: ReturnType<Clock["setTimeout"]> | null = null;

  const fire = (): void => {
    if (handle !== null) clock.clearTimeout(handle);
    handle = null;
    dueAt = null;
    onFire("change");
  };

  const tick = (): void => {
    handle = null;
    if (stopped || dueAt === null) return;
    const left = dueAt - clock.now();
    // More than maxWaitMs left means the wall clock was set back: the burst has waited its
    // window on the clock's timer already and must not wait for the wall clock to catch up.
    if (left > 0 && left <= maxWaitMs) handle = clock.setTimeout(tick, left);
    else fire();
  };

  return {
    notify(): void {
      if (stopped) return;
      const now = clock.now();
      if (dueAt === null) {
        firstAt = now;
        dueAt = now + windowMs;
        handle = clock.setTimeout(tick, windowMs);
      } else {
        dueAt = Math.max(dueAt, Math.min(now + windowMs, firstAt + maxWaitMs));
      }
    },
    flush(): void {
      if (!stopped && dueAt !== null) fire();
    },
    get pending(): boolean {
      return dueAt !== null;
    },
    nextRunAt: (): number | null => dueAt,
    stop(): void {
      if (stopped) return;
      stopped = true;
      dueAt = null;
      if (handle !== null) clock.clearTimeout(handle);
      handle = null;
    },
  };
}
