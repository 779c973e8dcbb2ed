/**
 * Counting local changes not yet sent, without the network: what the next
 * send would ship. Shared by the executor (service status) and the CLI's
 * `status` command.
 *
 * @module
 */
import type { SyncDatabase } from "./database.ts";

const SINCE = "SELECT value AS v FROM cloudsync_settings WHERE key = 'send_dbversion'";
const UNSENT =
  "SELECT count(*) AS n FROM cloudsync_changes WHERE db_version > ? AND site_id = cloudsync_siteid()";

/**
 * Counts this device's changes after the send checkpoint (the rule of
 * `cloudsync_payload_save`): the rows the next send would ship. No network
 * call; 0 while no table is synced.
 *
 * @param db An open database.
 * @returns The number of changed cells not yet sent.
 * @throws {SqliteSyncError} `state` when the database is closed; `sql`/`busy` from SQLite.
 *
 * @example Usage
 * ```ts ignore
 * import { SyncDatabase } from "../mod.ts";
 * import { unsentChanges } from "./unsent.ts";
 * await using db = await SyncDatabase.open("app.db");
 * console.log(unsentChanges(db));
 * ```
 */
export function unsentChanges(db: SyncDatabase): number {
  if (db.syncedTables().length === 0) return 0;
  const since = Number(db.get(SINCE)?.v ?? 0);
  return Number(db.get(UNSENT, since)?.n ?? 0);
}
