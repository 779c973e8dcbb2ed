/**
 * SyncDatabase lifecycle: close() cleans the network up, terminates, then
 * closes, is idempotent and retry-safe, `using`/`await using` close, and
 * neither open/close cycles, network cycles nor failing opens leak file
 * descriptors or memory.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { isKind, refusedPort, tempDir, testExtensionPath } from "../_helpers.ts";
import { SyncDatabase } from "../../src/database.ts";

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

function openFds(): number | undefined {
  return existsSync("/proc/self/fd") ? readdirSync("/proc/self/fd").length : undefined;
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

  it("open() and close() 1,000 times on a file leaks no file descriptors and little memory", async () => {
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
      const rssBefore = process.memoryUsage().rss;
      const started = performance.now();
      const N = 1_000;
      for (let i = 0; i < N; i++) {
        const db = await openIn(dir.path);
        // init() is idempotent; it runs the schema preflight's statements on every cycle.
        db.init("notes");
        if (i % 250 === 0) assert.equal(db.syncedTables().length, 1);
        db.close();
      }
      const ms = performance.now() - started;
      collectGarbage();
      const fdsAfter = openFds();
      const rssAfter = process.memoryUsage().rss;
      const rssGrowthMb = (rssAfter - rssBefore) / 1024 / 1024;
      console.log(
        `lifecycle: ${N} open/close in ${ms.toFixed(0)} ms; fds ${fdsBefore} -> ${fdsAfter}; ` +
          `rss ${(rssBefore / 1048576).toFixed(1)} MB -> ${(rssAfter / 1048576).toFixed(1)} MB ` +
          `(+${rssGrowthMb.toFixed(1)} MB)`,
      );
      if (fdsBefore !== undefined && fdsAfter !== undefined) {
        assert.ok(fdsAfter <= fdsBefore + 5, `fds grew from ${fdsBefore} to ${fdsAfter}`);
      }
      assert.ok(rssGrowthMb < 30, `rss grew by ${rssGrowthMb.toFixed(1)} MB`);
      const check = await openIn(dir.path);
      try {
        assert.equal(Number(check.get("SELECT count(*) AS n FROM notes")?.n), 1);
      } finally {
        check.close();
      }
    } finally {
      dir.cleanup();
    }
  });

  it("open() and openSibling() that fail on their first query close the connection: 50 failing opens leak no file descriptors", async (t) => {
    if (openFds() === undefined) {
      t.skip("needs /proc/self/fd (linux only)");
      return;
    }
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
        const before = openFds()!;
        for (let i = 0; i < 25; i++) {
          await assert.rejects(
            SyncDatabase.open(junk, { extensionPath, readOnly: true }),
            notDatabase,
          );
          await assert.rejects(host.openSibling({ readOnly: true }), notDatabase);
        }
        collectGarbage();
        const after = openFds()!;
        console.log(`50 failing opens: fds ${before} -> ${after}`);
        assert.ok(after <= before + 2, `fds grew from ${before} to ${after}`);
      } finally {
        host.close();
      }
    } finally {
      dir.cleanup();
    }
  });

  it("close() after network use frees the network context: 600 open → init → network.init → failed send → close cycles keep RSS flat", async () => {
    const dir = tempDir();
    try {
      const address = `http://127.0.0.1:${await refusedPort()}`;
      const cycle = async (dirty: boolean) => {
        const db = await openIn(dir.path);
        db.exec("CREATE TABLE IF NOT EXISTS notes (id TEXT PRIMARY KEY NOT NULL, body TEXT)");
        db.init("notes");
        db.network.init({ databaseId: "lifecycle-db", address, apiKey: "sqa_LIFECYCLE_KEY" });
        if (dirty) db.run("INSERT INTO notes (id, body) VALUES (?, 'x')", db.uuid());
        assert.throws(() => db.network.sendChanges(), isKind("offline"));
        db.close();
        assert.equal(db.closed, true);
      };
      await cycle(true);
      // Warm-up: lazily loaded code, curl's and SQLite's caches settle first.
      for (let i = 0; i < 300; i++) await cycle(false);
      collectGarbage();
      const rssBefore = process.memoryUsage().rss;
      const started = performance.now();
      const N = 600;
      for (let i = 0; i < N; i++) await cycle(false);
      const ms = performance.now() - started;
      collectGarbage();
      const rssAfter = process.memoryUsage().rss;
      const growthMb = (rssAfter - rssBefore) / 1048576;
      // Measured on 1.1.4 without network cleanup in close(): +8 to +12 MB per 600 cycles
      // (12-18 KB each); with it: +0 to +4 MB (Deno's heap without a forced GC).
      console.log(
        `network lifecycle: ${N} cycles in ${ms.toFixed(0)} ms; rss ${
          (rssBefore / 1048576).toFixed(1)
        } MB -> ${(rssAfter / 1048576).toFixed(1)} MB (+${growthMb.toFixed(1)} MB, ${
          (growthMb * 1024 / N).toFixed(1)
        } KB/cycle)`,
      );
      assert.ok(growthMb < 6, `rss grew by ${growthMb.toFixed(1)} MB over ${N} cycles`);
    } finally {
      dir.cleanup();
    }
  });

  it("close() that fails leaves the database open, and a second close() finishes the job", async () => {
    const dir = tempDir();
    try {
      const db = await openIn(dir.path);
      db.exec(NOTES);
      db.init("notes");
      db.network.init({
        databaseId: "retry-db",
        address: `http://127.0.0.1:${await refusedPort()}`,
      });
      const driver = db.driver;
      // Simulate SQLite refusing to close once (e.g. SQLITE_BUSY from an unfinalized statement).
      const realClose = driver.close.bind(driver);
      let refusals = 1;
      Object.defineProperty(driver, "close", {
        configurable: true,
        value: () => {
          if (refusals-- > 0) throw new Error("unable to close due to unfinalized statements");
          realClose();
        },
      });
      assert.throws(() => db.close(), /unable to close/);
      assert.equal(db.closed, false);
      assert.equal(driver.isOpen, true);
      // Still usable: statements are prepared again on demand.
      assert.equal(db.version(), "1.1.4");
      assert.equal(db.network.ready, false, "close() freed the network context before failing");
      db.close();
      assert.equal(db.closed, true);
      assert.equal(driver.isOpen, false);
      db.close();
    } finally {
      dir.cleanup();
    }
  });
});
