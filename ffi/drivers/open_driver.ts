/**
 * Picks and opens a driver: the runtime's default, a named one, or the
 * caller's own database object, detected by shape.
 *
 * @module
 */
import { SqliteSyncError } from "../../common/errors.ts";
import { detectRuntime, type RuntimeInfo } from "../runtime.ts";
import { isBunSqliteDatabase, openBunSqlite, wrapBunSqlite } from "./bun_sqlite.ts";
import {
  type DbSqliteClass,
  isDbSqliteDatabase,
  newDbSqliteDatabase,
  openDbSqlite,
  wrapDbSqlite,
} from "./db_sqlite.ts";
import type { Driver, DriverName } from "./driver.ts";
import { isNodeSqliteDatabase, openNodeSqlite, wrapNodeSqlite } from "./node_sqlite.ts";

const DRIVER_NAMES: readonly DriverName[] = ["node:sqlite", "bun:sqlite", "@db/sqlite"];

/** Options of {@linkcode openDriver}. */
export interface OpenDriverOptions {
  /**
   * Which driver to use.
   * @default "node:sqlite" in Deno and Node, "bun:sqlite" in Bun
   */
  driver?: DriverName;
  /**
   * A database the caller opened: a `node:sqlite` `DatabaseSync` (with
   * `allowExtension: true`), a `bun:sqlite` `Database` or an `@db/sqlite`
   * `Database`. The driver takes ownership: closing the driver closes it.
   * @default undefined (the driver opens `path`)
   */
  database?: unknown;
  /**
   * Bun only: path of a `libsqlite3.dylib` that can load extensions (macOS).
   * @default undefined
   */
  customSQLite?: string;
  /**
   * Open the file read-only.
   * @default false
   */
  readOnly?: boolean;
  /**
   * The runtime; detected when omitted (tests inject one, e.g. Deno Deploy).
   * @default detectRuntime()
   */
  runtime?: RuntimeInfo;
}

/**
 * The driver a runtime uses by default.
 *
 * @param runtime The runtime.
 * @returns `bun:sqlite` in Bun, `node:sqlite` elsewhere.
 *
 * @example Usage
 * ```ts
 * import { defaultDriverName } from "./open_driver.ts";
 * console.log(defaultDriverName({ name: "bun", version: "1.4.5", denoDeploy: false })); // "bun:sqlite"
 * ```
 */
export function defaultDriverName(runtime: RuntimeInfo): DriverName {
  return runtime.name === "bun" ? "bun:sqlite" : "node:sqlite";
}

/**
 * Refuses runtimes that cannot load native extensions at all.
 *
 * @param runtime The runtime.
 * @throws {SqliteSyncError} `unsupported-runtime` on Deno Deploy.
 *
 * @example Usage
 * ```ts
 * import { assertRuntimeSupported } from "./open_driver.ts";
 * assertRuntimeSupported({ name: "deno", version: "2.9.6", denoDeploy: false });
 * ```
 */
export function assertRuntimeSupported(runtime: RuntimeInfo): void {
  if (runtime.denoDeploy) {
    throw new SqliteSyncError(
      "unsupported-runtime",
      "Deno Deploy allows no FFI and no native SQLite extensions, so sqlite-sync cannot be " +
        "loaded there. Run on Deno, Bun or Node on a host you control (a VM, a container).",
    );
  }
}

/**
 * Adapts a database object the caller opened, recognised by its shape.
 *
 * @param database A `node:sqlite`, `bun:sqlite` or `@db/sqlite` database.
 * @param path The path to report; read from the database when omitted.
 * @param driver The driver name, when the caller knows it (skips detection).
 * @returns The driver.
 * @throws {TypeError} When the object is none of the three.
 *
 * @example Usage
 * ```ts ignore
 * import { DatabaseSync } from "node:sqlite";
 * import { wrapDatabase } from "./open_driver.ts";
 * const db = wrapDatabase(new DatabaseSync(":memory:", { allowExtension: true }));
 * console.log(db.name); // "node:sqlite"
 * ```
 */
export function wrapDatabase(database: unknown, path?: string, driver?: DriverName): Driver {
  // Bun's and @db/sqlite's are checked first: node:sqlite's shape is the loosest.
  if (driver === "bun:sqlite" || (driver === undefined && isBunSqliteDatabase(database))) {
    return wrapBunSqlite(database as Parameters<typeof wrapBunSqlite>[0], path);
  }
  if (driver === "@db/sqlite" || (driver === undefined && isDbSqliteDatabase(database))) {
    return wrapDbSqlite(database as Parameters<typeof wrapDbSqlite>[0], path);
  }
  if (driver === "node:sqlite" || (driver === undefined && isNodeSqliteDatabase(database))) {
    return wrapNodeSqlite(database as Parameters<typeof wrapNodeSqlite>[0], path);
  }
  throw new TypeError(
    "Cannot use the 'database' option: it must be a node:sqlite DatabaseSync, a bun:sqlite " +
      `Database or an @db/sqlite Database; got ${describe(database)}.`,
  );
}

