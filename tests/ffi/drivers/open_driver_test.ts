/**
 * openDriver(): the default per runtime, named drivers, wrapping a database the
 * caller opened (each driver the runtime has), Deno Deploy, bad arguments.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { describeUnless, RUNTIME } from "../../_helpers.ts";
import { SqliteSyncError } from "../../../common/errors.ts";
import {
  assertRuntimeSupported,
  defaultDriverName,
  openDriver,
  wrapDatabase,
} from "../../../ffi/drivers/open_driver.ts";
import type { RuntimeInfo } from "../../../ffi/runtime.ts";
import { registerChildCases, runChildSuite } from "./_child_suite.ts";
import { assertLoadsExtension } from "./_contract.ts";
import { dbSqliteSkip } from "./_fixtures.ts";

const DEPLOY: RuntimeInfo = { name: "deno", version: "2.9.6", denoDeploy: true };

// The @db/sqlite case loads sqlite-sync, so it runs in a child Deno process: the extension
// serves one SQLite library per process, and node:sqlite loads it in this one.
const dbSqliteSuite = RUNTIME === "deno" && !dbSqliteSkip
  ? await runChildSuite("tests/ffi/drivers/_db_sqlite_open_driver.ts")
  : undefined;

describe("openDriver()", () => {
  it("defaultDriverName() is node:sqlite in Deno and Node, bun:sqlite in Bun", () => {
    assert.equal(
      defaultDriverName({ name: "deno", version: "2.9.6", denoDeploy: false }),
      "node:sqlite",
    );
    assert.equal(
      defaultDriverName({ name: "node", version: "22.23.3", denoDeploy: false }),
      "node:sqlite",
    );
    assert.equal(
      defaultDriverName({ name: "bun", version: "1.4.5", denoDeploy: false }),
      "bun:sqlite",
    );
  });

  it("openDriver() opens the runtime's default driver", async () => {
    const db = await openDriver(":memory:");
    assert.equal(db.name, RUNTIME === "bun" ? "bun:sqlite" : "node:sqlite");
    await assertLoadsExtension(db);
  });

  it("openDriver() refuses Deno Deploy with 'unsupported-runtime' naming FFI", async () => {
    await assert.rejects(openDriver(":memory:", { runtime: DEPLOY }), (err) => {
      assert.ok(err instanceof SqliteSyncError);
      assert.equal(err.kind, "unsupported-runtime");
      assert.match(err.message, /Deno Deploy allows no FFI/);
      return true;
    });
    assert.throws(() => assertRuntimeSupported(DEPLOY), SqliteSyncError);
  });

  it("openDriver() rejects an unknown driver name with a TypeError naming it", async () => {
    await assert.rejects(
      // deno-lint-ignore no-explicit-any
      openDriver(":memory:", { driver: "sqlite3" as any }),
      (err) => err instanceof TypeError && /"sqlite3"/.test(err.message),
    );
  });

  it("wrapDatabase() rejects an object that is no known database", () => {
    assert.throws(() => wrapDatabase({ prepare() {} }), TypeError);
    assert.throws(() => wrapDatabase(null), /got null/);
  });

  // Each runtime registers only the drivers it has (not counted as skips in the other).
  if (RUNTIME === "deno") {
    it("openDriver() wraps a user-opened node:sqlite DatabaseSync", async () => {
      const { DatabaseSync } = await import("node:sqlite");
      const user = new DatabaseSync(":memory:", { allowExtension: true });
      const db = await openDriver(":memory:", { database: user });
      assert.equal(db.name, "node:sqlite");
      await assertLoadsExtension(db);
      assert.equal(user.isOpen, false); // the driver owned and closed it
    });

    describeUnless(
      dbSqliteSkip,
      "openDriver() with @db/sqlite (in a child Deno process)",
      () => registerChildCases(dbSqliteSuite!, 1),
    );
  }

  if (RUNTIME === "bun") {
    it("openDriver() wraps a user-opened bun:sqlite Database", async () => {
      const spec = "bun:sqlite";
      const { Database } = await import(spec);
      const db = await openDriver("", { database: new Database(":memory:") });
      assert.equal(db.name, "bun:sqlite");
      await assertLoadsExtension(db);
    });
  }
});
