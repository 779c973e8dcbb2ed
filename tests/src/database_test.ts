/**
 * SyncDatabase against the real 1.1.4 extension on real files: every public
 * method is called and its result checked.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { isKind, itUnless, refusedPort, tempDir, testExtensionPath } from "../_helpers.ts";
import { openDriver } from "../../ffi/drivers/open_driver.ts";
import { fileState, journalModeOf, readOnlyMaker } from "./cli/_cli.ts";
import { SyncDatabase } from "../../src/database.ts";
import { SqliteSyncError } from "../../common/errors.ts";
import type { SettingKey } from "../../src/settings.ts";

const NOTES = "CREATE TABLE notes (id TEXT PRIMARY KEY NOT NULL, body TEXT, tenant TEXT)";

/** Opens a fresh file database in its own temp dir; `done()` closes it and removes the dir. */
async function fresh(
  schema = NOTES,
): Promise<{ db: SyncDatabase; path: string; dir: string; done: () => void }> {
  const dir = tempDir();
  const path = join(dir.path, "app.db");
  const db = await SyncDatabase.open(path, { extensionPath: await testExtensionPath() });
  if (schema) db.exec(schema);
  return {
    db,
    path,
    dir: dir.path,
    done: () => {
      db.close();
      dir.cleanup();
    },
  };
}

/** Applies every change of `from` to `to`; returns the rows count. */
function ship(from: SyncDatabase, to: SyncDatabase): number {
  const payload = from.encodeChanges();
  return payload === null ? 0 : to.applyChanges(payload);
}

/** The column values cloudsync tracks for a table, sorted (enough to tell rows apart). */
function trackedValues(db: SyncDatabase, table: string): string[] {
  return db.all("SELECT col_value AS v FROM cloudsync_changes WHERE tbl = ?", table)
    .map((r) => String(r.v)).sort();
}

