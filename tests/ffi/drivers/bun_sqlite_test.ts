/** bun:sqlite driver: the macOS hint (the contract is in driver_test.ts). */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { RUNTIME } from "../../_helpers.ts";
import { SqliteSyncError } from "../../../common/errors.ts";
import {
  isBunSqliteDatabase,
  openBunSqlite,
  wrapBunSqlite,
} from "../../../ffi/drivers/bun_sqlite.ts";

describe("bun:sqlite driver", () => {
  // bun:sqlite exists only in Bun: Deno registers only the tests about its absence.
  if (RUNTIME === "bun") {
    it("loadExtension() failing on macOS explains 'brew install sqlite' and customSQLite", async () => {
      const spec = "bun:sqlite";
      const { Database } = await import(spec);
      const db = wrapBunSqlite(new Database(":memory:"), ":memory:", { os: "darwin" });
      try {
        assert.throws(() => db.loadExtension("/nonexistent/cloudsync.dylib"), (err) => {
          assert.ok(err instanceof SqliteSyncError);
          assert.equal(err.kind, "unsupported-runtime");
          assert.match(err.message, /brew install sqlite/);
          assert.match(err.message, /customSQLite/);
          return true;
        });
      } finally {
        db.close();
      }
    });

    it("loadExtension() failing on Linux is a plain 'load' error", async () => {
      const db = await openBunSqlite(":memory:", { os: "linux" });
      try {
        assert.throws(
          () => db.loadExtension("/nonexistent/cloudsync.so"),
          (err) => err instanceof SqliteSyncError && err.kind === "load",
        );
      } finally {
        db.close();
      }
    });
  } else {
    it("openBunSqlite() outside Bun raises 'driver'", async () => {
      await assert.rejects(
        openBunSqlite(":memory:"),
        (err) => err instanceof SqliteSyncError && err.kind === "driver",
      );
    });
  }

  it("isBunSqliteDatabase() rejects plain objects", () => {
    assert.equal(isBunSqliteDatabase({ prepare() {} }), false);
  });
});
