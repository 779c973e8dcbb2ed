/**
 * What the block-column tests (block_guard_*_test.ts) share: the `notes`
 * schema, two file replicas with a block column that exchange their changes,
 * and the count of a table's primary-key guard triggers.
 */
import { join } from "node:path";
import { tempDir, testExtensionPath } from "../_helpers.ts";
import { SyncDatabase } from "../../src/database.ts";

/** The table most tests start from; `body` becomes the block column. */
export const NOTES = "CREATE TABLE notes (id TEXT PRIMARY KEY NOT NULL, body TEXT, title TEXT)";

/** Two file replicas of `notes` with `schema`; `ship()` exchanges all changes both ways, twice. */
export async function replicaPair(schema = NOTES, block = true) {
  const dir = tempDir();
  const extensionPath = await testExtensionPath();
  const open = async (name: string) => {
    const db = await SyncDatabase.open(join(dir.path, name), { extensionPath });
    db.exec(schema);
    db.init("notes");
    if (block) db.setColumn("notes", "body", { algorithm: "block" });
    return db;
  };
  const a = await open("a.db");
  const b = await open("b.db");
  const send = (from: SyncDatabase, to: SyncDatabase) => {
    const payload = from.encodeChanges();
    if (payload !== null) to.applyChanges(payload);
  };
  return {
    a,
    b,
    dir: dir.path,
    extensionPath,
    ship: () => {
      for (let i = 0; i < 2; i++) {
        send(a, b);
        send(b, a);
      }
    },
    rows: (db: SyncDatabase) => db.all("SELECT * FROM notes ORDER BY 1, 2"),
    done: () => {
      a.close();
      b.close();
      dir.cleanup();
    },
  };
}

/** How many primary-key guard triggers `table` has (0 or 1). */
export const guardCount = (db: SyncDatabase, table = "notes") =>
  Number(
    db.get(
      "SELECT count(*) AS n FROM sqlite_master WHERE type = 'trigger' AND name = ?",
      `cloudsync_sdk_block_pk_guard_${table}`,
    )?.n,
  );
