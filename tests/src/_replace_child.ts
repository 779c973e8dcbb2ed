/**
 * The REPLACE matrix on @db/sqlite, in its own Deno process: loading the
 * extension through @db/sqlite and node:sqlite in one process crashes it.
 * Prints one JSON object: `{ "<peer mode>|<cell name>": CellResult }`.
 * The extension comes from SQLITE_SYNC_TEST_EXTENSION (set by the parent).
 */
import { testExtensionPath } from "../_helpers.ts";
import { dbSqliteDatabaseClass } from "../ffi/drivers/_fixtures.ts";
import { openDriver } from "../../ffi/drivers/open_driver.ts";
import { SyncDatabase } from "../../src/database.ts";
import { cellName, type CellResult, cells, runCell } from "./_replace_cells.ts";

const extensionPath = await testExtensionPath();
const Database = await dbSqliteDatabaseClass();
const results: Record<string, CellResult> = {};
for (const peerRecursiveOff of [false, true]) {
  for (const cell of cells()) {
    results[`${peerRecursiveOff ? "off" : "on"}|${cellName(cell)}`] = await runCell(cell, {
      open: () =>
        SyncDatabase.open(":memory:", { extensionPath, database: new Database(":memory:") }),
      plain: () => openDriver(":memory:", { database: new Database(":memory:") }),
      peerRecursiveOff,
    });
  }
}
console.log(JSON.stringify(results));
