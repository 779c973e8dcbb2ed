/**
 * A SyncService started with an open SyncDatabase hears that database's own
 * writes directly (no polling): scheduler unit test with a fake executor and
 * an injected clock; the database, its extension and the queue file are real.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { SyncDatabase } from "../../../src/database.ts";
import { startSyncService, SyncService } from "../../../src/scheduler/service.ts";
import type { ExecutorOptions } from "../../../src/scheduler/executor.ts";
import { refusedPort, tempDir, testExtensionPath } from "../../_helpers.ts";
import { FakeClock } from "./_fake_clock.ts";
import { advance, FakeExecutor, result, UNIT_START } from "./_service_fake.ts";

describe("SyncService with a SyncDatabase", () => {
  it("a write through the SyncDatabase given to start() starts a sync with reason 'change' exactly the debounce window after it", async () => {
    const dir = tempDir("service-local-write-");
    const db = await SyncDatabase.open(join(dir.path, "app.db"), {
      extensionPath: await testExtensionPath(),
    });
    const clock = new FakeClock(UNIT_START);
    const fakes: FakeExecutor[] = [];
    try {
      db.exec("CREATE TABLE notes (id TEXT PRIMARY KEY NOT NULL, body TEXT)");
      db.init("notes");
      const service = await startSyncService(db, {
        databaseId: "unit-db",
        apiKey: "sqa_UNITKEY_0123456789",
        syncOnStart: false,
        polling: false,
        changeDebounceMs: 500,
      }, {
        clock,
        createExecutor: (o: ExecutorOptions) => {
          const fake = new FakeExecutor(o, clock, () => ({ ok: result({ chunks: 1 }) }));
          fakes.push(fake);
          return Promise.resolve(fake as never);
        },
      });
      const reasons: string[][] = [];
      service.on("started", (e) => reasons.push(e.reasons));
      await advance(clock, 100, 50);
      const at = clock.now();
      db.run("INSERT INTO notes (id, body) VALUES (?, ?)", "n1", "hello");
      await advance(clock, 499, 1);
      assert.equal(fakes[0].syncs.length, 0);
      await advance(clock, 1, 1);
      assert.deepEqual(fakes[0].syncs.map((s) => s.at), [at + 500]);
      assert.deepEqual(reasons, [["change"]]);
      await service.stop();
      // After stop() the database's writes no longer reach the service.
      db.run("INSERT INTO notes (id, body) VALUES (?, ?)", "n2", "later");
      await advance(clock, 1000, 100);
      assert.equal(fakes[0].syncs.length, 1);
    } finally {
      db.close();
      dir.cleanup();
    }
  });

  it("one write through the SyncDatabase makes one sync: the real executor's change detection does not sync the same commit again", async () => {
    const dir = tempDir("service-local-write-real-");
    const db = await SyncDatabase.open(join(dir.path, "app.db"), {
      extensionPath: await testExtensionPath(),
    });
    try {
      db.exec("CREATE TABLE notes (id TEXT PRIMARY KEY NOT NULL, body TEXT)");
      db.init("notes");
      const service = await SyncService.start(db, {
        databaseId: "unit-db",
        apiKey: "sqa_UNITKEY_0123456789",
        address: `http://127.0.0.1:${await refusedPort()}`,
        syncOnStart: false,
        polling: false,
        changeDebounceMs: 50,
        changePollMs: 100,
        retry: { maxAttempts: 1 },
      });
      const started: string[][] = [];
      service.on("started", (e) => started.push(e.reasons));
      db.run("INSERT INTO notes (id, body) VALUES (?, ?)", "n1", "hello");
      // Ten of the executor's change checks, and time for any sync they would request.
      await new Promise((resolve) => setTimeout(resolve, 1500));
      await service.stop();
      assert.deepEqual(started, [["change"]]);
    } finally {
      db.close();
      dir.cleanup();
    }
  });
});
