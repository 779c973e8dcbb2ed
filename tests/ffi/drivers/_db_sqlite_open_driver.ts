/**
 * openDriver() with a user-opened @db/sqlite Database that then loads
 * sqlite-sync, run by open_driver_test.ts with `deno test` in a child Deno
 * process (sqlite-sync serves one SQLite library per process).
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { openDriver } from "../../../ffi/drivers/open_driver.ts";
import { assertLoadsExtension } from "./_contract.ts";
import { dbSqliteDatabaseClass } from "./_fixtures.ts";

describe("openDriver() (@db/sqlite)", () => {
  it("openDriver() wraps a user-opened @db/sqlite Database", async () => {
    const Database = await dbSqliteDatabaseClass();
    const user = new Database(":memory:");
    const db = await openDriver(":memory:", { database: user });
    assert.equal(db.name, "@db/sqlite");
    await assertLoadsExtension(db);
    assert.equal(user.open, false); // the driver owned and closed it
  });
});
