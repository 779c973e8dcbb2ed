/**
 * What `SyncQueue`'s methods take and return, besides the job records
 * (`queue.ts` defines those, as the package exports them). The checks that
 * turn these into the store's arguments are `_queue_checks.ts`'s.
 *
 * @module
 */
import type { DriverName } from "../../ffi/drivers/driver.ts";
import type { JobError, QueueJob } from "./queue.ts";

/** Options of `SyncQueue.open`. */
export interface SyncQueueOptions {
  /** The driver that opens a path (use the synced database's). @default the runtime's default */
  driver?: DriverName;
  /** Whether `SyncQueue.close` closes a connection passed to `open`. @default true */
  closeDriver?: boolean;
  /** How long a statement waits for another process' write lock, in ms. @default 5000 */
  busyTimeoutMs?: number;
  /** Claims per job before it is dead-lettered as `max_attempts_exceeded`. @default 10 */
  maxAttempts?: number;
  /** Finished jobs (succeeded or dead) kept for history. @default 500 */
  historyLimit?: number;
  /** Dead jobs kept in any case, however many jobs finished since. @default 100 */
  deadLetterLimit?: number;
  /**
   * Tells whether the lease holder `owner` and its executor (`executorPid`,
   * unset in a lease written by an older version) are certainly gone, so its
   * job is recovered before its lease expires.
   * @default isOwnerGone
   */
  isHolderGone?: (owner: string, executorPid?: number) => boolean;
}

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

/** Options of `SyncQueue.runs` across jobs. */
export interface RunsOptions {
  /** Only runs that started at or after this time (ms since the epoch). */
  since: number;
  /** At most this many, the latest started (≥ 1). @default 500 */
  limit?: number;
}
