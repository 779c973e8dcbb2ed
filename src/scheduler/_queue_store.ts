/**
 * Every SQL statement of the sync queue, each state change in one
 * `BEGIN IMMEDIATE` transaction. Arguments arrive checked (by `queue.ts`).
 *
 * @module
 */
import { SqliteSyncError } from "../../common/errors.ts";
import type { Driver, PreparedStatement, Row } from "../../ffi/drivers/driver.ts";
import {
  type CheckedReport,
  type JobHistoryEntry,
  type JobRun,
  mergeReasons,
  type QueueJob,
  storeError,
  toJob,
  toRun,
} from "./_queue_rows.ts";
import { isDamagedFileError, queueFileError } from "./_queue_schema.ts";
import {
  type ClaimResult,
  type FailResult,
  type LeaseInfo,
  MAX_ATTEMPTS_EXCEEDED,
  type RequestResult,
} from "./_queue_types.ts";

/** How many runs of one job are kept. */
const RUNS_PER_JOB = 20;
const FINISHED = "state IN ('succeeded','dead')";

/** The limits a store enforces. */
export interface StoreLimits {
  /** Claims per job before `max_attempts_exceeded`. */
  maxAttempts: number;
  /** Finished jobs kept. */
  historyLimit: number;
  /** Dead jobs kept in any case. */
  deadLetterLimit: number;
  /** Whether a lease holder is certainly gone. */
  isHolderGone: (owner: string) => boolean;
}

/** The queue's tables on one connection. */
export class QueueStore {
  #driver: Driver;
  #limits: StoreLimits;
  #statements = new Map<string, PreparedStatement>();
  #keptAfterPrune = 0;
  #open = true;

  /**
   * @param driver The connection, with the schema in place.
   * @param limits The limits.
   */
  constructor(driver: Driver, limits: StoreLimits) {
    this.#driver = driver;
    this.#limits = limits;
  }

  /** Whether the store is open. */
  get isOpen(): boolean {
    return this.#open && this.#driver.isOpen;
  }

