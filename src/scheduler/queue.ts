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
 *   caller's reason (`permanent:auth`…).
 * - **Crash recovery:** a job left running by a holder that died (same host,
 *   its pid gone) or whose lease expired is recovered by the next claim, its
 *   run recorded as `worker_lost`; every job reaches exactly one final state.
 * - **Bounded history:** finished jobs keep their runs; the last
 *   `historyLimit` finished and `deadLetterLimit` dead jobs are kept, the rest
 *   pruned, the WAL checkpointed and free pages returned.
 *
 * The queue never reads the clock: every call takes `now` (ms since the
 * epoch). Each call is one short transaction on the calling thread.
 *
 * Limits of the lease: fencing stops a stale holder's *result*, not its work.
 * A holder still blocked in a native network call after its lease lapsed can
 * overlap with the next holder's call, so renew the lease from the main thread
 * while the executor works, and take `leaseMs` above the longest renewal gap.
 * A holder on another host, or whose pid was reused (a container's pid 1),
 * is recovered only when its lease expires. Use the same limits in every
 * process: each prunes by its own.
 *
 * @module
 */
import type { Driver } from "../../ffi/drivers/driver.ts";
import { openDriver } from "../../ffi/drivers/open_driver.ts";
import { isOwnerGone } from "./_queue_owner.ts";
import { QueueReader } from "./_queue_reader.ts";
import {
  checkLabel,
  checkOwner,
  checkPositive,
  checkReport,
  checkTime,
  type JobError,
  storeError,
} from "./_queue_rows.ts";
import { prepareQueueFile } from "./_queue_schema.ts";
import { QueueStatements } from "./_queue_statements.ts";
import { QueueStore, type StoreLimits } from "./_queue_store.ts";
import type {
  ClaimOptions,
  ClaimResult,
  FailDisposition,
  FailResult,
  RequestOptions,
  RequestResult,
  RunReport,
  SyncQueueOptions,
} from "./_queue_types.ts";

export type * from "../../ffi/drivers/driver.ts";
export type {
  JobError,
  JobHistoryEntry,
  JobRun,
  JobState,
  QueueJob,
  RunOutcome,
} from "./_queue_rows.ts";
export type * from "./_queue_types.ts";
export { MAX_ATTEMPTS_EXCEEDED } from "./_queue_types.ts";
export { isOwnerGone, makeOwner, queuePathFor } from "./_queue_owner.ts";
export { QUEUE_APPLICATION_ID, QUEUE_SCHEMA_VERSION } from "./_queue_schema.ts";
export { QueueReader } from "./_queue_reader.ts";

/**
 * The durable, cross-process sync queue of one database: asking for a sync,
 * the lease protocol (claim, renew, complete, fail, release) and pruning
 * here; reading jobs, runs, the lease and the history in
 * {@linkcode QueueReader}.
 *
 * @example Usage
 * ```ts
 * import { makeOwner, SyncQueue } from "./queue.ts";
 * using queue = await SyncQueue.open(":memory:");
 * const now = 1_700_000_000_000;
 * queue.request("cron", { now });
 * const { jobId } = queue.request("change", { now }); // merges into the same job
 * const claim = queue.claim({ owner: makeOwner(), now, leaseMs: 30_000 });
 * if (claim.claimed) queue.complete(claim.job.id, claim.fence, { now: now + 120, rowsSent: 3 });
 * console.log(queue.get(jobId)?.state); // "succeeded"
 * ```
 */
export class SyncQueue extends QueueReader {
  #driver: Driver;
  #sql: QueueStatements;
  #store: QueueStore;
  #closeDriver: boolean;

  private constructor(driver: Driver, limits: StoreLimits, closeDriver: boolean) {
    const sql = new QueueStatements(driver);
    super(driver, sql);
    this.#driver = driver;
    this.#sql = sql;
    this.#store = new QueueStore(sql, limits);
    this.#closeDriver = closeDriver;
  }

  /**
   * Opens (and creates if needed) a queue file, or uses an open connection to one.
   *
   * @param target The queue file's path (see {@linkcode queuePathFor}) or an open {@linkcode Driver}.
   * @param options Driver, limits, busy time-out.
   * @returns The queue.
   * @throws {SqliteSyncError} `schema` naming the file and the fix when it is foreign, newer or
   *   damaged; `driver`/`sql` when it cannot be opened.
   * @throws {TypeError} For an invalid option.
   *
   * @example Usage
   * ```ts
   * import { queuePathFor, SyncQueue } from "./queue.ts";
   * const queue = await SyncQueue.open(queuePathFor(":memory:"), { maxAttempts: 5 });
   * queue.close();
   * ```
   */
  static async open(target: string | Driver, options: SyncQueueOptions = {}): Promise<SyncQueue> {
    const limits = {
      maxAttempts: checkPositive("maxAttempts", options.maxAttempts ?? 10),
      historyLimit: checkPositive("historyLimit", options.historyLimit ?? 500),
      deadLetterLimit: checkPositive("deadLetterLimit", options.deadLetterLimit ?? 100),
      isHolderGone: options.isHolderGone ?? isOwnerGone,
    };
    const busyTimeoutMs = options.busyTimeoutMs ?? 5000;
    const opened = typeof target === "string";
    const driver = opened ? await openDriver(target, { driver: options.driver }) : target;
    const closeDriver = opened || options.closeDriver !== false;
    try {
      prepareQueueFile(driver, { busyTimeoutMs });
    } catch (err) {
      if (closeDriver) driver.close();
      throw err;
    }
    return new SyncQueue(driver, limits, closeDriver);
  }

  /**
   * Asks for a sync. Merges into the pending job when there is one (reasons as
   * a set, the earliest `notBefore`); otherwise, with `joinRunning`, joins the
   * running job; otherwise creates a job (the running job's one follow-up).
   *
   * @param reason What triggered it: 1–64 characters of `[A-Za-z0-9_.:-]` (`cron`, `change`…).
   * @param options The time, `notBefore`, `urgent`, `joinRunning`.
   * @returns The job that answers the request and whether it merged.
   * @throws {TypeError} For an invalid reason or time.
   *
   * @example Usage
   * ```ts
   * import { SyncQueue } from "./queue.ts";
   * using queue = await SyncQueue.open(":memory:");
   * const first = queue.request("interval", { now: 1000, notBefore: 5000 });
   * const second = queue.request("change", { now: 1001, notBefore: 2000 });
   * console.log(second.coalesced, second.jobId === first.jobId); // true true
   * console.log(queue.get(first.jobId)?.notBefore); // 2000
   * ```
   */
  request(reason: string, options: RequestOptions): RequestResult {
    checkLabel("reason", reason);
    const now = checkTime("now", options.now);
    const notBefore = options.notBefore === undefined
      ? now
      : checkTime("notBefore", options.notBefore);
    const urgent = options.urgent === true ? 1 : 0;
    return this.#store.request(reason, now, notBefore, urgent, options.joinRunning === true);
  }

  /**
   * Takes the lease and the pending job when it is due and no live holder has
   * the lease. First recovers a job whose holder's lease expired or whose
   * holder is gone (its run becomes `worker_lost`; the job is retried at once
   * or, past `maxAttempts`, dead-lettered).
   *
   * @param options Owner, time and lease length.
   * @returns The running job and its fencing token, or why not and when to try again.
   * @throws {TypeError} For an invalid owner, time or lease length.
   *
   * @example Usage
   * ```ts
   * import { makeOwner, SyncQueue } from "./queue.ts";
   * using queue = await SyncQueue.open(":memory:");
   * queue.request("cron", { now: 0 });
   * const a = queue.claim({ owner: makeOwner(), now: 1, leaseMs: 1000 });
   * const b = queue.claim({ owner: makeOwner(), now: 2, leaseMs: 1000 });
   * console.log(a.claimed, b.claimed, b.claimed ? 0 : b.retryAt); // true false 1001
   * ```
   */
  claim(options: ClaimOptions): ClaimResult {
    const owner = checkOwner(options.owner);
    const now = checkTime("now", options.now);
    return this.#store.claim(owner, now, checkPositive("leaseMs", options.leaseMs));
  }

  /**
   * Extends the lease while the fence still holds it (also after it lapsed, if
   * nobody took it over meanwhile).
   *
   * @param jobId The running job.
   * @param fence Its fencing token.
   * @param now The current time.
   * @param leaseMs The new lease length from `now`.
   * @returns `false` when the fence lost the lease (stop working and drop the result).
   *
   * @example Usage
   * ```ts
   * import { makeOwner, SyncQueue } from "./queue.ts";
   * using queue = await SyncQueue.open(":memory:");
   * queue.request("cron", { now: 0 });
   * const claim = queue.claim({ owner: makeOwner(), now: 0, leaseMs: 1000 });
   * if (claim.claimed) console.log(queue.renew(claim.job.id, claim.fence, 900, 1000)); // true
   * ```
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
   *
   * @example Usage
   * ```ts
   * import { makeOwner, SyncQueue } from "./queue.ts";
   * using queue = await SyncQueue.open(":memory:");
   * queue.request("cron", { now: 0 });
   * const claim = queue.claim({ owner: makeOwner(), now: 0, leaseMs: 1000 });
   * if (claim.claimed) queue.complete(claim.job.id, claim.fence, { now: 50, rowsReceived: 7 });
   * console.log(queue.history(1)[0].rowsReceived); // 7
   * ```
   */
  complete(jobId: number, fence: number, report: RunReport): boolean {
    return this.#store.complete(jobId, fence, checkReport(report));
  }

  /**
   * Records a failed run, if the fence still holds the lease: with `retryAt`
   * the job goes back to pending (merging any follow-up into it), unless it has
   * used `maxAttempts` (then dead, `max_attempts_exceeded`); with `dead` it is
   * dead-lettered at once with that reason.
   *
   * @param jobId The running job.
   * @param fence Its fencing token.
   * @param error The error, already redacted: only `kind`, `message`, `status`, `code` are kept.
   * @param disposition The time and either `retryAt` or `dead`.
   * @returns What happened; `{ ok: false }` when the fence lost the lease.
   * @throws {TypeError} For an invalid error, time or reason.
   *
   * @example Usage
   * ```ts
   * import { makeOwner, SyncQueue } from "./queue.ts";
   * using queue = await SyncQueue.open(":memory:");
   * queue.request("cron", { now: 0 });
   * const claim = queue.claim({ owner: makeOwner(), now: 0, leaseMs: 1000 });
   * if (claim.claimed) {
   *   const error = { kind: "auth", message: "token rejected", status: 401 };
   *   console.log(queue.fail(claim.job.id, claim.fence, error, { now: 5, dead: "permanent:auth" }));
   *   // { ok: true, state: "dead", reason: "permanent:auth" }
   * }
   * ```
   */
  fail(jobId: number, fence: number, error: JobError, disposition: FailDisposition): FailResult {
    const report = checkReport(disposition);
    const stored = storeError(error);
    const next = disposition.dead === undefined
      ? { retryAt: checkTime("retryAt", disposition.retryAt) }
      : { dead: checkLabel("dead", disposition.dead) };
    return this.#store.fail(jobId, fence, stored, report, next);
  }

  /**
   * Gives the running job back unfinished (for example when stopping): it
   * returns to pending, this claim not counted as an attempt.
   *
   * @param jobId The running job.
   * @param fence Its fencing token.
   * @param options The time, and when it may run again (default: at once).
   * @returns `false` when the fence lost the lease.
   *
   * @example Usage
   * ```ts
   * import { makeOwner, SyncQueue } from "./queue.ts";
   * using queue = await SyncQueue.open(":memory:");
   * queue.request("cron", { now: 0 });
   * const claim = queue.claim({ owner: makeOwner(), now: 0, leaseMs: 1000 });
   * if (claim.claimed) queue.release(claim.job.id, claim.fence, { now: 10 });
   * console.log(queue.current().pending?.attempts); // 0
   * ```
   */
  release(jobId: number, fence: number, options: { now: number; retryAt?: number }): boolean {
    const now = checkTime("now", options.now);
    const retryAt = options.retryAt === undefined ? 0 : checkTime("retryAt", options.retryAt);
    return this.#store.release(jobId, fence, now, retryAt);
  }

  /**
   * Deletes finished jobs beyond the limits, returns free pages and truncates
   * the WAL. Runs by itself after a job finishes once the history outgrows its
   * limits by a margin.
   *
   * @returns How many jobs were deleted.
   *
   * @example Usage
   * ```ts
   * import { SyncQueue } from "./queue.ts";
   * using queue = await SyncQueue.open(":memory:");
   * console.log(queue.prune()); // 0
   * ```
   */
  prune(): number {
    return this.#store.prune();
  }

  /**
   * Closes the queue (and the connection, unless opened with `closeDriver: false`). Idempotent.
   *
   * @example Usage
   * ```ts
   * import { SyncQueue } from "./queue.ts";
   * const queue = await SyncQueue.open(":memory:");
   * queue.close();
   * console.log(queue.isOpen); // false
   * ```
   */
  close(): void {
    if (!this.#sql.isOpen && !this.#driver.isOpen) return;
    this.#sql.close();
    if (this.#closeDriver) this.#driver.close();
  }

  /** Same as {@linkcode SyncQueue.close}. */
  [Symbol.dispose](): void {
    this.close();
  }
}
