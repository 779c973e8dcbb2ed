/**
 * The merge rules of `cls` tables as sqlite-sync 1.1.4 really applies them,
 * between two local replicas (payload encode/apply). The README's "Merge
 * semantics" section quotes these tests.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { testExtensionPath } from "../_helpers.ts";
import { SyncDatabase } from "../../src/database.ts";

/** Two in-memory replicas that share one row `r` = (x0, y0). */
async function replicas(): Promise<[SyncDatabase, SyncDatabase]> {
  const options = { extensionPath: await testExtensionPath() };
  const a = await SyncDatabase.open(":memory:", options);
  const b = await SyncDatabase.open(":memory:", options);
  for (const db of [a, b]) {
    db.exec("CREATE TABLE t (id TEXT PRIMARY KEY NOT NULL, x TEXT, y TEXT)");
    db.init("t");
  }
  a.run("INSERT INTO t VALUES ('r', 'x0', 'y0')");
  b.applyChanges(a.encodeChanges()!);
  return [a, b];
}

/** Both directions, then both replicas' rows. */
function exchange(a: SyncDatabase, b: SyncDatabase): [unknown, unknown] {
  const fromA = a.encodeChanges({ excludeSiteId: b.siteId() });
  const fromB = b.encodeChanges({ excludeSiteId: a.siteId() });
  if (fromB) a.applyChanges(fromB);
  if (fromA) b.applyChanges(fromA);
  const rows = (db: SyncDatabase) => db.all("SELECT id, x, y FROM t ORDER BY id");
  return [rows(a), rows(b)];
}

async function withReplicas(fn: (a: SyncDatabase, b: SyncDatabase) => Promise<void> | void) {
  const [a, b] = await replicas();
  try {
    await fn(a, b);
  } finally {
    a.close();
    b.close();
  }
}

describe("cls merge semantics (1.1.4)", () => {
  it("concurrent writes to different columns of a row are both kept", () =>
    withReplicas((a, b) => {
      a.run("UPDATE t SET x = 'from a'");
      b.run("UPDATE t SET y = 'from b'");
      const [ra, rb] = exchange(a, b);
      assert.deepEqual(ra, [{ id: "r", x: "from a", y: "from b" }]);
      assert.deepEqual(rb, ra);
    }));

  it("the column written more often wins, not the later wall-clock write", () =>
    withReplicas((a, b) => {
      a.run("UPDATE t SET x = 'a1'");
      a.run("UPDATE t SET x = 'a2'");
      // b writes after a's writes have committed: later by any clock. 1.1.4 records no time with
      // a change (its metadata: col_version, db_version, site_id, seq, cl), so a pause here would
      // change nothing the merge sees; the versions alone decide.
      b.run("UPDATE t SET x = 'b, written later'");
      const [ra, rb] = exchange(a, b);
      assert.deepEqual(ra, [{ id: "r", x: "a2", y: "y0" }]);
      assert.deepEqual(rb, ra);
    }));

  it("equal versions resolve to the greater value, whichever replica wrote it", async () => {
    for (const [fromA, fromB] of [["zzz", "aaa"], ["aaa", "zzz"]]) {
      await withReplicas((a, b) => {
        a.run("UPDATE t SET x = ?", fromA);
        b.run("UPDATE t SET x = ?", fromB);
        const [ra, rb] = exchange(a, b);
        assert.deepEqual(ra, [{ id: "r", x: "zzz", y: "y0" }]);
        assert.deepEqual(rb, ra);
      });
    }
  });

  it("a delete wins over a concurrent update (causal length, not column versions)", () =>
    withReplicas((a, b) => {
      a.run("DELETE FROM t");
      b.run("UPDATE t SET x = 'updated'");
      const [ra, rb] = exchange(a, b);
      assert.deepEqual(ra, []);
      assert.deepEqual(rb, []);
    }));

  it("a delete followed by a re-insert wins over a concurrent delete", () =>
    withReplicas((a, b) => {
      a.run("DELETE FROM t");
      a.run("INSERT INTO t VALUES ('r', 'again', 'again')");
      b.run("DELETE FROM t");
      const [ra, rb] = exchange(a, b);
      assert.deepEqual(ra, [{ id: "r", x: "again", y: "again" }]);
      assert.deepEqual(rb, ra);
    }));
});
