/**
 * The schema preflight and identifier helpers, on a real connection with the
 * extension, checked against what cloudsync_init itself accepts.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { tempDir, testExtensionPath } from "../_helpers.ts";
import { SyncDatabase } from "../../src/database.ts";
import { SqliteSyncError } from "../../common/errors.ts";
import {
  assertColumn,
  assertIdentifier,
  describeValue,
  foldIdentifier,
  initFlags,
  preflightTable,
  quoteIdentifier,
  storedTableName,
  tableColumns,
  tableExists,
  userTables,
} from "../../src/schema.ts";

async function withDb(schema: string, fn: (db: SyncDatabase) => void): Promise<void> {
  const dir = tempDir();
  const db = await SyncDatabase.open(join(dir.path, "schema.db"), {
    extensionPath: await testExtensionPath(),
  });
  try {
    if (schema) db.exec(schema);
    fn(db);
  } finally {
    db.close();
    dir.cleanup();
  }
}

function schemaError(...patterns: RegExp[]): (err: unknown) => boolean {
  return (err) => {
    assert.ok(err instanceof SqliteSyncError, String(err));
    assert.equal(err.kind, "schema", err.message);
    for (const p of patterns) assert.match(err.message, p);
    return true;
  };
}

describe("preflightTable()", () => {
  it("preflightTable() refuses a table without a primary key, naming it and the fix", async () => {
    await withDb("CREATE TABLE loose (a TEXT, b TEXT)", (db) => {
      assert.throws(
        () => preflightTable(db.driver, "loose"),
        schemaError(/"loose"/, /no PRIMARY KEY/, /id TEXT PRIMARY KEY NOT NULL/, /uuid/),
      );
    });
  });

  it("preflightTable() refuses a single INTEGER primary key naming the column and the fix", async () => {
    await withDb("CREATE TABLE ip (row_id INTEGER PRIMARY KEY, name TEXT)", (db) => {
      assert.throws(
        () => preflightTable(db.driver, "ip"),
        schemaError(
          /"ip"/,
          /column "row_id"/,
          /INTEGER PRIMARY KEY/,
          /allowIntegerPrimaryKey: true/,
        ),
      );
      assert.doesNotThrow(() => preflightTable(db.driver, "ip", { allowIntegerPrimaryKey: true }));
    });
  });

  it("preflightTable() refuses every single-column key of INTEGER affinity, as cloudsync_init does", async () => {
    const types = ["INT", "BIGINT", "integer", "UNSIGNED BIG INT", "INT8", "TINYINT"];
    await withDb(
      types.map((t, i) => `CREATE TABLE k${i} (id ${t} PRIMARY KEY NOT NULL, v TEXT)`).join(";"),
      (db) => {
        types.forEach((type, i) => {
          assert.throws(
            () => preflightTable(db.driver, `k${i}`),
            schemaError(/INTEGER PRIMARY KEY/, /allowIntegerPrimaryKey/),
            type,
          );
          assert.throws(() => db.init(`k${i}`), schemaError(/allowIntegerPrimaryKey/), type);
          db.init(`k${i}`, { allowIntegerPrimaryKey: true });
        });
        assert.equal(db.syncedTables().length, types.length);
      },
    );
  });

  it("preflightTable() accepts what cloudsync_init accepts: composite keys with INTEGER, NUMERIC/REAL/untyped keys, DEFAULTs", async () => {
    await withDb(
      "CREATE TABLE comp (a INTEGER NOT NULL, b TEXT NOT NULL, v TEXT, PRIMARY KEY (a, b));" +
        "CREATE TABLE num (id NUMERIC PRIMARY KEY NOT NULL, v TEXT);" +
        "CREATE TABLE untyped (id PRIMARY KEY NOT NULL, v TEXT);" +
        "CREATE TABLE defaults (id TEXT PRIMARY KEY NOT NULL, n INTEGER NOT NULL DEFAULT 0, s TEXT NOT NULL DEFAULT '')",
      (db) => {
        for (const t of ["comp", "num", "untyped", "defaults"]) {
          preflightTable(db.driver, t);
          db.init(t);
        }
        assert.deepEqual(db.syncedTables(), ["comp", "defaults", "num", "untyped"]);
      },
    );
  });

  it("preflightTable() lists every NOT NULL column without DEFAULT", async () => {
    await withDb(
      "CREATE TABLE nn (id TEXT PRIMARY KEY NOT NULL, a TEXT NOT NULL, b INTEGER NOT NULL, c TEXT NOT NULL DEFAULT 'x', d TEXT)",
      (db) => {
        assert.throws(
          () => preflightTable(db.driver, "nn"),
          schemaError(
            /NOT NULL columns "a", "b" have no DEFAULT/,
            /allowNotNullWithoutDefault: true/,
          ),
        );
        assert.doesNotThrow(() =>
          preflightTable(db.driver, "nn", { allowNotNullWithoutDefault: true })
        );
      },
    );
  });

  it("preflightTable() uses the singular for one NOT NULL column", async () => {
    await withDb("CREATE TABLE one (id TEXT PRIMARY KEY NOT NULL, a TEXT NOT NULL)", (db) => {
      assert.throws(
        () => preflightTable(db.driver, "one"),
        schemaError(/NOT NULL column "a" has no DEFAULT/),
      );
    });
  });

  it("preflightTable() refuses a missing table or a view, and finds a table as SQLite does (ASCII case ignored)", async () => {
    await withDb(
      "CREATE TABLE notes (id TEXT PRIMARY KEY NOT NULL); CREATE VIEW v AS SELECT 1; " +
        "CREATE TABLE ñotes (id TEXT PRIMARY KEY NOT NULL)",
      (db) => {
        assert.throws(
          () => preflightTable(db.driver, "ghost"),
          schemaError(/"ghost": no such table/, /Create it first/),
        );
        assert.throws(() => preflightTable(db.driver, "v"), schemaError(/"v": no such table/));
        preflightTable(db.driver, "NOTES");
        assert.equal(storedTableName(db.driver, "NoTeS"), "notes");
        // SQLite folds ASCII letters only: Ñ is not ñ.
        assert.equal(storedTableName(db.driver, "ÑOTES"), undefined);
        assert.equal(storedTableName(db.driver, "ñOTES"), "ñotes");
        assert.throws(() => preflightTable(db.driver, "ÑOTES"), schemaError(/no such table/));
      },
    );
  });

  it("foldIdentifier() lower-cases ASCII letters only, as SQLite compares names", () => {
    assert.equal(foldIdentifier("Notes_ÄÖ$1"), "notes_ÄÖ$1");
    assert.equal(foldIdentifier("ÑOTES"), "Ñotes");
  });

  it("preflightTable() refuses names reserved for SQLite and cloudsync, even when they exist", async () => {
    await withDb("CREATE TABLE notes (id TEXT PRIMARY KEY NOT NULL, body TEXT)", (db) => {
      db.init("notes");
      db.setColumn("notes", "body", { algorithm: "block" });
      for (
        const name of [
          "sqlite_master",
          "sqlite_sequence",
          "SQLITE_MASTER",
          "cloudsync_settings",
          "cloudsync_site_id",
          "notes_cloudsync",
          "notes_cloudsync_blocks",
          "Notes_CloudSync",
        ]
      ) {
        assert.throws(() => preflightTable(db.driver, name), schemaError(/reserved/), name);
      }
    });
  });

  it("preflightTable() refuses malformed names with a TypeError", async () => {
    await withDb("", (db) => {
      // deno-lint-ignore no-explicit-any
      for (const name of ["", "a\0b", "x".repeat(257), 1, null, undefined, {}] as any[]) {
        assert.throws(() => preflightTable(db.driver, name), TypeError);
      }
    });
  });
});

describe("schema helpers", () => {
  it("assertIdentifier() accepts up to 256 characters and names the limit", () => {
    assert.equal(assertIdentifier("x".repeat(256), "table"), "x".repeat(256));
    assert.equal(assertIdentifier('we"ird name;', "table"), 'we"ird name;');
    assert.throws(
      () => assertIdentifier("x".repeat(257), "column"),
      /column name: it is 257 characters long, the limit is 256/,
    );
    assert.throws(
      () => assertIdentifier("", "table"),
      /table name: expected a non-empty string, got ""/,
    );
    assert.throws(() => assertIdentifier("a\0", "table"), /NUL/);
  });

  it("describeValue() keeps messages short and never dumps objects", () => {
    assert.equal(describeValue("a".repeat(50)), JSON.stringify("a".repeat(40) + "…"));
    assert.equal(describeValue(new Uint8Array(3)), "Uint8Array(3)");
    assert.equal(describeValue(5n), "5n");
    assert.equal(describeValue({ secret: "x" }), "an object");
    assert.equal(describeValue(null), "null");
    assert.equal(describeValue(1.5), "1.5");
  });

  it("quoteIdentifier() doubles embedded quotes", () => {
    assert.equal(quoteIdentifier('we"ird'), '"we""ird"');
    assert.equal(quoteIdentifier("plain"), '"plain"');
  });

  it("initFlags() maps the named checks to the extension's bitmask", () => {
    assert.equal(initFlags({}), 0);
    assert.equal(initFlags({ allowIntegerPrimaryKey: true }), 1);
    assert.equal(initFlags({ allowNotNullWithoutDefault: true }), 2);
    assert.equal(initFlags({ allowNullPrimaryKey: true }), 4);
    assert.equal(
      initFlags({
        allowIntegerPrimaryKey: true,
        allowNotNullWithoutDefault: true,
        allowNullPrimaryKey: true,
      }),
      7,
    );
  });

  it("userTables() lists user tables only, not SQLite or cloudsync metadata", async () => {
    await withDb(
      "CREATE TABLE b (id TEXT PRIMARY KEY NOT NULL, body TEXT); CREATE TABLE a (id TEXT PRIMARY KEY NOT NULL);" +
        "CREATE TABLE seq (id INTEGER PRIMARY KEY AUTOINCREMENT)",
      (db) => {
        db.init("b");
        db.setColumn("b", "body", { algorithm: "block" });
        assert.deepEqual(userTables(db.driver), ["a", "b", "seq"]);
      },
    );
  });

  it("tableExists(), tableColumns() and assertColumn() read the schema with bound names", async () => {
    await withDb(
      'CREATE TABLE "we""ird" (id TEXT PRIMARY KEY NOT NULL, n INTEGER NOT NULL DEFAULT 3)',
      (db) => {
        assert.equal(tableExists(db.driver, 'we"ird'), true);
        assert.equal(tableExists(db.driver, "x' OR '1'='1"), false);
        assert.deepEqual(tableColumns(db.driver, 'we"ird'), [
          { name: "id", type: "TEXT", notNull: true, defaultValue: null, pk: 1 },
          { name: "n", type: "INTEGER", notNull: true, defaultValue: "3", pk: 0 },
        ]);
        assert.equal(assertColumn(db.driver, 'we"ird', "n").type, "INTEGER");
        assert.throws(
          () => assertColumn(db.driver, 'we"ird', "missing"),
          schemaError(/has no column "missing"/),
        );
      },
    );
  });
});
