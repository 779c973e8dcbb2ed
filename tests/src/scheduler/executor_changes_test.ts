/**
 * The executor's change detection, for real (a Worker or a child process
 * with the real extension): a file watch, confirmed by PRAGMA data_version,
 * reports other connections' commits to synced tables, and nothing else.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { refusedPort, tempDir, testExtensionPath } from "../../_helpers.ts";
import { writeDirtyNotes } from "./_service_real.ts";
import { SyncDatabase } from "../../../src/database.ts";
import { createExecutor, type Executor } from "../../../src/scheduler/executor.ts";
import { ExecutorPool } from "../../../src/scheduler/_executor_config.ts";
import { KINDS, next, withExecutor } from "./_executor_fixtures.ts";

for (const kind of KINDS) {
  describe(`executor (${kind}): change detection (a file watch, confirmed by PRAGMA data_version)`, () => {
    it("a commit by another connection to a synced table calls onDataVersionChange once, with the new and the previous version", async () => {
      await withExecutor(kind, await refusedPort(), async ({ db, changes }) => {
        const before = db.dbVersion();
        const heard = next(changes);
        db.run("INSERT INTO notes (id, body) VALUES (?, ?)", db.uuid(), "from another connection");
        assert.deepEqual(await heard, { dbVersion: db.dbVersion(), previous: before });
      });
    });

    it("the executor's own commits (a sync storing its time-outs) and other connections' commits to unsynced tables are never reported: the first report is the synced write's", async () => {
      await withExecutor(kind, await refusedPort(), async ({ db, executor, changes }) => {
        const before = db.dbVersion();
        for (let i = 0; i < 3; i++) {
          await executor.sync({ connectTimeoutS: 3 + i }).catch(() => {}); // commits cloudsync_set
          db.run("INSERT INTO scratch (v) VALUES (?)", `unsynced ${i}`);
          await executor.dbVersion(); // a round trip: the Worker has handled what came before
        }
        const heard = next(changes);
        db.run("INSERT INTO notes (id, body) VALUES (?, ?)", db.uuid(), "synced");
        assert.deepEqual(await heard, { dbVersion: db.dbVersion(), previous: before });
        assert.equal(changes.length, 1);
      });
    });

    it("with several databases on one Worker, a commit to one of them is reported for that one only", async () => {
      const dir = tempDir("executor-test-");
      const pool = new ExecutorPool({ kind, size: 1 });
      const extensionPath = await testExtensionPath();
      const heard: string[] = [];
      const executors: Executor[] = [];
      try {
        for (const name of ["a", "b", "c"]) {
          const path = join(dir.path, `${name}.db`);
          await writeDirtyNotes(path, extensionPath);
          const executor = await createExecutor({
            path,
            extensionPath,
            pool,
            onDataVersionChange: () => heard.push(name),
          });
          await executor.init({ databaseId: "executor-test", address: "http://127.0.0.1:9" });
          executors.push(executor);
        }
        assert.equal(pool.status().executors, 1);
        const first = next(heard);
        const db = await SyncDatabase.open(join(dir.path, "b.db"), { extensionPath });
        db.run("INSERT INTO notes (id, body) VALUES (?, ?)", db.uuid(), "to b");
        db.close();
        assert.equal(await first, "b");
        await executors[0].dbVersion(); // a, b and c were all looked at by now
        assert.deepEqual(heard, ["b"]);
      } finally {
        for (const e of executors) await e.close();
        dir.cleanup();
      }
    });
  });
}
