/**
 * The sync queue's reads: jobs, runs, the lease, the backlog and the history,
 * each in one guarded read outside any transaction. The state changes are
 * `_queue_store.ts`'s.
 *
 * @module
 */
import type { Row } from "../../ffi/drivers/driver.ts";
import { type LeaseInfo, toJob, toLease, toRun } from "./_queue_rows.ts";
import type { QueueStatements } from "./_queue_schema.ts";
import type { JobHistoryEntry, JobRun, QueueJob } from "./queue.ts";

/** The SQL condition of a finished job (succeeded or dead). */
export const FINISHED = "state IN ('succeeded','dead')";

/** The runs that started at or after `?1`, the latest `?2`: a search of `runs_by_start`. */
export const RUNS_SINCE_SQL =
  "SELECT * FROM runs WHERE started_at >= ?1 ORDER BY started_at DESC, fence DESC LIMIT ?2";

/** The queue's reads on one connection. */
export class QueueReads {
  #sql: QueueStatements;

  /** @param sql The connection's statements, with the schema in place. */
  constructor(sql: QueueStatements) {
    this.#sql = sql;
  }

  /** A job by id, a merged request resolved to the job it merged into. */
  get(jobId: number): QueueJob | undefined {
    return this.#sql.guard(() => {
      let row = this.#job(jobId);
      for (let hops = 0; row !== undefined && row.state === "merged" && hops < 8; hops++) {
        row = this.#job(Number(row.merged_into));
      }
      return row === undefined || row.state === "merged" ? undefined : toJob(row);
    });
  }

  /** The runs of a job, oldest first. */
  runs(jobId: number): JobRun[] {
    return this.#sql.guard(() =>
      this.#sql.q("SELECT * FROM runs WHERE job_id = ? ORDER BY fence").all(jobId).map(toRun)
    );
  }

  /**
   * The latest `limit` runs that started at or after `since`, oldest first: one query on
   * `runs_by_start`.
   */
  runsSince(since: number, limit: number): JobRun[] {
    return this.#sql.guard(() =>
      this.#sql.q(RUNS_SINCE_SQL).all(since, limit).map(toRun).reverse()
    );
  }

  /** The running and the pending job. */
  current(): { running?: QueueJob; pending?: QueueJob } {
    return this.#sql.guard(() => {
      const out: { running?: QueueJob; pending?: QueueJob } = {};
      const rows = this.#sql.q("SELECT * FROM jobs WHERE state IN ('pending','running')").all();
      for (const row of rows) out[row.state as "pending" | "running"] = toJob(row);
      return out;
    });
  }

  /** The lease, when held. */
  lease(): LeaseInfo | undefined {
    return this.#sql.guard(() => toLease(this.#lease()));
  }

  /** Jobs pending or running. */
  depth(): number {
    const sql = "SELECT count(*) AS n FROM jobs WHERE state IN ('pending','running')";
    return this.#sql.guard(() => Number(this.#sql.q(sql).get()!.n));
  }

  /** The jobs pending or running: how many, the oldest creation time, and the pending one. */
  backlog(): { depth: number; oldestCreatedAt: number | null; pending?: QueueJob } {
    const { running, pending } = this.current();
    const jobs = [running, pending].filter((j): j is QueueJob => j !== undefined);
    return {
      depth: jobs.length,
      oldestCreatedAt: jobs.length === 0 ? null : Math.min(...jobs.map((j) => j.createdAt)),
      ...(pending ? { pending } : {}),
    };
  }

  /** Finished jobs (`dead` only, or all) with their runs, latest finished first. */
  finished(deadOnly: boolean, limit: number): JobHistoryEntry[] {
    const where = deadOnly ? "state = 'dead'" : FINISHED;
    return this.#sql.guard(() =>
      this.#sql.q(`SELECT * FROM jobs WHERE ${where} ORDER BY finished_at DESC, id DESC LIMIT ?`)
        .all(limit)
        .map((row) => ({ ...toJob(row), runs: this.runs(Number(row.id)) }))
    );
  }

  #job(id: number): Row | undefined {
    return this.#sql.q("SELECT * FROM jobs WHERE id = ?").get(id);
  }

  #lease(): Row {
    return this.#sql.q("SELECT * FROM lease WHERE id = 1").get()!;
  }
}
