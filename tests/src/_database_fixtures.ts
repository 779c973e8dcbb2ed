/**
 * What the SyncDatabase tests (database_*_test.ts) share: the `notes` schema,
 * a fresh file database in its own temp dir, and the values cloudsync tracks.
 */
import { join } from "node:path";
import { tempDir, testExtensionPath } from "../_helpers.ts";
import { SyncDatabase } from "../../src/database.ts";

/** The table most tests start from. */
export const NOTES = "CREATE TABLE notes (id TEXT PRIMARY KEY NOT NULL, body TEXT, tenant TEXT)";

/** Opens a fresh file database in its own temp dir; `done()` closes it and removes the dir. */
export async function fresh(
  schema = NOTES,
): Promise<{ db: SyncDatabase; path: string; dir: string; done: () => void }> {
  const dir = tempDir();
  const path = join(dir.path, "app.db");
  const db = await SyncDatabase.open(path, { extensionPath: await testExtensionPath() });
  if (schema) db.exec(schema);
  return {
    db,
    path,
    dir: dir.path,
    done: () => {
      db.close();
      dir.cleanup();
    },
  };
}

/** The column values cloudsync tracks for a table, sorted (enough to tell rows apart). */
export function trackedValues(db: SyncDatabase, table: string): string[] {
  return db.all("SELECT col_value AS v FROM cloudsync_changes WHERE tbl = ?", table)
    .map((r) => String(r.v)).sort();
}
