/**
 * SyncDatabase's table-name arguments matched as SQLite matches them: ASCII
 * case ignored by init(), enable()/disable()/isEnabled(), setColumn(),
 * textMaterialize(), setFilter()/clearFilter(), alter() and cleanup(), which
 * all use the stored name; non-ASCII case names another table.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { isKind } from "../_helpers.ts";
import type { SyncDatabase } from "../../src/database.ts";
import { fresh, NOTES, trackedValues } from "./_database_fixtures.ts";

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
