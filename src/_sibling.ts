/**
 * Sibling connections behind {@linkcode SyncDatabase.openSibling}: the same
 * file, the same SQLite library, the extension loaded.
 *
 * @module
 */
import type { Driver } from "../ffi/drivers/driver.ts";
import { siblingOptions } from "../ffi/drivers/open_driver.ts";
import { isMemory, type OpenOptions, openWithExtension } from "../ffi/open.ts";
import type { ResolvedExtension } from "../ffi/resolve.ts";
import { SqliteSyncError } from "../common/errors.ts";

/**
 * Opens another connection to `parent`'s file on `parent`'s SQLite library,
 * with the extension loaded.
 *
 * @param parent The open connection.
 * @param extension The extension it loaded.
 * @param options The caller's options; `driver`, when given, must be the parent's.
 * @returns The new connection.
 * @throws {SqliteSyncError} `state` for a private in-memory database (a second connection
 *   would open another, empty one); `driver` for another driver; whatever opening raises.
 *
 * @example Usage
 * ```ts ignore
 * import { openSiblingDriver } from "./_sibling.ts";
 * const sibling = await openSiblingDriver(driver, extension, {});
 * ```
 */
export async function openSiblingDriver(
  parent: Driver,
  extension: ResolvedExtension,
  options: OpenOptions,
): Promise<Driver> {
  const path = parent.path;
  if (isMemory(path) && !/[?&]cache=shared(&|$)/.test(path)) {
    throw new SqliteSyncError(
      "state",
      `openSibling(): '${path}' is a private in-memory database, which no other connection ` +
        "can open: a sibling would be a new, empty database. Open a database file (e.g. " +
        "SyncDatabase.open('app.db')) to have sibling connections.",
    );
  }
  const sibling = siblingOptions(parent, path, options);
  try {
    return await openWithExtension(path, extension, {
      ...options,
      driver: sibling.driver,
      database: sibling.database,
    });
  } catch (err) {
    sibling.discard();
    throw err;
  }
}
