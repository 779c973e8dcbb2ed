/**
 * The REPLACE matrix: {INSERT OR REPLACE, UPDATE OR REPLACE, REPLACE INTO,
 * schema-level ON CONFLICT REPLACE, upsert DO UPDATE, primary-key change} ×
 * {PK, UNIQUE, both, no conflict} × {plain, block-column table} × {db.exec,
 * raw driver} × {node:sqlite in Deno, bun:sqlite in Bun, @db/sqlite in a
 * child Deno process} × {peer with recursive_triggers on, off}. Writer A and
 * peer B start identical; A writes; A→B, B→A, A→B, B→A. Each cell holds
 * exactly what plain SQLite makes of the statement on both replicas, or was
 * refused and changed nothing. Also: why the writer needs recursive_triggers,
 * and what the pragma changes for user triggers.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { describeUnless, ROOT, run, RUNTIME, runtimeArgv, testExtensionPath } from "../_helpers.ts";
import { dbSqliteSkip } from "../ffi/drivers/_fixtures.ts";
import type { DriverName } from "../../ffi/drivers/driver.ts";
import { openDriver } from "../../ffi/drivers/open_driver.ts";
import { SyncDatabase } from "../../src/database.ts";
import {
  assertCell,
  type CellEnv,
  cellName,
  type CellResult,
  cells,
  cellTitle,
  runCell,
} from "./_replace_cells.ts";

const PEERS = [
  { off: false, key: "on", label: "peer with recursive_triggers on" },
  { off: true, key: "off", label: "peer with recursive_triggers OFF" },
] as const;

function env(driver: DriverName, options: Partial<CellEnv> = {}): CellEnv {
  return {
    open: async () =>
      await SyncDatabase.open(":memory:", { extensionPath: await testExtensionPath(), driver }),
    plain: () => openDriver(":memory:", { driver }),
    peerRecursiveOff: false,
    ...options,
  };
}

function inProcess(driver: DriverName): void {
  for (const peer of PEERS) {
    describe(`REPLACE matrix on ${driver}, ${peer.label}`, () => {
      for (const cell of cells()) {
        it(cellTitle(cell), async () => {
          assertCell(cell, await runCell(cell, env(driver, { peerRecursiveOff: peer.off })));
        });
      }
    });
  }
}

if (RUNTIME === "deno") inProcess("node:sqlite");
if (RUNTIME === "bun") inProcess("bun:sqlite");

if (RUNTIME === "deno") {
  let child: Promise<Record<string, CellResult>> | undefined;
  const childResults = () =>
    child ??= (async () => {
      const result = await run(runtimeArgv(join(ROOT, "tests", "src", "_replace_child.ts")), {
        env: { SQLITE_SYNC_TEST_EXTENSION: await testExtensionPath() },
        timeoutMs: 120_000,
      });
      assert.equal(result.code, 0, `the @db/sqlite child failed: ${result.stderr}`);
      return JSON.parse(result.stdout);
    })();
  for (const peer of PEERS) {
    describeUnless(
      dbSqliteSkip,
      `REPLACE matrix on @db/sqlite (child Deno process), ${peer.label}`,
      () => {
        for (const cell of cells()) {
          it(cellTitle(cell), async () => {
            const result = (await childResults())[`${peer.key}|${cellName(cell)}`];
            assert.ok(result !== undefined, "the child reported nothing for this cell");
            assertCell(cell, result);
          });
        }
      },
    );
  }
}

const DRIVER: DriverName = RUNTIME === "deno" ? "node:sqlite" : "bun:sqlite";

/** What 1.1.4 loses when the writer runs without recursive_triggers (the SQLite default). */
const DIVERGE_WITHOUT_PRAGMA = [
  "INSERT OR REPLACE × PK conflict × block table",
  "INSERT OR REPLACE × UNIQUE conflict × plain table",
  "INSERT OR REPLACE × UNIQUE conflict × block table",
  "INSERT OR REPLACE × PK and UNIQUE conflict × plain table",
  "INSERT OR REPLACE × PK and UNIQUE conflict × block table",
  "UPDATE OR REPLACE × PK conflict × plain table",
  "UPDATE OR REPLACE × UNIQUE conflict × plain table",
  "UPDATE OR REPLACE × UNIQUE conflict × block table",
  "UPDATE OR REPLACE × PK and UNIQUE conflict × plain table",
  "REPLACE INTO × PK conflict × block table",
  "REPLACE INTO × UNIQUE conflict × plain table",
  "REPLACE INTO × UNIQUE conflict × block table",
  "REPLACE INTO × PK and UNIQUE conflict × plain table",
  "REPLACE INTO × PK and UNIQUE conflict × block table",
  "schema ON CONFLICT REPLACE × PK conflict × block table",
  "schema ON CONFLICT REPLACE × UNIQUE conflict × plain table",
  "schema ON CONFLICT REPLACE × PK and UNIQUE conflict × block table",
];

