/**
 * What `SyncQueue`'s methods take and return (besides `open`'s options and the
 * job records, which `queue.ts` defines), the checks that turn a call's
 * arguments into the store's, and this host's name as lease owners carry it.
 * No SQL runs here.
 *
 * @module
 */
import { hostname } from "node:os";
import process from "node:process";
import { storeError } from "./_queue_rows.ts";
import type { JobError, QueueJob, SyncQueueOptions } from "./queue.ts";
import { DEFAULT_MAX_ATTEMPTS } from "./retry.ts";

/** Options of `SyncQueue.request`. */
export interface RequestOptions {
  /** The current time, ms since the epoch. */
  now: number;
  /** The earliest time the sync may start; a pending job keeps its requests' earliest. @default now */
  notBefore?: number;
  /** Skip a retry back-off the pending job is waiting on (`syncNow()`, new credentials). */
  urgent?: boolean;
  /**
   * When no job is pending but one is running, join the running job instead of
   * creating a follow-up (its result then answers this request).
   */
  joinRunning?: boolean;
}

/** What `SyncQueue.request` did. */
export interface RequestResult {
  /** The job that will answer the request. */
  jobId: number;
  /** Whether the request merged into an existing job. */
  coalesced: boolean;
  /** That job's state. */
  state: "pending" | "running";
}

/** Options of `SyncQueue.claim`. */
export interface ClaimOptions {
  /** Who claims: `makeOwner`'s `<host>:<pid>:<random>`. */
  owner: string;
  /** The current time, ms since the epoch. */
  now: number;
  /** How long the lease lasts without a renewal, in ms. */
  leaseMs: number;
  /**
   * The pid of the process that runs the sync's network call (a child
   * process executor), recorded with the lease. @default this process's pid
   */
  executorPid?: number;
}

/** What `SyncQueue.claim` returned. */
export type ClaimResult =
  | {
    /** The lease was taken. */
    claimed: true;
    /** The job, now running. */
    job: QueueJob;
    /** The fencing token to pass to `renew`, `complete`, `fail` and `release`. */
    fence: number;
    /** When the lease lapses unless renewed. */
    leaseExpiresAt: number;
  }
  | {
    /** Nothing was claimed. */
    claimed: false;
    /** `leased`: another holder has the lease; `not-due`: the pending job waits; `empty`: nothing pending. */
    reason: "leased" | "not-due" | "empty";
    /** When to try again (lease expiry or due time); unset when nothing is pending. */
    retryAt?: number;
    /** The lease holder, for `leased`. */
    holder?: string;
    /**
     * For `leased`: the holder is gone but its executor still runs (it may be in a request for
     * a moment more): look again soon rather than in a second.
     */
    orphaned?: boolean;
  };

/** How a run ended, as its holder reports it. */
export interface RunReport {
  /** The current time, ms since the epoch. */
  now: number;
  /** When the work started. @default the claim time */
  startedAt?: number;
  /** When the work ended. @default now */
  finishedAt?: number;
  /** Rows sent. */
  rowsSent?: number;
  /** Rows received. */
  rowsReceived?: number;
  /** Payload chunks sent. */
  chunksSent?: number;
}

/** How a failed run continues: a retry time, or a dead-letter reason. */
export type FailDisposition =
  & RunReport
  & (
    | {
      /** When to retry (see `failureDisposition` in `retry.ts`). */
      retryAt: number;
      /** Not with `retryAt`. */
      dead?: undefined;
    }
    | {
      /** Dead-letter now with this reason, e.g. `permanent:auth`. */
      dead: string;
      /** Not with `dead`. */
      retryAt?: undefined;
    }
  );

/** What `SyncQueue.fail` did. */
export type FailResult =
  | {
    /** The fence no longer holds the lease: nothing changed. */
    ok: false;
  }
  | {
    /** Recorded. */
    ok: true;
    /** Back to pending. */
    state: "pending";
    /** When it may run again. */
    retryAt: number;
  }
  | {
    /** Recorded. */
    ok: true;
    /** Dead-lettered. */
    state: "dead";
    /** Why. */
    reason: string;
  };

/** Options of `SyncQueue.release`. */
export interface ReleaseOptions {
  /** The current time, ms since the epoch. */
  now: number;
  /** When the job may run again. @default at once */
  retryAt?: number;
  /**
   * Keep the lease (holder and executor pid, no job) until this time, or until
   * both are gone: for a sync abandoned while its network call may still be in
   * a request (a Worker that cannot be stopped). Nobody claims meanwhile, the
   * holder included. @default the lease is freed
   */
  holdUntil?: number;
  /**
   * Why the run was cut short (already redacted), recorded with the run: e.g. its
   * executor died, or the service stopped. @default none
   */
  error?: JobError;
}

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

let localHost: string | undefined;

/**
 * This host's name, as lease owners carry it (read once).
 *
 * @returns The name, or `""` when it cannot be read (Deno without `--allow-sys`).
 */
export function localHostName(): string {
  if (localHost === undefined) {
    try {
      localHost = hostname();
    } catch {
      localHost = ""; // Deno without --allow-sys
    }
  }
  return localHost;
}

/**
 * Checks the limits of `SyncQueue.open`, with their defaults.
 *
 * @param options The options passed to `open`.
 * @param isOwnerGone The default `isHolderGone`.
 * @returns The store's limits.
 * @throws {TypeError} For a limit below 1.
 */
export function checkLimits(
  options: SyncQueueOptions,
  isOwnerGone: (owner: string, executorPid?: number) => boolean,
): StoreLimits {
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
