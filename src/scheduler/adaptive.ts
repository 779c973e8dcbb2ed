/**
 * Adaptive polling after upstream's React Native SDK: poll at a base
 * interval, slow down after empty syncs and after errors, return to the base
 * as soon as something changes; plus jitter.
 *
 * @module
 */

/**
 * How {@linkcode AdaptivePolling.nextDelay} randomises the interval:
 * - `"equal"`: uniform in [interval / 2, interval] (the default);
 * - `"full"`: uniform in [0, interval];
 * - `"none"`: exactly the interval, as upstream does.
 */
export type PollingJitter = "equal" | "full" | "none";

/** Options of {@linkcode AdaptivePolling}; the numbers default to upstream's. */
export interface AdaptivePollingOptions {
  /**
   * The interval while data moves, in milliseconds.
   * @default {5000}
   */
  baseIntervalMs?: number;
  /**
   * The longest interval, in milliseconds; at least `baseIntervalMs`.
   * @default {300000}
   */
  maxIntervalMs?: number;
  /**
   * Empty syncs in a row before polling slows down; a positive integer.
   * @default {5}
   */
  emptyThreshold?: number;
  /**
   * Growth per empty sync from the threshold on; at least 1.
   * @default {1.5}
   */
  idleBackoffMultiplier?: number;
  /**
   * Growth per error in a row; at least 1.
   * @default {2}
   */
  errorBackoffMultiplier?: number;
  /**
   * How {@linkcode AdaptivePolling.nextDelay} randomises the interval.
   * @default {"equal"}
   */
  jitter?: PollingJitter;
  /**
   * A source of numbers in [0, 1], for tests.
   * @default {Math.random}
   */
  random?: () => number;
}

/** What a successful sync moved, for {@linkcode AdaptivePolling.recordSuccess}. */
export interface SyncOutcome {
  /**
   * Rows the sync received and applied.
   * @default {0}
   */
  rowsReceived?: number;
  /**
   * Local changes the sync sent.
   * @default {0}
   */
  localChanges?: number;
}

const JITTERS: readonly PollingJitter[] = ["equal", "full", "none"];

function finiteAtLeast(name: string, value: unknown, min: number, strict: boolean): number {
  if (
    typeof value !== "number" || !Number.isFinite(value) || value < min ||
    (strict && value === min)
  ) {
    throw new RangeError(
      `Cannot create adaptive polling as '${name}' must be a finite number ${
        strict ? ">" : "≥"
      } ${min}: current value is ${String(value)}`,
    );
  }
  return value;
}

function count(method: string, name: string, value: unknown): number {
  if (!Number.isSafeInteger(value) || (value as number) < 0) {
    throw new RangeError(
      `Cannot record ${method} as '${name}' must be a non-negative integer: current value is ${
        String(value)
      }`,
    );
  }
  return value as number;
}

/**
 * The polling state machine: counts empty syncs and errors in a row and turns
 * them into the next polling delay.
 *
 * Errors win: with `e` errors in a row the interval is `base × 2^e`. Otherwise,
 * once `n` empty syncs in a row reach the threshold `t`, it is
 * `base × 1.5^(n − t + 1)`. Both are capped at `maxIntervalMs`. Rows received
 * or local changes sent reset the interval to the base, and so does a local
 * change reported between syncs ({@linkcode AdaptivePolling.recordLocalChange}),
 * except that it keeps the error count: a local write does not make a failing
 * server healthy, and polling it at the base interval would hammer it.
 *
 * @example Usage
 * ```ts
 * import { AdaptivePolling } from "./adaptive.ts";
 * const polling = new AdaptivePolling({ jitter: "none" });
 * for (let i = 0; i < 5; i++) polling.recordSuccess({ rowsReceived: 0, localChanges: 0 });
 * console.log(polling.interval); // 7500
 * polling.recordError();
 * console.log(polling.interval); // 10000
 * polling.recordSuccess({ rowsReceived: 3, localChanges: 0 });
 * console.log(polling.interval); // 5000
 * ```
 */
export class AdaptivePolling {
  #base: number;
  #max: number;
  #threshold: number;
  #idle: number;
  #error: number;
  #jitter: PollingJitter;
  #random: () => number;
  #empties = 0;
  #errors = 0;

