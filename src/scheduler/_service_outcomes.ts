/**
 * What a finished sync leaves behind in a `SyncService`: the job's fate in the
 * queue (done, retried, dead-lettered), the permanent-failure bookkeeping, the
 * state, the status counters and totals, and the events that report them.
 *
 * @module
 */
import { SqliteSyncError } from "../../common/errors.ts";
import type { SyncResult } from "../../common/sync_result.ts";
import type { AdaptivePolling } from "./adaptive.ts";
import type { JobError, JobRun, SyncQueue } from "./queue.ts";
import { failureDisposition, FailurePolicy } from "./retry.ts";
import type { ServiceSettings } from "./service_options.ts";
import type {
  AttemptOutcome,
  ServiceEvents,
  SyncAttempt,
  SyncErrorSummary,
  SyncServiceState,
  SyncServiceStatus,
  SyncTotals,
} from "./status.ts";
import type { TokenSource } from "./token.ts";

const OFFLINE_KINDS = new Set(["offline", "timeout"]);

function summaryOf(err: unknown): SyncErrorSummary {
  if (err instanceof SqliteSyncError) {
    return {
      kind: err.kind,
      message: err.message,
      ...(err.status !== undefined ? { status: err.status } : {}),
    };
  }
  return { kind: "sql", message: err instanceof Error ? err.message : String(err) };
}

/**
 * A sync's failure as a `SqliteSyncError`: itself when it is one, else a `sql` error
 * that keeps it as its cause.
 *
 * @param err What the sync threw.
 * @returns The error to report and to reject waiters with.
 */
export function syncErrorOf(err: unknown): SqliteSyncError {
  return err instanceof SqliteSyncError
    ? err
    : new SqliteSyncError("sql", summaryOf(err).message, { cause: err });
}

/** What the outcome bookkeeping works with (shared with the runner). */
export interface OutcomeParts {
  /** The service's queue. */
  queue: SyncQueue;
  /** The service's events. */
  events: ServiceEvents;
  /** The retry backoff settings. */
  retry: ServiceSettings["retry"];
  /** The jitter source. */
  random: () => number;
  /** The current time (ms since the epoch). */
  now: () => number;
  /** The token source, when tokens come from `getToken`. */
  tokens: TokenSource | undefined;
  /** The adaptive polling, when the service polls. */
  polling: AdaptivePolling | undefined;
  /**
   * Called once a sync's outcome is recorded and its state set, before any of its events is
   * emitted: a listener then already sees what comes next (the next poll, the probe).
   */
  onDecided?: () => void;
}

/** The claim a finished sync ran under. */
export interface FinishedJob {
  /** The job's id. */
  jobId: number;
  /** The claim's fence. */
  fence: number;
  /** When the sync started (ms since the epoch). */
  startedAt: number;
}

/** The status fields the outcomes keep (all but the scheduling ones and the totals). */
export type OutcomeCounters = Pick<
  SyncServiceStatus,
  | "lastSyncAt"
  | "lastSuccessAt"
  | "lastResult"
  | "lastError"
  | "permanentReason"
  | "consecutiveErrors"
  | "consecutiveEmptySyncs"
  | "unsentChanges"
>;

/**
 * The state and counters of one service, and how a sync's outcome changes
 * them.
 *
 * @example Usage
 * ```ts ignore
 * import { ServiceOutcomes } from "./_service_outcomes.ts";
 * const outcomes = new ServiceOutcomes({ queue, events, retry, random, now, tokens, polling });
 * outcomes.setState("syncing");
 * outcomes.succeeded({ jobId, fence, startedAt }, result);
 * console.log(outcomes.state, outcomes.totals().succeeded); // "idle" 1
 * ```
 */
