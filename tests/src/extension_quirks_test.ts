/**
 * sqlite-sync 1.1.4 behaviours the library works around, pinned by tests so
 * an upstream change is noticed: each test states the quirk and checks the
 * library's path around it.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { testExtensionPath } from "../_helpers.ts";
import { SyncDatabase } from "../../src/database.ts";

async function twoTables(): Promise<[SyncDatabase, SyncDatabase]> {
  const options = { extensionPath: await testExtensionPath() };
  const dbs = [
    await SyncDatabase.open(":memory:", options),
    await SyncDatabase.open(":memory:", options),
  ];
  for (const db of dbs) {
    db.exec(
      "CREATE TABLE t1 (id TEXT PRIMARY KEY NOT NULL, x TEXT);" +
        "CREATE TABLE t2 (id TEXT PRIMARY KEY NOT NULL, y TEXT, z INTEGER DEFAULT 0)",
    );
    db.init("*");
  }
  return dbs as [SyncDatabase, SyncDatabase];
}

describe("sqlite-sync 1.1.4 quirks", () => {
  it("cloudsync_changes fails on a col_name filter (so encodeChanges() filters only on db_version and site_id)", async () => {
    const [a, b] = await twoTables();
    try {
      a.run("INSERT INTO t1 VALUES ('1', 'a')");
      a.run("INSERT INTO t2 VALUES ('2', 'b', 3)");
      // With changes in two tables, a col_name constraint breaks the virtual table.
      assert.throws(
        () => a.all("SELECT count(*) AS n FROM cloudsync_changes WHERE col_name = 'x'"),
        /SQL logic error/,
      );
      assert.equal(a.get("SELECT count(*) AS n FROM cloudsync_changes WHERE tbl = 't1'")!.n, 1);
      // The library's own filters work across several synced tables.
      b.run("INSERT INTO t2 VALUES ('3', 'c', 4)");
      const fromA = a.encodeChanges({ excludeSiteId: b.siteId() })!;
      const fromB = b.encodeChanges({ excludeSiteId: a.siteId(), sinceDbVersion: 0 })!;
      b.applyChanges(fromA);
      a.applyChanges(fromB);
      for (const table of ["t1", "t2"]) {
        const sql = `SELECT * FROM ${table} ORDER BY id`;
        assert.deepEqual(a.all(sql), b.all(sql), table);
      }
      assert.equal(a.all("SELECT * FROM t2").length, 2);
    } finally {
      a.close();
      b.close();
    }
  });

  it("cloudsync_init('*') is rejected by the extension, so init('*') expands the table list itself", async () => {
    const options = { extensionPath: await testExtensionPath() };
    const db = await SyncDatabase.open(":memory:", options);
    try {
      db.exec("CREATE TABLE t1 (id TEXT PRIMARY KEY NOT NULL, x TEXT)");
      assert.throws(
        () => db.driver.prepare("SELECT cloudsync_init('*')").get(),
        /Table \* does not exist/,
      );
      db.init("*");
      assert.deepEqual(db.syncedTables(), ["t1"]);
    } finally {
      db.close();
    }
  });
});
