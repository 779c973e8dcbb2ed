/**
 * The primary-key guard trigger setColumn() installs on block-column tables
 * in 1.1.4: a key change is refused on every connection (never during a
 * merge), cleanup() removes it, alter() keeps it, and open() installs it on a
 * writable file whose block table lacks it. Which table names setColumn()
 * accepts is in block_guard_names_test.ts; UPDATE, upserts and REPLACE on
 * replicas in block_guard_replicas_test.ts.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { isKind, RUNTIME, tempDir, testExtensionPath } from "../_helpers.ts";
import { openDriver } from "../../ffi/drivers/open_driver.ts";
import { SyncDatabase } from "../../src/database.ts";
import { guardCount, NOTES, replicaPair } from "./_block_guard_fixtures.ts";

const REFUSED =
  /cannot change the primary key of a row in table "notes": it has block-level LWW columns.*Insert a row with the new key and delete the old row instead\./;

describe("primary-key guard on block tables", () => {
  it("a key change through exec, run, get and all is refused with a schema error and changes nothing", async () => {
    const r = await replicaPair();
    try {
      r.a.run("INSERT INTO notes (id, body, title) VALUES ('n1', ?, 't')", "a\nb\nc");
      const version = r.a.dbVersion();
      for (
        const attempt of [
          () => r.a.exec("UPDATE notes SET id = 'n3' WHERE id = 'n1'"),
          () => r.a.run("UPDATE notes SET id = ? WHERE id = 'n1'", "n3"),
          () => r.a.get("UPDATE notes SET id = 'n3' WHERE id = 'n1' RETURNING id"),
          () => r.a.all("UPDATE OR REPLACE notes SET id = 'n3' RETURNING id"),
          () =>
            r.a.run(
              "INSERT INTO notes (id, body) VALUES ('n1', 'x') ON CONFLICT(id) DO UPDATE SET id = 'n3'",
            ),
        ]
      ) {
        assert.throws(attempt, isKind("schema", REFUSED));
      }
      assert.deepEqual(r.rows(r.a), [{ id: "n1", body: "a\nb\nc", title: "t" }]);
      assert.equal(r.a.dbVersion(), version);
    } finally {
      r.done();
    }
  });

  it("the guard holds on the raw driver, a sibling opened before setColumn() and a connection without this library", async () => {
    const dir = tempDir();
    const path = join(dir.path, "g.db");
    const extensionPath = await testExtensionPath();
    const db = await SyncDatabase.open(path, { extensionPath });
    db.exec(NOTES);
    db.init("notes");
    const sibling = await db.openSibling();
    db.setColumn("notes", "body", { algorithm: "block" });
    // Loads the extension by hand: no recursive_triggers, no SyncDatabase.
    const foreign = await openDriver(path);
    foreign.loadExtension(extensionPath);
    try {
      db.run("INSERT INTO notes (id, body) VALUES ('n1', 'a\nb')");
      const change = "UPDATE notes SET id = 'n3' WHERE id = 'n1'";
      assert.throws(() => db.driver.exec(change), isKind("sql", REFUSED));
      assert.throws(() => sibling.exec(change), isKind("schema", REFUSED));
      assert.throws(() => sibling.driver.exec(change), isKind("sql", REFUSED));
      assert.throws(() => foreign.exec(change), REFUSED);
      assert.deepEqual(db.all("SELECT id, body FROM notes"), [{ id: "n1", body: "a\nb" }]);
    } finally {
      foreign.exec("SELECT cloudsync_terminate()");
      foreign.close();
      sibling.close();
      db.close();
      dir.cleanup();
    }
  });

  it("the guard allows updates that keep the key and refuses changing any column of a composite key", async () => {
    const r = await replicaPair(
      "CREATE TABLE notes (a TEXT NOT NULL, b TEXT NOT NULL, body TEXT, PRIMARY KEY (a, b))",
    );
    try {
      r.a.run("INSERT INTO notes (a, b, body) VALUES ('x', 'y', 'l1\nl2')");
      r.a.run("UPDATE notes SET a = a, b = 'y', body = 'l1\nl3'");
      assert.throws(() => r.a.run("UPDATE notes SET a = 'x2'"), isKind("schema", REFUSED));
      assert.throws(() => r.a.run("UPDATE notes SET b = 'y2'"), isKind("schema", REFUSED));
      r.ship();
      assert.deepEqual(r.rows(r.b), [{ a: "x", b: "y", body: "l1\nl3" }]);
    } finally {
      r.done();
    }
  });

  it("the guard still refuses a key change while the table is disable()d", async () => {
    const r = await replicaPair();
    try {
      r.a.run("INSERT INTO notes (id, body) VALUES ('n1', 'a\nb')");
      r.a.disable("notes");
      assert.equal(r.a.get("SELECT cloudsync_is_sync('notes') AS v")?.v, 1);
      assert.throws(
        () => r.a.run("UPDATE notes SET id = 'n3' WHERE id = 'n1'"),
        isKind("schema", REFUSED),
      );
    } finally {
      r.done();
    }
  });

  it("the guard never fires during a merge, and the fix it names (insert new key, delete old) keeps the text everywhere", async () => {
    const r = await replicaPair();
    try {
      r.a.exec(
        "INSERT INTO notes VALUES ('n1', 'a\nb\nc', 't1'), ('n2', 'p\nq', 't2'), ('n4', 'gone', 't4')",
      );
      r.ship();
      r.a.exec(
        "INSERT INTO notes (id, body, title) SELECT 'n3', body, title FROM notes WHERE id = 'n1';" +
          "DELETE FROM notes WHERE id = 'n1';" +
          "INSERT OR REPLACE INTO notes VALUES ('n2', 'P\nq', 't2b');" +
          "DELETE FROM notes WHERE id = 'n4';" +
          "UPDATE notes SET body = 'a\nB\nc' WHERE id = 'n3'",
      );
      r.b.run("INSERT INTO notes (id, body, title) VALUES ('n5', 'from\nb', 't5')");
      r.ship();
      const expected = [
        { id: "n2", body: "P\nq", title: "t2b" },
        { id: "n3", body: "a\nB\nc", title: "t1" },
        { id: "n5", body: "from\nb", title: "t5" },
      ];
      assert.deepEqual(r.rows(r.a), expected);
      assert.deepEqual(r.rows(r.b), expected);
    } finally {
      r.done();
    }
  });

  it("cleanup() removes the table's guard and leaves the other tables' guards", async () => {
    const r = await replicaPair();
    try {
      r.a.exec("CREATE TABLE docs (id TEXT PRIMARY KEY NOT NULL, body TEXT)");
      r.a.init("docs");
      r.a.setColumn("docs", "body", { algorithm: "block" });
      r.a.run("INSERT INTO notes (id, body) VALUES ('n1', 'x')");
      r.a.run("INSERT INTO docs (id, body) VALUES ('d1', 'x')");
      assert.equal(guardCount(r.a), 1);
      r.a.cleanup("notes");
      assert.equal(guardCount(r.a), 0);
      r.a.run("UPDATE notes SET id = 'n3' WHERE id = 'n1'");
      assert.equal(r.a.get("SELECT id FROM notes")?.id, "n3");
      assert.equal(guardCount(r.a, "docs"), 1);
      assert.throws(() => r.a.run("UPDATE docs SET id = 'd3'"), isKind("schema", /table "docs"/));
    } finally {
      r.done();
    }
  });

  it("the guard survives alter(): ADD COLUMN keeps it, a table rebuild gets it back", async () => {
    const r = await replicaPair();
    try {
      r.a.run("INSERT INTO notes (id, body) VALUES ('n1', 'a\nb')");
      r.a.alter("notes", (db) => db.exec("ALTER TABLE notes ADD COLUMN tags TEXT"));
      assert.throws(() => r.a.run("UPDATE notes SET id = 'n3'"), isKind("schema", REFUSED));
      r.a.alter("notes", (db) =>
        db.exec(
          "CREATE TABLE notes_new (id TEXT PRIMARY KEY NOT NULL, body TEXT, title TEXT, tags TEXT);" +
            "INSERT INTO notes_new SELECT id, body, title, tags FROM notes;" +
            "DROP TABLE notes;" +
            "ALTER TABLE notes_new RENAME TO notes",
        ));
      assert.equal(guardCount(r.a), 1);
      assert.throws(() => r.a.run("UPDATE notes SET id = 'n3'"), isKind("schema", REFUSED));
      assert.equal(r.a.get("SELECT body FROM notes")?.body, "a\nb");
    } finally {
      r.done();
    }
  });

  it("without the guard a key change leaves only the delimiters of the text on both replicas in 1.1.4 (remove the guard when this fails)", async () => {
    const r = await replicaPair();
    try {
      r.a.run("INSERT INTO notes (id, body, title) VALUES ('n1', 'x\ny\nz', 't')");
      r.ship();
      r.a.driver.exec("DROP TRIGGER cloudsync_sdk_block_pk_guard_notes");
      r.a.run("UPDATE notes SET id = 'n3' WHERE id = 'n1'");
      r.ship();
      for (const db of [r.a, r.b]) {
        assert.deepEqual(r.rows(db), [{ id: "n3", body: "\n\n", title: "t" }]);
      }
    } finally {
      r.done();
    }
  });
});

describe("primary-key guard installed on open", () => {
  /** A read-only connection of the runtime's own SQLite module, to pass as `database`. */
  async function nativeReadOnly(path: string): Promise<unknown> {
    if (RUNTIME === "bun") {
      const spec = "bun:sqlite";
      const { Database } = await import(spec);
      return new Database(path, { readonly: true });
    }
    const { DatabaseSync } = await import("node:sqlite");
    return new DatabaseSync(path, { readOnly: true, allowExtension: true });
  }

  /** `notes` with block column `body` set by a raw cloudsync_set_column (no guard), one row. */
  async function rawBlockTable() {
    const dir = tempDir();
    const path = join(dir.path, "raw.db");
    const extensionPath = await testExtensionPath();
    const db = await SyncDatabase.open(path, { extensionPath });
    db.exec(NOTES);
    db.init("notes");
    const stmt = db.driver.prepare("SELECT cloudsync_set_column('notes', 'body', 'algo', 'block')");
    stmt.get();
    stmt.finalize();
    db.run("INSERT INTO notes (id, body) VALUES ('n1', 'a\nb\nc')");
    return { dir, path, extensionPath, db };
  }

  const schemaVersion = (db: SyncDatabase) =>
    Number(db.get("PRAGMA schema_version")?.schema_version);

  it("open() of a writable file guards a block table set up by a raw cloudsync_set_column: a key change is refused", async () => {
    const { dir, path, extensionPath, db } = await rawBlockTable();
    assert.equal(guardCount(db), 0);
    db.close();
    const reopened = await SyncDatabase.open(path, { extensionPath });
    try {
      assert.equal(guardCount(reopened), 1);
      const change = "UPDATE notes SET id = 'n3' WHERE id = 'n1'";
      assert.throws(() => reopened.run(change), isKind("schema", REFUSED));
      assert.throws(() => reopened.driver.exec(change), isKind("sql", REFUSED));
      assert.deepEqual(reopened.all("SELECT id, body FROM notes"), [
        { id: "n1", body: "a\nb\nc" },
      ]);
    } finally {
      reopened.close();
      dir.cleanup();
    }
  });

  it("open() read-only (the option, or a read-only database passed in) installs nothing and opens; the next writable open does", async () => {
    const { dir, path, extensionPath, db } = await rawBlockTable();
    const viaOption = await SyncDatabase.open(path, { extensionPath, readOnly: true });
    const viaDatabase = await SyncDatabase.open(path, {
      extensionPath,
      database: await nativeReadOnly(path),
    });
    try {
      assert.equal(guardCount(viaOption), 0);
      assert.equal(guardCount(viaDatabase), 0);
      assert.equal(viaDatabase.get("SELECT count(*) AS n FROM notes")?.n, 1);
      const writable = await SyncDatabase.open(path, { extensionPath });
      writable.close();
      // The guard is in the schema: the connection opened before it refuses a key change too.
      assert.equal(guardCount(db), 1);
      assert.throws(() => db.run("UPDATE notes SET id = 'n3'"), isKind("schema", REFUSED));
    } finally {
      viaDatabase.close();
      viaOption.close();
      db.close();
      dir.cleanup();
    }
  });

  it("open() leaves the schema untouched when every block table has its guard, or none has block columns", async () => {
    const dir = tempDir();
    const extensionPath = await testExtensionPath();
    try {
      for (const block of [true, false]) {
        const path = join(dir.path, `${block}.db`);
        const db = await SyncDatabase.open(path, { extensionPath });
        db.exec(NOTES);
        db.init("notes");
        if (block) db.setColumn("notes", "body", { algorithm: "block" });
        const before = schemaVersion(db);
        db.close();
        for (let i = 0; i < 2; i++) {
          const again = await SyncDatabase.open(path, { extensionPath });
          assert.equal(schemaVersion(again), before, `block: ${block}`);
          assert.equal(guardCount(again), block ? 1 : 0);
          again.close();
        }
      }
    } finally {
      dir.cleanup();
    }
  });
});
