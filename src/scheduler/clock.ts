/**
 * The time source every scheduling piece takes as an option: real timers in
 * production ({@linkcode systemClock}), a fake clock in tests.
 *
 * @module
 */
import { clearTimeout as clearHostTimeout, setTimeout as setHostTimeout } from "node:timers";

/** An opaque handle to a pending timer; only the clock that returned it can cancel it. */
export type TimerHandle = object;

/**
 * A source of time and timers. Every scheduler in this library takes one, so
 * tests can drive schedules with a fake clock instead of sleeping.
 */
export interface Clock {
  /**
   * The wall-clock time.
   *
   * @returns Milliseconds since the epoch.
   */
  now(): number;
  /**
   * Calls `fn` once, after `ms` milliseconds. A clock may call it late (a machine that
   * slept) or, when the wall clock was set back, before `now()` has advanced by `ms`:
   * callers that need a wall-clock instant check `now()` when called and re-arm.
   *
   * @param fn The callback.
   * @param ms The delay in milliseconds; negative values count as 0.
   * @returns A handle for {@linkcode Clock.clearTimeout}.
   */
  setTimeout(fn: () => void, ms: number): TimerHandle;
  /**
   * Cancels a pending timer. Unknown, fired or already cleared handles are ignored.
   *
   * @param handle A handle returned by this clock's `setTimeout`.
   */
  clearTimeout(handle: TimerHandle): void;
}

/** The runtime calls a system clock is built on; a seam for tests of the clock itself. */
export interface TimerHost {
  /**
   * The wall-clock time.
   *
   * @returns Milliseconds since the epoch.
   */
  now(): number;
  /**
   * A clock that only moves forward (it may stand still while the machine sleeps).
   *
   * @returns Milliseconds from an arbitrary origin.
   */
  monotonic(): number;
  /**
   * Starts a one-shot timer.
   *
   * @param fn The callback.
   * @param ms The delay in milliseconds, at most `maxWaitMs`.
   * @returns The runtime's timer; its `unref()` is called when it has one and `unref` is set.
   */
  setTimeout(fn: () => void, ms: number): unknown;
  /**
   * Cancels a timer returned by `setTimeout`.
   *
   * @param timer The runtime's timer.
   */
  clearTimeout(timer: unknown): void;
}

/** Options of {@linkcode createSystemClock}. */
export interface SystemClockOptions {
  /**
   * Whether pending timers let the process exit (`timer.unref()`, where the runtime's
   * timers have it). A service that must keep a script alive on its own sets `false`.
   * @default {true}
   */
  unref?: boolean;
  /**
   * The longest single wait, in milliseconds; longer delays are split and re-checked.
   * @default {30000}
   */
  maxWaitMs?: number;
  /**
   * The runtime calls to use.
   * @default `Date.now`, `performance.now` and the timers of `node:timers`
   */
  host?: TimerHost;
}

const NODE_TIMERS: TimerHost = {
  now: () => Date.now(),
  monotonic: () => performance.now(),
  // node:timers, not the global: Deno's global setTimeout returns a number with no unref(),
  // its node:timers returns a Timeout whose unref() works (as in Node and Bun).
  setTimeout: (fn, ms) => setHostTimeout(fn, ms),
  clearTimeout: (timer) => clearHostTimeout(timer as Parameters<typeof clearHostTimeout>[0]),
};

/** Timers created by system clocks, with the runtime timer currently armed. */
const armed = new WeakMap<TimerHandle, { timer: unknown; host: TimerHost }>();

/**
 * Creates a clock backed by the runtime's timers.
 *
 * No single wait is longer than `maxWaitMs` (30 s by default): a long delay is
 * split and re-checked against both the wall clock and a monotonic clock, and
 * the timer fires as soon as either says the delay has passed. So a timer
 * never overflows (runtimes cap delays at about 24.8 days), a machine that
 * slept fires its overdue timers within `maxWaitMs` of waking (monotonic
 * clocks may stand still during sleep), and a wall clock set back never
 * stretches a wait.
 *
 * @param options The options.
 * @returns A clock using real timers.
 * @throws {TypeError} when `unref` is not a boolean or `host` lacks a method.
 * @throws {RangeError} when `maxWaitMs` is not a positive finite number.
 *
 * @example Usage
 * ```ts
 * import { createSystemClock } from "./clock.ts";
 * const clock = createSystemClock({ unref: false });
 * const handle = clock.setTimeout(() => console.log("never printed"), 10_000);
 * clock.clearTimeout(handle);
 * ```
 */
