/**
 * The `@db/sqlite` driver (Deno FFI, from JSR). Never a dependency: it is
 * imported lazily from a specifier held in a variable, so neither `deno check`
 * nor esbuild resolves it, or the caller passes a `Database` they opened.
 *
 * @module
 */
import { SqliteSyncError } from "../../common/errors.ts";
import { sqlError } from "./_adapt.ts";
import { AdaptedDriver } from "./_connection.ts";
import type { Driver } from "./driver.ts";

/** The subset of an `@db/sqlite` `Statement` this driver uses. */
export interface DbSqliteStatement {
  /** Runs the statement; returns the rows changed. */
  run(...params: unknown[]): number;
  /** The first row. */
  get(...params: unknown[]): unknown;
  /** All rows. */
  all(...params: unknown[]): unknown[];
  /** Frees the statement. Idempotent. */
  finalize(): void;
  /** Read integers beyond 32 bits exactly (number when safe, bigint beyond). */
  enableInt64?(): unknown;
  /** Keep JSON text as text. */
  disableParseJson?(): unknown;
}

/** The subset of an `@db/sqlite` `Database` this driver uses. */
export interface DbSqliteDatabase {
  /** Prepares a statement. */
  prepare(sql: string): DbSqliteStatement;
  /** Runs SQL without results. */
  exec(sql: string): number;
  /** Loads an extension; needs `enableLoadExtension`. */
  loadExtension(file: string, entryPoint?: string): void;
  /** Closes the database. Idempotent. */
  close(): void;
  /** Allows `loadExtension` (and SQL `load_extension()`) while `true`. */
  enableLoadExtension: boolean;
  /** The rowid of the last inserted row. */
  readonly lastInsertRowId: number;
  /** Whether the database is open. */
  readonly open?: boolean;
  /** Whether a transaction is open. */
  readonly inTransaction?: boolean;
  /** The file path. */
  readonly path?: string;
}

/** An `@db/sqlite` `Database` class: each copy of the module binds its own libsqlite3. */
export type DbSqliteClass = new (path: string, options: object) => DbSqliteDatabase;

interface DbSqliteModule {
  Database: DbSqliteClass;
}

/** The JSR specifier imported when no `Database` is given. */
export const DB_SQLITE_SPECIFIER = "jsr:@db/sqlite@0.13";

/** Options of {@linkcode openDbSqlite}. */
export interface DbSqliteOptions {
  /**
   * Open the file read-only.
   * @default false
   */
  readOnly?: boolean;
  /**
   * Where to import `@db/sqlite` from (a vendored copy, an import-map name).
   * @default "jsr:@db/sqlite@0.13"
   */
  specifier?: string;
}

/**
 * Tells whether a value looks like an `@db/sqlite` `Database`.
 *
 * @param value Any value.
 * @returns `true` when it has `prepare`, `loadExtension`, `lastInsertRowId` and a boolean
 *   `enableLoadExtension` property.
 *
 * @example Usage
 * ```ts
 * import { isDbSqliteDatabase } from "./db_sqlite.ts";
 * console.log(isDbSqliteDatabase({})); // false
 * ```
 */
export function isDbSqliteDatabase(value: unknown): value is DbSqliteDatabase {
  if (typeof value !== "object" || value === null) return false;
  const v = value as Record<string, unknown>;
  return typeof v.prepare === "function" && typeof v.loadExtension === "function" &&
    typeof v.enableLoadExtension === "boolean" && "lastInsertRowId" in v;
}

/**
 * Opens a database with `@db/sqlite`, imported lazily.
 *
 * @param path The file path, or `:memory:`.
 * @param options Read-only mode; where to import the module from.
 * @returns The driver.
 * @throws {SqliteSyncError} `driver` when the module cannot be imported (JSR unreachable, not
 *   Deno) or the file cannot be opened.
 *
 * @example Usage
 * ```ts ignore
 * import { openDbSqlite } from "./db_sqlite.ts";
 * const db = await openDbSqlite(":memory:");
 * db.close();
 * ```
 */
