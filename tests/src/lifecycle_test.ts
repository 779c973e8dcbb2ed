/**
 * SyncDatabase lifecycle: close() cleans the network up, terminates, then
 * closes (in that order), is idempotent, and after a failed close leaves a
 * fully working database; `using`/`await using` close; neither open/close
 * cycles nor failing opens leak file descriptors. Memory over many cycles is
 * measured, not asserted, by bench/lifecycle_bench.ts (RSS is too noisy, and
 * Deno's `gc` is a no-op without --expose-gc).
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { isKind, itUnless, refusedPort, tempDir, testExtensionPath } from "../_helpers.ts";
import { SyncDatabase } from "../../src/database.ts";
import { SqliteSyncError } from "../../common/errors.ts";
import type { Driver, PreparedStatement } from "../../ffi/drivers/driver.ts";

const NOTES = "CREATE TABLE notes (id TEXT PRIMARY KEY NOT NULL, body TEXT)";

async function openIn(dir: string): Promise<SyncDatabase> {
  return await SyncDatabase.open(join(dir, "app.db"), { extensionPath: await testExtensionPath() });
}

const isState = isKind("state", /closed/);

/** Runs a full GC when the runtime offers one (Bun always; Deno with --v8-flags=--expose-gc). */
function collectGarbage(): void {
  const g = globalThis as { Bun?: { gc(force: boolean): void }; gc?: () => void };
  if (g.Bun) g.Bun.gc(true);
  else if (typeof g.gc === "function") g.gc();
}

/** Why open file descriptors cannot be counted here, or `undefined` when they can. */
const noFdCount = existsSync("/proc/self/fd")
  ? undefined
  : "counting open file descriptors needs /proc/self/fd (Linux)";

function openFds(): number {
  return readdirSync("/proc/self/fd").length;
}

/**
 * Makes `driver` behave like SQLite's sqlite3_close() rather than close_v2: close()
 * throws SQLITE_BUSY while any statement prepared on it is not finalized. (node:sqlite,
 * bun:sqlite and @db/sqlite all finalize or defer instead, so a real refusal cannot be
 * provoked through them.) Returns what it saw: the SQL of each executed statement, `exec`
 * and `close` calls, in order.
 */
function strictClose(driver: Driver): string[] {
  const events: string[] = [];
  const live = new Set<PreparedStatement>();
  const prepare = driver.prepare.bind(driver);
  const exec = driver.exec.bind(driver);
  const close = driver.close.bind(driver);
  Object.defineProperty(driver, "prepare", {
    configurable: true,
    value: (sql: string) => {
      const stmt = prepare(sql);
      live.add(stmt);
      const finalize = stmt.finalize.bind(stmt);
      for (const method of ["run", "get", "all"] as const) {
        const call = stmt[method].bind(stmt) as (...args: unknown[]) => unknown;
        Object.defineProperty(stmt, method, {
          value: (...args: unknown[]) => (events.push(sql), call(...args)),
        });
      }
      Object.defineProperty(stmt, "finalize", {
        value: () => (live.delete(stmt), finalize()),
      });
      return stmt;
    },
  });
  Object.defineProperty(driver, "exec", {
    configurable: true,
    value: (sql: string) => (events.push(sql), exec(sql)),
  });
  Object.defineProperty(driver, "close", {
    configurable: true,
    value: () => {
      events.push("close");
      if (live.size > 0) {
        throw new SqliteSyncError(
          "busy",
          `unable to close due to unfinalized statements or unfinished backups (${live.size} live)`,
        );
      }
      close();
    },
  });
  return events;
}

