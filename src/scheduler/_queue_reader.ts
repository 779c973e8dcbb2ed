/**
 * What a sync queue tells about its jobs: a job and its runs, the running and
 * pending job, the lease, the depth, the history and the dead letters, and
 * the file's size. {@linkcode SyncQueue} inherits it; reading takes no lock
 * beyond SQLite's own.
 *
 * @module
 */
import { statSync } from "node:fs";
import type { Driver, Row } from "../../ffi/drivers/driver.ts";
import {
  checkPositive,
  type JobHistoryEntry,
  type JobRun,
  type QueueJob,
  toJob,
  toRun,
} from "./_queue_rows.ts";
import type { QueueStatements } from "./_queue_statements.ts";
import type { LeaseInfo } from "./_queue_types.ts";

/**
 * The read side of a {@linkcode SyncQueue}: every method here is one read
 * of the queue file. Not constructed directly: open a `SyncQueue`.
 *
 * @example Usage
 * ```ts
 * import { SyncQueue } from "./queue.ts";
 * using queue = await SyncQueue.open(":memory:");
 * queue.request("cron", { now: 0 });
 * console.log(queue.depth(), queue.lease(), queue.history().length); // 1 undefined 0
 * ```
 */
export abstract class QueueReader {
  #driver: Driver;
  #sql: QueueStatements;

  /**
   * Called by {@linkcode SyncQueue}.
   *
   * @param driver The queue's connection.
   * @param sql Its statements.
   */
  protected constructor(driver: Driver, sql: QueueStatements) {
    this.#driver = driver;
    this.#sql = sql;
  }

  /** The queue file's path. */
  get path(): string {
    return this.#driver.path;
  }

  /** Whether the queue is open. */
  get isOpen(): boolean {
    return this.#sql.isOpen;
  }

  /**
   * A job by id. A request that was merged into a retried job resolves to that job.
   *
   * @param jobId An id from `request` or `claim`.
   * @returns The job, or `undefined` when unknown or pruned.
   *
   * @example Usage
   * ```ts
   * import { SyncQueue } from "./queue.ts";
   * using queue = await SyncQueue.open(":memory:");
   * const { jobId } = queue.request("manual", { now: 0 });
   * console.log(queue.get(jobId)?.state); // "pending"
   * ```
   */
  get(jobId: number): QueueJob | undefined {
    return this.#sql.guard(() => {
      let row = this.#job(jobId);
      for (let hops = 0; row !== undefined && row.state === "merged" && hops < 8; hops++) {
        row = this.#job(Number(row.merged_into));
      }
      return row === undefined || row.state === "merged" ? undefined : toJob(row);
    });
  }

  /**
   * The runs (claims) of a job, oldest first.
   *
   * @param jobId The job.
   * @returns Its runs (the last 20).
   *
   * @example Usage
   * ```ts
   * import { SyncQueue } from "./queue.ts";
   * using queue = await SyncQueue.open(":memory:");
   * console.log(queue.runs(1)); // []
   * ```
   */
  runs(jobId: number): JobRun[] {
    return this.#sql.guard(() =>
      this.#sql.q("SELECT * FROM runs WHERE job_id = ? ORDER BY fence").all(jobId).map(toRun)
    );
  }

  /**
   * The running and the pending job.
   *
   * @returns Either, both or neither.
   *
   * @example Usage
   * ```ts
   * import { SyncQueue } from "./queue.ts";
   * using queue = await SyncQueue.open(":memory:");
   * queue.request("cron", { now: 0, notBefore: 60_000 });
   * console.log(queue.current().pending?.dueAt); // 60000
   * ```
   */
  current(): { running?: QueueJob; pending?: QueueJob } {
    return this.#sql.guard(() => {
      const out: { running?: QueueJob; pending?: QueueJob } = {};
      const rows = this.#sql.q("SELECT * FROM jobs WHERE state IN ('pending','running')").all();
      for (const row of rows) out[row.state as "pending" | "running"] = toJob(row);
      return out;
    });
  }

  /**
   * The file's lease, when held.
   *
   * @returns The holder, job, fence and expiry; `undefined` when free.
   *
   * @example Usage
   * ```ts
   * import { SyncQueue } from "./queue.ts";
   * using queue = await SyncQueue.open(":memory:");
   * console.log(queue.lease()); // undefined
   * ```
   */
  lease(): LeaseInfo | undefined {
    return this.#sql.guard(() => {
      const row = this.#sql.q("SELECT * FROM lease WHERE id = 1").get()!;
      return row.owner === null ? undefined : {
        owner: String(row.owner),
        jobId: Number(row.job_id),
        fence: Number(row.fence),
        expiresAt: Number(row.expires_at),
      };
    });
  }

  /**
   * Jobs pending or running.
   *
   * @returns 0, 1 or 2.
   *
   * @example Usage
   * ```ts
   * import { SyncQueue } from "./queue.ts";
   * using queue = await SyncQueue.open(":memory:");
   * queue.request("cron", { now: 0 });
   * console.log(queue.depth()); // 1
   * ```
   */
  depth(): number {
    const sql = "SELECT count(*) AS n FROM jobs WHERE state IN ('pending','running')";
    return this.#sql.guard(() => Number(this.#sql.q(sql).get()!.n));
  }

  /**
   * Finished jobs (succeeded or dead) with their runs, latest finished first.
   *
   * @param limit How many.
   * @returns The jobs.
   *
   * @example Usage
   * ```ts
   * import { SyncQueue } from "./queue.ts";
   * using queue = await SyncQueue.open(":memory:");
   * console.log(queue.history(10).length); // 0
   * ```
   */
  history(limit = 50): JobHistoryEntry[] {
    return this.#finished("state IN ('succeeded','dead')", checkPositive("limit", limit));
  }

  /**
   * Dead-lettered jobs with their reason, attempts, last error and runs, latest first.
   *
   * @param limit How many.
   * @returns The jobs.
   *
   * @example Usage
   * ```ts
   * import { SyncQueue } from "./queue.ts";
   * using queue = await SyncQueue.open(":memory:");
   * console.log(queue.deadLetters(10)); // []
   * ```
   */
  deadLetters(limit = 50): JobHistoryEntry[] {
    return this.#finished("state = 'dead'", checkPositive("limit", limit));
  }

  /**
   * The sizes of the queue file and its WAL, in bytes (0 in memory or when absent).
   *
   * @returns The sizes.
   *
   * @example Usage
   * ```ts
   * import { SyncQueue } from "./queue.ts";
   * using queue = await SyncQueue.open(":memory:");
   * console.log(queue.fileSizes()); // { file: 0, wal: 0 }
   * ```
   */
  fileSizes(): { file: number; wal: number } {
    const size = (p: string) => {
      try {
        return statSync(p).size;
      } catch {
        return 0;
      }
    };
    const memory = this.path === ":memory:" || this.path === "";
    return memory ? { file: 0, wal: 0 } : { file: size(this.path), wal: size(`${this.path}-wal`) };
  }

  #job(id: number): Row | undefined {
    return this.#sql.q("SELECT * FROM jobs WHERE id = ?").get(id);
  }

  /** Finished jobs matching `where`, with their runs, latest finished first. */
  #finished(where: string, limit: number): JobHistoryEntry[] {
    return this.#sql.guard(() =>
      this.#sql.q(`SELECT * FROM jobs WHERE ${where} ORDER BY finished_at DESC, id DESC LIMIT ?`)
        .all(limit)
        .map((row) => ({ ...toJob(row), runs: this.runs(Number(row.id)) }))
    );
  }
}
