/**
 * Which table names setColumn() accepts for a block column in 1.1.4: every
 * name that is not a plain SQL identifier is refused (1.1.4's own
 * cloudsync_set_column fails on each, it does not quote the name), while
 * keywords, non-ASCII and a later '$' work and get their guard.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { isKind, testExtensionPath } from "../_helpers.ts";
import { SyncDatabase } from "../../src/database.ts";
import { guardCount } from "./_block_guard_fixtures.ts";

describe("setColumn() table names", () => {
  // Each fails inside 1.1.4's cloudsync_set_column: it does not quote the name.
  const BAD = [
    "we'ird",
    "a;b",
    "sp ace",
    "a-b",
    "1abc",
    "$x",
    "a.b",
    'dq"x',
    "a`b",
    "a[b]",
    "a\tb",
  ];
  const GOOD = ["ünï", "日本", "order", "select", "x$", "_x", "Notes2"];
  const q = (name: string) => `"${name.replaceAll('"', '""')}"`;

  async function withTable(name: string, fn: (db: SyncDatabase) => void): Promise<void> {
    const db = await SyncDatabase.open(":memory:", { extensionPath: await testExtensionPath() });
    try {
      db.exec(`CREATE TABLE ${q(name)} (id TEXT PRIMARY KEY NOT NULL, body TEXT)`);
      db.init(name);
      fn(db);
    } finally {
      db.close();
    }
  }

  it("setColumn() refuses every table name that is not a plain SQL identifier with a schema error naming it", async () => {
    for (const name of BAD) {
      await withTable(name, (db) => {
        assert.throws(
          () => db.setColumn(name, "body", { algorithm: "block" }),
          isKind("schema", /is not a plain SQL identifier/, /does not quote it/),
          name,
        );
        assert.throws(() => db.setColumn(name, "body", { algorithm: "block" }), (err) => {
          assert.ok((err as Error).message.includes(`table ${JSON.stringify(name)}`), name);
          return true;
        });
        assert.equal(
          db.get("SELECT count(*) AS n FROM cloudsync_table_settings WHERE col_name = 'body'")?.n,
          0,
        );
      });
    }
  });

  it("1.1.4's own cloudsync_set_column fails on every name setColumn() refuses (remove the check when this fails)", async () => {
    for (const name of BAD) {
      await withTable(name, (db) => {
        assert.throws(
          () =>
            db.driver.prepare("SELECT cloudsync_set_column(?, 'body', 'algo', 'block')").get(name),
          /Unable to create blocks table/,
          name,
        );
      });
    }
  });

  it("setColumn() accepts keywords, non-ASCII and a later '$', and their block columns work", async () => {
    for (const name of GOOD) {
      await withTable(name, (db) => {
        db.setColumn(name, "body", { algorithm: "block" });
        db.exec(
          `INSERT INTO ${q(name)} VALUES ('x', 'l1\nl2'); UPDATE ${q(name)} SET body = 'l1\nl3'`,
        );
        assert.equal(db.get(`SELECT body FROM ${q(name)}`)?.body, "l1\nl3", name);
        assert.equal(guardCount(db, name.toLowerCase()), 1, name);
      });
    }
  });
});
