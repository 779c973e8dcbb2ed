/**
 * Fake services for the status app's tests: a status snapshot built from
 * overrides, sync attempts (built one by one, or from finished jobs with
 * runs), and a `syncNow()` that answers as told and counts its calls.
 */
import { SqliteSyncError } from "../../../common/errors.ts";
import type { SyncResult } from "../../../common/sync_result.ts";
import type { JobHistoryEntry, JobRun } from "../../../src/scheduler/queue.ts";
import type {
  AttemptOutcome,
  AttemptsOptions,
  SyncAttempt,
  SyncErrorSummary,
  SyncServiceStatus,
} from "../../../src/scheduler/status.ts";
import type { SyncServiceLike } from "../../../src/http/app.ts";

/** A fixed "now" for the tests: 2026-06-01 12:00:00 UTC. */
export const NOW = Date.parse("2026-06-01T12:00:00Z");

/** The right token of the tests. */
export const TOKEN = "test-token-7c1f0e9b2a";

/** A status: an idle, `ok` service on adaptive polling (30 s now), with `overrides` applied. */
export function statusOf(overrides: Partial<SyncServiceStatus> = {}): SyncServiceStatus {
  return {
    state: "idle",
    executor: "worker",
    executorRestarts: 0,
    lastSyncAt: NOW - 60_000,
    lastSuccessAt: NOW - 60_000,
    lastResult: resultOf(3),
    lastError: null,
    permanentReason: null,
    consecutiveErrors: 0,
    consecutiveEmptySyncs: 0,
    currentIntervalMs: 30_000,
    nextRunAt: NOW + 30_000,
    queueDepth: 0,
    unsentChanges: 0,
    totals: {
      succeeded: 0,
      failed: 0,
      rowsReceived: 0,
      chunksSent: 0,
      bytesSent: 0,
      bytesReceived: 0,
      attempts: { success: 0, empty: 0, retry: 0, "dead-letter": 0, interrupted: 0 },
    },
    databaseId: "db_test_0001",
    address: "https://sync.example.test:8443",
    schedule: { kind: "adaptive", baseMs: 30_000, maxMs: 600_000 },
    oldestJobAt: null,
    ...overrides,
  };
}

/** A sync result that received `rows` rows. */
export function resultOf(rows: number): SyncResult {
  return {
    send: { status: "synced", localVersion: 4, serverVersion: 4, chunks: 1, bytes: 120 },
    receive: {
      rows,
      tables: rows ? ["notes"] : [],
      chunks: rows ? 1 : 0,
      bytes: rows * 40,
      complete: true,
    },
  };
}

/** A finished job with its runs (each `{ outcome, rows?, error? }`, oldest first). */
export function jobOf(
  id: number,
  runs: { outcome: JobRun["outcome"]; rows?: number; sent?: number; error?: JobRun["error"] }[],
  at = NOW - (100 - id) * 60_000,
): JobHistoryEntry {
  const last = runs[runs.length - 1];
  const finalRuns: JobRun[] = runs.map((r, i) => ({
    fence: id * 100 + i,
    jobId: id,
    owner: "host:1:abc",
    claimedAt: at + i * 1000,
    startedAt: at + i * 1000,
    finishedAt: at + i * 1000 + 500,
    outcome: r.outcome,
    ...(r.rows === undefined ? {} : { rowsReceived: r.rows }),
    ...(r.sent === undefined ? {} : { chunksSent: r.sent }),
    ...(r.error ? { error: r.error } : {}),
  }));
  return {
    id,
    state: last.outcome === "succeeded" ? "succeeded" : "dead",
    reasons: ["interval"],
    requests: 1,
    urgent: false,
    createdAt: at,
    notBefore: at,
    dueAt: at,
    attempts: runs.length,
    startedAt: at,
    finishedAt: at + runs.length * 1000,
    ...(last.rows === undefined ? {} : { rowsReceived: last.rows }),
    ...(last.error ? { lastError: last.error } : {}),
    ...(last.outcome === "dead" ? { deadReason: "max_attempts_exceeded" } : {}),
    runs: finalRuns,
  };
}

/**
 * An attempt that started `agoMs` before {@linkcode NOW} and took one second (`running`: not
 * finished), with `overrides` applied; failed outcomes get an `offline` error unless given one.
 */