  /**
   * Creates the state machine at the base interval.
   *
   * @param options The options.
   * @throws {RangeError} when a number is out of range (`baseIntervalMs` ≤ 0, `maxIntervalMs` <
   *   `baseIntervalMs`, a multiplier < 1, `emptyThreshold` not a positive integer).
   * @throws {TypeError} when `jitter` is not `"equal"`, `"full"` or `"none"`, or `random` is not
   *   a function.
   */
  constructor(options: AdaptivePollingOptions = {}) {
    const {
      baseIntervalMs = 5000,
      maxIntervalMs = 300_000,
      emptyThreshold = 5,
      idleBackoffMultiplier = 1.5,
      errorBackoffMultiplier = 2,
      jitter = "equal",
      random = Math.random,
    } = options;
    this.#base = finiteAtLeast("baseIntervalMs", baseIntervalMs, 0, true);
    this.#max = finiteAtLeast("maxIntervalMs", maxIntervalMs, baseIntervalMs, false);
    if (!Number.isSafeInteger(emptyThreshold) || emptyThreshold < 1) {
      throw new RangeError(
        `Cannot create adaptive polling as 'emptyThreshold' must be a positive integer: current value is ${
          String(emptyThreshold)
        }`,
      );
    }
    this.#threshold = emptyThreshold;
    this.#idle = finiteAtLeast("idleBackoffMultiplier", idleBackoffMultiplier, 1, false);
    this.#error = finiteAtLeast("errorBackoffMultiplier", errorBackoffMultiplier, 1, false);
    if (!JITTERS.includes(jitter)) {
      throw new TypeError(
        `Cannot create adaptive polling as 'jitter' must be "equal", "full" or "none": current value is ${
          String(jitter)
        }`,
      );
    }
    this.#jitter = jitter;
    if (typeof random !== "function") {
      throw new TypeError(
        `Cannot create adaptive polling as 'random' must be a function: current value is ${
          String(random)
        }`,
      );
    }
    this.#random = random;
  }

  /**
   * The interval while data moves, in milliseconds (the option, or its default).
   *
   * @returns The base interval.
   */
  get baseIntervalMs(): number {
    return this.#base;
  }

  /**
   * The longest interval, in milliseconds (the option, or its default).
   *
   * @returns The maximum interval.
   */
  get maxIntervalMs(): number {
    return this.#max;
  }

  /**
   * Successful syncs in a row that received no rows and sent no local changes.
   *
   * @returns The count.
   */
  get consecutiveEmpty(): number {
    return this.#empties;
  }

  /**
   * Failed syncs in a row.
   *
   * @returns The count.
   */
  get consecutiveErrors(): number {
    return this.#errors;
  }

  /**
   * The current interval before jitter, in milliseconds (what `status()` reports).
   *
   * @returns A number in [baseIntervalMs, maxIntervalMs].
   */
  get interval(): number {
    // Infinity (a huge count) falls to the cap; multipliers ≥ 1 never give NaN.
    if (this.#errors > 0) return Math.min(this.#max, this.#base * this.#error ** this.#errors);
    if (this.#empties >= this.#threshold) {
      return Math.min(this.#max, this.#base * this.#idle ** (this.#empties - this.#threshold + 1));
    }
    return this.#base;
  }

  /**
   * The delay before the next poll: {@linkcode AdaptivePolling.interval} with jitter.
   *
   * Why equal jitter by default: full jitter draws from [0, interval], so at the
   * 5 s base clients would poll every 2.5 s on average (twice upstream's rate) and
   * one poll in ten would follow the previous one within 0.5 s, for nothing. Its
   * advantage, spreading a herd of clients over the whole window after a shared
   * outage, belongs to retries, and retries use `retryDelay()` with full jitter.
   * Equal jitter draws from [interval / 2, interval]: data is never staler than
   * the interval (upstream's promise), polls are never closer than half of it,
   * and clients still drift apart by up to half an interval per poll.
   *
   * @returns Milliseconds: in [interval / 2, interval] (`"equal"`), [0, interval] (`"full"`)
   *   or exactly the interval (`"none"`); not rounded.
   * @throws {RangeError} when `random()` returns a number outside [0, 1].
   */
  nextDelay(): number {
    const interval = this.interval;
    if (this.#jitter === "none") return interval;
    const r = this.#random();
    if (typeof r !== "number" || !(r >= 0 && r <= 1)) {
      throw new RangeError(
        `Cannot compute polling delay as 'random()' must return a number in [0, 1]: current value is ${
          String(r)
        }`,
      );
    }
    return this.#jitter === "full" ? r * interval : interval / 2 + r * (interval / 2);
  }

  /**
   * Records a successful sync. Rows received or local changes sent reset the
   * interval to the base; otherwise the sync counts as empty. Either way the
   * error count goes back to 0.
   *
   * @param outcome What the sync moved.
   * @throws {RangeError} when a count is not a non-negative integer.
   */
  recordSuccess(outcome: SyncOutcome = {}): void {
    const { rowsReceived = 0, localChanges = 0 } = outcome;
    count("success", "rowsReceived", rowsReceived);
    count("success", "localChanges", localChanges);
    this.#errors = 0;
    this.#empties = rowsReceived > 0 || localChanges > 0 ? 0 : this.#empties + 1;
  }

  /** Records a failed sync: one more error in a row (the empty count is kept). */
  recordError(): void {
    this.#errors++;
  }

  /**
   * Records a local change between syncs: back to the base interval unless
   * errors are in a row (they keep their backoff until a sync succeeds).
   */
  recordLocalChange(): void {
    this.#empties = 0;
  }

  /** Forgets every count: back to the base interval (new credentials, `syncNow()`). */
  reset(): void {
    this.#empties = 0;
    this.#errors = 0;
  }
}