  /** Adds a request to the pending job, the running one (`joinRunning`), or a new job. */
  request(
    reason: string,
    now: number,
    notBefore: number,
    urgent: 0 | 1,
    joinRunning: boolean,
  ): RequestResult {
    return this.#tx(() => {
      const pending = this.#pending();
      if (pending !== undefined) {
        this.#q(
          `UPDATE jobs SET reasons = ?, requests = requests + 1, not_before = min(not_before, ?),
             urgent = max(urgent, ?), retry_at = CASE WHEN ? = 1 THEN 0 ELSE retry_at END
           WHERE id = ?`,
        ).run(mergeReasons(pending.reasons, [reason]), notBefore, urgent, urgent, pending.id);
        return { jobId: Number(pending.id), coalesced: true, state: "pending" };
      }
      if (joinRunning) {
        const running = this.#q("SELECT id, reasons FROM jobs WHERE state = 'running'").get();
        if (running !== undefined) {
          this.#q("UPDATE jobs SET reasons = ?, requests = requests + 1 WHERE id = ?")
            .run(mergeReasons(running.reasons, [reason]), running.id);
          return { jobId: Number(running.id), coalesced: true, state: "running" };
        }
      }
      const inserted = this.#q(
        `INSERT INTO jobs (state, reasons, requests, urgent, created_at, not_before)
         VALUES ('pending', ?, 1, ?, ?, ?)`,
      ).run(JSON.stringify([reason]), urgent, now, notBefore);
      return { jobId: Number(inserted.lastInsertRowid), coalesced: false, state: "pending" };
    });
  }

  /** Recovers a lost holder's job, then takes the lease and the due pending job. */
  claim(owner: string, now: number, leaseMs: number): ClaimResult {
    return this.#tx((): ClaimResult => {
      const lease = this.#lease();
      if (lease.owner !== null) {
        const expired = Number(lease.expires_at) <= now;
        const holder = String(lease.owner);
        if (!expired && (holder === owner || !this.#limits.isHolderGone(holder))) {
          return { claimed: false, reason: "leased", retryAt: Number(lease.expires_at), holder };
        }
        this.#recoverLost(lease, now, expired ? "its lease expired" : "its process is gone");
      }
      const pending = this.#pending();
      if (pending === undefined) return { claimed: false, reason: "empty" };
      const due = Math.max(Number(pending.not_before), Number(pending.retry_at));
      if (due > now) return { claimed: false, reason: "not-due", retryAt: due };
      const fence = Number(lease.fence) + 1;
      const expiresAt = now + leaseMs;
      this.#q("UPDATE lease SET owner = ?, job_id = ?, fence = ?, expires_at = ? WHERE id = 1")
        .run(owner, pending.id, fence, expiresAt);
      this.#q(
        `UPDATE jobs SET state = 'running', attempts = attempts + 1, fence = ?, owner = ?,
           started_at = ?, urgent = 0 WHERE id = ?`,
      ).run(fence, owner, now, pending.id);
      this.#q(
        `DELETE FROM runs WHERE job_id = ?1 AND fence <= (SELECT fence FROM runs WHERE job_id = ?1
           ORDER BY fence DESC LIMIT 1 OFFSET ${RUNS_PER_JOB - 1})`,
      ).run(pending.id);
      this.#q(
        `INSERT INTO runs (fence, job_id, owner, claimed_at, started_at, outcome)
         VALUES (?, ?, ?, ?, ?, 'running')`,
      ).run(fence, pending.id, owner, now, now);
      const job = toJob(this.#job(Number(pending.id))!);
      return { claimed: true, job, fence, leaseExpiresAt: expiresAt };
    });
  }

  /** Moves the lease's expiry while `fence` holds it. */
  renew(jobId: number, fence: number, expiresAt: number): boolean {
    return this.#tx(() => {
      if (!this.#holds(jobId, fence)) return false;
      this.#q("UPDATE lease SET expires_at = ? WHERE id = 1").run(expiresAt);
      return true;
    });
  }

  /** Marks the job succeeded while `fence` holds the lease. */
  complete(jobId: number, fence: number, r: CheckedReport): boolean {
    let prune = false;
    const ok = this.#tx(() => {
      if (!this.#holds(jobId, fence)) return false;
      this.#endRun(fence, "succeeded", r, null);
      this.#q(
        `UPDATE jobs SET state = 'succeeded', started_at = coalesce(?, started_at),
           finished_at = ?, rows_sent = ?, rows_received = ?, retry_at = 0 WHERE id = ?`,
      ).run(r.startedAt, r.finishedAt, r.rowsSent, r.rowsReceived, jobId);
      this.#freeLease();
      prune = this.#pruneDue();
      return true;
    });
    if (prune) this.prune();
    return ok;
  }

  /** Records a failed run while `fence` holds the lease: retry, or dead-letter. */
  fail(
    jobId: number,
    fence: number,
    error: string,
    r: CheckedReport,
    next: { retryAt: number } | { dead: string },
  ): FailResult {
    let prune = false;
    const result = this.#tx((): FailResult => {
      if (!this.#holds(jobId, fence)) return { ok: false };
      const job = this.#job(jobId)!;
      const reason = "dead" in next
        ? next.dead
        : Number(job.attempts) >= this.#limits.maxAttempts
        ? MAX_ATTEMPTS_EXCEEDED
        : undefined;
      this.#endRun(fence, reason === undefined ? "retry" : "dead", r, error);
      this.#q("UPDATE jobs SET started_at = coalesce(?, started_at) WHERE id = ?")
        .run(r.startedAt, jobId);
      this.#freeLease();
      if (reason !== undefined) {
        this.#toDead(jobId, reason, error, r.finishedAt);
        prune = this.#pruneDue();
        return { ok: true, state: "dead", reason };
      }
      const retryAt = this.#toPending(job, (next as { retryAt: number }).retryAt, error);
      return { ok: true, state: "pending", retryAt };
    });
    if (prune) this.prune();
    return result;
  }

  /** Gives the job back to pending while `fence` holds the lease, the claim uncounted. */
  release(jobId: number, fence: number, now: number, retryAt: number): boolean {
    return this.#tx(() => {
      if (!this.#holds(jobId, fence)) return false;
      this.#q("UPDATE runs SET outcome = 'released', finished_at = ? WHERE fence = ?")
        .run(now, fence);
      this.#q("UPDATE jobs SET attempts = max(attempts - 1, 0) WHERE id = ?").run(jobId);
      this.#freeLease();
      this.#toPending(this.#job(jobId)!, retryAt, null);
      return true;
    });
  }

  /** A job by id, following a merged request to the job that absorbed it. */
  get(jobId: number): QueueJob | undefined {
    return this.#guard(() => {
      let row = this.#job(jobId);
      for (let hops = 0; row !== undefined && row.state === "merged" && hops < 8; hops++) {
        row = this.#job(Number(row.merged_into));
      }
      return row === undefined || row.state === "merged" ? undefined : toJob(row);
    });
  }

  /** A job's runs, oldest first. */
  runs(jobId: number): JobRun[] {
    return this.#guard(() =>
      this.#q("SELECT * FROM runs WHERE job_id = ? ORDER BY fence").all(jobId).map(toRun)
    );
  }

  /** The running and the pending job. */
  current(): { running?: QueueJob; pending?: QueueJob } {
    return this.#guard(() => {
      const out: { running?: QueueJob; pending?: QueueJob } = {};
      for (const row of this.#q("SELECT * FROM jobs WHERE state IN ('pending','running')").all()) {
        out[row.state as "pending" | "running"] = toJob(row);
      }
      return out;
    });
  }

  /** The lease, when held. */
  lease(): LeaseInfo | undefined {
    return this.#guard(() => {
      const row = this.#lease();
      return row.owner === null ? undefined : {
        owner: String(row.owner),
        jobId: Number(row.job_id),
        fence: Number(row.fence),
        expiresAt: Number(row.expires_at),
      };
    });
  }

  /** Jobs pending or running. */
  depth(): number {
    return this.#guard(() =>
      Number(
        this.#q("SELECT count(*) AS n FROM jobs WHERE state IN ('pending','running')").get()!.n,
      )
    );
  }

  /** Finished (or only dead) jobs with their runs, latest finished first. */
  finished(deadOnly: boolean, limit: number): JobHistoryEntry[] {
    const where = deadOnly ? "state = 'dead'" : FINISHED;
    return this.#guard(() =>
      this.#q(`SELECT * FROM jobs WHERE ${where} ORDER BY finished_at DESC, id DESC LIMIT ?`)
        .all(limit)
        .map((row) => ({ ...toJob(row), runs: this.runs(Number(row.id)) }))
    );
  }

  /** Deletes finished jobs beyond the limits, frees pages, truncates the WAL. */
  prune(): number {
    const deleted = this.#tx(() => {
      const removed = this.#q(
        `DELETE FROM jobs WHERE ${FINISHED}
           AND id NOT IN (SELECT id FROM jobs WHERE ${FINISHED}
                          ORDER BY finished_at DESC, id DESC LIMIT ?)
           AND id NOT IN (SELECT id FROM jobs WHERE state = 'dead'
                          ORDER BY finished_at DESC, id DESC LIMIT ?)`,
      ).run(this.#limits.historyLimit, this.#limits.deadLetterLimit).changes;
      if (removed > 0) {
        this.#q(
          `DELETE FROM jobs WHERE state = 'merged'
             AND merged_into NOT IN (SELECT id FROM jobs WHERE state != 'merged')`,
        ).run();
        this.#q("DELETE FROM runs WHERE job_id NOT IN (SELECT id FROM jobs)").run();
      }
      this.#keptAfterPrune = this.#finishedCount();
      return removed;
    });
    try {
      this.#driver.prepare("PRAGMA incremental_vacuum").all();
      this.#driver.prepare("PRAGMA wal_checkpoint(TRUNCATE)").all();
    } catch (err) {
      // Another process holds a lock: a later prune checkpoints.
      if (!(err instanceof SqliteSyncError && err.kind === "busy")) throw err;
    }
    return deleted;
  }

  /** Finalizes the statements (the caller closes the connection). Idempotent. */
  close(): void {
    if (!this.#open) return;
    this.#open = false;
    for (const stmt of this.#statements.values()) stmt.finalize();
    this.#statements.clear();
  }

  #q(sql: string): PreparedStatement {
    let stmt = this.#statements.get(sql);
    if (stmt === undefined) {
      stmt = this.#driver.prepare(sql);
      this.#statements.set(sql, stmt);
    }
    return stmt;
  }

  #guard<T>(fn: () => T): T {
    if (!this.#open) {
      throw new SqliteSyncError(
        "state",
        `The sync queue '${this.#driver.path}' is closed: open it again with SyncQueue.open().`,
      );
    }
    try {
      return fn();
    } catch (err) {
      if (isDamagedFileError(err)) {
        throw queueFileError(this.#driver.path, "is damaged", undefined, err);
      }
      throw err;
    }
  }

  #tx<T>(fn: () => T): T {
    return this.#guard(() => this.#driver.transaction(fn));
  }

  #job(id: number): Row | undefined {
    return this.#q("SELECT * FROM jobs WHERE id = ?").get(id);
  }

  #pending(): Row | undefined {
    return this.#q("SELECT * FROM jobs WHERE state = 'pending'").get();
  }

  #lease(): Row {
    return this.#q("SELECT * FROM lease WHERE id = 1").get()!;
  }

  #holds(jobId: number, fence: number): boolean {
    const lease = this.#lease();
    return lease.owner !== null && Number(lease.fence) === fence &&
      Number(lease.job_id) === jobId;
  }

  #freeLease(): void {
    this.#q("UPDATE lease SET owner = NULL, job_id = NULL, expires_at = 0 WHERE id = 1").run();
  }

  #endRun(fence: number, outcome: string, r: CheckedReport, error: string | null): void {
    this.#q(
      `UPDATE runs SET outcome = ?, started_at = coalesce(?, started_at), finished_at = ?,
         rows_sent = ?, rows_received = ?, error = ? WHERE fence = ?`,
    ).run(outcome, r.startedAt, r.finishedAt, r.rowsSent, r.rowsReceived, error, fence);
  }

  #toDead(jobId: number, reason: string, error: string, finishedAt: number): void {
    this.#q(
      `UPDATE jobs SET state = 'dead', dead_reason = ?, last_error = ?, finished_at = ?,
         retry_at = 0 WHERE id = ?`,
    ).run(reason, error, finishedAt, jobId);
  }

  /**
   * Puts a job back to pending. A follow-up requested meanwhile is merged into
   * it (the queue keeps one pending job) and its id then resolves to this job;
   * an urgent follow-up cancels the back-off. Returns the job's due time.
   */
  #toPending(job: Row, retryAt: number, error: string | null): number {
    let reasons = String(job.reasons);
    let requests = Number(job.requests);
    let notBefore = Number(job.not_before);
    let retry = retryAt;
    let urgent = 0;
    const follow = this.#pending();
    if (follow !== undefined) {
      reasons = mergeReasons(reasons, JSON.parse(String(follow.reasons)) as string[]);
      requests += Number(follow.requests);
      notBefore = Math.min(notBefore, Number(follow.not_before));
      if (Number(follow.urgent) === 1) [retry, urgent] = [0, 1];
      this.#q("UPDATE jobs SET state = 'merged', merged_into = ? WHERE id = ?")
        .run(job.id, follow.id);
    }
    this.#q(
      `UPDATE jobs SET state = 'pending', reasons = ?, requests = ?, not_before = ?,
         retry_at = ?, urgent = ?, last_error = coalesce(?, last_error) WHERE id = ?`,
    ).run(reasons, requests, notBefore, retry, urgent, error, job.id);
    return Math.max(notBefore, retry);
  }

  /** The lease's job lost its holder: record `worker_lost`, retry at once or dead-letter. */
  #recoverLost(lease: Row, now: number, why: string): void {
    const fence = Number(lease.fence);
    this.#freeLease();
    const job = this.#q("SELECT * FROM jobs WHERE id = ? AND state = 'running' AND fence = ?")
      .get(lease.job_id, fence);
    if (job === undefined) return;
    const error = storeError({
      kind: "worker_lost",
      message: `run ${fence} of job ${job.id} by '${lease.owner}' was lost (${why}); ` +
        `recovered at ${now}`,
    });
    this.#q("UPDATE runs SET outcome = 'worker_lost', error = ? WHERE fence = ?").run(error, fence);
    if (Number(job.attempts) >= this.#limits.maxAttempts) {
      this.#toDead(Number(job.id), MAX_ATTEMPTS_EXCEEDED, error, now);
    } else {
      this.#toPending(job, now, error);
    }
  }

  /** Whether the history outgrew what the last prune left by a margin (prunes stay rare). */
  #pruneDue(): boolean {
    const slack = Math.max(10, Math.ceil(this.#limits.historyLimit / 10));
    return this.#finishedCount() >
      Math.max(this.#limits.historyLimit, this.#keptAfterPrune) + slack;
  }

  #finishedCount(): number {
    return Number(this.#q(`SELECT count(*) AS n FROM jobs WHERE ${FINISHED}`).get()!.n);
  }
}
