import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { SyncDatabase } from "../../src/database.ts";
import { tempDir, testExtensionPath } from "../_helpers.ts";

async function openSynced(): Promise<{ db: SyncDatabase; cleanup: () => void }> {
  const dir = tempDir("local-write-");
  const db = await SyncDatabase.open(join(dir.path, "app.db"), {
    extensionPath: await testExtensionPath(),
  });
  db.exec("CREATE TABLE notes (id TEXT PRIMARY KEY NOT NULL, body TEXT)");
  db.exec("CREATE TABLE scratch (k TEXT PRIMARY KEY NOT NULL, v TEXT)");
  db.init("notes");
  return {
    db,
    cleanup: () => {
      db.close();
      dir.cleanup();
    },
  };
}

describe("SyncDatabase.onLocalWrite()", () => {
  it("onLocalWrite() calls the listener after exec, run and transaction commit changes to a synced table", async () => {
    const { db, cleanup } = await openSynced();
    try {
      let calls = 0;
      db.onLocalWrite(() => calls++);
      db.run("INSERT INTO notes (id, body) VALUES (?, ?)", "n1", "a");
      assert.equal(calls, 1);
      db.exec("UPDATE notes SET body = 'b' WHERE id = 'n1'");
      assert.equal(calls, 2);
      db.transaction(() => {
        db.run("INSERT INTO notes (id, body) VALUES (?, ?)", "n2", "c");
        db.run("INSERT INTO notes (id, body) VALUES (?, ?)", "n3", "d");
      });
      assert.ok(calls >= 3, `calls after the transaction: ${calls}`);
      const before = calls;
      db.transaction(() => db.run("DELETE FROM notes WHERE id = ?", "n3"));
      assert.ok(calls > before);
    } finally {
      cleanup();
    }
  });

  it("onLocalWrite() stays silent for reads and for writes to tables that are not synced", async () => {
    const { db, cleanup } = await openSynced();
    try {
      let calls = 0;
      db.onLocalWrite(() => calls++);
      db.run("INSERT INTO scratch (k, v) VALUES (?, ?)", "x", "1");
      db.get("SELECT count(*) AS n FROM notes");
      db.all("SELECT * FROM scratch");
      assert.equal(calls, 0);
    } finally {
      cleanup();
    }
  });

  it("onLocalWrite() returns a function that removes the listener, and a throwing listener does not fail the write", async () => {
    const { db, cleanup } = await openSynced();
    try {
      let calls = 0;
      const off = db.onLocalWrite(() => calls++);
      db.onLocalWrite(() => {
        throw new Error("listener bug");
      });
      db.run("INSERT INTO notes (id, body) VALUES (?, ?)", "n1", "a");
      off();
      db.run("INSERT INTO notes (id, body) VALUES (?, ?)", "n2", "b");
      assert.equal(calls, 1);
      assert.equal(db.get("SELECT count(*) AS n FROM notes")?.n, 2);
    } finally {
      cleanup();
    }
  });

  it("onLocalWrite() rejects a listener that is not a function", async () => {
    const { db, cleanup } = await openSynced();
    try {
      assert.throws(() => db.onLocalWrite("nope" as unknown as () => void), TypeError);
    } finally {
      cleanup();
    }
  });
});
