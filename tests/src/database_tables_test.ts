/**
 * SyncDatabase's table methods against the real 1.1.4 extension: init() (one
 * table, '*', algorithms, named checks), disable()/enable()/isEnabled(),
 * cleanup(), setColumn(), setFilter()/clearFilter(), textMaterialize() and
 * alter(), each result checked in the database.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { isKind } from "../_helpers.ts";
import { fresh, NOTES, trackedValues } from "./_database_fixtures.ts";

describe("SyncDatabase", () => {
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
});
