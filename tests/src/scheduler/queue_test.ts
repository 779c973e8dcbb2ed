/**
 * The durable sync queue on real files, its core: coalescing requests into
 * jobs, and the lease with its fencing token. The file itself is in
 * queue_file_test.ts, retries in queue_retries_test.ts, crash recovery in
 * queue_recovery_test.ts, history and runs in queue_history_test.ts, real
 * processes sharing one queue file in queue_processes_test.ts.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import process from "node:process";
import { SyncQueue } from "../../../src/scheduler/queue.ts";
import { A, B, claimed, freshQueue, T0 } from "./_queue_fixtures.ts";

describe("coalescing", () => {
  it("requests while a job is pending merge into it: one job, reasons as a set, the earliest notBefore", async () => {
    const { queue, cleanup } = await freshQueue();
    try {
      const first = queue.request("interval", { now: T0, notBefore: T0 + 5000 });
      const second = queue.request("change", { now: T0 + 1, notBefore: T0 + 2000 });
      const third = queue.request("change", { now: T0 + 2, notBefore: T0 + 9000 });
      assert.deepEqual(first, { jobId: first.jobId, coalesced: false, state: "pending" });
      assert.deepEqual(second, { jobId: first.jobId, coalesced: true, state: "pending" });
      assert.equal(third.jobId, first.jobId);
      const job = queue.get(first.jobId)!;
      assert.deepEqual(job.reasons, ["change", "interval"]);
      assert.equal(job.requests, 3);
      assert.equal(job.notBefore, T0 + 2000);
      assert.equal(job.dueAt, T0 + 2000);
      assert.equal(queue.depth(), 1);
    } finally {
      cleanup();
    }
  });

  it("while a job runs, any number of requests create exactly one pending follow-up", async () => {
    const { queue, cleanup } = await freshQueue();
    try {
      queue.request("cron", { now: T0 });
      const c = claimed(queue, A, T0);
      const ids = new Set<number>();
      for (let i = 0; i < 50; i++) ids.add(queue.request("change", { now: T0 + i }).jobId);
      assert.equal(ids.size, 1);
      const [followUp] = ids;
      assert.notEqual(followUp, c.job.id);
      assert.equal(queue.depth(), 2);
      assert.equal(queue.current().running?.id, c.job.id);
      assert.equal(queue.current().pending?.requests, 50);
      // The follow-up cannot start while the first runs.
      assert.equal(queue.claim({ owner: B, now: T0 + 100, leaseMs: 1000 }).claimed, false);
      queue.complete(c.job.id, c.fence, { now: T0 + 200 });
      assert.equal(claimed(queue, B, T0 + 201).job.id, followUp);
    } finally {
      cleanup();
    }
  });

  it("joinRunning joins the running job when nothing is pending (syncNow), else the pending one", async () => {
    const { queue, cleanup } = await freshQueue();
    try {
      queue.request("cron", { now: T0 });
      const c = claimed(queue, A, T0);
      const joined = queue.request("manual", { now: T0 + 1, joinRunning: true });
      assert.deepEqual(joined, { jobId: c.job.id, coalesced: true, state: "running" });
      assert.deepEqual(queue.get(c.job.id)?.reasons, ["cron", "manual"]);
      const follow = queue.request("change", { now: T0 + 2 });
      const joinedPending = queue.request("manual", { now: T0 + 3, joinRunning: true });
      assert.equal(joinedPending.jobId, follow.jobId);
      assert.equal(joinedPending.state, "pending");
    } finally {
      cleanup();
    }
  });

  it("claim reports an empty queue and a job that is not due yet, with its due time", async () => {
    const { queue, cleanup } = await freshQueue();
    try {
      assert.deepEqual(queue.claim({ owner: A, now: T0, leaseMs: 1000 }), {
        claimed: false,
        reason: "empty",
      });
      queue.request("cron", { now: T0, notBefore: T0 + 500 });
      assert.deepEqual(queue.claim({ owner: A, now: T0 + 499, leaseMs: 1000 }), {
        claimed: false,
        reason: "not-due",
        retryAt: T0 + 500,
      });
      assert.equal(claimed(queue, A, T0 + 500).job.state, "running");
    } finally {
      cleanup();
    }
  });
});

describe("lease and fencing", () => {
  it("while a live holder's lease runs, no other owner can claim; claim names the holder and the expiry", async () => {
    const { queue, cleanup } = await freshQueue();
    try {
      queue.request("cron", { now: T0 });
      claimed(queue, A, T0, 1000);
      queue.request("change", { now: T0 + 1 });
      assert.deepEqual(queue.claim({ owner: B, now: T0 + 999, leaseMs: 1000 }), {
        claimed: false,
        reason: "leased",
        retryAt: T0 + 1000,
        holder: A,
      });
      // The holder itself cannot run a second job at once either.
      assert.equal(queue.claim({ owner: A, now: T0 + 2, leaseMs: 1000 }).claimed, false);
      assert.deepEqual(queue.lease(), {
        owner: A,
        jobId: 1,
        fence: 1,
        expiresAt: T0 + 1000,
        executorPid: process.pid,
      });
    } finally {
      cleanup();
    }
  });

  it("a stale holder whose lease expired and was re-claimed can neither renew, complete, fail nor release", async () => {
    const { queue, cleanup } = await freshQueue();
    try {
      const { jobId } = queue.request("cron", { now: T0 });
      const stale = claimed(queue, A, T0, 1000);
      const fresh = claimed(queue, B, T0 + 1001, 1000);
      assert.equal(fresh.job.id, jobId, "the lost job itself is re-claimed");
      assert.ok(fresh.fence > stale.fence);
      assert.equal(queue.renew(jobId, stale.fence, T0 + 1002, 1000), false);
      assert.equal(queue.complete(jobId, stale.fence, { now: T0 + 1003, rowsSent: 99 }), false);
      assert.deepEqual(
        queue.fail(jobId, stale.fence, { kind: "http", message: "late" }, {
          now: T0 + 1004,
          dead: "permanent:auth",
        }),
        { ok: false },
      );
      assert.equal(queue.release(jobId, stale.fence, { now: T0 + 1005 }), false);
      // Nothing of the stale holder's reached the job: the new holder still runs it and completes it.
      assert.equal(queue.get(jobId)?.state, "running");
      assert.equal(queue.get(jobId)?.owner, B);
      assert.equal(queue.complete(jobId, fresh.fence, { now: T0 + 1100, rowsSent: 1 }), true);
      const job = queue.get(jobId)!;
      assert.equal(job.state, "succeeded");
      assert.equal(job.rowsSent, 1);
      assert.deepEqual(queue.runs(jobId).map((r) => [r.owner, r.outcome]), [
        [A, "worker_lost"],
        [B, "succeeded"],
      ]);
      // And once it finished, the stale fence still cannot touch it.
      assert.equal(queue.complete(jobId, stale.fence, { now: T0 + 1200 }), false);
      assert.equal(queue.get(jobId)?.rowsSent, 1);
    } finally {
      cleanup();
    }
  });

  it("renew keeps the lease past its first expiry; a renewed holder is not taken over", async () => {
    const { queue, cleanup } = await freshQueue();
    try {
      queue.request("cron", { now: T0 });
      const c = claimed(queue, A, T0, 1000);
      assert.equal(queue.renew(c.job.id, c.fence, T0 + 900, 1000), true);
      assert.equal(queue.claim({ owner: B, now: T0 + 1500, leaseMs: 1000 }).claimed, false);
      assert.equal(queue.complete(c.job.id, c.fence, { now: T0 + 1800 }), true);
    } finally {
      cleanup();
    }
  });

  it("fences grow monotonically across claims and across reopening the file", async () => {
    const { queue, path, cleanup } = await freshQueue();
    try {
      const fences: number[] = [];
      for (let i = 0; i < 3; i++) {
        queue.request("cron", { now: T0 + i * 10 });
        const c = claimed(queue, A, T0 + i * 10);
        fences.push(c.fence);
        queue.complete(c.job.id, c.fence, { now: T0 + i * 10 + 5 });
      }
      queue.close();
      const again = await SyncQueue.open(path);
      again.request("cron", { now: T0 + 100 });
      fences.push(claimed(again, B, T0 + 100).fence);
      again.close();
      assert.deepEqual(fences, [1, 2, 3, 4]);
    } finally {
      cleanup();
    }
  });
});
