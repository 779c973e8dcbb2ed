/**
 * What the queue tests (queue_*_test.ts) share: a queue on a fresh file,
 * a claim that must succeed, every finished job, fixed times and owners, and
 * the path of their child process (_queue_worker.ts).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import type { SyncQueueOptions } from "../../../src/scheduler/_queue_calls.ts";
import { queuePathFor } from "../../../src/scheduler/_queue_path.ts";
import { type JobHistoryEntry, SyncQueue } from "../../../src/scheduler/queue.ts";
import { ROOT, tempDir } from "../../_helpers.ts";

/** The queue tests' child process: a queue worker in its own process (see its header). */
export const WORKER = join(ROOT, "tests", "src", "scheduler", "_queue_worker.ts");
/** A fixed start time: the tests pass `now` themselves. */
export const T0 = 1_700_000_000_000;
/** Two owners on other hosts (never judged gone by this one). */
export const A = "host-a:1:aaaa";
export const B = "host-b:2:bbbb";

/** A queue on a fresh file; `isHolderGone` is false unless a test says otherwise. */
export async function freshQueue(
  options: SyncQueueOptions = {},
): Promise<{ queue: SyncQueue; path: string; dir: string; cleanup: () => void }> {
  const dir = tempDir("sqlite-sync-queue-");
  const path = queuePathFor(join(dir.path, "app.db"));
  const queue = await SyncQueue.open(path, { isHolderGone: () => false, ...options });
  return {
    queue,
    path,
    dir: dir.path,
    cleanup: () => {
      queue.close();
      dir.cleanup();
    },
  };
}

/** `queue.claim()`, asserted to have claimed. */
export function claimed(
  queue: SyncQueue,
  owner: string,
  now: number,
  leaseMs = 1000,
  executorPid?: number,
) {
  const claim = queue.claim({ owner, now, leaseMs, executorPid });
  assert.ok(claim.claimed, `expected a claim at ${now}, got ${JSON.stringify(claim)}`);
  return claim;
}

/** Every job in the file (history limit permitting), with its runs. */
export function allFinished(queue: SyncQueue): JobHistoryEntry[] {
  return queue.history(100_000);
}
