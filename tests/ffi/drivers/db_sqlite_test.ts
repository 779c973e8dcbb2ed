/** @db/sqlite driver: lazy import failures (the contract is in driver_test.ts). */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { SqliteSyncError } from "../../../common/errors.ts";
import { isDbSqliteDatabase, openDbSqlite } from "../../../ffi/drivers/db_sqlite.ts";
import { dbSqliteDatabaseClass, dbSqliteSkip } from "./_fixtures.ts";
import { itUnless, RUNTIME } from "../../_helpers.ts";

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

  // @db/sqlite is a Deno FFI driver: Bun neither runs nor skips this test.
  if (RUNTIME === "deno") {
    itUnless(
      dbSqliteSkip,
      "isDbSqliteDatabase() recognises the fixture's Database and rejects plain objects",
      async () => {
        const Database = await dbSqliteDatabaseClass();
        const db = new Database(":memory:");
        assert.equal(isDbSqliteDatabase(db), true);
        db.close();
        assert.equal(isDbSqliteDatabase({ prepare() {}, loadExtension() {} }), false);
      },
    );
  }
});
