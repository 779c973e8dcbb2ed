/**
 * The sync queue's state changes, each in one `BEGIN IMMEDIATE` transaction,
 * and pruning. Arguments arrive checked (by `_queue_checks.ts`); whether a job
 * used its attempts is `retry.ts`'s decision; the reads are `_queue_reads.ts`'s.
 *
 * @module
 */
import { SqliteSyncError } from "../../common/errors.ts";
import type { Row } from "../../ffi/drivers/driver.ts";
import type { ClaimResult, FailResult, RequestResult } from "./_queue_calls.ts";
import type { CheckedReport, StoreLimits } from "./_queue_checks.ts";
import { pidOf } from "./_queue_owner.ts";
import { FINISHED } from "./_queue_reads.ts";
import { mergeReasons, storeError, toJob } from "./_queue_rows.ts";
import type { QueueStatements } from "./_queue_schema.ts";
import { deadLetterReason } from "./retry.ts";

/** How many runs of one job are kept. */
const RUNS_PER_JOB = 20;

/** The queue's state changes on one connection. */
export class QueueStore {
  #sql: QueueStatements;
  #limits: StoreLimits;
  #keptAfterPrune = 0;

  /**
   * @param sql The connection's statements, with the schema in place.
   * @param limits The limits.
   */
  constructor(sql: QueueStatements, limits: StoreLimits) {
    this.#sql = sql;
    this.#limits = limits;
  }

