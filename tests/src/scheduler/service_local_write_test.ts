/**
 * A SyncService started with an open SyncDatabase hears that database's own
 * writes directly (no polling): scheduler unit test with a fake executor and
 * an injected clock; the database, its extension and the queue file are real.
 * Then the same with the real executor (still on an injected clock): its change
 * detection also sees that write, and must not make a second sync of it.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { SyncDatabase } from "../../../src/database.ts";
import { startSyncService } from "../../../src/scheduler/service.ts";
import { createExecutor } from "../../../src/scheduler/executor.ts";
import type { ExecutorOptions } from "../../../src/scheduler/_executor_options.ts";
import { refusedPort, tempDir, testExtensionPath } from "../../_helpers.ts";
import { FakeClock } from "./_fake_clock.ts";
import { guard, logEvents } from "./_service_events.ts";
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

  it("one write through the SyncDatabase makes one sync: the real executor's change detection reports the same commit, and with the debounce's injected clock moved well past it no second sync starts", async () => {
    const dir = tempDir("service-local-write-real-");
    const db = await SyncDatabase.open(join(dir.path, "app.db"), {
      extensionPath: await testExtensionPath(),
    });
    const clock = new FakeClock(UNIT_START);
    // What the real executor's change detection reports, seen on the way to the service.
    const reported: number[] = [];
    let onReport = () => {};
    try {
      db.exec("CREATE TABLE notes (id TEXT PRIMARY KEY NOT NULL, body TEXT)");
      db.init("notes");
      const service = await startSyncService(db, {
        databaseId: "unit-db",
        apiKey: "sqa_UNITKEY_0123456789",
        address: `http://127.0.0.1:${await refusedPort()}`,
        syncOnStart: false,
        polling: false,
        changeDebounceMs: 50,
        retry: { maxAttempts: 1 },
      }, {
        clock,
        createExecutor: (o: ExecutorOptions) =>
          createExecutor({
            ...o,
            onDataVersionChange: (change) => {
              reported.push(change.dbVersion);
              onReport();
              o.onDataVersionChange?.(change);
            },
          }),
      });
      const log = logEvents(service, () => clock.now());
      db.run("INSERT INTO notes (id, body) VALUES (?, ?)", "n1", "hello");
      const version = db.dbVersion();
      // No turn of the event loop in between: the write's own notice has fired the debounce and
      // started the sync before any report of the executor can arrive.
      clock.advance(50);
      assert.deepEqual(log.of("started").map((s) => s.reasons), [["change"]]);
      await log.nth("dead-lettered", 1); // refused port, maxAttempts 1
      await guard(
        new Promise<void>((resolve) => {
          onReport = () => reported.some((v) => v >= version) && resolve();
          onReport();
        }),
        `the executor reporting the commit (version ${version})`,
      );
      await advance(clock, 1000, 50);
      assert.deepEqual(log.of("started").map((s) => s.reasons), [["change"]]);
      await service.stop();
    } finally {
      db.close();
      dir.cleanup();
    }
  });
});
