/**
 * The durable sync queue's history: each finished job with its runs, bounded
 * (the file stays small), short transactions; and the runs across jobs (the
 * attempts timeline) and the backlog.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { openDriver } from "../../../ffi/drivers/open_driver.ts";
import { RUNS_SINCE_SQL } from "../../../src/scheduler/_queue_reads.ts";
import { A, B, claimed, freshQueue, T0 } from "./_queue_fixtures.ts";

describe("history", () => {
  it("keeps each finished job's start and finish, outcome, rows sent and received and error, newest first", async () => {
    const { queue, cleanup } = await freshQueue();
    try {
      queue.request("cron", { now: T0 });
      const a = claimed(queue, A, T0);
      queue.complete(a.job.id, a.fence, {
        now: T0 + 90,
        startedAt: T0 + 5,
        finishedAt: T0 + 80,
        rowsSent: 3,
        rowsReceived: 4,
      });
      queue.request("change", { now: T0 + 100 });
      const b = claimed(queue, A, T0 + 100);
      queue.fail(b.job.id, b.fence, { kind: "schema", message: "hash unknown" }, {
        now: T0 + 150,
        dead: "permanent:schema",
      });
      const [second, first] = queue.history(10);
      assert.equal(first.state, "succeeded");
      assert.equal(first.startedAt, T0 + 5);
      assert.equal(first.finishedAt, T0 + 80);
      assert.equal(first.rowsSent, 3);
      assert.equal(first.rowsReceived, 4);
      assert.deepEqual(first.runs.map((r) => [r.claimedAt, r.startedAt, r.finishedAt, r.outcome]), [
        [T0, T0 + 5, T0 + 80, "succeeded"],
      ]);
      assert.equal(second.state, "dead");
      assert.equal(second.finishedAt, T0 + 150);
      assert.deepEqual(second.lastError, { kind: "schema", message: "hash unknown" });
      assert.equal(queue.history(1).length, 1);
    } finally {
      cleanup();
    }
  });

  it("after 10,000 coalesced requests and 1,000 jobs it keeps the last 500 (dead letters too) and the file stays < 1 MB", async () => {
    const { queue, cleanup } = await freshQueue();
    try {
      let now = T0;
      let deadIds: number[] = [];
      const started = performance.now();
      for (let job = 0; job < 1000; job++) {
        for (let r = 0; r < 10; r++) queue.request(`trigger-${r % 4}`, { now: now++ });
        const c = claimed(queue, A, now++);
        assert.equal(c.job.requests, 10);
        if (job % 100 === 0) {
          queue.fail(c.job.id, c.fence, { kind: "auth", message: "x".repeat(2000) }, {
            now: now++,
            dead: "permanent:auth",
          });
          deadIds.push(c.job.id);
        } else {
          queue.complete(c.job.id, c.fence, { now: now++, rowsSent: job, rowsReceived: job });
        }
      }
      const elapsed = performance.now() - started;
      const history = queue.history(10_000);
      const { file, wal } = queue.fileSizes();
      console.log(
        `queue: 10,000 requests + 1,000 jobs in ${elapsed.toFixed(0)} ms ` +
          `(${((elapsed / 12_000) * 1000).toFixed(0)} µs a call); file ${file} B, WAL ${wal} B, ` +
          `${history.length} finished jobs kept`,
      );
      assert.ok(history.length >= 500 && history.length <= 500 + 10 + 60, String(history.length));
      assert.equal(history[0].id, 1000, "the latest job is kept");
      // Every dead letter is kept although 400 of them are older than the last 500 jobs.
      deadIds = deadIds.sort((x, y) => y - x);
      assert.deepEqual(queue.deadLetters(100).map((j) => j.id), deadIds);
      assert.ok(file < 1024 * 1024, `queue file ${file} bytes`);
      assert.ok(wal < 1024 * 1024, `WAL ${wal} bytes`);
      assert.ok(history[0].lastError === undefined);
      assert.equal(queue.deadLetters(1)[0].lastError?.message.length, 1000, "messages are capped");
    } finally {
      cleanup();
    }
  });

  it("each call is a short transaction: the median request and claim/complete take < 1 ms", async () => {
    const { queue, cleanup } = await freshQueue();
    try {
      const times: number[] = [];
      let now = T0;
      for (let i = 0; i < 300; i++) {
        let t = performance.now();
        queue.request("change", { now: now++ });
        times.push(performance.now() - t);
        t = performance.now();
        const c = claimed(queue, A, now++);
        queue.complete(c.job.id, c.fence, { now: now++ });
        times.push((performance.now() - t) / 2);
      }
      times.sort((x, y) => x - y);
      const median = times[times.length >> 1];
      console.log(
        `queue: median call ${(median * 1000).toFixed(0)} µs, p99 ${
          (times[Math.floor(times.length * 0.99)] * 1000).toFixed(0)
        } µs`,
      );
      assert.ok(median < 1, `median ${median} ms`);
    } finally {
      cleanup();
    }
  });
});

describe("runs across jobs (the attempts timeline)", () => {
  it("runs({ since }) returns every run of every job that started at or after since — finished, released, lost, failed and running — oldest first, with chunks sent and the release's error", async () => {
    const { queue, cleanup } = await freshQueue();
    try {
      // Job 1: succeeds at T0 (before `since`), so it is left out.
      queue.request("cron", { now: T0 });
      const a = claimed(queue, A, T0);
      queue.complete(a.job.id, a.fence, { now: T0 + 10, rowsReceived: 1 });
      // Job 2: released (with why), lost (lease expired), failed with a retry, then running.
      queue.request("cron", { now: T0 + 100 });
      const b1 = claimed(queue, A, T0 + 100);
      queue.release(b1.job.id, b1.fence, {
        now: T0 + 110,
        error: { kind: "interrupted", message: "The sync service stopped." },
      });
      claimed(queue, A, T0 + 200, 50);
      const b3 = claimed(queue, B, T0 + 300);
      queue.fail(b3.job.id, b3.fence, { kind: "http", message: "paused", status: 503 }, {
        now: T0 + 320,
        retryAt: T0 + 400,
      });
      const b4 = claimed(queue, B, T0 + 400);
      queue.complete(b4.job.id, b4.fence, { now: T0 + 450, chunksSent: 2 });
      queue.request("change", { now: T0 + 500 });
      claimed(queue, A, T0 + 500);
      const runs = queue.runs({ since: T0 + 100 });
      assert.deepEqual(
        runs.map((r) => [r.jobId, r.startedAt, r.outcome]),
        [
          [2, T0 + 100, "released"],
          [2, T0 + 200, "worker_lost"],
          [2, T0 + 300, "retry"],
          [2, T0 + 400, "succeeded"],
          [3, T0 + 500, "running"],
        ],
      );
      assert.deepEqual(runs[0].error, {
        kind: "interrupted",
        message: "The sync service stopped.",
      });
      assert.equal(runs[1].finishedAt, undefined, "a lost run's end is unknown");
      assert.deepEqual(runs[2].error, { kind: "http", message: "paused", status: 503 });
      assert.equal(runs[3].chunksSent, 2);
      assert.equal(queue.runs({ since: T0 }).length, 6);
    } finally {
      cleanup();
    }
  });

  it("runs({ since, limit }) keeps the latest limit runs, oldest first, and rejects a since that is not a finite number or a limit below 1", async () => {
    const { queue, cleanup } = await freshQueue();
    try {
      for (let i = 0; i < 10; i++) {
        queue.request("cron", { now: T0 + i * 100 });
        const c = claimed(queue, A, T0 + i * 100);
        queue.complete(c.job.id, c.fence, { now: T0 + i * 100 + 10 });
      }
      assert.deepEqual(
        queue.runs({ since: T0, limit: 3 }).map((r) => r.startedAt),
        [T0 + 700, T0 + 800, T0 + 900],
      );
      assert.equal(queue.runs({ since: T0 + 901 }).length, 0);
      assert.throws(() => queue.runs({ since: NaN }), /'since' must be a time/);
      assert.throws(() => queue.runs({ since: T0, limit: 0 }), /'limit' must be a number ≥ 1/);
    } finally {
      cleanup();
    }
  });

  it("runs({ since, limit }) is one query that searches the runs_by_start index (no scan, no query per job)", async () => {
    const { queue, path, cleanup } = await freshQueue();
    try {
      queue.request("cron", { now: T0 });
      const raw = await openDriver(path);
      try {
        const plan = raw.prepare(`EXPLAIN QUERY PLAN ${RUNS_SINCE_SQL}`).all(T0, 500)
          .map((r) => String(r.detail)).join("; ");
        assert.match(plan, /SEARCH runs USING INDEX runs_by_start \(started_at>\?\)/);
        assert.doesNotMatch(plan, /SCAN|TEMP B-TREE/);
      } finally {
        raw.close();
      }
    } finally {
      cleanup();
    }
  });

  it("backlog() reports the jobs pending or running, the oldest one's createdAt and the pending job", async () => {
    const { queue, cleanup } = await freshQueue();
    try {
      assert.deepEqual(queue.backlog(), { depth: 0, oldestCreatedAt: null });
      queue.request("cron", { now: T0 });
      claimed(queue, A, T0 + 5);
      const { jobId } = queue.request("change", { now: T0 + 20 });
      const b = queue.backlog();
      assert.deepEqual([b.depth, b.oldestCreatedAt, b.pending?.id], [2, T0, jobId]);
    } finally {
      cleanup();
    }
  });
});
