/**
 * The sync queue's records as callers see them, how rows become records, and
 * the checks on what callers pass in. No SQL runs here.
 *
 * @module
 */
import type { Row, SqlValue } from "../../ffi/drivers/driver.ts";

/** Where a job is in its life. `succeeded` and `dead` are final; a job reaches exactly one. */
export type JobState = "pending" | "running" | "succeeded" | "dead";

/** How one run (one claim) of a job ended. */
export type RunOutcome =
  /** Still holding the lease. */
  | "running"
  /** Completed. */
  | "succeeded"
  /** Failed; the job went back to pending with a retry time. */
  | "retry"
  /** Failed; the job was dead-lettered. */
  | "dead"
  /** Its holder crashed or stopped renewing; the job was recovered by another claim. */
  | "worker_lost"
  /** Its holder gave the job back unfinished (for example while stopping). */
  | "released";

/** An error as the caller summarised (and redacted) it; the queue stores only these fields. */
export interface JobError {
  /** The error's kind, e.g. a `SqliteSyncError` kind or `worker_lost`. */
  kind: string;
  /** A message without secrets (the queue keeps the first 1,000 characters). */
  message: string;
  /** The HTTP status, when there was one. */
  status?: number;
  /** A machine-readable code, when there was one. */
  code?: string;
}

/** A job of the queue. Times are in ms since the epoch, as the caller passed them. */
export interface QueueJob {
  /** The id; ids grow and are never reused. */
  readonly id: number;
  /** Where the job is in its life. */
  readonly state: JobState;
  /** The distinct reasons of the requests merged into it, sorted (at most 32 are kept). */
  readonly reasons: readonly string[];
  /** How many requests were merged into it (1 for a job nobody joined). */
  readonly requests: number;
  /** Whether a request asked to skip the retry back-off (cleared when the job is claimed). */
  readonly urgent: boolean;
  /** When it was first requested. */
  readonly createdAt: number;
  /** The earliest `notBefore` of its requests. */
  readonly notBefore: number;
  /** The back-off after a failed run, when one is set. */
  readonly retryAt?: number;
  /** When it may be claimed: the later of `notBefore` and `retryAt`. */
  readonly dueAt: number;
  /** How many times it was claimed (runs released unfinished are not counted). */
  readonly attempts: number;
  /** The fencing token of its latest claim. */
  readonly fence?: number;
  /** Who claimed it last. */
  readonly owner?: string;
  /** When its latest run started. */
  readonly startedAt?: number;
  /** When it reached its final state. */
  readonly finishedAt?: number;
  /** Rows sent by the run that completed it, as the caller reported. */
  readonly rowsSent?: number;
  /** Rows received by the run that completed it, as the caller reported. */
  readonly rowsReceived?: number;
  /** The error of its latest failed or lost run. */
  readonly lastError?: JobError;
  /** Why it was dead-lettered, e.g. `max_attempts_exceeded` or `permanent:auth`. */
  readonly deadReason?: string;
}

/** One claim of a job: who held it, when, and how it ended. */
export interface JobRun {
  /** The fencing token of the claim (unique across the file). */
  readonly fence: number;
  /** The job. */
  readonly jobId: number;
  /** Who claimed it. */
  readonly owner: string;
  /** When it was claimed. */
  readonly claimedAt: number;
  /** When its work started, as the holder reported (else the claim time). */
  readonly startedAt?: number;
  /** When its work ended, as the holder reported (else the time of the report); unset when lost. */
  readonly finishedAt?: number;
  /** How it ended. */
  readonly outcome: RunOutcome;
  /** Rows sent, as the holder reported. */
  readonly rowsSent?: number;
  /** Rows received, as the holder reported. */
  readonly rowsReceived?: number;
  /** Its error, for failed and lost runs. */
  readonly error?: JobError;
}

