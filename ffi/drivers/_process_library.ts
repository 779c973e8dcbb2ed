/**
 * One SQLite library per process. SQLite loads an extension with
 * `RTLD_GLOBAL`, and sqlite-sync keeps one process-wide pointer to the SQLite
 * API it was loaded into: loading it into a second SQLite library (Deno's
 * `node:sqlite` and an `@db/sqlite` libsqlite3, or two libsqlite3 files, even
 * a renamed copy of the extension) repoints it under the first one's
 * connections, and the process dies (SIGSEGV, SIGFPE, "SQLite3 API misuse").
 * So the first library that loads the extension is recorded, and any other is
 * refused before its `loadExtension` runs.
 *
 * The record lives on `globalThis` under a `Symbol.for` key, so two copies of
 * this library in one isolate (the source and the npm bundle) share it. It is
 * per isolate, though: a Worker (or a `deno test` module) has its own
 * `globalThis` in the same process, so it cannot see what another isolate
 * loaded. Open Worker connections with the parent's driver (the sync service's
 * executor reuses its parent's driver name). The record is also blind to an
 * extension loaded without this library (`driver.loadExtension()` by hand).
 * It is kept for the life of the process: on Linux SQLite unloads the extension
 * when its last connection closes, but switching libraries afterwards is not
 * verified on every platform (macOS may keep the image and its global state).
 *
 * @module
 */
import { SqliteSyncError } from "../../common/errors.ts";
import type { SqliteLibrary } from "./driver.ts";

/** The `globalThis` key of the record, shared by every copy of this library in an isolate. */
export const EXTENSION_LIBRARY_KEY: unique symbol = Symbol.for(
  "@sqliteai/sync/extension-sqlite-library",
);

type Holder = { [EXTENSION_LIBRARY_KEY]?: SqliteLibrary };

/**
 * The SQLite library sqlite-sync was first loaded into in this isolate.
 *
 * @returns The library, or `undefined` when nothing loaded the extension yet.
 *
 * @example Usage
 * ```ts
 * import { extensionLibrary } from "./_process_library.ts";
 * console.log(extensionLibrary()?.driver); // undefined before the first open
 * ```
 */
export function extensionLibrary(): SqliteLibrary | undefined {
  return (globalThis as Holder)[EXTENSION_LIBRARY_KEY];
}

/**
 * Names a library for messages: its driver, and what tells it apart.
 *
 * @param library The library.
 * @returns E.g. `node:sqlite`, `bun:sqlite (custom SQLite /opt/…/libsqlite3.dylib)`.
 *
 * @example Usage
 * ```ts
 * import { describeLibrary } from "./_process_library.ts";
 * console.log(describeLibrary({ driver: "node:sqlite" })); // "node:sqlite"
 * ```
 */
export function describeLibrary(library: SqliteLibrary): string {
  return library.detail ? `${library.driver} (${library.detail})` : library.driver;
}

function sameLibrary(a: SqliteLibrary, b: SqliteLibrary): boolean {
  return a.driver === b.driver && a.binding === b.binding;
}

function fix(first: SqliteLibrary): string {
  const other = "or run the code that needs the other library in a child process.";
  if (first.driver === "@db/sqlite") {
    return "Use that same @db/sqlite Database class everywhere in this process: open the " +
      "Database yourself (new Database(path, { enableLoadExtension: true })) and pass it as the " +
      `'database' option, ${other}`;
  }
  return `Use the same driver everywhere in this process: pass driver: "${first.driver}" ` +
    `(or omit 'driver' where it is the runtime's default), ${other}`;
}

/**
 * Refuses to load sqlite-sync into `library` when this isolate already loaded
 * it into another SQLite library. Call it before `loadExtension`.
 *
 * @param library The library about to load the extension.
 * @throws {SqliteSyncError} `driver`, naming both libraries and the fix.
 *
 * @example Usage
 * ```ts
 * import { assertExtensionLibrary } from "./_process_library.ts";
 * assertExtensionLibrary({ driver: "node:sqlite" }); // passes unless another library loaded it
 * ```
 */
export function assertExtensionLibrary(library: SqliteLibrary): void {
  const first = extensionLibrary();
  if (first === undefined || sameLibrary(first, library)) return;
  const wanted = first.driver === library.driver
    ? `another copy of ${describeLibrary(library)} (a different Database class, which binds ` +
      "its own libsqlite3)"
    : describeLibrary(library);
  throw new SqliteSyncError(
    "driver",
    `Cannot load sqlite-sync into ${wanted}: this process already loaded it into ` +
      `${describeLibrary(first)}. The extension serves one SQLite library per process; a ` +
      'second one crashes the process (SIGSEGV or "SQLite3 API misuse"). ' + fix(first),
  );
}

/**
 * Records the library that loaded sqlite-sync, when none is recorded yet.
 * Call it after a successful `loadExtension`.
 *
 * @param library The library that loaded the extension.
 *
 * @example Usage
 * ```ts ignore
 * import { assertExtensionLibrary, recordExtensionLibrary } from "./_process_library.ts";
 * assertExtensionLibrary(driver.library);
 * driver.loadExtension(path);
 * recordExtensionLibrary(driver.library);
 * ```
 */
export function recordExtensionLibrary(library: SqliteLibrary): void {
  const holder = globalThis as Holder;
  holder[EXTENSION_LIBRARY_KEY] ??= {
    driver: library.driver,
    ...(library.binding !== undefined ? { binding: library.binding } : {}),
    ...(library.detail !== undefined ? { detail: library.detail } : {}),
  };
}
