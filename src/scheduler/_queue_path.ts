/**
 * Where a database's sync queue lives: a sidecar file beside it, never a table
 * inside it (where `cloudsync_init('*')` would sync it).
 *
 * @module
 */

/**
 * The sidecar path of a database's queue.
 *
 * @param databasePath The synced database's path.
 * @returns `<databasePath>.sync-queue`, or `:memory:` for an in-memory database (not durable).
 *
 * @example Usage
 * ```ts
 * import { queuePathFor } from "./_queue_path.ts";
 * console.log(queuePathFor("data/app.db")); // "data/app.db.sync-queue"
 * ```
 */
export function queuePathFor(databasePath: string): string {
  return databasePath === "" || databasePath === ":memory:"
    ? ":memory:"
    : `${databasePath}.sync-queue`;
}
