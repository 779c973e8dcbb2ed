/**
 * The durable sync queue's file: where it lives, how it is opened (WAL, its
 * application id and schema version), refused (a foreign file, not a
 * database, a newer schema) or migrated, closed, and that it never reads the
 * clock.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { openDriver } from "../../../ffi/drivers/open_driver.ts";
import { queuePathFor } from "../../../src/scheduler/_queue_path.ts";
import { SyncQueue } from "../../../src/scheduler/queue.ts";
import {
  QUEUE_APPLICATION_ID,
  QUEUE_SCHEMA_VERSION,
} from "../../../src/scheduler/_queue_schema.ts";
import { isKind, tempDir } from "../../_helpers.ts";
import { A, B, claimed, freshQueue, T0 } from "./_queue_fixtures.ts";

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
