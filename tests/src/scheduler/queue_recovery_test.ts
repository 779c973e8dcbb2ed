/**
 * The durable sync queue's crash recovery: a job whose holder's lease expired
 * or whose holder process is gone runs again (the lost run recorded as
 * worker_lost), unless its executor process still runs; isOwnerGone().
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { hostname } from "node:os";
import process from "node:process";
import { isOwnerGone, makeOwner } from "../../../src/scheduler/_queue_owner.ts";
import { MAX_ATTEMPTS_EXCEEDED } from "../../../src/scheduler/retry.ts";
import { run, RUNTIME, runtimeArgv } from "../../_helpers.ts";
import { A, B, claimed, freshQueue, T0, WORKER } from "./_queue_fixtures.ts";

describe("crash recovery", () => {
  it("a job whose holder's lease expired is retried by the next claim, the lost run recorded as worker_lost", async () => {
    const { queue, cleanup } = await freshQueue();
    try {
      const { jobId } = queue.request("cron", { now: T0 });
      claimed(queue, A, T0, 1000);
      assert.equal(queue.claim({ owner: B, now: T0 + 999, leaseMs: 1000 }).claimed, false);
      const c = claimed(queue, B, T0 + 1000);
      assert.equal(c.job.id, jobId);
      assert.equal(c.job.attempts, 2);
      const [lost] = queue.runs(jobId);
      assert.equal(lost.outcome, "worker_lost");
      assert.equal(lost.error?.kind, "worker_lost");
      assert.match(lost.error!.message, /lease expired/);
      assert.equal(queue.get(jobId)?.lastError?.kind, "worker_lost");
    } finally {
      cleanup();
    }
  });

  it("a job whose holder process is gone is recovered at once, long before its lease expires", async () => {
    const { queue, path, cleanup } = await freshQueue({ isHolderGone: isOwnerGone });
    try {
      const child = await run(runtimeArgv(WORKER, ["hold", path]));
      assert.equal(child.code, 0, child.stderr);
      const held = JSON.parse(child.stdout.trim()) as {
        jobId: number;
        fence: number;
        owner: string;
      };
      assert.match(held.owner, new RegExp(`^${hostname()}:\\d+:[0-9a-f]{8}$`));
      assert.equal(
        queue.lease()?.owner,
        held.owner,
        "the child's 10-minute lease is still on file",
      );
      const c = claimed(queue, makeOwner(), Date.now());
      assert.equal(c.job.id, held.jobId);
      assert.ok(c.fence > held.fence);
      assert.match(queue.runs(held.jobId)[0].error!.message, /process is gone/);
    } finally {
      cleanup();
    }
  });

  it("a lease whose holder is gone but whose executor process lives is not taken over (reported as orphaned); once the executor exits it is, as worker_lost", async () => {
    const { queue, cleanup } = await freshQueue({ isHolderGone: isOwnerGone });
    const exited = await run(runtimeArgv(WORKER, ["pid"]));
    const deadPid = Number(/pid (\d+)/.exec(exited.stdout)?.[1]);
    const keepAlive = "setInterval(() => {}, 60_000)";
    const executor = spawn(process.execPath, [RUNTIME === "deno" ? "eval" : "-e", keepAlive], {
      stdio: "ignore",
    });
    const executorExited = new Promise((resolve) => executor.on("exit", resolve));
    try {
      await new Promise((resolve, reject) => {
        executor.on("spawn", resolve);
        executor.on("error", reject);
      });
      const executorPid = executor.pid!;
      const holder = `${hostname()}:${deadPid}:dead`;
      assert.equal(isOwnerGone(holder), true, "the holder's pid is gone");
      const { jobId } = queue.request("cron", { now: T0 });
      claimed(queue, holder, T0, 600_000, executorPid);
      assert.equal(queue.lease()?.executorPid, executorPid);
      assert.deepEqual(queue.claim({ owner: makeOwner(), now: T0 + 1, leaseMs: 1000 }), {
        claimed: false,
        reason: "leased",
        retryAt: T0 + 600_000,
        holder,
        orphaned: true, // its holder is gone: the claimant looks again soon
      });
      executor.kill("SIGKILL");
      await executorExited;
      const c = claimed(queue, makeOwner(), T0 + 2);
      assert.equal(c.job.id, jobId);
      const [lost] = queue.runs(jobId);
      assert.equal(lost.outcome, "worker_lost");
      assert.match(
        lost.error!.message,
        new RegExp(`its executor \\(pid ${executorPid}\\) are gone`),
      );
    } finally {
      executor.kill("SIGKILL"); // no-op once it exited
      cleanup();
    }
  });

  it("a job lost maxAttempts times is dead-lettered, not retried forever", async () => {
    const { queue, cleanup } = await freshQueue({ maxAttempts: 2 });
    try {
      const { jobId } = queue.request("cron", { now: T0 });
      claimed(queue, A, T0, 100);
      claimed(queue, A, T0 + 100, 100);
      assert.deepEqual(queue.claim({ owner: A, now: T0 + 200, leaseMs: 100 }), {
        claimed: false,
        reason: "empty",
      });
      const job = queue.get(jobId)!;
      assert.equal(job.state, "dead");
      assert.equal(job.deadReason, MAX_ATTEMPTS_EXCEEDED);
      assert.equal(job.lastError?.kind, "worker_lost");
    } finally {
      cleanup();
    }
  });

  it("isOwnerGone: true only for a dead pid on this host (and a dead executor pid, when given); live pids, pid 1 and other hosts count as alive", async () => {
    const exited = await run(runtimeArgv(WORKER, ["pid"]));
    const deadPid = Number(/pid (\d+)/.exec(exited.stdout)?.[1]);
    assert.ok(deadPid > 0, exited.stdout + exited.stderr);
    assert.equal(isOwnerGone(`${hostname()}:${deadPid}:abcd`), true);
    assert.equal(isOwnerGone(`${hostname()}:${process.pid}:abcd`), false);
    assert.equal(isOwnerGone(`${hostname()}:${deadPid}:abcd`, deadPid), true);
    assert.equal(isOwnerGone(`${hostname()}:${deadPid}:abcd`, process.pid), false);
    assert.equal(isOwnerGone(`${hostname()}:${deadPid}:abcd`, 1), false, "EPERM: alive");
    assert.equal(
      isOwnerGone(`${hostname()}:1:abcd`),
      false,
      "pid 1 (EPERM when not root) is alive",
    );
    assert.equal(isOwnerGone(`another-host-${hostname()}:${deadPid}:abcd`), false);
    assert.equal(isOwnerGone("garbage"), false);
  });
});