describe("SyncDatabase lifecycle", () => {
  it("close() terminates cloudsync then closes: WAL is checkpointed away and the file reopens clean", async () => {
    const dir = tempDir();
    try {
      const db = await openIn(dir.path);
      db.exec(NOTES);
      db.init("notes");
      db.run("INSERT INTO notes (id, body) VALUES ('a', 'x')");
      assert.ok(existsSync(join(dir.path, "app.db-wal")));
      db.close();
      // A clean last close (no unfinalized statements) checkpoints and deletes the WAL.
      assert.equal(existsSync(join(dir.path, "app.db-wal")), false);
      const again = await openIn(dir.path);
      try {
        assert.equal(again.get("SELECT body AS v FROM notes")?.v, "x");
        assert.deepEqual(again.syncedTables(), ["notes"]);
      } finally {
        again.close();
      }
    } finally {
      dir.cleanup();
    }
  });

  it("close() is idempotent", async () => {
    const dir = tempDir();
    try {
      const db = await openIn(dir.path);
      db.close();
      db.close();
      db[Symbol.dispose]();
      await db[Symbol.asyncDispose]();
      assert.equal(db.closed, true);
    } finally {
      dir.cleanup();
    }
  });

  it("close() makes every later method call a state error", async () => {
    const dir = tempDir();
    try {
      const db = await openIn(dir.path);
      db.exec(NOTES);
      db.init("notes");
      db.close();
      const calls: Array<() => unknown> = [
        () => db.version(),
        () => db.init("notes"),
        () => db.enable("notes"),
        () => db.disable("notes"),
        () => db.isEnabled("notes"),
        () => db.syncedTables(),
        () => db.cleanup("notes"),
        () => db.setColumn("notes", "body", { algorithm: "block" }),
        () => db.setFilter("notes", "1"),
        () => db.clearFilter("notes"),
        () => db.textMaterialize("notes", "body", "a"),
        () => db.alter("notes", () => {}),
        () => db.siteId(),
        () => db.siteIdBytes(),
        () => db.dbVersion(),
        () => db.uuid(),
        () => db.uuidText(new Uint8Array(16)),
        () => db.uuidBlob("01890a5d-ac96-774b-bcce-b302099a8057"),
        () => db.set("network_request_timeout", 2),
        () => db.encodeChanges(),
        () => db.applyChanges(new Uint8Array([1])),
        () => db.terminate(),
        () => db.exec("SELECT 1"),
        () => db.run("SELECT 1"),
        () => db.get("SELECT 1"),
        () => db.all("SELECT 1"),
        () => db.transaction(() => 1),
        () => db.driver,
        () => db.network,
      ];
      for (const call of calls) assert.throws(call, isState, call.toString());
      await assert.rejects(db.openSibling(), isState);
    } finally {
      dir.cleanup();
    }
  });

  it("using closes the database at the end of the block", async () => {
    const dir = tempDir();
    try {
      let outside: SyncDatabase;
      {
        using db = await openIn(dir.path);
        outside = db;
        db.exec(NOTES);
        db.init("notes");
        assert.equal(db.closed, false);
      }
      assert.equal(outside.closed, true);
    } finally {
      dir.cleanup();
    }
  });

  it("await using closes the database at the end of the block, also when it throws", async () => {
    const dir = tempDir();
    try {
      let outside: SyncDatabase | undefined;
      await assert.rejects(async () => {
        await using db = await openIn(dir.path);
        outside = db;
        throw new Error("inside");
      }, /inside/);
      assert.equal(outside?.closed, true);
    } finally {
      dir.cleanup();
    }
  });

  itUnless(
    noFdCount,
    "open() and close() 1,000 times on a file leaks no file descriptors",
    async () => {
      const dir = tempDir();
      try {
        const first = await openIn(dir.path);
        first.exec(NOTES);
        first.init("notes");
        first.run("INSERT INTO notes (id, body) VALUES (?, 'x')", first.uuid());
        first.close();
        // Warm up once, so lazily loaded modules and caches do not count as growth.
        (await openIn(dir.path)).close();
        collectGarbage();
        const fdsBefore = openFds();
        const N = 1_000;
        for (let i = 0; i < N; i++) {
          const db = await openIn(dir.path);
          // init() is idempotent; it runs the schema preflight's statements on every cycle.
          db.init("notes");
          if (i % 250 === 0) assert.equal(db.syncedTables().length, 1);
          db.close();
        }
        collectGarbage();
        const fdsAfter = openFds();
        // A leak keeps at least one descriptor per cycle (the database file): 1,000 or more.
        assert.ok(fdsAfter <= fdsBefore + 5, `fds grew from ${fdsBefore} to ${fdsAfter}`);
        const check = await openIn(dir.path);
        try {
          assert.equal(Number(check.get("SELECT count(*) AS n FROM notes")?.n), 1);
        } finally {
          check.close();
        }
      } finally {
        dir.cleanup();
      }
    },
  );

  itUnless(
    noFdCount,
    "open() and openSibling() that fail on their first query close the connection: 50 failing opens leak no file descriptors",
    async () => {
      const dir = tempDir();
      try {
        const junk = join(dir.path, "junk.db");
        // Read-only skips the WAL switch, so the first query is SyncDatabase's own.
        writeFileSync(junk, "not a database, just text ".repeat(200));
        const extensionPath = await testExtensionPath();
        // A host whose file is then overwritten in place: its siblings fail the same way.
        const host = await openIn(dir.path);
        writeFileSync(join(dir.path, "app.db"), "not a database, just text ".repeat(200));
        const notDatabase = (err: unknown) => /file is not a database/.test(String(err));
        try {
          await assert.rejects(
            SyncDatabase.open(junk, { extensionPath, readOnly: true }),
            notDatabase,
          );
          await assert.rejects(host.openSibling({ readOnly: true }), notDatabase);
          collectGarbage();
          const before = openFds();
          for (let i = 0; i < 25; i++) {
            await assert.rejects(
              SyncDatabase.open(junk, { extensionPath, readOnly: true }),
              notDatabase,
            );
            await assert.rejects(host.openSibling({ readOnly: true }), notDatabase);
          }
          collectGarbage();
          const after = openFds();
          console.log(`50 failing opens: fds ${before} -> ${after}`);
          assert.ok(after <= before + 2, `fds grew from ${before} to ${after}`);
        } finally {
          host.close();
        }
      } finally {
        dir.cleanup();
      }
    },
  );

  it("close() after network use runs cloudsync_network_cleanup(), then cloudsync_terminate(), then closes the connection", async () => {
    const dir = tempDir();
    try {
      const address = `http://127.0.0.1:${await refusedPort()}`;
      const db = await openIn(dir.path);
      db.exec(NOTES);
      db.init("notes");
      db.network.init({ databaseId: "lifecycle-db", address, apiKey: "sqa_LIFECYCLE_KEY" });
      db.run("INSERT INTO notes (id, body) VALUES (?, 'x')", db.uuid());
      assert.throws(() => db.network.sendChanges(), isKind("offline"));
      const driver = db.driver;
      const events = strictClose(driver);
      db.close();
      assert.deepEqual(events, [
        "SELECT cloudsync_network_cleanup() AS v",
        "select cloudsync_terminate()",
        "close",
      ]);
      assert.equal(db.closed, true);
      assert.equal(driver.isOpen, false);
    } finally {
      dir.cleanup();
    }
  });

  it("close() that fails leaves the database fully usable: synced writes, dbVersion(), a peer receives the change, and close() succeeds once the cause is gone", async () => {
    const dir = tempDir();
    try {
      const db = await openIn(dir.path);
      const peer = await SyncDatabase.open(join(dir.path, "peer.db"), {
        extensionPath: await testExtensionPath(),
      });
      for (const d of [db, peer]) {
        d.exec(NOTES);
        d.exec("CREATE TABLE events (id TEXT PRIMARY KEY NOT NULL, what TEXT)");
        d.init("notes");
        d.init("events", { algorithm: "gos" });
      }
      db.run("INSERT INTO notes (id, body) VALUES ('a', 'before')");
      db.run("INSERT INTO events (id, what) VALUES ('e1', 'opened')");
      db.network.init({
        databaseId: "retry-db",
        address: `http://127.0.0.1:${await refusedPort()}`,
      });
      const siteId = db.siteId();
      const before = db.dbVersion();
      const driver = db.driver;
      const events = strictClose(driver);
      // The cause: a statement the user prepared on the raw connection and did not finalize.
      const user = db.driver.prepare("SELECT id FROM notes");
      assert.deepEqual(user.get(), { id: "a" });

      assert.throws(() => db.close(), isKind("busy", /unfinalized statements/));
      // The whole lifecycle ran, and the close itself was refused.
      const cleanup = events.indexOf("SELECT cloudsync_network_cleanup() AS v");
      assert.deepEqual(events.slice(cleanup, cleanup + 3), [
        "SELECT cloudsync_network_cleanup() AS v",
        "select cloudsync_terminate()",
        "close",
      ]);
      assert.equal(db.closed, false);
      assert.equal(driver.isOpen, true);

      // Still the same replica, with its version counter.
      assert.equal(db.siteId(), siteId);
      assert.equal(db.dbVersion(), before);
      // Synced writes work and are tracked.
      db.run("INSERT INTO notes (id, body) VALUES ('b', 'after the failed close')");
      assert.equal(db.dbVersion(), before + 1);
      // The stored algorithm came back too: events is still grow-only.
      assert.throws(
        () => db.run("UPDATE events SET what = 'changed' WHERE id = 'e1'"),
        /UPDATE operation is not allowed on table events/,
      );
      // The change made after the failed close reaches a peer.
      const payload = db.encodeChanges({ sinceDbVersion: before });
      assert.ok(payload instanceof Uint8Array);
      assert.equal(peer.applyChanges(payload), 1);
      assert.deepEqual(peer.all("SELECT id, body FROM notes ORDER BY id"), [
        { id: "b", body: "after the failed close" },
      ]);
      // The network context stays freed, and says so.
      assert.equal(db.network.ready, false);
      assert.throws(() => db.network.sendChanges(), isKind("state", /network\.init\(\) first/));

      // Once the cause is gone, close() succeeds.
      user.finalize();
      db.close();
      assert.equal(db.closed, true);
      assert.equal(driver.isOpen, false);
      db.close();
      peer.close();
    } finally {
      dir.cleanup();
    }
  });
});
