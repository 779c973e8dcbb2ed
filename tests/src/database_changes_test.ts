/**
 * SyncDatabase's changes against the real 1.1.4 extension: dbVersion(),
 * encodeChanges() and its filters, applyChanges() into a second replica, and
 * the transaction a failed apply leaves open rolled back.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { isKind } from "../_helpers.ts";
import type { SyncDatabase } from "../../src/database.ts";
import { fresh } from "./_database_fixtures.ts";

/** Applies every change of `from` to `to`; returns the rows count. */
function ship(from: SyncDatabase, to: SyncDatabase): number {
  const payload = from.encodeChanges();
  return payload === null ? 0 : to.applyChanges(payload);
}

describe("SyncDatabase", () => {
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
});