export async function openDbSqlite(path: string, options: DbSqliteOptions = {}): Promise<Driver> {
  const spec = options.specifier ?? DB_SQLITE_SPECIFIER;
  let mod: DbSqliteModule;
  try {
    mod = await import(spec);
  } catch (cause) {
    throw new SqliteSyncError(
      "driver",
      `Cannot import @db/sqlite from '${spec}': ${(cause as Error).message}. ` +
        "Open a Database yourself (import { Database } from 'jsr:@db/sqlite') and pass it " +
        "as the 'database' option, or use the default node:sqlite driver.",
      { cause },
    );
  }
  const readOnly = options.readOnly ?? false;
  return dbDriver(newDbSqliteDatabase(mod.Database, path, readOnly), path, readOnly);
}

/**
 * Opens a database with a given `@db/sqlite` `Database` class, as
 * {@linkcode openDbSqlite} does: e.g. a sibling on its parent's class, so
 * both run on the same libsqlite3 (sqlite-sync serves one per process).
 *
 * @param Database The class.
 * @param path The file path, or `:memory:`.
 * @param readOnly Open the file read-only.
 * @returns The native database, not yet adapted (pass it as the `database` option).
 * @throws {SqliteSyncError} `driver` when the file cannot be opened.
 *
 * @example Usage
 * ```ts ignore
 * import { Database } from "jsr:@db/sqlite@0.13";
 * import { newDbSqliteDatabase } from "./db_sqlite.ts";
 * const db = newDbSqliteDatabase(Database, ":memory:");
 * db.close();
 * ```
 */
export function newDbSqliteDatabase(
  Database: DbSqliteClass,
  path: string,
  readOnly = false,
): DbSqliteDatabase {
  try {
    return new Database(path, { readonly: readOnly, int64: true, parseJson: false });
  } catch (cause) {
    throw new SqliteSyncError(
      "driver",
      `@db/sqlite cannot open '${path}': ${(cause as Error).message}`,
      { cause },
    );
  }
}

/**
 * Adapts an `@db/sqlite` `Database` the caller already opened. The driver then
 * owns it: `close()` closes it.
 *
 * @param db The database.
 * @param path The path to report; read from the database when omitted.
 * @returns The driver.
 *
 * @example Usage
 * ```ts ignore
 * import { Database } from "jsr:@db/sqlite@0.13";
 * import { wrapDbSqlite } from "./db_sqlite.ts";
 * const db = wrapDbSqlite(new Database(":memory:"));
 * db.close();
 * ```
 */
export function wrapDbSqlite(db: DbSqliteDatabase, path?: string): Driver {
  return dbDriver(db, path ?? db.path ?? "", false);
}

// Parameters go as one array: a lone object argument would be read as named parameters.
function dbDriver(db: DbSqliteDatabase, path: string, readOnly: boolean): Driver {
  return new AdaptedDriver({
    name: "@db/sqlite",
    // The class identifies the libsqlite3 it binds; a sibling reopens with it.
    library: { driver: "@db/sqlite", binding: db.constructor },
    exec: (sql) => db.exec(sql),
    prepare(sql) {
      const stmt = db.prepare(sql);
      // Per statement, so a user-opened Database (int64 off by default) reads exact integers too.
      stmt.enableInt64?.();
      stmt.disableParseJson?.();
      return stmt;
    },
    loadExtension(file) {
      const before = db.enableLoadExtension;
      try {
        db.enableLoadExtension = true;
        db.loadExtension(file);
      } catch (err) {
        throw sqlError(err, "load");
      } finally {
        // Leave SQL's load_extension() off, as SQLite advises, unless the caller had it on.
        try {
          db.enableLoadExtension = before;
        } catch {
          // Library built without extension support: loadExtension already failed.
        }
      }
    },
    close: () => db.close(),
    isOpen: () => db.open !== false,
    inTransaction: () => db.inTransaction,
    statement: {
      run: (stmt, params) => ({
        changes: params.length ? stmt.run(params) : stmt.run(),
        lastInsertRowid: db.lastInsertRowId,
      }),
      // The row object is reused between calls: the shared adapter copies it.
      get: (stmt, params) =>
        (params.length ? stmt.get(params) : stmt.get()) as Record<string, unknown> | undefined,
      all: (stmt, params) =>
        (params.length ? stmt.all(params) : stmt.all()) as Record<string, unknown>[],
      // sqlite3_finalize() frees the statement but returns its last step's error, which
      // @db/sqlite throws: that error was already reported, and close() must not fail on it.
      finalize(stmt) {
        try {
          stmt.finalize();
        } catch {
          // Freed all the same.
        }
      },
    },
  }, { path, readOnly });
}
