/**
 * The executor, for real: a Worker or a child process with the real
 * extension, against non-protocol failure fixtures only (a refused port, a
 * listener that never answers, a server answering every request with one
 * fixed HTTP error). Nothing here speaks the CloudSync protocol. Here: network
 * failures as typed errors, the connection and its local state, and
 * configureExecutors(); change detection is in executor_changes_test.ts, the
 * pool in executor_pool_test.ts, closing and ending hung calls in
 * executor_close_test.ts.
 *
 * Hung calls are released at the end of each test by destroying the
 * listener's sockets, so even a Worker that cannot be killed returns. Tests
 * wait on events (callbacks, a child's lines, exits); a time-out only guards
 * against hanging. Speed is measured in bench/executor_bench.ts.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import process from "node:process";
import { refusedPort, tempDir, testExtensionPath } from "../../_helpers.ts";
import { errorServer, silentListener } from "../_error_servers.ts";
import { SyncDatabase } from "../../../src/database.ts";
import {
  configureExecutors,
  createExecutor,
  type ExecutorKind,
  executorStatus,
} from "../../../src/scheduler/executor.ts";
import { assertSyncError, KINDS, withExecutor } from "./_executor_fixtures.ts";

const PAUSED = '{"errors":[{"status":"503","code":"database_paused","title":"Database paused"}]}';
const UNAUTHORIZED = '{"errors":[{"status":"401","code":"unauthorized","title":"Unauthorized"}]}';

for (const kind of KINDS) {
  describe(`executor (${kind}): network failures cross the boundary as typed errors`, () => {
    it("sync() against a refused port rejects with kind 'offline', naming the address it tried", async () => {
      await withExecutor(kind, await refusedPort(), async ({ db, executor }) => {
        db.run("INSERT INTO notes (id, body) VALUES (?, ?)", db.uuid(), "local");
        const err = await executor.sync({ jobId: 1 }).then(() => undefined, (e: unknown) => e);
        assertSyncError(err, "offline");
        assert.match((err as Error).message, /Failed to connect to 127\.0\.0\.1/);
      });
    });

    it("sync() against a listener that never answers rejects with kind 'timeout' (the request time-out), while this thread's timers keep firing", async () => {
      const listener = await silentListener();
      try {
        await withExecutor(kind, listener.port, async ({ db, executor }) => {
          db.run("INSERT INTO notes (id, body) VALUES (?, ?)", db.uuid(), "local");
          let ticks = 0;
          const tick = setInterval(() => ticks++, 10);
          const err = await executor.sync({ jobId: 2, requestTimeoutS: 1 }).then(
            () => undefined,
            (e: unknown) => e,
          );
          clearInterval(tick);
          assertSyncError(err, "timeout");
          // The call took at least its 1 s time-out; a blocked thread would have fired no timer.
          assert.ok(ticks >= 10, `only ${ticks} timer ticks while the sync was blocked`);
        });
      } finally {
        await listener.close();
      }
    });

    it("sync() against a server answering 503 rejects with kind 'http' and status 503", async () => {
      const server = await errorServer(503, "Service Unavailable", PAUSED);
      try {
        await withExecutor(kind, server.port, async ({ db, executor }) => {
          db.run("INSERT INTO notes (id, body) VALUES (?, ?)", db.uuid(), "local");
          const err = assertSyncError(await executor.sync().catch((e: unknown) => e), "http");
          assert.equal(err.status, 503);
          assert.equal(err.code, "database_paused");
        });
      } finally {
        await server.stop();
      }
    });

    it("sync() against a server answering 401 rejects with kind 'auth' and status 401, the API key nowhere in the error", async () => {
      const server = await errorServer(401, "Unauthorized", UNAUTHORIZED);
      try {
        await withExecutor(kind, server.port, async ({ db, executor }) => {
          db.run("INSERT INTO notes (id, body) VALUES (?, ?)", db.uuid(), "local");
          const err = assertSyncError(await executor.sync().catch((e: unknown) => e), "auth");
          assert.equal(err.status, 401);
        });
      } finally {
        await server.stop();
      }
    });
  });

  describe(`executor (${kind}): connection and local state`, () => {
    it("init() opens a connection like the library's (same driver, WAL, busy timeout, recursive_triggers, watching for changes) and sync() stores both network time-outs before it runs", async () => {
      await withExecutor(kind, await refusedPort(), async ({ db, executor }) => {
        const before = await executor.connectionInfo();
        assert.equal(before.driver, db.driver.name);
        assert.equal(before.journalMode, "wal");
        assert.equal(before.busyTimeoutMs, 1234);
        assert.equal(before.recursiveTriggers, true);
        assert.equal(before.pid === process.pid, kind === "worker");
        assert.equal(before.pid, executor.pid);
        assert.equal(before.changeDetection, "watch");
        await executor.sync({ connectTimeoutS: 7, requestTimeoutS: 9 }).catch(() => {});
        const after = await executor.connectionInfo();
        assert.equal(after.connectTimeoutS, 7);
        assert.equal(after.requestTimeoutS, 9);
      }, { connection: { busyTimeoutMs: 1234 } });
    });

    it("unsentChanges() counts this site's changes after the send checkpoint, exactly what cloudsync_payload_save ships, without the network", async () => {
      await withExecutor(kind, await refusedPort(), async ({ dir, db, executor }) => {
        assert.equal(await executor.unsentChanges(), 0);
        for (let i = 0; i < 3; i++) {
          db.run("INSERT INTO notes (id, body) VALUES (?, ?)", db.uuid(), `n${i}`);
        }
        db.run("INSERT INTO scratch (v) VALUES ('not synced')");
        assert.equal(await executor.unsentChanges(), 3); // one per changed column (body)
        // Pretend the first two transactions were sent (internal checkpoint, raw on purpose).
        const sent = db.dbVersion() - 1;
        db.driver.exec(`SELECT cloudsync_set('send_dbversion', '${sent}')`);
        const unsent = await executor.unsentChanges();
        assert.equal(unsent, 1);
        // The extension's own notion of "unsent": what payload_save writes.
        const file = join(dir, "unsent.payload");
        db.get("SELECT cloudsync_payload_save(?) AS v", file);
        const other = await SyncDatabase.open(join(dir, "other.db"), {
          extensionPath: await testExtensionPath(),
        });
        try {
          other.exec("CREATE TABLE notes (id TEXT PRIMARY KEY NOT NULL, body TEXT)");
          other.init("notes");
          assert.equal(Number(other.get("SELECT cloudsync_payload_load(?) AS v", file)!.v), unsent);
        } finally {
          other.close();
        }
      });
    });

    it("dbVersion() is the database version the other connections see", async () => {
      await withExecutor(kind, await refusedPort(), async ({ db, executor }) => {
        db.run("INSERT INTO notes (id, body) VALUES (?, ?)", db.uuid(), "a");
        db.run("INSERT INTO notes (id, body) VALUES (?, ?)", db.uuid(), "b");
        assert.equal(await executor.dbVersion(), db.dbVersion());
        assert.ok(db.dbVersion() >= 2);
      });
    });

    it("calls before init(), a second init() and an invalid database id are refused with typed errors", async () => {
      const dir = tempDir("executor-test-");
      const executor = await createExecutor({
        kind,
        path: join(dir.path, "x.db"),
        extensionPath: await testExtensionPath(),
      });
      try {
        await assert.rejects(executor.sync(), (e) => assertSyncError(e, "state") !== undefined);
        await assert.rejects(executor.init({ databaseId: "bad id!" }), TypeError);
        await executor.init({ databaseId: "ok-id" });
        await assert.rejects(
          executor.init({ databaseId: "ok-id" }),
          (e) => assertSyncError(e, "state") !== undefined,
        );
      } finally {
        await executor.close();
        dir.cleanup();
      }
    });
  });
}

describe("configureExecutors() and executorStatus()", () => {
  it("configureExecutors() changes the numbers of every process pool and keeps each pool's kind; a bad option is a RangeError or TypeError naming it and changes nothing", () => {
    const before = { worker: executorStatus("worker"), process: executorStatus("process") };
    try {
      configureExecutors({ size: 3, maxSize: 5 });
      for (const kind of ["worker", "process"] as const) {
        const status = executorStatus(kind);
        assert.deepEqual([status.kind, status.size, status.maxSize], [kind, 3, 5]);
      }
      assert.throws(
        () => configureExecutors({ size: 4, maxSize: 2 }),
        /'maxSize' \(2\).*'size' \(4\)/,
      );
      assert.throws(() => configureExecutors({ size: 0 }), RangeError);
      assert.throws(() => configureExecutors({ kind: "thread" as ExecutorKind }), TypeError);
      assert.deepEqual([executorStatus("worker").size, executorStatus("worker").maxSize], [3, 5]);
    } finally {
      configureExecutors({ size: before.worker.size, maxSize: before.worker.maxSize });
    }
  });
});
