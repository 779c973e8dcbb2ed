/**
 * The durable sync queue: a plain SQLite file beside the synced database (never
 * a table inside it, where `cloudsync_init('*')` would sync it), in WAL mode,
 * shared by every process that syncs that database.
 *
 * - **Coalescing:** at most one job is pending; requests merge into it (reasons
 *   as a set, the earliest `notBefore`). While a job runs, the next request
 *   creates its one follow-up.
 * - **Exclusion with fencing:** {@linkcode SyncQueue.claim} takes the file's
 *   single lease in `BEGIN IMMEDIATE` and bumps a monotonic fencing token;
 *   `renew`, `complete`, `fail` and `release` act only while that token still
 *   holds the lease, so a stale holder can never finish a re-claimed job.
 * - **Retries and dead letters:** a failed job goes back to pending with a
 *   retry time until `maxAttempts`, then is dead-lettered
 *   (`max_attempts_exceeded`); permanent errors dead-letter at once with the
 *   caller's reason (`permanent:auth`…). The rules are `retry.ts`'s.
 * - **Crash recovery:** a job left running by a holder that died or whose
 *   lease expired is recovered by the next claim, its run recorded as
 *   `worker_lost`; every job reaches exactly one final state. Before its
 *   expiry a lease is taken over only when its holder *and* the holder's
 *   executor (the process that runs the network call, recorded with the
 *   lease) are certainly gone: same host, pids gone.
 * - **Bounded history:** finished jobs keep their runs; the last
 *   `historyLimit` finished and `deadLetterLimit` dead jobs are kept, the rest
 *   pruned, the WAL checkpointed and free pages returned.
 *
 * The queue never reads the clock: every call takes `now` (ms since the
 * epoch). Each call is one short transaction on the calling thread.
 *
 * Limits of the lease: fencing stops a stale holder's *result*, not its work.
 * Renew the lease from the main thread while the executor works, take
 * `leaseMs` above the longest renewal gap, and release with `holdUntil` a job
 * whose network call could not be stopped. A holder on another host, or whose
 * pid was reused (a container's pid 1), is recovered only when its lease
 * expires. Use the same limits in every process: each prunes by its own.
 *
 * @module
 */
import type { Driver } from "../../ffi/drivers/driver.ts";
import type {
  ClaimOptions,
  ClaimResult,
  FailDisposition,
  FailResult,
  ReleaseOptions,
  RequestOptions,
  RequestResult,
  RunReport,
  RunsOptions,
  SyncQueueOptions,
} from "./_queue_calls.ts";
import {
  checkClaim,
  checkFail,
  checkLimits,
  checkPositive,
  checkRelease,
  checkReport,
  checkRequest,
  checkTime,
} from "./_queue_checks.ts";
import { QueueReads } from "./_queue_reads.ts";
import type { LeaseInfo } from "./_queue_rows.ts";
import { openQueueFile, queueFileSizes, type QueueStatements } from "./_queue_schema.ts";
import { QueueStore } from "./_queue_store.ts";

/** Where a job is in its life. `succeeded` and `dead` are final; a job reaches exactly one. */
export type JobState = "pending" | "running" | "succeeded" | "dead";

/**
 * How one run (one claim) of a job ended: `running` (still holding the lease),
 * `succeeded`, `retry` (failed; the job went back to pending with a retry
 * time), `dead` (failed; the job was dead-lettered), `worker_lost` (its holder
 * crashed or stopped renewing; the job was recovered by another claim) or
 * `released` (its holder gave the job back unfinished, e.g. while stopping).
 */
export type RunOutcome = "running" | "succeeded" | "retry" | "dead" | "worker_lost" | "released";

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
  /** Payload chunks sent, as the holder reported (unset in runs of schema 2 and older). */
  readonly chunksSent?: number;
  /** Its error, for failed and lost runs, and runs released with one. */
  readonly error?: JobError;
}

/** A finished job with its runs, oldest run first. */
export interface JobHistoryEntry extends QueueJob {
  /** Its runs (the last 20 are kept). */
  readonly runs: readonly JobRun[];
}

