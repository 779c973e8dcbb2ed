/**
 * The checks that turn the arguments of `SyncQueue`'s calls into the store's
 * (`TypeError`s naming the option), and the limits and run reports as the
 * store takes them. No SQL runs here.
 *
 * @module
 */
import process from "node:process";
import type {
  ClaimOptions,
  FailDisposition,
  ReleaseOptions,
  RequestOptions,
  RunReport,
  SyncQueueOptions,
} from "./_queue_calls.ts";
import { isOwnerGone } from "./_queue_owner.ts";
import { storeError } from "./_queue_rows.ts";
import type { JobError } from "./queue.ts";
import { DEFAULT_MAX_ATTEMPTS } from "./retry.ts";

/** The limits a store enforces. */
export interface StoreLimits {
  /** Claims per job before `max_attempts_exceeded`. */
  maxAttempts: number;
  /** Finished jobs kept. */
  historyLimit: number;
  /** Dead jobs kept in any case. */
  deadLetterLimit: number;
  /** Whether a lease holder (and its executor, when it has its own pid) is certainly gone. */
  isHolderGone: (owner: string, executorPid?: number) => boolean;
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
  /** Payload chunks sent, if reported. */
  chunksSent: number | null;
}

/**
 * Checks a run report.
 *
 * @param report What the holder reported.
 * @returns The report with defaults.
 * @throws {TypeError} For an invalid time or count.
 */
export function checkReport(report: RunReport): CheckedReport {
  const now = checkTime("now", report?.now);
  return {
    startedAt: report.startedAt === undefined ? null : checkTime("startedAt", report.startedAt),
    finishedAt: report.finishedAt === undefined ? now : checkTime("finishedAt", report.finishedAt),
    rowsSent: checkCount("rowsSent", report.rowsSent),
    rowsReceived: checkCount("rowsReceived", report.rowsReceived),
    chunksSent: checkCount("chunksSent", report.chunksSent),
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
 * Checks a process id.
 *
 * @param name The option's name.
 * @param value The value.
 * @returns The pid.
 * @throws {TypeError} Unless a positive integer.
 */
export function checkPid(name: string, value: unknown): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 1) {
    throw new TypeError(`'${name}' must be a process id (an integer ≥ 1): got ${String(value)}`);
  }
  return value;
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

/**
 * Checks the limits of `SyncQueue.open`, with their defaults.
 *
 * @param options The options passed to `open`.
 * @returns The store's limits.
 * @throws {TypeError} For a limit below 1.
 */
export function checkLimits(options: SyncQueueOptions): StoreLimits {
  return {
    maxAttempts: checkPositive("maxAttempts", options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS),
    historyLimit: checkPositive("historyLimit", options.historyLimit ?? 500),
    deadLetterLimit: checkPositive("deadLetterLimit", options.deadLetterLimit ?? 100),
    isHolderGone: options.isHolderGone ?? isOwnerGone,
  };
}

/**
 * Checks the arguments of `SyncQueue.request`.
 *
 * @param reason What triggered the request.
 * @param options The time, `notBefore`, `urgent`, `joinRunning`.
 * @returns The store's arguments: reason, time, `notBefore`, urgent, join running.
 * @throws {TypeError} For an invalid reason or time.
 */
export function checkRequest(
  reason: string,
  options: RequestOptions,
): [reason: string, now: number, notBefore: number, urgent: 0 | 1, joinRunning: boolean] {
  checkLabel("reason", reason);
  const now = checkTime("now", options.now);
  const notBefore = options.notBefore === undefined
    ? now
    : checkTime("notBefore", options.notBefore);
  return [reason, now, notBefore, options.urgent === true ? 1 : 0, options.joinRunning === true];
}

/**
 * Checks the options of `SyncQueue.claim`.
 *
 * @param options Owner, time, lease length and the executor's pid (this process's by default).
 * @returns The store's arguments: owner, time, lease length, executor pid.
 * @throws {TypeError} For an invalid owner, time, lease length or pid.
 */
export function checkClaim(
  options: ClaimOptions,
): [owner: string, now: number, leaseMs: number, executorPid: number] {
  const owner = checkOwner(options.owner);
  const now = checkTime("now", options.now);
  const leaseMs = checkPositive("leaseMs", options.leaseMs);
  return [owner, now, leaseMs, checkPid("executorPid", options.executorPid ?? process.pid)];
}

/**
 * Checks the arguments of `SyncQueue.fail`.
 *
 * @param error The error, already redacted.
 * @param disposition The time and either `retryAt` or `dead`.
 * @returns The store's arguments: the stored error, the report, the retry time or dead reason.
 * @throws {TypeError} For an invalid error, time or reason.
 */
export function checkFail(
  error: JobError,
  disposition: FailDisposition,
): [error: string, report: CheckedReport, next: { retryAt: number } | { dead: string }] {
  const report = checkReport(disposition);
  const stored = storeError(error);
  const next = disposition.dead === undefined
    ? { retryAt: checkTime("retryAt", disposition.retryAt) }
    : { dead: checkLabel("dead", disposition.dead) };
  return [stored, report, next];
}

/**
 * Checks the options of `SyncQueue.release`.
 *
 * @param options The time, when the job may run again, how long the lease is held on, why.
 * @returns The store's arguments: the time, the retry time (0: at once), the hold, the
 *   stored error (`null` without one).
 * @throws {TypeError} For an invalid time or error.
 */
export function checkRelease(
  options: ReleaseOptions,
): [now: number, retryAt: number, holdUntil: number | undefined, error: string | null] {
  const now = checkTime("now", options.now);
  const retryAt = options.retryAt === undefined ? 0 : checkTime("retryAt", options.retryAt);
  const holdUntil = options.holdUntil === undefined
    ? undefined
    : checkTime("holdUntil", options.holdUntil);
  const error = options.error === undefined ? null : storeError(options.error);
  return [now, retryAt, holdUntil, error];
}
