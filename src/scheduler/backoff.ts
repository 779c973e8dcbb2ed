/**
 * Retry delays: exponential backoff with full jitter and a cap.
 *
 * @module
 */

/** Options of {@linkcode retryDelay}. */
export interface RetryDelayOptions {
  /**
   * The ceiling of the first retry's delay, in milliseconds.
   * @default {1000}
   */
  baseMs?: number;
  /**
   * The largest delay, in milliseconds; at least `baseMs`.
   * @default {300000}
   */
  capMs?: number;
  /**
   * How much the ceiling grows per attempt; at least 1.
   * @default {2}
   */
  factor?: number;
  /**
   * A source of numbers in [0, 1], for tests.
   * @default {Math.random}
   */
  random?: () => number;
}

/**
 * The delay before a retry: exponential backoff with full jitter and a cap,
 * `random() × min(capMs, baseMs × factor^attempt)`.
 *
 * Full jitter spreads clients that failed together (a server outage) over the
 * whole window instead of sending them back in lockstep. The ceiling is
 * computed without overflow: any attempt past the cap, however large, gives
 * the cap.
 *
 * @param attempt Retries already made for this job: 0 before the first retry.
 * @param options The options.
 * @returns The delay in milliseconds, in [0, min(capMs, baseMs × factor^attempt)]; not rounded.
 * @throws {RangeError} when `attempt` is not a non-negative integer, an option is out of range
 *   (`baseMs` ≤ 0, `capMs` < `baseMs`, `factor` < 1, not finite) or `random()` returns a number
 *   outside [0, 1].
 * @throws {TypeError} when `random` is not a function.
 *
 * @example Usage
 * ```ts
 * import { retryDelay } from "./backoff.ts";
 * console.log(retryDelay(0, { random: () => 1 })); // 1000
 * console.log(retryDelay(3, { random: () => 0.5 })); // 4000
 * console.log(retryDelay(50)); // somewhere in [0, 300000]
 * ```
 */
export function retryDelay(attempt: number, options: RetryDelayOptions = {}): number {
  const { baseMs = 1000, capMs = 300_000, factor = 2, random = Math.random } = options;
  if (!Number.isSafeInteger(attempt) || attempt < 0) {
    throw new RangeError(
      `Cannot compute retry delay as 'attempt' must be a non-negative integer: current value is ${
        String(attempt)
      }`,
    );
  }
  if (typeof baseMs !== "number" || !Number.isFinite(baseMs) || baseMs <= 0) {
    throw new RangeError(
      `Cannot compute retry delay as 'baseMs' must be a positive finite number: current value is ${
        String(baseMs)
      }`,
    );
  }
  if (typeof capMs !== "number" || !Number.isFinite(capMs) || capMs < baseMs) {
    throw new RangeError(
      `Cannot compute retry delay as 'capMs' must be a finite number ≥ 'baseMs' (${baseMs}): current value is ${
        String(capMs)
      }`,
    );
  }
  if (typeof factor !== "number" || !Number.isFinite(factor) || factor < 1) {
    throw new RangeError(
      `Cannot compute retry delay as 'factor' must be a finite number ≥ 1: current value is ${
        String(factor)
      }`,
    );
  }
  if (typeof random !== "function") {
    throw new TypeError(
      `Cannot compute retry delay as 'random' must be a function: current value is ${
        String(random)
      }`,
    );
  }
  // baseMs > 0 and factor ≥ 1, so the product is never NaN; Infinity falls to the cap.
  const ceiling = Math.min(capMs, baseMs * factor ** attempt);
  const r = random();
  if (typeof r !== "number" || !(r >= 0 && r <= 1)) {
    throw new RangeError(
      `Cannot compute retry delay as 'random()' must return a number in [0, 1]: current value is ${
        String(r)
      }`,
    );
  }
  return r * ceiling;
}
