/**
 * The sync queue's options and results, as callers pass and receive them.
 *
 * @module
 */
import type { DriverName } from "../../ffi/drivers/driver.ts";
import type { QueueJob } from "./_queue_rows.ts";

/** The dead-letter reason of a job that failed `maxAttempts` times. */
export const MAX_ATTEMPTS_EXCEEDED = "max_attempts_exceeded";

/** Options of {@linkcode SyncQueue.open}. */
export interface SyncQueueOptions {
  /**
   * The driver that opens a path (use the synced database's).
   * @default the runtime's default driver
   */
  driver?: DriverName;
  /**
   * Whether {@linkcode SyncQueue.close} closes a connection passed to `open`.
   * @default true
   */
  closeDriver?: boolean;
  /**
   * How long a statement waits for another process' write lock, in ms.
   * @default 5000
   */
  busyTimeoutMs?: number;
  /**
   * Claims per job before it is dead-lettered as `max_attempts_exceeded`.
   * @default 10
   */
  maxAttempts?: number;
  /**
   * Finished jobs (succeeded or dead) kept for history.
   * @default 500
   */
  historyLimit?: number;
  /**
   * Dead jobs kept in any case, however many jobs finished since.
   * @default 100
   */
  deadLetterLimit?: number;
  /**
   * Tells whether the lease holder `owner` is certainly gone, so its job is
   * recovered before its lease expires.
   * @default isOwnerGone
   */
  isHolderGone?: (owner: string) => boolean;
}

/** Options of {@linkcode SyncQueue.request}. */
export interface RequestOptions {
  /** The current time, ms since the epoch. */
  now: number;
  /**
   * The earliest time the sync may start; a pending job keeps the earliest of its requests'.
   * @default now
   */
  notBefore?: number;
  /**
   * Skip a retry back-off the pending job is waiting on (`syncNow()`, new credentials).
   * @default false
   */
  urgent?: boolean;
  /**
   * When no job is pending but one is running, join the running job instead of
   * creating a follow-up (its result then answers this request).
   * @default false
   */
  joinRunning?: boolean;
}

/** What {@linkcode SyncQueue.request} did. */
export interface RequestResult {
  /** The job that will answer the request. */
  jobId: number;
  /** Whether the request merged into an existing job. */
  coalesced: boolean;
  /** That job's state. */
  state: "pending" | "running";
}

/** Options of {@linkcode SyncQueue.claim}. */
export interface ClaimOptions {
  /** Who claims: {@linkcode makeOwner}'s `<host>:<pid>:<random>`. */
  owner: string;
  /** The current time, ms since the epoch. */
  now: number;
  /** How long the lease lasts without a renewal, in ms. */
  leaseMs: number;
}

/** What {@linkcode SyncQueue.claim} returned. */
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
    /** `leased`: another holder runs a job; `not-due`: the pending job waits; `empty`: nothing pending. */
    reason: "leased" | "not-due" | "empty";
    /** When to try again (lease expiry or due time); unset when nothing is pending. */
    retryAt?: number;
    /** The lease holder, for `leased`. */
    holder?: string;
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
}

/** How a failed run continues: a retry time, or a dead-letter reason. */
export type FailDisposition =
  & RunReport
  & (
    | {
      /** When to retry (back-off computed by the caller). */
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

/** What {@linkcode SyncQueue.fail} did. */
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

/** The file's lease. */
export interface LeaseInfo {
  /** The holder. */
  owner: string;
  /** The job it runs. */
  jobId: number;
  /** Its fencing token. */
  fence: number;
  /** When it lapses unless renewed. */
  expiresAt: number;
}
