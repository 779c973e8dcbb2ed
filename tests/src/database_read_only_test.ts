/**
 * SyncDatabase.open({ readOnly: true }) on real files: a rollback-journal file
 * kept byte for byte, a 0-byte file, a missing file, and a WAL database in a
 * read-only folder through a file: URI.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { isKind, itUnless, readOnlyMaker, tempDir, testExtensionPath } from "../_helpers.ts";
import { openDriver } from "../../ffi/drivers/open_driver.ts";
import { fileState, journalModeOf } from "./cli/_cli.ts";
import { SyncDatabase } from "../../src/database.ts";
import { NOTES } from "./_database_fixtures.ts";

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
