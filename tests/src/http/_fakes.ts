/**
 * Fake services for the status app's tests: a status snapshot built from
 * overrides, finished jobs with runs, and a `syncNow()` that answers as told
 * and counts its calls. Only the three methods the app uses exist.
 */
import { SqliteSyncError } from "../../../common/errors.ts";
import type { SyncResult } from "../../../common/sync_result.ts";
import type { JobHistoryEntry, JobRun } from "../../../src/scheduler/queue.ts";
import type { SyncServiceStatus } from "../../../src/scheduler/status.ts";
import type { SyncServiceLike } from "../../../src/http/app.ts";

/** A fixed "now" for the tests: 2026-06-01 12:00:00 UTC. */
export const NOW = Date.parse("2026-06-01T12:00:00Z");

/** The right token of the tests. */
export const TOKEN = "test-token-7c1f0e9b2a";

/** A status: an idle, healthy service, with `overrides` applied. */
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
    },
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
    ...(r.sent === undefined ? {} : { rowsSent: r.sent }),
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

/** What one `syncNow()` call does. */
export type SyncAnswer = { ok: SyncResult } | { error: unknown };

/** A fake service: fixed status and history, `syncNow()` answering as told. */
export class FakeService implements SyncServiceLike {
  syncCalls = 0;
  historyLimits: number[] = [];
  #status: SyncServiceStatus | (() => SyncServiceStatus);
  #history: JobHistoryEntry[];
  #answer: SyncAnswer;

  constructor(
    status: SyncServiceStatus | (() => SyncServiceStatus) = statusOf(),
    history: JobHistoryEntry[] = [],
    answer: SyncAnswer = { ok: resultOf(2) },
  ) {
    this.#status = status;
    this.#history = history;
    this.#answer = answer;
  }

  status(): SyncServiceStatus {
    return typeof this.#status === "function" ? this.#status() : structuredClone(this.#status);
  }

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
