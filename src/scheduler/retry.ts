/**
 * The whole retry decision of the scheduler, in one place:
 *
 * - **How long to wait:** exponential backoff with a cap and full jitter
 *   ({@linkcode retryDelay}, {@linkcode nextRetry}); a {@linkcode RetryPolicy}
 *   may turn jitter off.
 * - **Whether to retry at all:** a failure is permanent
 *   ({@linkcode FailurePolicy}, {@linkcode PermanentReason}) or the job used
 *   its attempts ({@linkcode deadLetterReason}, `max_attempts_exceeded`).
 * - **What the queue records:** {@linkcode failureDisposition} turns a verdict
 *   into a retry time or a dead-letter reason (`permanent:<reason>`).
 *
 * `SyncService` retries syncs with it; the queue asks it in its transactions
 * whether a job has used its attempts; the daemon retries a database whose
 * service cannot start with it (its own policy, without jitter).
 *
 * Retrying a permanent failure only hammers the server: a refused credential,
 * a schema the peers do not share, or (in 1.1.4) a received change this
 * replica cannot apply, which stops every later receive at the same
 * checkpoint until someone fixes the cause.
 *
 * @module
 */
import type { SqliteSyncErrorKind } from "../../common/errors.ts";
import type { SyncResult } from "../../common/sync_result.ts";

/** How retries are spaced. */
export interface RetryPolicy {
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
   * `full`: a random delay up to the ceiling (clients that failed together
   * spread out); `none`: the ceiling itself (one process, nobody to spread).
   * @default {"full"}
   */
  jitter?: "full" | "none";
  /**
   * A source of numbers in [0, 1], for tests.
   * @default {Math.random}
   */
  random?: () => number;
}

/** The dead-letter reason of a job that used its `maxAttempts` claims. */
export const MAX_ATTEMPTS_EXCEEDED = "max_attempts_exceeded";

/** Claims a job gets before {@linkcode MAX_ATTEMPTS_EXCEEDED}, unless configured. */
export const DEFAULT_MAX_ATTEMPTS = 10;

function rangeError(name: string, rule: string, value: unknown): RangeError {
  return new RangeError(
    `Cannot compute retry delay as '${name}' must be ${rule}: current value is ${String(value)}`,
  );
}

/**
 * The delay before a retry: exponential backoff with a cap and full jitter,
 * `random() × min(capMs, baseMs × factor^attempt)` (without jitter, the
 * ceiling itself).
 *
 * Full jitter spreads clients that failed together (a server outage) over the
 * whole window instead of sending them back in lockstep. The ceiling is
 * computed without overflow: any attempt past the cap, however large, gives
 * the cap.
 *
 * @param attempt Retries already made for this job: 0 before the first retry.
 * @param policy The policy.
 * @returns The delay in milliseconds, in [0, min(capMs, baseMs × factor^attempt)]; not rounded.
 * @throws {RangeError} when `attempt` is not a non-negative integer, an option is out of range
 *   (`baseMs` ≤ 0, `capMs` < `baseMs`, `factor` < 1, not finite, an unknown `jitter`) or
 *   `random()` returns a number outside [0, 1].
 * @throws {TypeError} when `random` is not a function.
 *
 * @example Usage
 * ```ts
 * import { retryDelay } from "./retry.ts";
 * console.log(retryDelay(0, { random: () => 1 })); // 1000
 * console.log(retryDelay(3, { random: () => 0.5 })); // 4000
 * console.log(retryDelay(3, { jitter: "none" })); // 8000
 * console.log(retryDelay(50)); // somewhere in [0, 300000]
 * ```
 */