/**
 * The durable, cross-process sync queue of one database: asking for a sync,
 * the lease protocol (claim, renew, complete, fail, release), reading jobs,
 * runs, the lease and the history, and pruning.
 *
 * @example Usage
 * ```ts
 * import { makeOwner } from "./_queue_owner.ts";
 * import { SyncQueue } from "./queue.ts";
 * using queue = await SyncQueue.open(":memory:");
 * const now = 1_700_000_000_000;
 * queue.request("cron", { now });
 * const { jobId } = queue.request("change", { now }); // merges into the same job
 * const claim = queue.claim({ owner: makeOwner(), now, leaseMs: 30_000 });
 * if (claim.claimed) queue.complete(claim.job.id, claim.fence, { now: now + 120, rowsSent: 3 });
 * console.log(queue.get(jobId)?.state); // "succeeded"
 * ```
 */
export class SyncQueue {
  #sql: QueueStatements;
  #store: QueueStore;
  #reads: QueueReads;
  #closeDriver: boolean;

  private constructor(sql: QueueStatements, store: QueueStore, closeDriver: boolean) {
    this.#sql = sql;
    this.#store = store;
    this.#reads = new QueueReads(sql);
    this.#closeDriver = closeDriver;
  }

  /**
   * Opens (creating or migrating it if needed) a queue file, or uses an open connection to one.
   *
   * @param target The queue file's path (see {@linkcode queuePathFor}) or an open {@linkcode Driver}.
   * @param options Driver, limits, busy time-out.
   * @returns The queue.
   * @throws {SqliteSyncError} `schema` naming the file and the fix when it is foreign, newer or
   *   damaged; `driver`/`sql` when it cannot be opened.
   * @throws {TypeError} For an invalid option.
   */
  static async open(target: string | Driver, options: SyncQueueOptions = {}): Promise<SyncQueue> {
    const limits = checkLimits(options);
    const { sql, closeDriver } = await openQueueFile(target, options);
    return new SyncQueue(sql, new QueueStore(sql, limits), closeDriver);
  }

  /** The queue file's path. */
  get path(): string {
    return this.#sql.driver.path;
  }

  /** Whether the queue is open. */
  get isOpen(): boolean {
    return this.#sql.isOpen;
  }

  /**
   * Asks for a sync: joins the pending job, or (`joinRunning`) the running one, or creates one.
   *
   * @param reason What triggered it: 1–64 characters of `[A-Za-z0-9_.:-]` (`cron`, `change`…).
   * @param options The time, `notBefore`, `urgent`, `joinRunning`.
   * @returns The job that answers the request and whether it merged.
   */
  request(reason: string, options: RequestOptions): RequestResult {
    return this.#store.request(...checkRequest(reason, options));
  }

  /**
   * Takes the lease and the due pending job, first recovering a lost holder's (`worker_lost`).
   *
   * @param options Owner, time, lease length and the executor's pid.
   * @returns The running job and its fencing token, or why not and when to try again.
   */
  claim(options: ClaimOptions): ClaimResult {
    return this.#store.claim(...checkClaim(options));
  }

  /**
   * Extends the lease while the fence holds it (also once lapsed, if not taken over meanwhile).
   *
   * @param jobId The running job.
   * @param fence Its fencing token.
   * @param now The current time.
   * @param leaseMs The new lease length from `now`.
   * @returns `false` when the fence lost the lease (stop working and drop the result).
   */
  renew(jobId: number, fence: number, now: number, leaseMs: number): boolean {
    const expiresAt = checkTime("now", now) + checkPositive("leaseMs", leaseMs);
    return this.#store.renew(jobId, fence, expiresAt);
  }

  /**
   * Marks the running job succeeded and frees the lease, if the fence still holds it.
   *
   * @param jobId The running job.
   * @param fence Its fencing token.
   * @param report The time, work start and end, rows sent and received.
   * @returns `false` when the fence lost the lease: nothing changed.
   */
  complete(jobId: number, fence: number, report: RunReport): boolean {
    return this.#store.complete(jobId, fence, checkReport(report));
  }

  /**
   * Records a failed run, if the fence holds the lease: the job is retried or dead-lettered.
   *
   * @param jobId The running job.
   * @param fence Its fencing token.
   * @param error The error, already redacted: only `kind`, `message`, `status`, `code` are kept.
   * @param disposition The time and either `retryAt` or `dead`.
   * @returns What happened; `{ ok: false }` when the fence lost the lease.
   */
  fail(jobId: number, fence: number, error: JobError, disposition: FailDisposition): FailResult {
    return this.#store.fail(jobId, fence, ...checkFail(error, disposition));
  }