function describe(value: unknown): string {
  if (value === null || typeof value !== "object") return String(value);
  return `an object of class ${value.constructor?.name ?? "Object"}`;
}

/**
 * Opens a SQLite connection with the runtime's default driver, a named one,
 * or wraps the caller's database.
 *
 * @param path The file path, or `:memory:`.
 * @param options Driver, user database, custom SQLite, read-only mode.
 * @returns The driver.
 * @throws {SqliteSyncError} `unsupported-runtime` on Deno Deploy or a too-old runtime; `driver`
 *   when the driver is unavailable or cannot open the file.
 * @throws {TypeError} For an unknown driver name or an unrecognised `database`.
 *
 * @example Usage
 * ```ts
 * import { openDriver } from "./open_driver.ts";
 * const db = await openDriver(":memory:");
 * console.log(db.prepare("select 1 as one").get()); // { one: 1 }
 * db.close();
 * ```
 */
export async function openDriver(path: string, options: OpenDriverOptions = {}): Promise<Driver> {
  const { driver, database, customSQLite, readOnly = false } = options;
  if (driver !== undefined && !DRIVER_NAMES.includes(driver)) {
    throw new TypeError(
      `Cannot open '${path}' as 'driver' must be one of ${DRIVER_NAMES.join(", ")}: ` +
        `current value is ${JSON.stringify(driver)}`,
    );
  }
  const runtime = options.runtime ?? detectRuntime();
  assertRuntimeSupported(runtime);
  if (database !== undefined) return wrapDatabase(database, path || undefined, driver);
  switch (driver ?? defaultDriverName(runtime)) {
    case "bun:sqlite":
      return await openBunSqlite(path, { readOnly, customSQLite });
    case "@db/sqlite":
      return await openDbSqlite(path, { readOnly });
    default:
      return await openNodeSqlite(path, { readOnly, runtime });
  }
}

/** How to open a sibling connection: what {@linkcode siblingOptions} returns. */
export interface SiblingOptions {
  /** The parent's driver (`undefined` with the caller's own `database`: detected, then guarded). */
  driver?: DriverName;
  /**
   * A database opened on the parent's library (`@db/sqlite`: its `Database`
   * class), or the caller's own; pass it as the `database` option.
   */
  database?: unknown;
  /** Closes `database` when it was opened here and the sibling failed to open. */
  discard(): void;
}

/**
 * Chooses how a sibling of `parent` is opened: on the same SQLite library
 * (sqlite-sync serves one per process), so with the same driver and, for
 * `@db/sqlite`, the parent's `Database` class (the default JSR import may be
 * unreachable, or bind another libsqlite3).
 *
 * @param parent The parent connection.
 * @param path The file to open.
 * @param options The caller's `driver`, `database` and `readOnly` options.
 * @returns The driver, the database to wrap, and how to discard it.
 * @throws {SqliteSyncError} `driver` when `options.driver` is not the parent's; `driver` when
 *   the `@db/sqlite` file cannot be opened.
 *
 * @example Usage
 * ```ts ignore
 * import { siblingOptions } from "./open_driver.ts";
 * const sibling = siblingOptions(parent, parent.path, {});
 * console.log(sibling.driver === parent.name); // true
 * ```
 */
export function siblingOptions(
  parent: Driver,
  path: string,
  options: { driver?: DriverName; database?: unknown; readOnly?: boolean },
): SiblingOptions {
  const library = parent.library;
  if (options.driver !== undefined && options.driver !== library.driver) {
    throw new SqliteSyncError(
      "driver",
      `openSibling() cannot use driver: ${JSON.stringify(options.driver)}: the parent ` +
        `connection runs on ${library.driver}, and sqlite-sync serves one SQLite library per ` +
        `process. Omit 'driver' (the sibling uses ${library.driver}).`,
    );
  }
  const keep = () => {};
  if (options.database !== undefined) {
    // The caller's own connection: detected by shape; a foreign library is refused at load.
    return { driver: options.driver, database: options.database, discard: keep };
  }
  if (library.driver !== "@db/sqlite" || typeof library.binding !== "function") {
    return { driver: library.driver, discard: keep };
  }
  const database = newDbSqliteDatabase(
    library.binding as DbSqliteClass,
    path,
    options.readOnly ?? false,
  );
  return {
    driver: library.driver,
    database,
    discard() {
      try {
        database.close();
      } catch {
        // Best effort: the error that stopped the sibling is the one to report.
      }
    },
  };
}