export function retryDelay(attempt: number, policy: RetryPolicy = {}): number {
  const { baseMs = 1000, capMs = 300_000, factor = 2, jitter = "full", random = Math.random } =
    policy;
  if (!Number.isSafeInteger(attempt) || attempt < 0) {
    throw rangeError("attempt", "a non-negative integer", attempt);
  }
  if (typeof baseMs !== "number" || !Number.isFinite(baseMs) || baseMs <= 0) {
    throw rangeError("baseMs", "a positive finite number", baseMs);
  }
  if (typeof capMs !== "number" || !Number.isFinite(capMs) || capMs < baseMs) {
    throw rangeError("capMs", `a finite number ≥ 'baseMs' (${baseMs})`, capMs);
  }
  if (typeof factor !== "number" || !Number.isFinite(factor) || factor < 1) {
    throw rangeError("factor", "a finite number ≥ 1", factor);
  }
  if (jitter !== "full" && jitter !== "none") {
    throw rangeError("jitter", `"full" or "none"`, JSON.stringify(jitter));
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
  if (jitter === "none") return ceiling;
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

/**
 * How long to wait after the `failures`-th failed attempt in a row, in whole
 * milliseconds: the first failure waits up to `baseMs`, each next one up to
 * `factor` times longer, never more than `capMs`.
 *
 * @param failures Failed attempts so far, this one included (≥ 1).
 * @param policy The policy.
 * @returns The wait in ms, rounded.
 * @throws {RangeError} when `failures` is not a positive integer, or as {@linkcode retryDelay}.
 *
 * @example Usage
 * ```ts
 * import { nextRetry } from "./retry.ts";
 * const daemonStart = { baseMs: 5000, capMs: 300_000, jitter: "none" } as const;
 * console.log([1, 2, 3, 8].map((n) => nextRetry(n, daemonStart))); // [5000, 10000, 20000, 300000]
 * ```
 */
export function nextRetry(failures: number, policy: RetryPolicy = {}): number {
  if (!Number.isSafeInteger(failures) || failures < 1) {
    throw rangeError("failures", "a positive integer", failures);
  }
  return Math.round(retryDelay(failures - 1, policy));
}

/**
 * Whether a job that was claimed `attempts` times must be dead-lettered
 * rather than retried, and with which reason. The queue asks this in the
 * transaction that records a failed or lost run.
 *
 * @param attempts Claims of the job so far, the failed one included.
 * @param maxAttempts The queue's limit.
 * @returns {@linkcode MAX_ATTEMPTS_EXCEEDED} when the attempts are used up, else `undefined`.
 *
 * @example Usage
 * ```ts
 * import { deadLetterReason } from "./retry.ts";
 * console.log(deadLetterReason(9, 10), deadLetterReason(10, 10)); // undefined "max_attempts_exceeded"
 * ```
 */
export function deadLetterReason(attempts: number, maxAttempts: number): string | undefined {
  return attempts >= maxAttempts ? MAX_ATTEMPTS_EXCEEDED : undefined;
}

/** Why a failure is permanent. */
export type PermanentReason =
  /** The server refused the credentials, also after one token refresh. */
  | "auth"
  /** The local schema cannot be synced as it is. */
  | "schema"
  /** A received payload carries a schema hash this replica does not know. */
  | "unknown-schema-hash"
  /** The same receive error came back on consecutive syncs. */
  | "receive-error-repeats";

/** A failed sync, as the service sees it. */
export interface SyncFailure {
  /** The error kind. */
  kind: SqliteSyncErrorKind;
  /** The (already redacted) message. */
  message: string;
  /** The HTTP status, when there was one. */
  status?: number;
  /** What the sync achieved before failing. */
  partial?: SyncResult;
}

/** The verdict on one failure. */
export type FailureVerdict =
  | { permanent: false }
  | { permanent: true; reason: PermanentReason };

/**
 * What the queue records for a failed sync: dead-letter a permanent failure
 * at once as `permanent:<reason>`, else retry at once after a token refresh
 * or after {@linkcode nextRetry}'s wait. (The queue still dead-letters a
 * retry of a job that used its attempts: {@linkcode deadLetterReason}.)
 *
 * @param verdict The {@linkcode FailurePolicy} verdict.
 * @param context The job's attempts (this claim included), the time, whether a fresh token
 *   was fetched, and the policy.
 * @returns `{ dead }` or `{ retryAt }`, as `SyncQueue.fail` takes it.
 *
 * @example Usage
 * ```ts
 * import { failureDisposition } from "./retry.ts";
 * const policy = { baseMs: 1000, jitter: "none" } as const;
 * console.log(failureDisposition({ permanent: false }, { attempts: 2, now: 0, policy })); // { retryAt: 2000 }
 * console.log(failureDisposition({ permanent: true, reason: "auth" }, { attempts: 1, now: 0 }));
 * // { dead: "permanent:auth" }
 * ```
 */
export function failureDisposition(
  verdict: FailureVerdict,
  context: { attempts: number; now: number; refreshed?: boolean; policy?: RetryPolicy },
): { dead: string } | { retryAt: number } {
  if (verdict.permanent) return { dead: `permanent:${verdict.reason}` };
  if (context.refreshed === true) return { retryAt: context.now };
  return { retryAt: context.now + nextRetry(Math.max(1, context.attempts), context.policy) };
}

const SCHEMA_HASH = /schema hash is unknown/i;

/**
 * The receive error carried by a result or a failure, if any (1.1.4 reports
 * an apply failure as `receive.error`, with the sync otherwise "successful").
 *
 * @param outcome A sync result or failure.
 * @returns The receive error text, or `undefined`.
 *
 * @example Usage
 * ```ts
 * import { receiveErrorOf } from "./retry.ts";
 * console.log(receiveErrorOf({ kind: "offline", message: "refused" })); // undefined
 * ```
 */
export function receiveErrorOf(outcome: SyncResult | SyncFailure): string | undefined {
  const result = "kind" in outcome ? outcome.partial : outcome;
  const error = result?.receive.error;
  // "receive failed" is 1.1.4's marker for a transport error during receive, not an apply error.
  return error === undefined || error === "receive failed" ? undefined : error;
}

/**
 * Tracks consecutive outcomes and says when a failure is permanent.
 *
 * @example Usage
 * ```ts
 * import { FailurePolicy } from "./retry.ts";
 * const policy = new FailurePolicy();
 * console.log(policy.judge({ kind: "offline", message: "refused" })); // { permanent: false }
 * console.log(policy.judge({ kind: "schema", message: "bad pk" })); // { permanent: true, reason: "schema" }
 * ```
 */
export class FailurePolicy {
  #lastReceiveError: string | undefined;

  /**
   * Judges one failure. `auth` is judged permanent here only when the caller
   * already tried a token refresh (`authRefreshed`), or has no way to refresh.
   *
   * @param failure The failure.
   * @param options `canRefreshAuth`: a new token could still be fetched.
   * @returns Whether to stop retrying, and why.
   */
  judge(failure: SyncFailure, options: { canRefreshAuth?: boolean } = {}): FailureVerdict {
    if (failure.kind === "auth") {
      return options.canRefreshAuth ? { permanent: false } : { permanent: true, reason: "auth" };
    }
    if (failure.kind === "schema") return { permanent: true, reason: "schema" };
    if (SCHEMA_HASH.test(failure.message)) {
      return { permanent: true, reason: "unknown-schema-hash" };
    }
    return this.#receiveError(receiveErrorOf(failure));
  }

  /**
   * Judges a sync that returned a result: permanent when its receive error
   * is a schema-hash error or repeats the previous sync's.
   *
   * @param result The result.
   * @returns The verdict; `{ permanent: false }` also for a clean result.
   */
  judgeResult(result: SyncResult): FailureVerdict {
    return this.#receiveError(receiveErrorOf(result));
  }

  /** Forgets the remembered receive error (a fix was applied, or the user asked to retry). */
  reset(): void {
    this.#lastReceiveError = undefined;
  }

  #receiveError(error: string | undefined): FailureVerdict {
    const previous = this.#lastReceiveError;
    this.#lastReceiveError = error;
    if (error === undefined) return { permanent: false };
    if (SCHEMA_HASH.test(error)) return { permanent: true, reason: "unknown-schema-hash" };
    return error === previous
      ? { permanent: true, reason: "receive-error-repeats" }
      : { permanent: false };
  }
}