export class ServiceOutcomes {
  #p: OutcomeParts;
  #policy = new FailurePolicy();
  #state: SyncServiceState = "idle";
  #status: OutcomeCounters = {
    lastSyncAt: null,
    lastSuccessAt: null,
    lastResult: null,
    lastError: null,
    permanentReason: null,
    consecutiveErrors: 0,
    consecutiveEmptySyncs: 0,
    unsentChanges: 0,
  };
  #totals: SyncTotals = {
    succeeded: 0,
    failed: 0,
    rowsReceived: 0,
    chunksSent: 0,
    bytesSent: 0,
    bytesReceived: 0,
    attempts: { success: 0, empty: 0, retry: 0, "dead-letter": 0, interrupted: 0 },
  };

  /**
   * Creates the bookkeeping of a service that has not synced yet (state `idle`).
   *
   * @param parts The queue, events and settings it works with.
   */
  constructor(parts: OutcomeParts) {
    this.#p = parts;
  }

  /** What the service is doing. */
  get state(): SyncServiceState {
    return this.#state;
  }

  /** Whether a permanent failure stands (the state is, or returns to, `failed`). */
  get permanent(): boolean {
    return this.#status.permanentReason !== null;
  }

  /**
   * A copy of the status counters.
   *
   * @returns The counters, in `SyncServiceStatus` order.
   */
  counters(): OutcomeCounters {
    return { ...this.#status };
  }

  /**
   * A copy of the totals.
   *
   * @returns The totals since the service started.
   */
  totals(): SyncTotals {
    return { ...this.#totals, attempts: { ...this.#totals.attempts } };
  }

  /**
   * Counts a run of this service that was cut short: its executor died, or `stop()` ended it
   * (the runner released the job to run again).
   */
  interrupted(): void {
    this.#totals.attempts.interrupted++;
  }

  /**
   * Moves to a state; emits `state-changed` when it is a change.
   *
   * @param to The new state.
   */
  setState(to: SyncServiceState): void {
    const from = this.#state;
    if (from === to) return;
    this.#state = to;
    this.#p.events.emit("state-changed", { from, to });
  }

  /** Sets the state a sync's outcome leads to, calls `onDecided`, then emits `state-changed`. */
  #decide(to: SyncServiceState): void {
    const from = this.#state;
    this.#state = to;
    this.#p.onDecided?.();
    if (from !== to) this.#p.events.emit("state-changed", { from, to });
  }

  /**
   * Records the executor's latest count of local changes not yet sent.
   *
   * @param count The count.
   */
  recordUnsent(count: number): void {
    this.#status.unsentChanges = count;
  }

  /** Ends a permanent failure (syncNow(), new credentials): back to `idle`. */
  clearPermanent(): void {
    this.#policy.reset();
    this.#p.tokens?.reset();
    this.#status.permanentReason = null;
    this.setState("idle");
  }

  /**
   * A sync succeeded: completes the job, updates counters and polling, moves to `idle`
   * and emits `succeeded`. The caller then settles the job's waiters.
   *
   * @param job The claim the sync ran under.
   * @param result The sync's result.
   */
  succeeded(job: FinishedJob, result: SyncResult): void {
    const { jobId, fence, startedAt } = job;
    const now = this.#p.now();
    const moved = result.receive.rows > 0 || result.send.chunks > 0;
    const recorded = this.#p.queue.complete(jobId, fence, {
      now,
      startedAt,
      rowsReceived: result.receive.rows,
      chunksSent: result.send.chunks,
    });
    // A run whose lease was lost meanwhile was recorded as lost by the claim that took over.
    this.#totals.attempts[recorded ? moved ? "success" : "empty" : "interrupted"]++;
    this.#p.tokens?.succeeded();
    this.#policy.judgeResult(result);
    const t = this.#totals;
    t.succeeded++;
    t.rowsReceived += result.receive.rows;
    t.chunksSent += result.send.chunks;
    t.bytesSent += result.send.bytes;
    t.bytesReceived += result.receive.bytes;
    Object.assign(this.#status, {
      lastSyncAt: now,
      lastSuccessAt: now,
      lastResult: result,
      lastError: null,
      permanentReason: null,
      consecutiveErrors: 0,
      consecutiveEmptySyncs: moved ? 0 : this.#status.consecutiveEmptySyncs + 1,
    });
    this.#p.polling?.recordSuccess({
      rowsReceived: result.receive.rows,
      localChanges: result.send.chunks,
    });
    this.#decide("idle");
    this.#p.events.emit("succeeded", { jobId, result, durationMs: now - startedAt });
  }

  /**
   * A sync failed (not cut short by stop()): judges the error, then either dead-letters the
   * job for good (state `failed`) or schedules its retry (state `offline` or `backing-off`),
   * and emits the matching events. The caller then settles the job's waiters.
   *
   * @param job The claim the sync ran under.
   * @param attempts The job's attempts, this claim included.
   * @param error The failure.
   * @param refreshed Whether a fresh token was fetched after an auth error (retry at once).
   * @returns When the job is due again (arm a wake for it), or `undefined` when it is not.
   */
  failed(
    job: FinishedJob,
    attempts: number,
    error: SqliteSyncError,
    refreshed: boolean,
  ): number | undefined {
    const { jobId, fence, startedAt } = job;
    const summary = summaryOf(error);
    const verdict = this.#policy.judge({ ...summary, partial: error.partial }, {
      canRefreshAuth: refreshed,
    });
    const now = this.#p.now();
    const report = { now, startedAt };
    Object.assign(this.#status, {
      lastSyncAt: now,
      lastError: summary,
      consecutiveErrors: this.#status.consecutiveErrors + 1,
    });
    this.#p.polling?.recordError();
    this.#totals.failed++;
    // `attempts` counts this claim: the first retry (attempts 1) waits up to baseMs.
    const next = failureDisposition(verdict, {
      attempts,
      now,
      refreshed,
      policy: { ...this.#p.retry, random: this.#p.random },
    });
    const outcome = this.#p.queue.fail(jobId, fence, summary, { ...report, ...next });
    this.#totals.attempts[
      !outcome.ok ? "interrupted" : outcome.state === "dead" ? "dead-letter" : "retry"
    ]++;
    if (verdict.permanent && "dead" in next) {
      this.#status.permanentReason = verdict.reason;
      this.#decide("failed");
      this.#p.events.emit("failed", { jobId, error: summary, permanent: verdict.reason });
      this.#p.events.emit("dead-lettered", { jobId, reason: next.dead });
      return undefined;
    }
    this.#decide(OFFLINE_KINDS.has(summary.kind) ? "offline" : "backing-off");
    this.#p.events.emit("failed", { jobId, error: summary, permanent: null });
    if (outcome.ok && outcome.state === "pending") {
      this.#p.events.emit("retry-scheduled", {
        jobId,
        attempt: attempts + 1,
        at: outcome.retryAt,
      });
      return outcome.retryAt;
    }
    if (outcome.ok && outcome.state === "dead") {
      this.#p.events.emit("dead-lettered", { jobId, reason: outcome.reason });
    }
    return undefined;
  }
}

