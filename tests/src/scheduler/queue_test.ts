/**
 * The durable sync queue on real files: coalescing, the lease and its fencing
 * token, retries and dead letters, crash recovery, bounded history, and real
 * processes sharing one queue file (two at once; one killed 20 times).
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { openDriver } from "../../../ffi/drivers/open_driver.ts";
import type { SyncQueueOptions } from "../../../src/scheduler/_queue_calls.ts";
import { isOwnerGone, makeOwner } from "../../../src/scheduler/_queue_owner.ts";
import { queuePathFor } from "../../../src/scheduler/_queue_path.ts";
import { type JobHistoryEntry, SyncQueue } from "../../../src/scheduler/queue.ts";
import {
  QUEUE_APPLICATION_ID,
  QUEUE_SCHEMA_VERSION,
} from "../../../src/scheduler/_queue_schema.ts";
import { RUNS_SINCE_SQL } from "../../../src/scheduler/_queue_reads.ts";
import { MAX_ATTEMPTS_EXCEEDED } from "../../../src/scheduler/retry.ts";
import { isKind, ROOT, run, RUNTIME, runtimeArgv, tempDir } from "../../_helpers.ts";
import { seededRandom } from "./_seeded_random.ts";

const WORKER = join(ROOT, "tests", "src", "scheduler", "_queue_worker.ts");
const T0 = 1_700_000_000_000;
const A = "host-a:1:aaaa";
const B = "host-b:2:bbbb";

/** A queue on a fresh file; `isHolderGone` is false unless a test says otherwise. */
async function freshQueue(
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

function claimed(
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
function allFinished(queue: SyncQueue): JobHistoryEntry[] {
  return queue.history(100_000);
}

describe("queue file", () => {
  it("lives beside the database as <path>.sync-queue (an in-memory database gets an in-memory queue)", () => {
    assert.equal(queuePathFor("/data/app.db"), "/data/app.db.sync-queue");
    assert.equal(queuePathFor(":memory:"), ":memory:");
  });

  it("is created in WAL mode with synchronous=NORMAL, its application id and schema version", async () => {
    const { queue, path, cleanup } = await freshQueue();
    try {
      queue.request("cron", { now: T0 });
      const raw = await openDriver(path);
      try {
        const one = (sql: string) => Object.values(raw.prepare(sql).get()!)[0];
        assert.equal(one("PRAGMA journal_mode"), "wal");
        assert.equal(one("PRAGMA application_id"), QUEUE_APPLICATION_ID);
        assert.equal(one("PRAGMA user_version"), QUEUE_SCHEMA_VERSION);
        assert.equal(one("PRAGMA auto_vacuum"), 2);
      } finally {
        raw.close();
      }
      // synchronous is per connection: read it on the queue's own connection.
      const own = await openDriver(path);
      const second = await SyncQueue.open(own, { closeDriver: false });
      assert.equal(Object.values(own.prepare("PRAGMA synchronous").get()!)[0], 1);
      second.close();
      assert.equal(own.isOpen, true, "closeDriver: false leaves the connection open");
      own.close();
    } finally {
      cleanup();
    }
  });

  it("opens idempotently: a second and third open keep the jobs and the schema", async () => {
    const { queue, path, cleanup } = await freshQueue();
    try {
      const { jobId } = queue.request("cron", { now: T0 });
      queue.close();
      const again = await SyncQueue.open(path);
      const third = await SyncQueue.open(path);
      assert.equal(again.get(jobId)?.state, "pending");
      assert.equal(third.depth(), 1);
      again.close();
      third.close();
    } finally {
      cleanup();
    }
  });

  it("a foreign SQLite file is refused with a schema error naming it and the fix, and left untouched", async () => {
    const dir = tempDir();
    try {
      const path = join(dir.path, "other.db");
      const other = await openDriver(path);
      other.exec("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)");
      other.close();
      const before = readFileSync(path);
      await assert.rejects(
        SyncQueue.open(path),
        isKind(
          "schema",
          new RegExp(path.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")),
          /not a sync queue/,
          /own path/,
        ),
      );
      assert.deepEqual(readFileSync(path), before);
      assert.equal(existsSync(`${path}-wal`), false, "not switched to WAL");
    } finally {
      dir.cleanup();
    }
  });

  it("a file that is not a database is refused with a schema error naming it and the fix", async () => {
    const dir = tempDir();
    try {
      const path = join(dir.path, "app.db.sync-queue");
      writeFileSync(path, "this is not a database ".repeat(300));
      await assert.rejects(
        SyncQueue.open(path),
        isKind("schema", /app\.db\.sync-queue/, /not a readable SQLite database/, /delete it/),
      );
    } finally {
      dir.cleanup();
    }
  });

  it("a queue written by a newer schema version is refused with a schema error", async () => {
    const { queue, path, cleanup } = await freshQueue();
    try {
      queue.close();
      const raw = await openDriver(path);
      raw.exec(`PRAGMA user_version = ${QUEUE_SCHEMA_VERSION + 1}`);
      raw.close();
      await assert.rejects(SyncQueue.open(path), isKind("schema", /newer version/, /Upgrade/));
    } finally {
      cleanup();
    }
  });

  it("a version-1 file is migrated on open; its lease, without an executor pid, is kept and judged by its holder alone", async () => {
    const { queue, path, cleanup } = await freshQueue();
    try {
      queue.request("cron", { now: T0 });
      claimed(queue, A, T0, 1000);
      queue.close();
      const raw = await openDriver(path);
      // Back to what a version-1 process wrote (no executor pid, no chunk count, no start index).
      raw.exec(
        "ALTER TABLE lease DROP COLUMN executor_pid; DROP INDEX runs_by_start; " +
          "ALTER TABLE runs DROP COLUMN chunks_sent; PRAGMA user_version = 1",
      );
      raw.close();
      const asked: [string, number | undefined][] = [];
      const isHolderGone = (owner: string, pid?: number) => (asked.push([owner, pid]), false);
      const again = await SyncQueue.open(path, { isHolderGone });
      try {
        assert.deepEqual(again.lease(), { owner: A, jobId: 1, fence: 1, expiresAt: T0 + 1000 });
        assert.equal(again.claim({ owner: B, now: T0 + 1, leaseMs: 1000 }).claimed, false);
        assert.deepEqual(asked, [[A, undefined]]);
        const c = claimed(again, B, T0 + 1000, 1000, 4242);
        assert.equal(c.job.id, 1);
        assert.equal(again.lease()?.executorPid, 4242);
      } finally {
        again.close();
      }
      const check = await openDriver(path);
      try {
        assert.equal(
          Object.values(check.prepare("PRAGMA user_version").get()!)[0],
          QUEUE_SCHEMA_VERSION,
        );
      } finally {
        check.close();
      }
    } finally {
      cleanup();
    }
  });

  it("a version-2 file is migrated on open: its runs keep their data, gain an unset chunksSent and the start-time index", async () => {
    const { queue, path, cleanup } = await freshQueue();
    try {
      queue.request("cron", { now: T0 });
      const c = claimed(queue, A, T0);
      queue.complete(c.job.id, c.fence, { now: T0 + 50, rowsReceived: 2 });
      queue.close();
      const raw = await openDriver(path);
      raw.exec(
        "DROP INDEX runs_by_start; ALTER TABLE runs DROP COLUMN chunks_sent; " +
          "PRAGMA user_version = 2",
      );
      raw.close();
      const again = await SyncQueue.open(path);
      try {
        const [run] = again.runs({ since: T0 });
        assert.deepEqual(
          [run.outcome, run.rowsReceived, run.chunksSent, run.finishedAt],
          ["succeeded", 2, undefined, T0 + 50],
        );
      } finally {
        again.close();
      }
      const check = await openDriver(path);
      try {
        const one = (sql: string) => Object.values(check.prepare(sql).get() ?? {})[0];
        assert.equal(one("PRAGMA user_version"), QUEUE_SCHEMA_VERSION);
        assert.equal(
          one("SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = 'runs_by_start'"),
          1,
        );
      } finally {
        check.close();
      }
    } finally {
      cleanup();
    }
  });

  it("a closed queue refuses calls with a state error; close and dispose are idempotent", async () => {
    const { queue, cleanup } = await freshQueue();
    try {
      queue.close();
      queue.close();
      queue[Symbol.dispose]();
      assert.equal(queue.isOpen, false);
      assert.throws(() => queue.request("cron", { now: T0 }), isKind("state", /closed/));
      assert.throws(() => queue.depth(), isKind("state", /closed/));
    } finally {
      cleanup();
    }
  });

  it("never reads the clock: every call works with Date.now and performance.now throwing", async () => {
    const { queue, cleanup } = await freshQueue();
    const dateNow = Date.now;
    const perfNow = performance.now;
    try {
      Date.now = () => {
        throw new Error("Date.now called");
      };
      performance.now = () => {
        throw new Error("performance.now called");
      };
      queue.request("cron", { now: T0 });
      const c = claimed(queue, A, T0);
      assert.equal(queue.renew(c.job.id, c.fence, T0 + 10, 1000), true);
      queue.request("change", { now: T0 + 20 });
      assert.equal(queue.complete(c.job.id, c.fence, { now: T0 + 30 }), true);
      const d = claimed(queue, A, T0 + 40);
      queue.fail(d.job.id, d.fence, { kind: "offline", message: "x" }, {
        now: T0 + 50,
        retryAt: T0 + 60,
      });
      queue.history(10);
      queue.deadLetters(10);
      queue.prune();
    } finally {
      Date.now = dateNow;
      performance.now = perfNow;
      cleanup();
    }
  });
});

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

describe("processes", () => {
  it("two processes looping claim → work → complete on one file never run two jobs at once", async () => {
    const { queue, path, cleanup } = await freshQueue({ historyLimit: 2000 });
    try {
      const perChild = 25;
      const [one, two] = await Promise.all([
        run(runtimeArgv(WORKER, ["loop", path, String(perChild), "1"]), { timeoutMs: 60_000 }),
        run(runtimeArgv(WORKER, ["loop", path, String(perChild), "2"]), { timeoutMs: 60_000 }),
      ]);
      assert.equal(one.code, 0, one.stderr);
      assert.equal(two.code, 0, two.stderr);
      const doneBy = (out: string) => out.trim().split("\n").map((l) => Number(l.split(" ")[1]));
      const ids = [...doneBy(one.stdout), ...doneBy(two.stdout)];
      assert.equal(ids.length, 2 * perChild);
      assert.equal(new Set(ids).size, ids.length, "a job was completed twice");

      const jobs = allFinished(queue);
      const runs = jobs.flatMap((j) => j.runs).sort((x, y) => x.startedAt! - y.startedAt!);
      assert.equal(runs.length, 2 * perChild);
      const owners = new Set(runs.map((r) => r.owner));
      assert.equal(owners.size, 2, "both processes ran jobs");
      const overlaps: string[] = [];
      for (let i = 1; i < runs.length; i++) {
        if (runs[i].startedAt! < runs[i - 1].finishedAt!) {
          overlaps.push(`${JSON.stringify(runs[i - 1])} / ${JSON.stringify(runs[i])}`);
        }
      }
      assert.deepEqual(overlaps, []);
      for (const job of jobs) {
        assert.equal(job.state, "succeeded");
        assert.deepEqual(job.runs.map((r) => r.outcome), ["succeeded"]);
      }
      assert.deepEqual(jobs.map((j) => j.id).sort((x, y) => x - y), [...ids].sort((x, y) => x - y));
      // Whatever the children requested after their last job is still pending, not lost.
      assert.ok(queue.depth() <= 1);
    } finally {
      cleanup();
    }
  });

  it("a worker killed with SIGKILL at 20 random moments: each job ends exactly once, committed rows survive, files stay sound and small", async () => {
    const { queue, path, dir, cleanup } = await freshQueue({ historyLimit: 5000 });
    const dataPath = join(dir, "data.db");
    const random = seededRandom(20261130);
    const reportedRows = new Set<number>();
    const doneJobs = new Set<number>();
    const ingest = (out: string) => {
      for (const line of out.split("\n")) {
        const [what, id] = line.split(" ");
        if (what === "row") reportedRows.add(Number(id));
        if (what === "done") doneJobs.add(Number(id));
        assert.notEqual(what, "fenced", "a worker's own completion was fenced off");
      }
    };
    try {
      const delays: number[] = [];
      for (let kill = 0; kill < 20; kill++) {
        const delay = 10 + Math.floor(random() * 191);
        delays.push(delay);
        const [cmd, ...args] = runtimeArgv(WORKER, ["crash", path, dataPath]);
        const child = spawn(cmd, args, { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
        let out = "";
        let err = "";
        child.stderr!.on("data", (d) => (err += d));
        const closed = new Promise<number | null>((resolve) => child.on("close", resolve));
        await new Promise<void>((resolve, reject) => {
          child.stdout!.on("data", (d) => {
            const wasReady = out.includes("ready\n");
            out += d;
            if (!wasReady && out.includes("ready\n")) {
              setTimeout(() => child.kill("SIGKILL"), delay);
              resolve();
            }
          });
          child.on("close", () => reject(new Error(`worker ended before ready: ${err}`)));
        });
        await closed;
        assert.equal(child.signalCode, "SIGKILL", `worker #${kill} died by itself: ${err}`);
        ingest(out);
      }
      const drain = await run(runtimeArgv(WORKER, ["drain", path, dataPath]), {
        timeoutMs: 60_000,
      });
      assert.equal(drain.code, 0, drain.stderr);
      ingest(drain.stdout);

      // Every job reached exactly one final state; none is left running or pending.
      assert.equal(queue.depth(), 0);
      const jobs = allFinished(queue);
      const lost = jobs.flatMap((j) => j.runs).filter((r) => r.outcome === "worker_lost");
      for (const job of jobs) {
        const outcomes = job.runs.map((r) => r.outcome);
        const succeededRuns = outcomes.filter((o) => o === "succeeded").length;
        assert.ok(!outcomes.includes("running"), `job ${job.id} has a run still running`);
        assert.ok(["succeeded", "dead"].includes(job.state), `job ${job.id} is ${job.state}`);
        assert.equal(
          succeededRuns,
          job.state === "succeeded" ? 1 : 0,
          `job ${job.id}: ${outcomes}`,
        );
        assert.equal(
          job.deadReason,
          job.state === "dead" ? MAX_ATTEMPTS_EXCEEDED : undefined,
          `job ${job.id}`,
        );
      }
      for (const id of doneJobs) assert.equal(queue.get(id)?.state, "succeeded", `job ${id}`);
      assert.ok(lost.length >= 10, `only ${lost.length} of 20 kills hit a running job`);

      // Both files are sound; every row a worker reported committed is there.
      queue.prune();
      const data = await openDriver(dataPath);
      const raw = await openDriver(path);
      try {
        assert.equal(Object.values(data.prepare("PRAGMA integrity_check").get()!)[0], "ok");
        assert.equal(Object.values(raw.prepare("PRAGMA integrity_check").get()!)[0], "ok");
        const present = new Set(data.prepare("SELECT id FROM rows").all().map((r) => Number(r.id)));
        const missing = [...reportedRows].filter((id) => !present.has(id));
        assert.deepEqual(missing, []);
        assert.ok(reportedRows.size > 0);
      } finally {
        data.close();
        raw.close();
      }
      const { file, wal } = queue.fileSizes();
      console.log(
        `queue crash test: kills after ${delays.join(",")} ms; ${jobs.length} jobs, ` +
          `${lost.length} runs lost and recovered, ${reportedRows.size} rows; ` +
          `queue file ${file} B, WAL ${wal} B, data ${statSync(dataPath).size} B`,
      );
      assert.ok(file + wal < 1024 * 1024, `queue file ${file} + WAL ${wal} bytes`);
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