  /** Adds a request to the pending job, the running one (`joinRunning`), or a new job. */
  request(
    reason: string,
    now: number,
    notBefore: number,
    urgent: 0 | 1,
    joinRunning: boolean,
  ): RequestResult {
    return this.#sql.tx(() => {
      const pending = this.#pending();
      if (pending !== undefined) {
        this.#sql.q(
          `UPDATE jobs SET reasons = ?, requests = requests + 1, not_before = min(not_before, ?),
             urgent = max(urgent, ?), retry_at = CASE WHEN ? = 1 THEN 0 ELSE retry_at END
           WHERE id = ?`,
        ).run(mergeReasons(pending.reasons, [reason]), notBefore, urgent, urgent, pending.id);
        return { jobId: Number(pending.id), coalesced: true, state: "pending" };
      }
      if (joinRunning) {
        const running = this.#sql.q("SELECT id, reasons FROM jobs WHERE state = 'running'").get();
        if (running !== undefined) {
          this.#sql.q("UPDATE jobs SET reasons = ?, requests = requests + 1 WHERE id = ?")
            .run(mergeReasons(running.reasons, [reason]), running.id);
          return { jobId: Number(running.id), coalesced: true, state: "running" };
        }
      }
      const inserted = this.#sql.q(
        `INSERT INTO jobs (state, reasons, requests, urgent, created_at, not_before)
         VALUES ('pending', ?, 1, ?, ?, ?)`,
      ).run(JSON.stringify([reason]), urgent, now, notBefore);
      return { jobId: Number(inserted.lastInsertRowid), coalesced: false, state: "pending" };
    });
  }

  /**
   * Recovers a lost holder's job, then takes the lease and the due pending job.
   * Before its expiry a lease is taken over only when both its holder and the
   * holder's executor are certainly gone: an orphaned executor may still be in
   * a request.
   */
  claim(owner: string, now: number, leaseMs: number, executorPid: number): ClaimResult {
    return this.#sql.tx((): ClaimResult => {
      const lease = this.#lease();
      if (lease.owner !== null) {
        const expired = Number(lease.expires_at) <= now;
        const holder = String(lease.owner);
        const pid = lease.executor_pid === null ? undefined : Number(lease.executor_pid);
        if (!expired && (holder === owner || !this.#limits.isHolderGone(holder, pid))) {
          const orphaned = holder !== owner && pid !== undefined &&
            this.#limits.isHolderGone(holder, undefined);
          return {
            claimed: false,
            reason: "leased",
            retryAt: Number(lease.expires_at),
            holder,
            ...(orphaned ? { orphaned } : {}),
          };
        }
        const gone = pid === undefined || pid === pidOf(holder)
          ? "its process is gone"
          : `its process and its executor (pid ${pid}) are gone`;
        this.#recoverLost(lease, now, expired ? "its lease expired" : gone);
      }
      const pending = this.#pending();
      if (pending === undefined) return { claimed: false, reason: "empty" };
      const due = Math.max(Number(pending.not_before), Number(pending.retry_at));
      if (due > now) return { claimed: false, reason: "not-due", retryAt: due };
      const fence = Number(lease.fence) + 1;
      const expiresAt = now + leaseMs;
      this.#sql.q(
        `UPDATE lease SET owner = ?, job_id = ?, fence = ?, expires_at = ?, executor_pid = ?
         WHERE id = 1`,
      ).run(owner, pending.id, fence, expiresAt, executorPid);
      this.#sql.q(
        `UPDATE jobs SET state = 'running', attempts = attempts + 1, fence = ?, owner = ?,
           started_at = ?, urgent = 0 WHERE id = ?`,
      ).run(fence, owner, now, pending.id);
      this.#sql.q(
        `DELETE FROM runs WHERE job_id = ?1 AND fence <= (SELECT fence FROM runs WHERE job_id = ?1
           ORDER BY fence DESC LIMIT 1 OFFSET ${RUNS_PER_JOB - 1})`,
      ).run(pending.id);
      this.#sql.q(
        `INSERT INTO runs (fence, job_id, owner, claimed_at, started_at, outcome)
         VALUES (?, ?, ?, ?, ?, 'running')`,
      ).run(fence, pending.id, owner, now, now);
      const job = toJob(this.#job(Number(pending.id))!);
      return { claimed: true, job, fence, leaseExpiresAt: expiresAt };
    });
  }

  /** Moves the lease's expiry while `fence` holds it. */
  renew(jobId: number, fence: number, expiresAt: number): boolean {
    return this.#sql.tx(() => {
      if (!this.#holds(jobId, fence)) return false;
      this.#sql.q("UPDATE lease SET expires_at = ? WHERE id = 1").run(expiresAt);
      return true;
    });
  }

  /** Marks the job succeeded while `fence` holds the lease. */
  complete(jobId: number, fence: number, r: CheckedReport): boolean {
    let prune = false;
    const ok = this.#sql.tx(() => {
      if (!this.#holds(jobId, fence)) return false;
      this.#endRun(fence, "succeeded", r, null);
      this.#sql.q(
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
    const result = this.#sql.tx((): FailResult => {
      if (!this.#holds(jobId, fence)) return { ok: false };
      const job = this.#job(jobId)!;
      const reason = "dead" in next
        ? next.dead
        : deadLetterReason(Number(job.attempts), this.#limits.maxAttempts);
      this.#endRun(fence, reason === undefined ? "retry" : "dead", r, error);
      this.#sql.q("UPDATE jobs SET started_at = coalesce(?, started_at) WHERE id = ?")
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

  /**
   * Gives the job back to pending while `fence` holds the lease, the claim
   * uncounted. With `holdUntil` the lease stays with its holder and executor,
   * without a job, until then (or until both are gone): their call may still
   * be in a request.
   */
  release(
    jobId: number,
    fence: number,
    now: number,
    retryAt: number,
    holdUntil: number | undefined,
    error: string | null,
  ): boolean {
    return this.#sql.tx(() => {
      if (!this.#holds(jobId, fence)) return false;
      this.#sql.q(
        "UPDATE runs SET outcome = 'released', finished_at = ?, error = ? WHERE fence = ?",
      ).run(now, error, fence);
      this.#sql.q("UPDATE jobs SET attempts = max(attempts - 1, 0) WHERE id = ?").run(jobId);
      if (holdUntil === undefined) this.#freeLease();
      else {
        this.#sql.q("UPDATE lease SET job_id = NULL, expires_at = ? WHERE id = 1").run(holdUntil);
      }
      this.#toPending(this.#job(jobId)!, retryAt, null);
      return true;
    });
  }

  /** Deletes finished jobs beyond the limits, frees pages, truncates the WAL. */
  prune(): number {
    const deleted = this.#sql.tx(() => {
      const removed = this.#sql.q(
        `DELETE FROM jobs WHERE ${FINISHED}
           AND id NOT IN (SELECT id FROM jobs WHERE ${FINISHED}
                          ORDER BY finished_at DESC, id DESC LIMIT ?)
           AND id NOT IN (SELECT id FROM jobs WHERE state = 'dead'
                          ORDER BY finished_at DESC, id DESC LIMIT ?)`,
      ).run(this.#limits.historyLimit, this.#limits.deadLetterLimit).changes;
      if (removed > 0) {
        this.#sql.q(
          `DELETE FROM jobs WHERE state = 'merged'
             AND merged_into NOT IN (SELECT id FROM jobs WHERE state != 'merged')`,
        ).run();
        this.#sql.q("DELETE FROM runs WHERE job_id NOT IN (SELECT id FROM jobs)").run();
      }
      this.#keptAfterPrune = this.#finishedCount();
      return removed;
    });
    try {
      this.#sql.driver.prepare("PRAGMA incremental_vacuum").all();
      this.#sql.driver.prepare("PRAGMA wal_checkpoint(TRUNCATE)").all();
    } catch (err) {
      // Another process holds a lock: a later prune checkpoints.
      if (!(err instanceof SqliteSyncError && err.kind === "busy")) throw err;
    }
    return deleted;
  }

  #job(id: number): Row | undefined {
    return this.#sql.q("SELECT * FROM jobs WHERE id = ?").get(id);
  }

  #pending(): Row | undefined {
    return this.#sql.q("SELECT * FROM jobs WHERE state = 'pending'").get();
  }

  #lease(): Row {
    return this.#sql.q("SELECT * FROM lease WHERE id = 1").get()!;
  }

  #holds(jobId: number, fence: number): boolean {
    const lease = this.#lease();
    return lease.owner !== null && lease.job_id !== null && Number(lease.fence) === fence &&
      Number(lease.job_id) === jobId;
  }

  #freeLease(): void {
    this.#sql.q(
      `UPDATE lease SET owner = NULL, job_id = NULL, expires_at = 0, executor_pid = NULL
       WHERE id = 1`,
    ).run();
  }

  #endRun(fence: number, outcome: string, r: CheckedReport, error: string | null): void {
    this.#sql.q(
      `UPDATE runs SET outcome = ?, started_at = coalesce(?, started_at), finished_at = ?,
         rows_sent = ?, rows_received = ?, chunks_sent = ?, error = ? WHERE fence = ?`,
    ).run(
      outcome,
      r.startedAt,
      r.finishedAt,
      r.rowsSent,
      r.rowsReceived,
      r.chunksSent,
      error,
      fence,
    );
  }

  #toDead(jobId: number, reason: string, error: string, finishedAt: number): void {
    this.#sql.q(
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
      this.#sql.q("UPDATE jobs SET state = 'merged', merged_into = ? WHERE id = ?")
        .run(job.id, follow.id);
    }
    this.#sql.q(
      `UPDATE jobs SET state = 'pending', reasons = ?, requests = ?, not_before = ?,
         retry_at = ?, urgent = ?, last_error = coalesce(?, last_error) WHERE id = ?`,
    ).run(reasons, requests, notBefore, retry, urgent, error, job.id);
    return Math.max(notBefore, retry);
  }

  /** The lease's job lost its holder: record `worker_lost`, retry at once or dead-letter. */
  #recoverLost(lease: Row, now: number, why: string): void {
    const fence = Number(lease.fence);
    this.#freeLease();
    // A lease held on after a release (`holdUntil`) has no job to recover.
    if (lease.job_id === null) return;
    const job = this.#sql.q("SELECT * FROM jobs WHERE id = ? AND state = 'running' AND fence = ?")
      .get(lease.job_id, fence);
    if (job === undefined) return;
    const error = storeError({
      kind: "worker_lost",
      message: `run ${fence} of job ${job.id} by '${lease.owner}' was lost (${why}); ` +
        `recovered at ${now}`,
    });
    this.#sql.q("UPDATE runs SET outcome = 'worker_lost', error = ? WHERE fence = ?").run(
      error,
      fence,
    );
    const dead = deadLetterReason(Number(job.attempts), this.#limits.maxAttempts);
    if (dead !== undefined) this.#toDead(Number(job.id), dead, error, now);
    else this.#toPending(job, now, error);
  }

  /** Whether the history outgrew what the last prune left by a margin (prunes stay rare). */
  #pruneDue(): boolean {
    const slack = Math.max(10, Math.ceil(this.#limits.historyLimit / 10));
    return this.#finishedCount() >
      Math.max(this.#limits.historyLimit, this.#keptAfterPrune) + slack;
  }

  #finishedCount(): number {
    return Number(this.#sql.q(`SELECT count(*) AS n FROM jobs WHERE ${FINISHED}`).get()!.n);
  }
}
