/**
 * The sync queue's rows as records (jobs, runs, the lease, stored errors and
 * reason sets). No SQL runs here; the checks on what callers pass in are
 * `_queue_checks.ts`'s.
 *
 * @module
 */
import type { Row, SqlValue } from "../../ffi/drivers/driver.ts";
import type { JobError, JobRun, JobState, QueueJob, RunOutcome } from "./queue.ts";

/** The most distinct reasons a job keeps. */
export const MAX_REASONS = 32;
const MAX_MESSAGE = 1000;

function optNumber(value: SqlValue | undefined): number | undefined {
  return value === null || value === undefined ? undefined : Number(value);
}

function optString(value: SqlValue | undefined): string | undefined {
  return value === null || value === undefined ? undefined : String(value);
}

/**
 * Parses a stored error.
 *
 * @param text The stored JSON.
 * @returns The error, or `undefined`.
 */
export function parseError(text: SqlValue | undefined): JobError | undefined {
  if (typeof text !== "string") return undefined;
  try {
    return JSON.parse(text) as JobError;
  } catch {
    return { kind: "unknown", message: text };
  }
}

/**
 * Serialises a caller's error, keeping only the documented fields.
 *
 * @param error The caller's error summary.
 * @returns JSON text.
 * @throws {TypeError} When `kind` or `message` is not a string.
 */
export function storeError(error: JobError): string {
  if (typeof error?.kind !== "string" || typeof error.message !== "string") {
    throw new TypeError(
      "A job error needs a string 'kind' and 'message' (already redacted): " +
        `got ${JSON.stringify(error)?.slice(0, 100)}`,
    );
  }
  const stored: JobError = {
    kind: error.kind.slice(0, 64),
    message: error.message.slice(0, MAX_MESSAGE),
  };
  if (typeof error.status === "number" && Number.isFinite(error.status)) {
    stored.status = error.status;
  }
  if (typeof error.code === "string") stored.code = error.code.slice(0, 64);
  return JSON.stringify(stored);
}

/**
 * A job row as a record.
 *
 * @param row A row of `jobs`.
 * @returns The job.
 */
export function toJob(row: Row): QueueJob {
  const notBefore = Number(row.not_before);
  const retryAt = Number(row.retry_at);
  const job: Record<string, unknown> = {
    id: Number(row.id),
    state: String(row.state) as JobState,
    reasons: JSON.parse(String(row.reasons)) as string[],
    requests: Number(row.requests),
    urgent: Number(row.urgent) === 1,
    createdAt: Number(row.created_at),
    notBefore,
    dueAt: Math.max(notBefore, retryAt),
    attempts: Number(row.attempts),
  };
  if (retryAt > 0) job.retryAt = retryAt;
  const optional: [string, unknown][] = [
    ["fence", optNumber(row.fence)],
    ["owner", optString(row.owner)],
    ["startedAt", optNumber(row.started_at)],
    ["finishedAt", optNumber(row.finished_at)],
    ["rowsSent", optNumber(row.rows_sent)],
    ["rowsReceived", optNumber(row.rows_received)],
    ["lastError", parseError(row.last_error)],
    ["deadReason", optString(row.dead_reason)],
  ];
  for (const [key, value] of optional) if (value !== undefined) job[key] = value;
  return job as unknown as QueueJob;
}

/**
 * A run row as a record.
 *
 * @param row A row of `runs`.
 * @returns The run.
 */
export function toRun(row: Row): JobRun {
  const run: Record<string, unknown> = {
    fence: Number(row.fence),
    jobId: Number(row.job_id),
    owner: String(row.owner),
    claimedAt: Number(row.claimed_at),
    outcome: String(row.outcome) as RunOutcome,
  };
  const optional: [string, unknown][] = [
    ["startedAt", optNumber(row.started_at)],
    ["finishedAt", optNumber(row.finished_at)],
    ["rowsSent", optNumber(row.rows_sent)],
    ["rowsReceived", optNumber(row.rows_received)],
    ["chunksSent", optNumber(row.chunks_sent)],
    ["error", parseError(row.error)],
  ];
  for (const [key, value] of optional) if (value !== undefined) run[key] = value;
  return run as unknown as JobRun;
}

/** The file's lease. */
export interface LeaseInfo {
  /** The holder. */
  owner: string;
  /** The job it runs; unset while held on after a release with `holdUntil`. */
  jobId?: number;
  /** Its fencing token. */
  fence: number;
  /** When it lapses unless renewed. */
  expiresAt: number;
  /** The pid of the holder's executor; unset in a lease written by an older version. */
  executorPid?: number;
}

/**
 * The lease row as a record.
 *
 * @param row The row of `lease`.
 * @returns The lease, or `undefined` when free.
 */
export function toLease(row: Row): LeaseInfo | undefined {
  if (row.owner === null) return undefined;
  const lease: Record<string, unknown> = {
    owner: String(row.owner),
    fence: Number(row.fence),
    expiresAt: Number(row.expires_at),
  };
  // Unset after a release with `holdUntil` (a job), and in a lease taken by a version-1 process.
  if (row.job_id !== null) lease.jobId = Number(row.job_id);
  if (row.executor_pid !== null && row.executor_pid !== undefined) {
    lease.executorPid = Number(row.executor_pid);
  }
  return lease as unknown as LeaseInfo;
}

/**
 * Merges reason sets, sorted, keeping at most {@linkcode MAX_REASONS}.
 *
 * @param stored The stored JSON array.
 * @param more Reasons to add.
 * @returns JSON text.
 */
export function mergeReasons(stored: SqlValue | undefined, more: readonly string[]): string {
  const set = new Set<string>(typeof stored === "string" ? JSON.parse(stored) as string[] : []);
  for (const reason of more) {
    if (set.size >= MAX_REASONS) break;
    set.add(reason);
  }
  return JSON.stringify([...set].sort());
}
