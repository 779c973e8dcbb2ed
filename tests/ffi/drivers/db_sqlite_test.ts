/** @db/sqlite driver: lazy import failures (the contract is in driver_test.ts). */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { SqliteSyncError } from "../../../common/errors.ts";
import { isDbSqliteDatabase, openDbSqlite } from "../../../ffi/drivers/db_sqlite.ts";
import { dbSqliteDatabaseClass, dbSqliteSkip } from "./_fixtures.ts";

describe("@db/sqlite driver", () => {
  it("openDbSqlite() that cannot import the module tells the user to pass a Database", async () => {
    await assert.rejects(
      openDbSqlite(":memory:", { specifier: "file:///nonexistent/db-sqlite/mod.ts" }),
      (err) => {
        assert.ok(err instanceof SqliteSyncError);
        assert.equal(err.kind, "driver");
        assert.match(err.message, /pass it as the 'database' option/);
        return true;
      },
    );
  });

  it("isDbSqliteDatabase() recognises the fixture's Database and rejects plain objects", {
    skip: dbSqliteSkip,
  }, async () => {
    const Database = await dbSqliteDatabaseClass();
    const db = new Database(":memory:");
    assert.equal(isDbSqliteDatabase(db), true);
    db.close();
    assert.equal(isDbSqliteDatabase({ prepare() {}, loadExtension() {} }), false);
  });
});
