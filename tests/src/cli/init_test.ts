/**
 * `sqlite-sync init` end to end in child processes: tables enabled together
 * after the schema preflight, or none at all; refused tables exit 2 with the
 * preflight's fix in one line and leave the database as it was.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { SyncDatabase } from "../../../src/database.ts";
import { tempDir, testExtensionPath } from "../../_helpers.ts";
import { assertOneLineError, cli, jsonOf, shown } from "./_cli.ts";

/** A database file with `schema` applied (no table synced). */
async function databaseWith(path: string, schema: string): Promise<string> {
  const db = await SyncDatabase.open(path, { extensionPath: await testExtensionPath() });
  try {
    db.exec(schema);
  } finally {
    db.close();
  }
  return path;
}

/** The synced tables and user tables of a database file, read in this process. */
async function tablesOf(path: string): Promise<{ synced: string[]; all: string[] }> {
  const db = await SyncDatabase.open(path, { extensionPath: await testExtensionPath() });
  try {
    const all = db.all(
      "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '%cloudsync%' ORDER BY name",
    ).map((r) => String(r.name));
    return { synced: db.syncedTables(), all };
  } finally {
    db.close();
  }
}

const SCHEMA = `
  CREATE TABLE notes (id TEXT PRIMARY KEY NOT NULL, body TEXT);
  CREATE TABLE tags (id TEXT PRIMARY KEY NOT NULL, label TEXT DEFAULT '');
  CREATE TABLE counters (id INTEGER PRIMARY KEY, n INTEGER);
`;

describe("sqlite-sync init", () => {
  let dir: { path: string; cleanup: () => void };
  let n = 0;
  const fresh = () => databaseWith(join(dir.path, `app-${++n}.db`), SCHEMA);
  before(() => {
    dir = tempDir();
  });
  after(() => dir.cleanup());

  it("init --json enables sync on two tables and prints them with the site id", async () => {
    const db = await fresh();
    const out = jsonOf(await cli(["init", db, "--table", "notes", "--table", "tags", "--json"]));
    assert.deepEqual(out.enabled, ["notes", "tags"]);
    assert.deepEqual(out.syncedTables, ["notes", "tags"]);
    assert.equal(out.database, db);
    assert.match(String(out.siteId), /^[0-9a-f]{32}$/);
    assert.deepEqual((await tablesOf(db)).synced, ["notes", "tags"]);
  });

  it("init prints the synced tables and the site id as text", async () => {
    const db = await fresh();
    const r = await cli(["init", db, "--table", "notes"]);
    assert.equal(r.code, 0, shown(r));
    assert.match(
      r.stdout,
      /^enabled sync on notes\nsynced tables {2}notes\nsite id {8}[0-9a-f]{32}\n$/,
    );
  });

  it("init is idempotent: a second run keeps the same site id", async () => {
    const db = await fresh();
    const first = jsonOf(await cli(["init", db, "--table", "notes", "--json"]));
    const second = jsonOf(await cli(["init", db, "--table", "notes", "--json"]));
    assert.equal(second.siteId, first.siteId);
  });

  it("init is all or nothing: one refused table leaves the others unsynced (exit 2)", async () => {
    const db = await fresh();
    const r = await cli(["init", db, "--table", "notes", "--table", "counters"]);
    assertOneLineError(
      r,
      2,
      /Cannot sync table "counters": column "id" is a single-column INTEGER PRIMARY KEY.*pass --allow-integer-primary-key if every device allocates disjoint ids\. \(nothing was enabled\)$/,
    );
    assert.deepEqual((await tablesOf(db)).synced, []);
  });

  it("init --allow-integer-primary-key accepts the INTEGER key the preflight refuses otherwise", async () => {
    const db = await fresh();
    const out = jsonOf(
      await cli(["init", db, "--table", "counters", "--allow-integer-primary-key", "--json"]),
    );
    assert.deepEqual(out.syncedTables, ["counters"]);
  });

  it("init of a hostile table name exits 2 and changes nothing in the database", async () => {
    const db = await fresh();
    const before = await tablesOf(db);
    const r = await cli(["init", db, "--table", "notes); DROP TABLE notes; --"]);
    assertOneLineError(r, 2, /Cannot sync table "notes\); DROP TABLE notes; --": no such table/);
    assert.deepEqual(await tablesOf(db), before);
    assert.ok(before.all.includes("notes"));
  });

  it("init --table '*' enables sync on every table of the database", async () => {
    const db = await databaseWith(
      join(dir.path, "star.db"),
      "CREATE TABLE a (id TEXT PRIMARY KEY NOT NULL, v TEXT); CREATE TABLE b (id TEXT PRIMARY KEY NOT NULL, v TEXT);",
    );
    const out = jsonOf(await cli(["init", db, "--table", "*", "--json"]));
    assert.deepEqual(out.syncedTables, ["a", "b"]);
  });
});
