/**
 * Which sync failures are worth retrying. Retrying a permanent failure only
 * hammers the server: a refused credential, a schema the peers do not share,
 * or (in 1.1.4) a received change this replica cannot apply, which stops every
 * later receive at the same checkpoint until someone fixes the cause.
 *
 * @module
 */
import type { SqliteSyncErrorKind } from "../../common/errors.ts";
import type { SyncResult } from "../../common/sync_result.ts";

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
 * import { receiveErrorOf } from "./failure_policy.ts";
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
 * import { FailurePolicy } from "./failure_policy.ts";
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