describe("why the writer runs with recursive_triggers", () => {
  it(`with recursive_triggers OFF on the writer, 1.1.4 diverges in exactly ${DIVERGE_WITHOUT_PRAGMA.length} REPLACE cells (the library turns it on)`, async () => {
    const diverged: string[] = [];
    for (const cell of cells()) {
      if (cell.path !== "raw driver" || cell.outcome !== "converges") continue;
      const result = await runCell(cell, env(DRIVER, { writerRecursiveOff: true }));
      try {
        assertCell(cell, result);
      } catch {
        diverged.push(cellName(cell).replace(" × raw driver", ""));
      }
    }
    assert.deepEqual(diverged, DIVERGE_WITHOUT_PRAGMA);
  });
});

describe("what recursive_triggers changes for user triggers", () => {
  async function open(): Promise<SyncDatabase> {
    const db = await SyncDatabase.open(":memory:", { extensionPath: await testExtensionPath() });
    db.exec(
      "CREATE TABLE t (id TEXT PRIMARY KEY NOT NULL, body TEXT, touched INTEGER DEFAULT 0);" +
        "CREATE TABLE log (what TEXT)",
    );
    db.init("t");
    return db;
  }

  it("a REPLACE now fires the user's DELETE trigger for the row it replaces", async () => {
    const db = await open();
    try {
      db.exec(
        "CREATE TRIGGER t_deleted AFTER DELETE ON t BEGIN INSERT INTO log VALUES (OLD.id || ':' || OLD.body); END;" +
          "INSERT INTO t (id, body) VALUES ('a', 'old');" +
          "INSERT OR REPLACE INTO t (id, body) VALUES ('a', 'new')",
      );
      assert.deepEqual(db.all("SELECT what FROM log"), [{ what: "a:old" }]);
    } finally {
      db.close();
    }
  });

  it("a trigger that updates its own table re-fires itself: without a WHEN or OF it hits SQLite's recursion limit", async () => {
    const db = await open();
    try {
      db.exec(
        "CREATE TRIGGER t_touch AFTER UPDATE ON t BEGIN UPDATE t SET touched = touched + 1 WHERE id = NEW.id; END;" +
          "INSERT INTO t (id, body) VALUES ('a', 'x')",
      );
      assert.throws(
        () => db.run("UPDATE t SET body = 'y' WHERE id = 'a'"),
        /too many levels of trigger recursion|triggers nested too deep/,
      );
      // The fix: fire only on the columns the app writes (or add a WHEN).
      db.exec(
        "DROP TRIGGER t_touch;" +
          "CREATE TRIGGER t_touch AFTER UPDATE OF body ON t BEGIN UPDATE t SET touched = touched + 1 WHERE id = NEW.id; END",
      );
      db.run("UPDATE t SET body = 'y' WHERE id = 'a'");
      assert.deepEqual(db.get("SELECT body, touched FROM t"), { body: "y", touched: 1 });
    } finally {
      db.close();
    }
  });
});
