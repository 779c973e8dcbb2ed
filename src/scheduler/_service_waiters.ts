/**
 * The callers waiting on a sync job: `syncNow()` promises, settled when their
 * job (or the job their request was merged into) finishes, rejected when the
 * service stops.
 *
 * @module
 */
import type { SyncResult } from "../../common/sync_result.ts";
import type { SyncQueue } from "./queue.ts";

/** One caller waiting on a job. */
export interface Waiter {
  /** Settles the caller's promise with the sync's result. */
  resolve(result: SyncResult): void;
  /** Rejects the caller's promise. */
  reject(err: unknown): void;
}

/**
 * The waiters of a service's jobs, by the job id their request returned.
 *
 * @example Usage
 * ```ts ignore
 * import { JobWaiters } from "./_service_waiters.ts";
 * const waiters = new JobWaiters(queue);
 * const { jobId } = queue.request("manual", { now: Date.now(), urgent: true });
 * const done = waiters.wait(jobId);
 * waiters.settle(jobId, (w) => w.resolve(result)); // `done` resolves with `result`
 * ```
 */
export class JobWaiters {
  #queue: SyncQueue;
  #waiters = new Map<number, Waiter[]>();

  /**
   * Creates an empty set of waiters.
   *
   * @param queue The queue that knows which job a request was merged into.
   */
  constructor(queue: SyncQueue) {
    this.#queue = queue;
  }

  /**
   * Waits on a job.
   *
   * @param jobId The id the request returned.
   * @returns A promise settled with the job's outcome.
   */
  wait(jobId: number): Promise<SyncResult> {
    return new Promise<SyncResult>((resolve, reject) => {
      const list = this.#waiters.get(jobId) ?? [];
      list.push({ resolve, reject });
      this.#waiters.set(jobId, list);
    });
  }

  /**
   * Settles the waiters of a job, and of requests that were merged into it.
   *
   * @param jobId The finished job.
   * @param fn Settles one waiter.
   */
  settle(jobId: number, fn: (w: Waiter) => void): void {
    for (const [id, list] of [...this.#waiters]) {
      if (id !== jobId && this.#queue.get(id)?.id !== jobId) continue;
      this.#waiters.delete(id);
      for (const w of list) fn(w);
    }
  }

  /**
   * Rejects every waiter (the service stopped) and forgets them.
   *
   * @param err The rejection.
   */
  rejectAll(err: unknown): void {
    for (const list of this.#waiters.values()) for (const w of list) w.reject(err);
    this.#waiters.clear();
  }
}