/**
 * A queue error as the service reports it: a lost holder (`worker_lost`) is `interrupted`;
 * every other stored kind is a `SqliteSyncError` kind (the service stores only those).
 *
 * @param error The stored error (redacted, its message cut at 1,000 characters).
 * @returns The summary.
 */
export function summaryOfJobError(error: JobError): SyncErrorSummary {
  return {
    kind: (error.kind === "worker_lost" ? "interrupted" : error.kind) as SyncErrorSummary["kind"],
    message: error.message,
    ...(error.status !== undefined ? { status: error.status } : {}),
  };
}

/**
 * How a run ended, as an attempt: `succeeded` is `success` when it received rows or sent
 * chunks (or rows), else `empty`; `retry` stays; `dead` is `dead-letter`; `worker_lost` and
 * `released` are `interrupted`; `running` stays.
 *
 * @param run The run.
 * @returns The attempt's outcome.
 */
export function attemptOutcomeOf(run: JobRun): AttemptOutcome {
  switch (run.outcome) {
    case "running":
      return "running";
    case "succeeded":
      return (run.rowsReceived ?? 0) > 0 || (run.rowsSent ?? 0) > 0 || (run.chunksSent ?? 0) > 0
        ? "success"
        : "empty";
    case "retry":
      return "retry";
    case "dead":
      return "dead-letter";
    default:
      return "interrupted";
  }
}

/**
 * A run of the queue as a {@linkcode SyncAttempt}.
 *
 * @param run The run.
 * @returns The attempt: its start (the claim time when the holder reported none), its end
 *   (`null` while running, and for a run whose holder was lost: its end is unknown), rows
 *   (0 when not reported) and error (a successful or running attempt has none).
 *
 * @example Usage
 * ```ts ignore
 * import { attemptOf } from "./_service_outcomes.ts";
 * const attempts = queue.runs({ since: Date.now() - 86_400_000 }).map(attemptOf);
 * ```
 */
export function attemptOf(run: JobRun): SyncAttempt {
  const outcome = attemptOutcomeOf(run);
  const failed = outcome !== "running" && outcome !== "success" && outcome !== "empty";
  return {
    jobId: run.jobId,
    startedAt: run.startedAt ?? run.claimedAt,
    finishedAt: outcome === "running" ? null : run.finishedAt ?? null,
    outcome,
    chunksSent: run.chunksSent ?? 0,
    rowsReceived: run.rowsReceived ?? 0,
    error: failed && run.error !== undefined ? summaryOfJobError(run.error) : null,
  };
}