/** A finished job with its runs, oldest run first. */
export interface JobHistoryEntry extends QueueJob {
  /** Its runs (the last 20 are kept). */
  readonly runs: readonly JobRun[];
}

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
    ["error", parseError(row.error)],
  ];
  for (const [key, value] of optional) if (value !== undefined) run[key] = value;
  return run as unknown as JobRun;
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

/**
 * Checks a time the caller passed.
 *
 * @param name The option's name, for the message.
 * @param value The value.
 * @returns The value as an integer.
 * @throws {TypeError} When it is not a finite number.
 */
export function checkTime(name: string, value: unknown): number {
  if (typeof value !== "number" || !Number.isFinite(value)) {
    throw new TypeError(
      `'${name}' must be a time in ms since the epoch (a finite number): got ${String(value)}`,
    );
  }
  return Math.floor(value);
}

/**
 * Checks a count the caller passed (rows sent or received).
 *
 * @param name The option's name.
 * @param value The value, or `undefined`.
 * @returns The value, or `null` when absent.
 * @throws {TypeError} When it is not a non-negative integer.
 */
export function checkCount(name: string, value: unknown): number | null {
  if (value === undefined) return null;
  if (typeof value !== "number" || !Number.isInteger(value) || value < 0) {
    throw new TypeError(`'${name}' must be a non-negative integer: got ${String(value)}`);
  }
  return value;
}

/**
 * Checks a reason or dead-letter reason: 1–64 characters of letters, digits, `_ . : -`.
 *
 * @param name The option's name.
 * @param value The value.
 * @returns The value.
 * @throws {TypeError} Otherwise.
 */
export function checkLabel(name: string, value: unknown): string {
  if (typeof value !== "string" || !/^[\w.:-]{1,64}$/.test(value)) {
    throw new TypeError(
      `'${name}' must be 1–64 characters of letters, digits, '_', '.', ':' or '-': ` +
        `got ${JSON.stringify(value)?.slice(0, 80)}`,
    );
  }
  return value;
}

/** A run report, checked. */
export interface CheckedReport {
  /** When the work started, if reported. */
  startedAt: number | null;
  /** When the work ended (the report's time by default). */
  finishedAt: number;
  /** Rows sent, if reported. */
  rowsSent: number | null;
  /** Rows received, if reported. */
  rowsReceived: number | null;
}

/**
 * Checks a run report.
 *
 * @param report What the holder reported.
 * @returns The report with defaults.
 * @throws {TypeError} For an invalid time or count.
 */
export function checkReport(
  report: {
    now: number;
    startedAt?: number;
    finishedAt?: number;
    rowsSent?: number;
    rowsReceived?: number;
  },
): CheckedReport {
  const now = checkTime("now", report?.now);
  return {
    startedAt: report.startedAt === undefined ? null : checkTime("startedAt", report.startedAt),
    finishedAt: report.finishedAt === undefined ? now : checkTime("finishedAt", report.finishedAt),
    rowsSent: checkCount("rowsSent", report.rowsSent),
    rowsReceived: checkCount("rowsReceived", report.rowsReceived),
  };
}

/**
 * Checks a lease owner.
 *
 * @param owner The value.
 * @returns The owner.
 * @throws {TypeError} Unless a non-empty string of at most 300 characters.
 */
export function checkOwner(owner: unknown): string {
  if (typeof owner !== "string" || owner.length === 0 || owner.length > 300) {
    throw new TypeError(
      `'owner' must be a non-empty string such as makeOwner() returns: got ${String(owner)}`,
    );
  }
  return owner;
}

/**
 * Checks a positive number (a limit, a lease length); `Infinity` becomes the largest safe integer.
 *
 * @param name The option's name.
 * @param value The value.
 * @returns The value, rounded down.
 * @throws {TypeError} Unless a positive number.
 */
export function checkPositive(name: string, value: unknown): number {
  if (typeof value !== "number" || !(value >= 1)) {
    throw new TypeError(`'${name}' must be a number ≥ 1: got ${String(value)}`);
  }
  return value === Infinity ? Number.MAX_SAFE_INTEGER : Math.floor(value);
}
