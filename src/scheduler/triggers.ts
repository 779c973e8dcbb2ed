/**
 * What every trigger of the sync service shares (why it fired, how it stops),
 * and the simplest trigger: a fixed interval.
 *
 * @module
 */
import { type Clock, isClock, systemClock } from "./clock.ts";

/** Why a sync was requested. */
export type TriggerReason =
  /** A cron expression matched. */
  | "cron"
  /** A fixed interval elapsed. */
  | "interval"
  /** The adaptive polling delay elapsed. */
  | "adaptive"
  /** A local commit (debounced). */
  | "change"
  /** `syncNow()`. */
  | "manual"
  /** The service started. */
  | "startup"
  /** A failed sync's backoff elapsed. */
  | "retry"
  /** The one probe allowed while a permanent error stands. */
  | "probe";

/** A callback that receives why a trigger fired. */
export type TriggerCallback = (reason: TriggerReason) => void;

/** A running trigger. */
export interface Trigger {
  /** Stops the trigger: it never fires again. Calling it twice does nothing. */
  stop(): void;
}

/** A trigger that knows when it fires next. */
export interface ScheduledTrigger extends Trigger {
  /**
   * When the trigger fires next, for `status().nextRunAt`.
   *
   * @returns Milliseconds since the epoch (clock time), or `null` when stopped or when no run
   *   is left.
   */
  nextRunAt(): number | null;
}

/** Options of {@linkcode intervalTrigger}. */
export interface IntervalTriggerOptions {
  /**
   * The time source.
   * @default {systemClock}
   */
  clock?: Clock;
}

/**
 * Fires every `ms` milliseconds, first `ms` after the call.
 *
 * Runs keep to their grid when a timer is a little late; a run more than a
 * whole interval late (a machine that slept) fires once, not once per missed
 * interval, and the next one follows a full interval later. The next run is
 * scheduled before `onFire` is called, so a callback that throws does not end
 * the schedule, and one that calls `stop()` does.
 *
 * @param ms The interval in milliseconds.
 * @param options The options.
 * @param onFire Called with `"interval"` on every run.
 * @returns The running trigger.
 * @throws {RangeError} when `ms` is not a positive finite number.
 * @throws {TypeError} when `clock` is not a clock or `onFire` is not a function.
 *
 * @example Usage
 * ```ts
 * import { intervalTrigger } from "./triggers.ts";
 * const trigger = intervalTrigger(30_000, {}, (reason) => console.log(reason)); // "interval"
 * console.log(trigger.nextRunAt()! > Date.now()); // true
 * trigger.stop();
 * ```
 */
export function intervalTrigger(
  ms: number,
  options: IntervalTriggerOptions,
  onFire: (reason: "interval") => void,
): ScheduledTrigger {
  const { clock = systemClock } = options ?? {};
  if (!isClock(clock)) {
    throw new TypeError(
      `Cannot create interval trigger as 'clock' must have now(), setTimeout() and clearTimeout(): current value is ${
        String(clock)
      }`,
    );
  }
  if (typeof ms !== "number" || !Number.isFinite(ms) || ms <= 0) {
    throw new RangeError(
      `Cannot create interval trigger as 'ms' must be a positive finite number: current value is ${
        String(ms)
      }`,
    );
  }
  if (typeof onFire !== "function") {
    throw new TypeError(
      `Cannot create interval trigger as 'onFire' must be a function: current value is ${
        String(onFire)
      }`,
    );
  }

  let dueAt: number | null = clock.now() + ms;
  let handle = clock.setTimeout(tick, ms);

  function tick(): void {
    if (dueAt === null) return;
    const now = clock.now();
    // The clock said `ms` elapsed. A little late: keep the grid. Early by the wall clock (it was
    // set back) or a whole interval late (the machine slept): start a fresh interval from now.
    const late = now - dueAt;
    const delay = late >= 0 && late < ms ? ms - late : ms;
    dueAt = now + delay;
    handle = clock.setTimeout(tick, delay);
    onFire("interval");
  }

  return {
    stop(): void {
      if (dueAt === null) return;
      dueAt = null;
      clock.clearTimeout(handle);
    },
    nextRunAt: (): number | null => dueAt,
  };
}
