/**
 * The durable sync queue's retries and dead letters: a failed run back to
 * pending with its retry time, urgent requests, maxAttempts, permanent
 * errors, follow-ups merging into a retry, and release (with or without
 * keeping the lease).
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { MAX_ATTEMPTS_EXCEEDED } from "../../../src/scheduler/retry.ts";
import { A, B, claimed, freshQueue, T0 } from "./_queue_fixtures.ts";

describe("retries and dead letters", () => {
  it("a failed run with retryAt returns the job to pending with attempts+1, not claimable before retryAt", async () => {
    const { queue, cleanup } = await freshQueue();
    try {
      const { jobId } = queue.request("cron", { now: T0 });
      const c = claimed(queue, A, T0);
      const result = queue.fail(jobId, c.fence, { kind: "offline", message: "refused" }, {
        now: T0 + 10,
        retryAt: T0 + 2000,
      });
      assert.deepEqual(result, { ok: true, state: "pending", retryAt: T0 + 2000 });
      const job = queue.get(jobId)!;
      assert.equal(job.state, "pending");
      assert.equal(job.attempts, 1);
      assert.equal(job.retryAt, T0 + 2000);
      assert.deepEqual(job.lastError, { kind: "offline", message: "refused" });
      assert.equal(queue.lease(), undefined, "the lease is free");
      // A plain request does not pull the back-off forward.
      queue.request("change", { now: T0 + 20 });
      assert.deepEqual(queue.claim({ owner: B, now: T0 + 1999, leaseMs: 1000 }), {
        claimed: false,
        reason: "not-due",
        retryAt: T0 + 2000,
      });
      const again = claimed(queue, B, T0 + 2000);
      assert.equal(again.job.id, jobId);
      assert.equal(again.job.attempts, 2);
    } finally {
      cleanup();
    }
  });

  it("an urgent request (syncNow, new credentials) skips a pending job's back-off", async () => {
    const { queue, cleanup } = await freshQueue();
    try {
      const { jobId } = queue.request("cron", { now: T0 });
      const c = claimed(queue, A, T0);
      queue.fail(jobId, c.fence, { kind: "offline", message: "x" }, {
        now: T0 + 1,
        retryAt: T0 + 60_000,
      });
      assert.equal(queue.request("manual", { now: T0 + 2, urgent: true }).jobId, jobId);
      assert.equal(queue.get(jobId)?.urgent, true);
      const again = claimed(queue, A, T0 + 3);
      assert.equal(again.job.id, jobId);
      assert.equal(again.job.urgent, false, "cleared once claimed");
    } finally {
      cleanup();
    }
  });

  it("after maxAttempts failed runs the job is dead-lettered as max_attempts_exceeded with its last error", async () => {
    const { queue, cleanup } = await freshQueue({ maxAttempts: 3 });
    try {
      const { jobId } = queue.request("cron", { now: T0 });
      const results = [];
      for (let i = 1; i <= 3; i++) {
        const c = claimed(queue, A, T0 + i * 1000);
        results.push(
          queue.fail(jobId, c.fence, { kind: "http", message: `503 #${i}`, status: 503 }, {
            now: T0 + i * 1000 + 10,
            retryAt: T0 + (i + 1) * 1000,
          }),
        );
      }
      assert.deepEqual(results.map((r) => r.ok && r.state), ["pending", "pending", "dead"]);
      assert.deepEqual(results[2], { ok: true, state: "dead", reason: MAX_ATTEMPTS_EXCEEDED });
      const [dead] = queue.deadLetters(10);
      assert.equal(dead.id, jobId);
      assert.equal(dead.deadReason, "max_attempts_exceeded");
      assert.equal(dead.attempts, 3);
      assert.deepEqual(dead.lastError, { kind: "http", message: "503 #3", status: 503 });
      assert.deepEqual(dead.runs.map((r) => r.outcome), ["retry", "retry", "dead"]);
      assert.equal(queue.depth(), 0);
    } finally {
      cleanup();
    }
  });

  it("a permanent error dead-letters at once with its reason; only the given error fields are stored", async () => {
    const { queue, path, cleanup } = await freshQueue();
    try {
      const { jobId } = queue.request("cron", { now: T0 });
      const c = claimed(queue, A, T0);
      const error = {
        kind: "auth",
        message: "the server refused the credentials",
        status: 401,
        code: "UNAUTHORIZED",
        token: "canary-secret-7f3a9",
      };
      assert.deepEqual(queue.fail(jobId, c.fence, error, { now: T0 + 5, dead: "permanent:auth" }), {
        ok: true,
        state: "dead",
        reason: "permanent:auth",
      });
      const [dead] = queue.deadLetters(10);
      assert.equal(dead.deadReason, "permanent:auth");
      assert.equal(dead.attempts, 1);
      assert.deepEqual(dead.lastError, {
        kind: "auth",
        message: "the server refused the credentials",
        status: 401,
        code: "UNAUTHORIZED",
      });
      queue.prune(); // checkpoint, so the file itself holds everything
      const bytes = readFileSync(path).toString("latin1");
      assert.ok(bytes.includes("the server refused the credentials"), "the file was read");
      assert.ok(!bytes.includes("canary-secret-7f3a9"), "an extra field was stored");
    } finally {
      cleanup();
    }
  });

  it("a follow-up requested during a failing run merges into the retry; its id resolves to that job", async () => {
    const { queue, cleanup } = await freshQueue();
    try {
      const { jobId } = queue.request("cron", { now: T0 });
      const c = claimed(queue, A, T0);
      const follow = queue.request("change", { now: T0 + 1 });
      assert.notEqual(follow.jobId, jobId);
      queue.fail(jobId, c.fence, { kind: "offline", message: "x" }, {
        now: T0 + 2,
        retryAt: T0 + 500,
      });
      assert.equal(queue.depth(), 1, "one pending job, nothing else");
      const merged = queue.get(follow.jobId)!;
      assert.equal(merged.id, jobId);
      assert.deepEqual(merged.reasons, ["change", "cron"]);
      assert.equal(merged.requests, 2);
      assert.equal(merged.dueAt, T0 + 500, "the back-off holds");
      const again = claimed(queue, A, T0 + 500);
      queue.complete(again.job.id, again.fence, { now: T0 + 600 });
      assert.equal(queue.get(follow.jobId)?.state, "succeeded");
    } finally {
      cleanup();
    }
  });

  it("release gives the running job back to pending at once without counting an attempt", async () => {
    const { queue, cleanup } = await freshQueue();
    try {
      const { jobId } = queue.request("cron", { now: T0 });
      const c = claimed(queue, A, T0);
      assert.equal(queue.release(jobId, c.fence, { now: T0 + 5 }), true);
      assert.equal(queue.get(jobId)?.attempts, 0);
      assert.equal(queue.get(jobId)?.state, "pending");
      assert.equal(claimed(queue, B, T0 + 6).job.attempts, 1);
      assert.deepEqual(queue.runs(jobId).map((r) => r.outcome), ["released", "running"]);
    } finally {
      cleanup();
    }
  });

  it("release with holdUntil keeps the lease without a job: the holder and other owners are refused until holdUntil, then claim", async () => {
    const { queue, cleanup } = await freshQueue();
    try {
      const { jobId } = queue.request("cron", { now: T0 });
      for (const [round, next] of [[0, A], [1, B]] as const) {
        const start = T0 + round * 100_000;
        const c = claimed(queue, A, start, 1000, 777);
        const holdUntil = start + 60_000;
        assert.equal(queue.release(jobId, c.fence, { now: start + 10, holdUntil }), true);
        assert.equal(queue.get(jobId)?.state, "pending");
        assert.equal(queue.get(jobId)?.attempts, 0);
        assert.deepEqual(queue.lease(), {
          owner: A,
          fence: c.fence,
          expiresAt: holdUntil,
          executorPid: 777,
        });
        for (const owner of [A, B]) {
          assert.deepEqual(queue.claim({ owner, now: holdUntil - 1, leaseMs: 1000 }), {
            claimed: false,
            reason: "leased",
            retryAt: holdUntil,
            holder: A,
          }, `${owner} claimed before holdUntil`);
        }
        assert.equal(queue.renew(jobId, c.fence, start + 20, 1000), false, "the fence lost it");
        assert.equal(queue.complete(jobId, c.fence, { now: start + 30 }), false);
        const again = claimed(queue, next, holdUntil);
        assert.equal(again.job.id, jobId);
        assert.equal(again.job.attempts, 1);
        assert.equal(queue.release(jobId, again.fence, { now: holdUntil + 1 }), true);
      }
      assert.deepEqual(
        queue.runs(jobId).map((r) => [r.owner, r.outcome]),
        [[A, "released"], [A, "released"], [A, "released"], [B, "released"]],
        "a held lease has no job to lose: no worker_lost run",
      );
    } finally {
      cleanup();
    }
  });

  it("a lease held on after a release is taken over before holdUntil once its holder and executor are gone", async () => {
    const asked: [string, number | undefined][] = [];
    const { queue, cleanup } = await freshQueue({
      isHolderGone: (owner, pid) => (asked.push([owner, pid]), true),
    });
    try {
      const { jobId } = queue.request("cron", { now: T0 });
      const c = claimed(queue, A, T0, 1000, 777);
      queue.release(jobId, c.fence, { now: T0 + 1, holdUntil: T0 + 60_000 });
      assert.equal(claimed(queue, B, T0 + 2).job.id, jobId);
      assert.deepEqual(asked, [[A, 777]]);
      assert.deepEqual(queue.runs(jobId).map((r) => r.outcome), ["released", "running"]);
    } finally {
      cleanup();
    }
  });
});