export function attemptOf(
  jobId: number,
  outcome: AttemptOutcome,
  agoMs: number,
  overrides: Partial<SyncAttempt> = {},
): SyncAttempt {
  const failed = outcome === "retry" || outcome === "dead-letter" || outcome === "interrupted";
  const error: SyncErrorSummary | null = failed
    ? { kind: "offline", message: "Failed to connect to 127.0.0.1 port 9: Connection refused" }
    : null;
  return {
    jobId,
    startedAt: NOW - agoMs,
    finishedAt: outcome === "running" ? null : NOW - agoMs + 1000,
    outcome,
    chunksSent: 0,
    rowsReceived: 0,
    error,
    ...overrides,
  };
}

const RUN_OUTCOMES: Record<JobRun["outcome"], AttemptOutcome> = {
  running: "running",
  succeeded: "success",
  retry: "retry",
  dead: "dead-letter",
  worker_lost: "interrupted",
  released: "interrupted",
};

/** The attempts of finished jobs (each run one attempt; a success moving nothing is `empty`). */
export function attemptsOf(history: readonly JobHistoryEntry[]): SyncAttempt[] {
  return history.flatMap((job) =>
    job.runs.map((run) => {
      let outcome = RUN_OUTCOMES[run.outcome];
      if (outcome === "success" && !run.rowsReceived && !run.chunksSent) outcome = "empty";
      return {
        jobId: run.jobId,
        startedAt: run.startedAt ?? run.claimedAt,
        finishedAt: run.finishedAt ?? null,
        outcome,
        chunksSent: run.chunksSent ?? 0,
        rowsReceived: run.rowsReceived ?? 0,
        error: run.error
          ? {
            kind: run.error.kind as SyncErrorSummary["kind"],
            message: run.error.message,
            ...(run.error.status === undefined ? {} : { status: run.error.status }),
          }
          : null,
      };
    })
  ).sort((a, b) => a.startedAt - b.startedAt);
}

/** What one `syncNow()` call does. */
export type SyncAnswer = { ok: SyncResult } | { error: unknown };

/**
 * A fake service: fixed status and attempts, `syncNow()` answering as told. The attempts are
 * given as attempts, or as finished jobs (converted with {@linkcode attemptsOf}).
 */
export class FakeService implements SyncServiceLike {
  syncCalls = 0;
  /** The options of every `attempts()` call. */
  attemptsCalls: AttemptsOptions[] = [];
  historyLimits: number[] = [];
  #status: SyncServiceStatus | (() => SyncServiceStatus);
  #history: JobHistoryEntry[];
  #attempts: SyncAttempt[];
  #answer: SyncAnswer;

  constructor(
    status: SyncServiceStatus | (() => SyncServiceStatus) = statusOf(),
    attempts: readonly SyncAttempt[] | readonly JobHistoryEntry[] = [],
    answer: SyncAnswer = { ok: resultOf(2) },
  ) {
    this.#status = status;
    const jobs = attempts.length > 0 && "runs" in attempts[0];
    this.#history = jobs ? [...attempts as readonly JobHistoryEntry[]] : [];
    this.#attempts = jobs ? attemptsOf(this.#history) : [...attempts as readonly SyncAttempt[]];
    this.#answer = answer;
  }

  status(): SyncServiceStatus {
    return typeof this.#status === "function" ? this.#status() : structuredClone(this.#status);
  }

  /** Like `SyncService.attempts()`: since `since`, the newest `limit`, oldest first. */
  attempts(options: AttemptsOptions = {}): SyncAttempt[] {
    this.attemptsCalls.push(options);
    const since = options.since ?? -Infinity;
    const kept = this.#attempts.filter((a) => a.startedAt >= since);
    return structuredClone(kept.slice(Math.max(0, kept.length - (options.limit ?? 500))));
  }

  /** The finished jobs it was given (not part of the app's interface). */
  history(limit = 20): JobHistoryEntry[] {
    this.historyLimits.push(limit);
    return structuredClone(this.#history.slice(0, limit));
  }

  syncNow(): Promise<SyncResult> {
    this.syncCalls++;
    const answer = this.#answer;
    return "ok" in answer ? Promise.resolve(answer.ok) : Promise.reject(answer.error);
  }
}

/** An `auth` error as the service raises it. */
export function authError(): SqliteSyncError {
  return new SqliteSyncError("auth", "The server refused the API key.", { status: 401 });
}
