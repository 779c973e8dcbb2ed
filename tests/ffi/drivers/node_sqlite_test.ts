/** node:sqlite driver: the runtime version gate (the contract is in driver_test.ts). */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { SqliteSyncError } from "../../../common/errors.ts";
import {
  assertNodeSqliteSupported,
  isNodeSqliteDatabase,
  openNodeSqlite,
} from "../../../ffi/drivers/node_sqlite.ts";
import type { RuntimeInfo } from "../../../ffi/runtime.ts";

const node = (version: string): RuntimeInfo => ({ name: "node", version, denoDeploy: false });

describe("node:sqlite driver", () => {
  it("assertNodeSqliteSupported() refuses Node < 22.13, naming the version and the minimum", () => {
    assert.throws(() => assertNodeSqliteSupported(node("22.12.0")), (err) => {
      assert.ok(err instanceof SqliteSyncError);
      assert.equal(err.kind, "unsupported-runtime");
      assert.match(err.message, /Node 22\.12\.0/);
      assert.match(err.message, /22\.13\.0 or newer/);
      return true;
    });
    assert.throws(() => assertNodeSqliteSupported(node("20.19.0")), SqliteSyncError);
    assert.throws(() => assertNodeSqliteSupported(node("23.4.0")), SqliteSyncError);
  });

  it("assertNodeSqliteSupported() accepts Node 22.13+, 23.5+ and 24", () => {
    for (const v of ["22.13.0", "22.23.3", "23.5.0", "24.0.0"]) assertNodeSqliteSupported(node(v));
  });

  it("assertNodeSqliteSupported() refuses Deno < 2.3 (no loadExtension in node:sqlite)", () => {
    assert.throws(
      () => assertNodeSqliteSupported({ name: "deno", version: "2.2.9", denoDeploy: false }),
      /Deno 2\.2\.9 .*Deno 2\.3\.0 or newer/,
    );
  });

  it("openNodeSqlite() checks the version before importing node:sqlite", async () => {
    await assert.rejects(
      openNodeSqlite(":memory:", { runtime: node("22.12.0") }),
      (err) => err instanceof SqliteSyncError && err.kind === "unsupported-runtime",
    );
  });

  it("isNodeSqliteDatabase() rejects plain objects", () => {
    assert.equal(isNodeSqliteDatabase({}), false);
    assert.equal(isNodeSqliteDatabase(null), false);
  });
});