export function createSystemClock(options: SystemClockOptions = {}): Clock {
  const { unref = true, maxWaitMs = 30_000, host = NODE_TIMERS } = options;
  if (typeof unref !== "boolean") {
    throw new TypeError(
      `Cannot create system clock as 'unref' must be a boolean: current value is ${String(unref)}`,
    );
  }
  if (typeof maxWaitMs !== "number" || !Number.isFinite(maxWaitMs) || maxWaitMs <= 0) {
    throw new RangeError(
      `Cannot create system clock as 'maxWaitMs' must be a positive finite number: current value is ${
        String(maxWaitMs)
      }`,
    );
  }
  for (const name of ["now", "monotonic", "setTimeout", "clearTimeout"] as const) {
    if (typeof host?.[name] !== "function") {
      throw new TypeError(
        `Cannot create system clock as 'host.${name}' must be a function: current value is ${
          String(host?.[name])
        }`,
      );
    }
  }

  const start = (handle: TimerHandle, fn: () => void, ms: number): void => {
    const wallDue = host.now() + ms;
    const monoDue = host.monotonic() + ms;
    const arm = (wait: number): void => {
      const timer = host.setTimeout(tick, Math.min(wait, maxWaitMs));
      if (unref) (timer as { unref?: () => unknown } | null)?.unref?.();
      armed.set(handle, { timer, host });
    };
    const tick = (): void => {
      if (!armed.has(handle)) return;
      const left = Math.min(wallDue - host.now(), monoDue - host.monotonic());
      if (left > 0) return arm(left);
      armed.delete(handle);
      fn();
    };
    arm(ms);
  };

  return {
    now: () => host.now(),
    setTimeout(fn: () => void, ms: number): TimerHandle {
      if (typeof fn !== "function") {
        throw new TypeError(
          `Cannot set timeout as 'fn' must be a function: current value is ${String(fn)}`,
        );
      }
      if (typeof ms !== "number" || Number.isNaN(ms) || ms === Infinity) {
        throw new RangeError(
          `Cannot set timeout as 'ms' must be a finite number: current value is ${String(ms)}`,
        );
      }
      const handle: TimerHandle = {};
      start(handle, fn, Math.max(0, ms));
      return handle;
    },
    clearTimeout(handle: TimerHandle): void {
      const entry = armed.get(handle);
      if (entry === undefined) return;
      armed.delete(handle);
      entry.host.clearTimeout(entry.timer);
    },
  };
}

/**
 * Whether a value has the methods of a {@linkcode Clock}, for validating options.
 *
 * @param value The candidate.
 * @returns `true` when it has `now`, `setTimeout` and `clearTimeout` methods.
 *
 * @example Usage
 * ```ts
 * import { isClock, systemClock } from "./clock.ts";
 * console.log(isClock(systemClock)); // true
 * console.log(isClock({ now: Date.now })); // false
 * ```
 */
export function isClock(value: unknown): value is Clock {
  const c = value as Partial<Clock> | null;
  return typeof c === "object" && c !== null && typeof c.now === "function" &&
    typeof c.setTimeout === "function" && typeof c.clearTimeout === "function";
}

/**
 * The real clock: `Date.now()` and runtime timers, each wait capped at 30 s and
 * re-checked, timers `unref`'d so that they never keep a process alive on
 * their own. See {@linkcode createSystemClock}.
 *
 * @example Usage
 * ```ts
 * import { systemClock } from "./clock.ts";
 * const handle = systemClock.setTimeout(() => console.log("tick"), 5);
 * systemClock.clearTimeout(handle);
 * console.log(systemClock.now() > 0); // true
 * ```
 */
export const systemClock: Clock = createSystemClock();
