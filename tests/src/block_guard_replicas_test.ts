/**
 * Block-column tables on two local replicas in 1.1.4: UPDATE, upserts and
 * REPLACE (statement, conflict clause or table declaration) reach the peer
 * intact (recursive_triggers is on). The full REPLACE matrix is in
 * replace_matrix_test.ts.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { replicaPair } from "./_block_guard_fixtures.ts";

describe("block tables on replicas", () => {
  it("UPDATE and ON CONFLICT DO UPDATE on a block table keep the peer correct", async () => {
    const r = await replicaPair();
    try {
      r.a.run("INSERT INTO notes (id, body, title) VALUES ('n', ?, 't')", "AAA\nBBB\nCCC");
      r.a.run("UPDATE notes SET body = ? WHERE id = 'n'", "AAA\nXXX\nCCC");
      r.ship();
      assert.deepEqual(r.b.get("SELECT body, title FROM notes WHERE id = 'n'"), {
        body: "AAA\nXXX\nCCC",
        title: "t",
      });
      // A shorter value: stale trailing blocks must not come back.
      r.a.run(
        "INSERT INTO notes (id, body) VALUES ('n', ?) ON CONFLICT(id) DO UPDATE SET body = excluded.body",
        "ZZZ",
      );
      // An upsert that inserts a new row.
      r.a.run(
        "INSERT INTO notes (id, body) VALUES ('m', ?) ON CONFLICT(id) DO UPDATE SET body = excluded.body",
        "one\ntwo",
      );
      r.ship();
      assert.deepEqual(r.rows(r.b), [
        { id: "m", body: "one\ntwo", title: null },
        { id: "n", body: "ZZZ", title: "t" },
      ]);
    } finally {
      r.done();
    }
  });

  it("INSERT OR REPLACE and REPLACE INTO with a shorter value on a block table reach the peer intact", async () => {
    const r = await replicaPair();
    try {
      r.a.run("INSERT INTO notes (id, body, title) VALUES ('n', ?, 't')", "AAA\nBBB\nCCC");
      r.ship();
      r.a.run("INSERT OR REPLACE INTO notes (id, body, title) VALUES ('n', 'ZZZ', 't2')");
      r.ship();
      assert.deepEqual(r.rows(r.b), [{ id: "n", body: "ZZZ", title: "t2" }]);
      r.a.exec("REPLACE INTO main.\"notes\" (id, body) VALUES ('n', 'Y\nZZZ')");
      r.ship();
      assert.deepEqual(r.rows(r.a), [{ id: "n", body: "Y\nZZZ", title: null }]);
      assert.deepEqual(r.rows(r.b), [{ id: "n", body: "Y\nZZZ", title: null }]);
    } finally {
      r.done();
    }
  });

  it("setColumn() accepts a table declaring ON CONFLICT REPLACE; a plain INSERT that replaces reaches the peer intact", async () => {
    const r = await replicaPair(
      "CREATE TABLE notes (id TEXT PRIMARY KEY ON CONFLICT REPLACE NOT NULL, body TEXT, " +
        "slug TEXT UNIQUE ON CONFLICT REPLACE)",
    );
    try {
      r.a.run("INSERT INTO notes (id, body, slug) VALUES ('n', 'AAA\nBBB\nCCC', 's')");
      r.a.run("INSERT INTO notes (id, body, slug) VALUES ('m', 'x', 'm')");
      r.ship();
      r.a.run("INSERT INTO notes (id, body, slug) VALUES ('n', 'ZZZ', 's')");
      r.a.run("INSERT INTO notes (id, body, slug) VALUES ('k', 'new', 'm')");
      r.ship();
      const expected = [
        { id: "k", body: "new", slug: "m" },
        { id: "n", body: "ZZZ", slug: "s" },
      ];
      assert.deepEqual(r.rows(r.a), expected);
      assert.deepEqual(r.rows(r.b), expected);
    } finally {
      r.done();
    }
  });
});