  /**
   * Gives the running job back unfinished (not counted as an attempt), e.g. when stopping.
   *
   * @param jobId The running job.
   * @param fence Its fencing token.
   * @param options The time, when the job may run again, how long the lease is held on.
   * @returns `false` when the fence lost the lease.
   */
  release(jobId: number, fence: number, options: ReleaseOptions): boolean {
    return this.#store.release(jobId, fence, ...checkRelease(options));
  }

  /**
   * A job by id. A request that was merged into a retried job resolves to that job.
   *
   * @param jobId An id from `request` or `claim`.
   * @returns The job, or `undefined` when unknown or pruned.
   */
  get(jobId: number): QueueJob | undefined {
    return this.#reads.get(jobId);
  }

  /**
   * The runs (claims) of a job, oldest first.
   *
   * @param jobId The job.
   * @returns Its runs (the last 20).
   */
  runs(jobId: number): JobRun[];
  /**
   * The runs of every job (pending, running or finished) that started at or
   * after `since`: the latest `limit`, returned oldest first. One query on the
   * start-time index. Bounded by what the queue keeps: the last 20 runs of each
   * job, and `historyLimit` finished jobs (500 by default).
   *
   * @param options The earliest start time and the most runs.
   * @returns The runs, by start time then fence, oldest first.
   * @throws {TypeError} For a `since` that is not a finite number or a `limit` below 1.
   */
  runs(options: RunsOptions): JobRun[];
  runs(arg: number | RunsOptions): JobRun[] {
    if (typeof arg === "number") return this.#reads.runs(arg);
    const since = checkTime("since", arg?.since);
    const limit = checkPositive("limit", arg.limit ?? 500);
    return this.#reads.runsSince(since, limit);
  }

  /** The running and the pending job: either, both or neither. */
  current(): { running?: QueueJob; pending?: QueueJob } {
    return this.#reads.current();
  }

  /** The file's lease (holder, job, fence, expiry, executor pid); `undefined` when free. */
  lease(): LeaseInfo | undefined {
    return this.#reads.lease();
  }

  /** Jobs pending or running: 0, 1 or 2. */
  depth(): number {
    return this.#reads.depth();
  }

  /**
   * The jobs waiting or running, in one read: how many, when the oldest of them was first
   * requested, and the pending one.
   *
   * @returns `depth` (0, 1 or 2), `oldestCreatedAt` (`null` when none) and `pending`.
   */
  backlog(): { depth: number; oldestCreatedAt: number | null; pending?: QueueJob } {
    return this.#reads.backlog();
  }

  /**
   * Finished jobs (succeeded or dead) with their runs, latest finished first.
   *
   * @param limit How many (≥ 1).
   * @returns The jobs.
   */
  history(limit = 50): JobHistoryEntry[] {
    return this.#reads.finished(false, checkPositive("limit", limit));
  }

  /**
   * Dead-lettered jobs with their reason, attempts, last error and runs, latest first.
   *
   * @param limit How many (≥ 1).
   * @returns The jobs.
   */
  deadLetters(limit = 50): JobHistoryEntry[] {
    return this.#reads.finished(true, checkPositive("limit", limit));
  }

  /** The sizes of the queue file and its WAL, in bytes (0 in memory or when absent). */
  fileSizes(): { file: number; wal: number } {
    return queueFileSizes(this.path);
  }

  /**
   * Deletes finished jobs beyond the limits, frees pages, truncates the WAL (also automatically).
   *
   * @returns How many jobs were deleted.
   */
  prune(): number {
    return this.#store.prune();
  }

  /** Closes the queue (and the connection, unless opened with `closeDriver: false`). Idempotent. */
  close(): void {
    if (!this.#sql.isOpen && !this.#sql.driver.isOpen) return;
    this.#sql.close();
    if (this.#closeDriver) this.#sql.driver.close();
  }

  /** Same as {@linkcode SyncQueue.close}. */
  [Symbol.dispose](): void {
    this.close();
  }
}