describe("SyncDatabase", () => {
  it("open() loads the extension: version() is 1.1.4 and extension names the binary", async () => {
    const f = await fresh("");
    try {
      assert.equal(f.db.version(), "1.1.4");
      assert.equal(f.db.extension.path, await testExtensionPath());
      assert.equal(f.db.closed, false);
      assert.equal(f.db.driver.path, f.path);
    } finally {
      f.done();
    }
  });

  it("init() returns the 32-hex site id that siteId() and siteIdBytes() report, and is idempotent", async () => {
    const f = await fresh();
    try {
      assert.throws(() => f.db.siteId(), isKind("state", /init\(\)/));
      const id = f.db.init("notes");
      assert.match(id, /^[0-9a-f]{32}$/);
      assert.equal(f.db.siteId(), id);
      const bytes = f.db.siteIdBytes();
      assert.equal(bytes.length, 16);
      assert.equal([...bytes].map((b) => b.toString(16).padStart(2, "0")).join(""), id);
      assert.equal(f.db.init("notes"), id);
      assert.deepEqual(f.db.syncedTables(), ["notes"]);
    } finally {
      f.done();
    }
  });

  it("init('*') inits every user table in one go", async () => {
    const f = await fresh(
      `${NOTES}; CREATE TABLE tags (id TEXT PRIMARY KEY NOT NULL, name TEXT);` +
        "CREATE TABLE items (a TEXT NOT NULL, b TEXT NOT NULL, qty INTEGER DEFAULT 0, PRIMARY KEY (a, b))",
    );
    try {
      assert.deepEqual(f.db.syncedTables(), []);
      const id = f.db.init("*");
      assert.match(id, /^[0-9a-f]{32}$/);
      assert.deepEqual(f.db.syncedTables(), ["items", "notes", "tags"]);
      f.db.run("INSERT INTO items (a, b, qty) VALUES ('x', 'y', 3)");
      assert.ok(f.db.encodeChanges() instanceof Uint8Array);
    } finally {
      f.done();
    }
  });

  it("init('*') refuses all tables when one fails the preflight, syncing none", async () => {
    const f = await fresh(`${NOTES}; CREATE TABLE ip (id INTEGER PRIMARY KEY, name TEXT)`);
    try {
      assert.throws(() => f.db.init("*"), isKind("schema", /"ip".*INTEGER PRIMARY KEY/));
      assert.deepEqual(f.db.syncedTables(), []);
    } finally {
      f.done();
    }
  });

  it("init() with algorithm 'gos' makes an insert-only table", async () => {
    const f = await fresh();
    try {
      f.db.init("notes", { algorithm: "gos" });
      assert.equal(
        f.db.get("SELECT value AS v FROM cloudsync_table_settings WHERE tbl_name = 'notes'")?.v,
        "gos",
      );
      f.db.run("INSERT INTO notes (id, body) VALUES ('a', 'x')");
      assert.throws(() => f.db.run("UPDATE notes SET body = 'y'"), /UPDATE.*not allowed/);
      assert.equal(f.db.get("SELECT body AS v FROM notes")?.v, "x");
    } finally {
      f.done();
    }
  });

  it("init() named checks allowIntegerPrimaryKey and allowNotNullWithoutDefault map to working inits", async () => {
    const f = await fresh(
      "CREATE TABLE ip (id INTEGER PRIMARY KEY, name TEXT);" +
        "CREATE TABLE nn (id TEXT PRIMARY KEY NOT NULL, a TEXT NOT NULL)",
    );
    try {
      assert.throws(() => f.db.init("ip"), isKind("schema", /allowIntegerPrimaryKey/));
      assert.throws(() => f.db.init("nn"), isKind("schema", /allowNotNullWithoutDefault/));
      f.db.init("ip", { allowIntegerPrimaryKey: true });
      f.db.init("nn", { allowNotNullWithoutDefault: true });
      assert.deepEqual(f.db.syncedTables(), ["ip", "nn"]);
      f.db.run("INSERT INTO ip (id, name) VALUES (7, 'seven')");
      f.db.run("INSERT INTO nn (id, a) VALUES ('k', 'v')");
      const tables = f.db.all("SELECT DISTINCT tbl AS t FROM cloudsync_changes ORDER BY 1")
        .map((r) => r.t);
      assert.deepEqual(tables, ["ip", "nn"]);
    } finally {
      f.done();
    }
  });

  it("disable() stops tracking: a write while disabled is not encoded, even after enable()", async () => {
    const f = await fresh();
    try {
      f.db.init("notes");
      assert.equal(f.db.isEnabled("notes"), true);
      f.db.disable("notes");
      assert.equal(f.db.isEnabled("notes"), false);
      f.db.run("INSERT INTO notes (id, body) VALUES ('hidden', 'while-disabled')");
      f.db.enable("notes");
      assert.equal(f.db.isEnabled("notes"), true);
      assert.equal(f.db.encodeChanges(), null);
      f.db.run("INSERT INTO notes (id, body) VALUES ('seen', 'after-enable')");
      assert.deepEqual(trackedValues(f.db, "notes"), ["after-enable", "null"]);
    } finally {
      f.done();
    }
  });

  it("alter() tracks rows written while the table was disabled (commit_alter rebuilds metadata)", async () => {
    const f = await fresh();
    try {
      f.db.init("notes");
      f.db.disable("notes");
      f.db.run("INSERT INTO notes (id, body) VALUES ('hidden', 'while-disabled')");
      f.db.enable("notes");
      assert.equal(f.db.encodeChanges(), null);
      f.db.alter("notes", (db) => db.exec("ALTER TABLE notes ADD COLUMN extra TEXT"));
      const payload = f.db.encodeChanges();
      assert.ok(payload, "the alter made the hidden row visible to sync");
      const peer = await fresh();
      try {
        peer.db.exec("ALTER TABLE notes ADD COLUMN extra TEXT");
        peer.db.init("notes");
        peer.db.applyChanges(payload);
        assert.deepEqual(peer.db.all("SELECT id, body FROM notes"), [
          { id: "hidden", body: "while-disabled" },
        ]);
      } finally {
        peer.done();
      }
    } finally {
      f.done();
    }
  });

  it("isEnabled() is false for a table that is not synced", async () => {
    const f = await fresh();
    try {
      assert.equal(f.db.isEnabled("notes"), false);
    } finally {
      f.done();
    }
  });

  it("cleanup() of a non-last table drops its metadata and keeps the site id", async () => {
    const f = await fresh(`${NOTES}; CREATE TABLE tags (id TEXT PRIMARY KEY NOT NULL, name TEXT)`);
    try {
      const id = f.db.init("notes");
      f.db.init("tags");
      f.db.cleanup("tags");
      assert.deepEqual(f.db.syncedTables(), ["notes"]);
      assert.equal(
        f.db.get("SELECT 1 AS x FROM sqlite_master WHERE name = 'tags_cloudsync'"),
        undefined,
      );
      assert.equal(f.db.siteId(), id);
    } finally {
      f.done();
    }
  });

  it("cleanup() of the last table without destroySiteIdentity is a state error and changes nothing", async () => {
    const f = await fresh();
    try {
      const id = f.db.init("notes");
      f.db.run("INSERT INTO notes (id, body) VALUES ('a', 'x')");
      const schema = f.db.all("SELECT name FROM sqlite_master ORDER BY name");
      assert.throws(() => f.db.cleanup("notes"), isKind("state", /destroySiteIdentity: true/));
      assert.deepEqual(f.db.all("SELECT name FROM sqlite_master ORDER BY name"), schema);
      assert.equal(f.db.siteId(), id);
      assert.deepEqual(f.db.syncedTables(), ["notes"]);
    } finally {
      f.done();
    }
  });

  it("cleanup() of the last table with destroySiteIdentity drops all cloudsync metadata", async () => {
    const f = await fresh();
    try {
      f.db.init("notes");
      f.db.cleanup("notes", { destroySiteIdentity: true });
      assert.deepEqual(f.db.syncedTables(), []);
      const left = f.db.all(
        "SELECT name FROM sqlite_master WHERE name LIKE '%cloudsync%' ORDER BY name",
      );
      assert.deepEqual(left, []);
      assert.throws(() => f.db.siteId(), isKind("state"));
    } finally {
      f.done();
    }
  });

  it("setColumn() makes a block column with its delimiter, stored in cloudsync_table_settings", async () => {
    const f = await fresh();
    try {
      f.db.init("notes");
      f.db.setColumn("notes", "body", { algorithm: "block", delimiter: "\n\n" });
      const rows = f.db.all(
        "SELECT key, value FROM cloudsync_table_settings WHERE tbl_name = 'notes' AND col_name = 'body' ORDER BY key",
      );
      assert.deepEqual(rows, [{ key: "algo", value: "block" }, {
        key: "delimiter",
        value: "\n\n",
      }]);
      f.db.run("INSERT INTO notes (id, body) VALUES ('a', ?)", "one\n\ntwo\n\nthree");
      const blocks = f.db.get("SELECT count(*) AS n FROM notes_cloudsync_blocks")?.n;
      assert.equal(Number(blocks), 3);
    } finally {
      f.done();
    }
  });

  it("setFilter() tracks only matching rows; clearFilter() tracks every row again", async () => {
    const f = await fresh();
    try {
      f.db.init("notes");
      f.db.setFilter("notes", "tenant = 'acme'");
      f.db.run("INSERT INTO notes (id, body, tenant) VALUES ('a', 'kept', 'acme')");
      f.db.run("INSERT INTO notes (id, body, tenant) VALUES ('b', 'skipped', 'other')");
      assert.deepEqual(trackedValues(f.db, "notes"), ["acme", "kept"]);
      f.db.clearFilter("notes");
      f.db.run("INSERT INTO notes (id, body, tenant) VALUES ('c', 'now', 'other')");
      assert.ok(trackedValues(f.db, "notes").includes("now"));
      const filter = f.db.get(
        "SELECT count(*) AS n FROM cloudsync_table_settings WHERE key = 'filter'",
      );
      assert.equal(Number(filter?.n), 0);
    } finally {
      f.done();
    }
  });

  it("textMaterialize() rebuilds a block column for one row", async () => {
    const f = await fresh();
    try {
      f.db.init("notes");
      f.db.setColumn("notes", "body", { algorithm: "block" });
      f.db.run("INSERT INTO notes (id, body) VALUES ('a', ?)", "l1\nl2");
      f.db.textMaterialize("notes", "body", "a");
      assert.equal(f.db.get("SELECT body AS v FROM notes WHERE id = 'a'")?.v, "l1\nl2");
      assert.throws(() => f.db.textMaterialize("notes", "body"), TypeError);
    } finally {
      f.done();
    }
  });

  it("alter() adds a column that is tracked afterwards", async () => {
    const f = await fresh();
    try {
      f.db.init("notes");
      f.db.run("INSERT INTO notes (id, body) VALUES ('a', 'x')");
      const schemas = Number(f.db.get("SELECT count(*) AS n FROM cloudsync_schema_versions")?.n);
      f.db.alter("notes", (db) => db.exec("ALTER TABLE notes ADD COLUMN extra TEXT"));
      f.db.run("UPDATE notes SET extra = 'tracked' WHERE id = 'a'");
      assert.ok(trackedValues(f.db, "notes").includes("tracked"));
      assert.equal(
        Number(f.db.get("SELECT count(*) AS n FROM cloudsync_schema_versions")?.n),
        schemas + 1,
      );
    } finally {
      f.done();
    }
  });

  it("alter() rolls the DDL back when the function throws, and refuses an async function", async () => {
    const f = await fresh();
    try {
      f.db.init("notes");
      const columns = () =>
        f.db.all("SELECT name FROM pragma_table_info('notes')").map((r) => r.name);
      const before = columns();
      assert.throws(
        () =>
          f.db.alter("notes", (db) => {
            db.exec("ALTER TABLE notes ADD COLUMN doomed TEXT");
            throw new Error("boom");
          }),
        /boom/,
      );
      assert.deepEqual(columns(), before);
      assert.throws(
        () => f.db.alter("notes", (async () => {}) as unknown as () => void),
        TypeError,
      );
      assert.deepEqual(columns(), before);
      // Tracking still works after the rollbacks.
      f.db.run("INSERT INTO notes (id, body) VALUES ('a', 'after')");
      assert.ok(trackedValues(f.db, "notes").includes("after"));
    } finally {
      f.done();
    }
  });

  it("dbVersion() increments with each committed change", async () => {
    const f = await fresh();
    try {
      f.db.init("notes");
      const v0 = f.db.dbVersion();
      f.db.run("INSERT INTO notes (id, body) VALUES ('a', 'x')");
      const v1 = f.db.dbVersion();
      f.db.run("UPDATE notes SET body = 'y'");
      assert.equal(v1, v0 + 1);
      assert.equal(f.db.dbVersion(), v1 + 1);
    } finally {
      f.done();
    }
  });

  it("uuid() returns lowercase dashed UUIDv7s; uuidBlob()/uuidText() round-trip", async () => {
    const f = await fresh("");
    try {
      const u = f.db.uuid();
      assert.match(u, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      assert.notEqual(f.db.uuid(), u);
      const blob = f.db.uuidBlob(u);
      assert.equal(blob.length, 16);
      assert.equal(f.db.uuidText(blob), u);
      assert.equal(f.db.uuidText(blob, { dashes: false }), u.replaceAll("-", ""));
      assert.deepEqual(f.db.uuidBlob(u.replaceAll("-", "").toUpperCase()), blob);
    } finally {
      f.done();
    }
  });

  it("set() accepts all six keys and persists them in cloudsync_settings", async () => {
    const f = await fresh();
    try {
      f.db.init("notes");
      const values: Record<SettingKey, number> = {
        network_connect_timeout: 2,
        network_request_timeout: 3,
        network_artifact_timeout: 4,
        network_artifact_low_speed_limit: 1024,
        network_artifact_low_speed_time: 5,
        payload_max_chunk_size: 262_144,
      };
      for (const [k, v] of Object.entries(values)) f.db.set(k as SettingKey, v);
      const stored = Object.fromEntries(
        f.db.all("SELECT key, value FROM cloudsync_settings").map((r) => [r.key, r.value]),
      );
      for (const [k, v] of Object.entries(values)) assert.equal(stored[k], String(v), k);
      // Persisted: a new connection sees them.
      f.db.close();
      const again = await SyncDatabase.open(f.path, { extensionPath: await testExtensionPath() });
      try {
        assert.equal(
          again.get(
            "SELECT value AS v FROM cloudsync_settings WHERE key = 'network_request_timeout'",
          )
            ?.v,
          "3",
        );
      } finally {
        again.close();
      }
    } finally {
      f.done();
    }
  });

  it("encodeChanges() honours sinceDbVersion and excludeSiteId and is null when nothing changed", async () => {
    const f = await fresh();
    try {
      f.db.init("notes");
      assert.equal(f.db.encodeChanges(), null);
      f.db.run("INSERT INTO notes (id, body) VALUES ('a', 'x')");
      const v = f.db.dbVersion();
      const all = f.db.encodeChanges();
      assert.ok(all instanceof Uint8Array && all.length > 0);
      assert.equal(f.db.encodeChanges({ sinceDbVersion: v }), null);
      assert.ok(f.db.encodeChanges({ sinceDbVersion: v - 1 }) instanceof Uint8Array);
      assert.equal(f.db.encodeChanges({ excludeSiteId: f.db.siteId() }), null);
      assert.equal(f.db.encodeChanges({ excludeSiteId: f.db.siteIdBytes() }), null);
      assert.ok(f.db.encodeChanges({ excludeSiteId: "0".repeat(32) }) instanceof Uint8Array);
    } finally {
      f.done();
    }
  });

  it("applyChanges() merges into a second replica and returns the rows count", async () => {
    const a = await fresh();
    const b = await fresh();
    try {
      a.db.init("notes");
      b.db.init("notes");
      a.db.run("INSERT INTO notes (id, body, tenant) VALUES ('n1', 'hello', 't')");
      a.db.run("INSERT INTO notes (id, body, tenant) VALUES ('n2', 'world', 't')");
      assert.equal(ship(a.db, b.db), 4);
      assert.deepEqual(b.db.all("SELECT id, body, tenant FROM notes ORDER BY id"), [
        { id: "n1", body: "hello", tenant: "t" },
        { id: "n2", body: "world", tenant: "t" },
      ]);
      // b re-sends what it got: nothing of b's own, so excluding a's site id leaves nothing.
      assert.equal(b.db.encodeChanges({ excludeSiteId: a.db.siteId() }), null);
      // Re-applying is idempotent.
      a.db.applyChanges(a.db.encodeChanges()!);
      assert.equal(Number(b.db.get("SELECT count(*) AS n FROM notes")?.n), 2);
    } finally {
      a.done();
      b.done();
    }
  });

  it("applyChanges() rolls back the transaction a failed apply leaves open (1.1.4 deferred foreign key)", async () => {
    const schema = "PRAGMA foreign_keys = ON;" +
      "CREATE TABLE parent (id TEXT PRIMARY KEY NOT NULL, v TEXT);" +
      "CREATE TABLE child (id TEXT PRIMARY KEY NOT NULL, " +
      "pid TEXT REFERENCES parent(id) DEFERRABLE INITIALLY DEFERRED)";
    const a = await fresh(schema);
    const b = await fresh(schema);
    /** SQLite refuses BEGIN inside a transaction. */
    const inTransaction = (db: SyncDatabase) => {
      try {
        db.driver.exec("BEGIN");
      } catch {
        return true;
      }
      db.driver.exec("ROLLBACK");
      return false;
    };
    try {
      for (const f of [a, b]) {
        f.db.init("parent");
        f.db.init("child");
      }
      // The sender has no FK enforcement, so its payload holds a child without a parent.
      a.db.exec("PRAGMA foreign_keys = OFF");
      a.db.run("INSERT INTO child (id, pid) VALUES ('c', 'missing')");
      const orphan = a.db.encodeChanges()!;
      const version = b.db.dbVersion();
      assert.throws(
        () => b.db.applyChanges(orphan),
        isKind("apply", /FOREIGN KEY constraint failed/),
      );
      assert.equal(inTransaction(b.db), false, "the failed apply's transaction is still open");
      assert.deepEqual(b.db.all("SELECT * FROM child"), []);
      assert.equal(b.db.dbVersion(), version);
      // The receiver is usable: its own writes commit; once the parent arrives, the child applies.
      b.db.run("INSERT INTO parent (id, v) VALUES ('p', 'x')");
      const sent = a.db.dbVersion();
      a.db.run("INSERT INTO parent (id, v) VALUES ('missing', 'found')");
      assert.ok(b.db.applyChanges(a.db.encodeChanges({ sinceDbVersion: sent })!) > 0);
      assert.ok(b.db.applyChanges(orphan) > 0);
      assert.deepEqual(b.db.all("SELECT id, pid FROM child"), [{ id: "c", pid: "missing" }]);
    } finally {
      a.done();
      b.done();
    }
  });

  it("run()/get()/all() keep at most 128 user statements prepared, finalizing the least recently used", async () => {
    const f = await fresh();
    try {
      f.db.init("notes");
      // Count live statements by wrapping the connection's prepare (the cache prepares through it).
      const driver = f.db.driver;
      const prepare = driver.prepare.bind(driver);
      let live = 0;
      let peak = 0;
      Object.defineProperty(driver, "prepare", {
        configurable: true,
        value: (sql: string) => {
          const stmt = prepare(sql);
          live++;
          peak = Math.max(peak, live);
          let finalized = false;
          const finalize = stmt.finalize.bind(stmt);
          return Object.assign(Object.create(stmt), {
            run: stmt.run.bind(stmt),
            get: stmt.get.bind(stmt),
            all: stmt.all.bind(stmt),
            finalize: () => {
              if (!finalized) live--;
              finalized = true;
              finalize();
            },
          });
        },
      });
      const baseline = live;
      for (let i = 0; i < 1000; i++) {
        const sql = `SELECT ${i} AS n`;
        const fn = i % 3 === 0 ? "run" : i % 3 === 1 ? "get" : "all";
        f.db[fn](sql);
        if (i % 100 === 0) f.db.run("INSERT INTO notes (id, body) VALUES (?, ?)", f.db.uuid(), "x");
      }
      console.log(`statement cache: 1000 distinct SQL strings, live ${live}, peak ${peak}`);
      assert.ok(live - baseline <= 128 + 8, `${live - baseline} user statements stay prepared`);
      assert.ok(peak - baseline <= 128 + 8, `peak ${peak}`);
      // A hot statement survives the churn: recently used entries are not evicted.
      assert.equal(Number(f.db.get("SELECT count(*) AS n FROM notes")?.n), 10);
      assert.equal(f.db.dbVersion() > 0, true);
      f.db.close();
      assert.equal(live, 0, "close() finalized every statement");
    } finally {
      f.done();
    }
  });

  it("exec()/run()/get()/all()/transaction() run plain SQL and roll back on throw", async () => {
    const f = await fresh();
    try {
      f.db.exec(
        "INSERT INTO notes (id, body) VALUES ('a', 'x'); INSERT INTO notes (id) VALUES ('b')",
      );
      const r = f.db.run("UPDATE notes SET body = ? WHERE id = ?", "y", "b");
      assert.equal(r.changes, 1);
      assert.deepEqual(f.db.get("SELECT body FROM notes WHERE id = ?", "b"), { body: "y" });
      assert.equal(f.db.get("SELECT body FROM notes WHERE id = ?", "zz"), undefined);
      assert.equal(f.db.all("SELECT id FROM notes ORDER BY id").length, 2);
      assert.equal(f.db.transaction(() => 42), 42);
      assert.throws(() =>
        f.db.transaction(() => {
          f.db.run("DELETE FROM notes");
          throw new Error("undo");
        }), /undo/);
      assert.equal(f.db.all("SELECT id FROM notes").length, 2);
    } finally {
      f.done();
    }
  });

  it("openSibling() gives a second connection whose writes to a synced table are encoded by the first", async () => {
    const f = await fresh();
    try {
      f.db.init("notes");
      const sibling = await f.db.openSibling();
      try {
        assert.notEqual(sibling, f.db);
        sibling.run("INSERT INTO notes (id, body) VALUES ('s', 'from-sibling')");
      } finally {
        sibling.close();
      }
      assert.equal(sibling.closed, true);
      assert.equal(f.db.closed, false);
      assert.ok(trackedValues(f.db, "notes").includes("from-sibling"));
      assert.ok(f.db.encodeChanges() instanceof Uint8Array);
    } finally {
      f.done();
    }
  });

  it("openSibling() opened before init() names the fix for its untracked table, and works after its own init()", async () => {
    const f = await fresh();
    try {
      const early = await f.db.openSibling();
      try {
        f.db.init("notes");
        assert.throws(
          () => early.run("INSERT INTO notes (id, body) VALUES ('e', 'early')"),
          isKind("state", /call init\("notes"\) on this connection too/),
        );
        assert.equal(early.get("SELECT count(*) AS n FROM notes")!.n, 0);
        early.init("notes");
        early.run("INSERT INTO notes (id, body) VALUES ('e', 'early')");
      } finally {
        early.close();
      }
      assert.ok(trackedValues(f.db, "notes").includes("early"));
    } finally {
      f.done();
    }
  });

  it("terminate() finalizes cloudsync's statements; close() afterwards succeeds", async () => {
    const f = await fresh();
    try {
      f.db.init("notes");
      f.db.run("INSERT INTO notes (id, body) VALUES ('a', 'x')");
      f.db.terminate();
      f.db.close();
      assert.equal(f.db.closed, true);
      const again = await SyncDatabase.open(f.path, { extensionPath: await testExtensionPath() });
      try {
        assert.equal(again.get("SELECT body AS v FROM notes")?.v, "x");
        assert.deepEqual(again.syncedTables(), ["notes"]);
      } finally {
        again.close();
      }
    } finally {
      f.done();
    }
  });

  it("close() closes the connection; later calls are state errors", async () => {
    const f = await fresh();
    try {
      f.db.close();
      assert.equal(f.db.closed, true);
      assert.throws(() => f.db.version(), isKind("state", /closed/));
    } finally {
      f.done();
    }
  });
});

describe("SyncDatabase.open({ readOnly: true })", () => {
  /** A synced database with one row, in its own folder, kept in `journalMode`. */
  async function synced(journalMode: "delete" | "wal") {
    const dir = tempDir();
    const path = join(dir.path, "app.db");
    const extensionPath = await testExtensionPath();
    const db = await SyncDatabase.open(path, { extensionPath, journalMode });
    db.exec(NOTES);
    db.init("notes");
    db.run("INSERT INTO notes (id, body) VALUES (?, 'n')", db.uuid());
    const siteId = db.siteId();
    db.close();
    return { dir, path, extensionPath, siteId };
  }

  it("keeps a rollback-journal file byte for byte and creates nothing next to it: no WAL switch; reads work, writes are refused", async () => {
    const { dir, path, extensionPath, siteId } = await synced("delete");
    try {
      const before = fileState(path);
      const db = await SyncDatabase.open(path, { extensionPath, readOnly: true });
      try {
        assert.deepEqual(db.syncedTables(), ["notes"]);
        assert.equal(db.siteId(), siteId);
        assert.equal(db.get("PRAGMA journal_mode")?.journal_mode, "delete");
        assert.equal(db.get("SELECT count(*) AS n FROM notes")?.n, 1);
        assert.throws(
          () => db.run("INSERT INTO notes (id, body) VALUES ('x', 'y')"),
          isKind("sql", /readonly/),
        );
      } finally {
        db.close();
      }
      assert.deepEqual(fileState(path), before);
      assert.equal(journalModeOf(path), "delete");
    } finally {
      dir.cleanup();
    }
  });

  it("reads a 0-byte file as an empty database and leaves it 0 bytes", async () => {
    const dir = tempDir();
    try {
      const path = join(dir.path, "empty.db");
      writeFileSync(path, "");
      const before = fileState(path);
      const db = await SyncDatabase.open(path, {
        extensionPath: await testExtensionPath(),
        readOnly: true,
      });
      try {
        assert.deepEqual(db.syncedTables(), []);
        assert.equal(db.version(), "1.1.4");
      } finally {
        db.close();
      }
      assert.deepEqual(fileState(path), before);
    } finally {
      dir.cleanup();
    }
  });

  it("of a missing file fails and creates nothing", async () => {
    const dir = tempDir();
    try {
      const path = join(dir.path, "missing.db");
      await assert.rejects(
        SyncDatabase.open(path, { extensionPath: await testExtensionPath(), readOnly: true }),
        /unable to open database file/,
      );
      assert.equal(existsSync(path), false);
      assert.deepEqual(readdirSync(dir.path), []);
    } finally {
      dir.cleanup();
    }
  });

  itUnless(
    readOnlyMaker === undefined &&
      "cannot make a folder read-only here (root without chattr, or Windows)",
    "takes a file: URI: '?immutable=1' reads a WAL database in a read-only folder, where a plain read-only open cannot create its -shm",
    async () => {
      const { dir, path, extensionPath, siteId } = await synced("wal");
      const folder = join(dir.path, "locked");
      mkdirSync(folder);
      const locked = join(folder, "app.db");
      writeFileSync(locked, readFileSync(path));
      const before = fileState(locked);
      readOnlyMaker!.set(folder);
      try {
        // Without the extension: its first query would print SQLite's error on stdout.
        const plain = await openDriver(locked, { readOnly: true });
        try {
          assert.throws(
            () => plain.prepare("SELECT count(*) AS n FROM sqlite_master").get(),
            /unable to open database file/,
          );
        } finally {
          plain.close();
        }
        const uri = `${pathToFileURL(locked).href}?immutable=1`;
        const db = await SyncDatabase.open(uri, { extensionPath, readOnly: true });
        try {
          assert.deepEqual(db.syncedTables(), ["notes"]);
          assert.equal(db.siteId(), siteId);
          assert.equal(db.get("SELECT count(*) AS n FROM notes")?.n, 1);
        } finally {
          db.close();
        }
      } finally {
        readOnlyMaker!.unset(folder);
      }
      try {
        assert.deepEqual(fileState(locked), before);
      } finally {
        dir.cleanup();
      }
    },
  );
});

describe("SyncDatabase table names, matched as SQLite matches them (ASCII case ignored)", () => {
  /** The table names cloudsync stored, exactly as stored. */
  function storedNames(db: SyncDatabase): string[] {
    return db.all("SELECT DISTINCT tbl_name AS t FROM cloudsync_table_settings ORDER BY 1")
      .map((r) => String(r.t));
  }

  it("init('NOTES') syncs table notes under its own name, as init('notes') would", async () => {
    const f = await fresh();
    try {
      f.db.init("NOTES");
      assert.deepEqual(storedNames(f.db), ["notes"]);
      assert.deepEqual(f.db.syncedTables(), ["notes"]);
      // The extension named its metadata after the stored name, not the argument.
      const meta = f.db.all(
        "SELECT name FROM sqlite_master WHERE name GLOB '*cloudsync*' AND name GLOB '*NOTES*'",
      );
      assert.deepEqual(meta, []);
      f.db.run("INSERT INTO notes (id, body) VALUES ('a', 'x')");
      assert.deepEqual(trackedValues(f.db, "notes"), ["null", "x"]);
      assert.equal(f.db.init("Notes"), f.db.siteId(), "idempotent under another case");
      assert.deepEqual(storedNames(f.db), ["notes"]);
    } finally {
      f.done();
    }
  });

  it("enable(), disable() and isEnabled() find table notes as 'NOTES', 'Notes' and 'nOtEs'", async () => {
    const f = await fresh();
    try {
      f.db.init("notes");
      f.db.disable("NOTES");
      assert.equal(f.db.isEnabled("Notes"), false);
      f.db.run("INSERT INTO notes (id, body) VALUES ('hidden', 'while-disabled')");
      f.db.enable("nOtEs");
      assert.equal(f.db.isEnabled("NOTES"), true);
      f.db.run("INSERT INTO notes (id, body) VALUES ('seen', 'after-enable')");
      assert.deepEqual(trackedValues(f.db, "notes"), ["after-enable", "null"]);
    } finally {
      f.done();
    }
  });

  it("setColumn('NOTES', 'BODY') and textMaterialize('Notes', 'Body') use the stored table and column names", async () => {
    const f = await fresh();
    try {
      f.db.init("notes");
      f.db.setColumn("NOTES", "BODY", { algorithm: "block" });
      const settings = f.db.all(
        "SELECT tbl_name AS t, col_name AS c FROM cloudsync_table_settings WHERE value = 'block'",
      );
      assert.deepEqual(settings, [{ t: "notes", c: "body" }]);
      f.db.run("INSERT INTO notes (id, body) VALUES ('a', ?)", "l1\nl2");
      assert.equal(Number(f.db.get("SELECT count(*) AS n FROM notes_cloudsync_blocks")?.n), 2);
      f.db.textMaterialize("Notes", "Body", "a");
      assert.equal(f.db.get("SELECT body AS v FROM notes WHERE id = 'a'")?.v, "l1\nl2");
      // The key guard is on: a key change is refused.
      assert.throws(
        () => f.db.run("UPDATE notes SET id = 'b' WHERE id = 'a'"),
        isKind("schema", /cannot change the primary key/),
      );
    } finally {
      f.done();
    }
  });

  it("setFilter('NOTES') and clearFilter('Notes') filter table notes", async () => {
    const f = await fresh();
    try {
      f.db.init("notes");
      f.db.setFilter("NOTES", "tenant = 'acme'");
      f.db.run("INSERT INTO notes (id, body, tenant) VALUES ('a', 'kept', 'acme')");
      f.db.run("INSERT INTO notes (id, body, tenant) VALUES ('b', 'skipped', 'other')");
      assert.deepEqual(trackedValues(f.db, "notes"), ["acme", "kept"]);
      f.db.clearFilter("Notes");
      f.db.run("INSERT INTO notes (id, body, tenant) VALUES ('c', 'now', 'other')");
      assert.ok(trackedValues(f.db, "notes").includes("now"));
    } finally {
      f.done();
    }
  });

  it("alter('NOTES') adds a tracked column to table notes", async () => {
    const f = await fresh();
    try {
      f.db.init("notes");
      f.db.alter("NOTES", (db) => db.exec("ALTER TABLE notes ADD COLUMN tags TEXT"));
      f.db.run("INSERT INTO notes (id, body, tags) VALUES ('a', 'x', 'red')");
      assert.ok(trackedValues(f.db, "notes").includes("red"));
    } finally {
      f.done();
    }
  });

  it("cleanup('NOTES') stops syncing table notes and drops its key guard", async () => {
    const f = await fresh(`${NOTES}; CREATE TABLE tags (id TEXT PRIMARY KEY NOT NULL, name TEXT)`);
    try {
      f.db.init("notes");
      f.db.init("tags");
      f.db.setColumn("notes", "body", { algorithm: "block" });
      f.db.run("INSERT INTO notes (id, body) VALUES ('a', 'x')");
      f.db.cleanup("NOTES");
      assert.deepEqual(f.db.syncedTables(), ["tags"]);
      const guards = f.db.all("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        .map((r) => String(r.name)).filter((n) => n.startsWith("cloudsync_sdk_block_pk_guard_"));
      assert.deepEqual(guards, []);
      f.db.run("UPDATE notes SET id = 'b' WHERE id = 'a'"); // no guard left to refuse it
      assert.equal(f.db.get("SELECT id FROM notes")?.id, "b");
    } finally {
      f.done();
    }
  });

  it("a name that differs in non-ASCII case is another table, as in SQLite", async () => {
    const f = await fresh("CREATE TABLE ñotes (id TEXT PRIMARY KEY NOT NULL, body TEXT)");
    try {
      assert.throws(() => f.db.init("ÑOTES"), isKind("schema", /no such table/));
      f.db.init("ÑOTES".replace("Ñ", "ñ"));
      assert.throws(() => f.db.disable("ÑOTES"), isKind("state", /not enabled for sync/));
      f.db.disable("ñOTES");
      assert.equal(f.db.isEnabled("ñotes"), false);
    } finally {
      f.done();
    }
  });
});

describe("SyncDatabase.network", () => {
  async function offline() {
    const f = await fresh();
    f.db.set("network_request_timeout", 2);
    f.db.set("network_connect_timeout", 2);
    return f;
  }

  it("network.setToken() and network.sendChanges() before init() are state errors", async () => {
    const f = await offline();
    try {
      f.db.init("notes");
      assert.equal(f.db.network.ready, false);
      assert.throws(() => f.db.network.setToken("tok-abcdef"), isKind("state", /init\(\)/));
      assert.throws(() => f.db.network.sendChanges(), isKind("state", /init\(\)/));
    } finally {
      f.done();
    }
  });

  it("network.init() validates id, address and credentials before touching the database", async () => {
    const f = await offline();
    try {
      f.db.init("notes");
      const n = f.db.network;
      assert.throws(() => n.init({ databaseId: "" }), TypeError);
      assert.throws(() => n.init({ databaseId: "a/b" }), /databaseId/);
      assert.throws(() => n.init({ databaseId: "db", address: "ftp://x" }), /protocol/);
      assert.throws(
        () => n.init({ databaseId: "db", apiKey: "k1234", token: "t1234" }),
        /either apiKey or token/,
      );
      assert.equal(n.ready, false);
    } finally {
      f.done();
    }
  });

  it("network.init() against a refused port succeeds locally; sendChanges() is then an offline error", async () => {
    const f = await offline();
    try {
      f.db.init("notes");
      f.db.run("INSERT INTO notes (id, body) VALUES ('a', 'x')");
      const port = await refusedPort();
      f.db.network.init({
        databaseId: "db-test",
        address: `http://127.0.0.1:${port}`,
        apiKey: "sqa_secret_value",
      });
      assert.equal(f.db.network.ready, true);
      assert.throws(() => f.db.network.sendChanges(), (err) => {
        assert.ok(err instanceof SqliteSyncError);
        assert.equal(err.kind, "offline", err.message);
        assert.doesNotMatch(err.message, /sqa_secret_value/);
        return true;
      });
    } finally {
      f.done();
    }
  });

  it("network.cleanup() is idempotent, before and after init()", async () => {
    const f = await offline();
    try {
      f.db.init("notes");
      f.db.network.cleanup();
      f.db.network.init({
        databaseId: "db-test",
        address: `http://127.0.0.1:${await refusedPort()}`,
      });
      f.db.network.cleanup();
      assert.equal(f.db.network.ready, false);
      f.db.network.cleanup();
      assert.throws(() => f.db.network.sendChanges(), isKind("state"));
    } finally {
      f.done();
    }
  });

  it("network.logout() requires { deleteLocalData: true }", async () => {
    const f = await offline();
    try {
      f.db.init("notes");
      // deno-lint-ignore no-explicit-any
      assert.throws(() => f.db.network.logout({} as any), TypeError);
      // deno-lint-ignore no-explicit-any
      assert.throws(() => f.db.network.logout(undefined as any), /deleteLocalData: true/);
    } finally {
      f.done();
    }
  });

  it("network.logout() works offline: rows deleted, filters lost, a new site id, init() needed again", async () => {
    const f = await offline();
    try {
      f.db.exec("CREATE TABLE tags (id TEXT PRIMARY KEY NOT NULL, name TEXT)");
      const oldId = f.db.init("notes");
      f.db.init("tags", { algorithm: "gos" });
      f.db.setFilter("notes", "tenant = 'acme'");
      f.db.run("INSERT INTO notes (id, body, tenant) VALUES ('a', 'x', 'acme')");
      f.db.run("INSERT INTO tags (id, name) VALUES ('t', 'n')");
      f.db.network.init({
        databaseId: "db-test",
        address: `http://127.0.0.1:${await refusedPort()}`,
        token: "tok-abcdef",
      });
      f.db.network.logout({ deleteLocalData: true });
      assert.equal(f.db.network.ready, false);
      assert.equal(f.db.all("SELECT * FROM notes").length, 0);
      assert.equal(f.db.all("SELECT * FROM tags").length, 0);
      assert.deepEqual(f.db.syncedTables(), ["notes", "tags"]);
      assert.deepEqual(
        f.db.all("SELECT tbl_name, key, value FROM cloudsync_table_settings ORDER BY 1"),
        [
          { tbl_name: "notes", key: "algo", value: "cls" },
          { tbl_name: "tags", key: "algo", value: "gos" },
        ],
      );
      assert.notEqual(f.db.siteId(), oldId);
      assert.throws(() => f.db.network.sendChanges(), isKind("state"));
    } finally {
      f.done();
    }
  });
});
