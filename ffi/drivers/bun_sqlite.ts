/**
 * The `bun:sqlite` driver, Bun's default. On macOS Bun uses Apple's SQLite,
 * which cannot load extensions: a Homebrew `libsqlite3.dylib` must be set
 * with `Database.setCustomSQLite` before the first open.
 *
 * @module
 */
import process from "node:process";
import { SqliteSyncError } from "../../common/errors.ts";
import { sqlError } from "./_adapt.ts";
import { AdaptedDriver } from "./_connection.ts";
import type { StatementCalls } from "./_statement.ts";
import type { Driver, SqlValue } from "./driver.ts";

/** The subset of a `bun:sqlite` `Statement` this driver uses. */
export interface BunSqliteStatement {
  /** Runs the statement. */
  run(...params: SqlValue[]): { changes: number; lastInsertRowid: number | bigint };
  /** The first row, or `null`. */
  get(...params: SqlValue[]): unknown;
  /** All rows. */
  all(...params: SqlValue[]): unknown[];
  /** Frees the statement. */
  finalize(): void;
  /** Return every integer as a `bigint` (we turn safe ones back into numbers). */
  safeIntegers?(enabled: boolean): unknown;
}

/** The subset of a `bun:sqlite` `Database` this driver uses. */
export interface BunSqliteDatabase {
  /** Runs SQL without results. */
  exec(sql: string): unknown;
  /** Prepares a statement (uncached). */
  prepare(sql: string): BunSqliteStatement;
  /** Loads an extension. */
  loadExtension(path: string): void;
  /** Closes the database. Idempotent. */
  close(): void;
  /** Whether a transaction is open. */
  readonly inTransaction: boolean;
  /** The file path. */
  readonly filename?: string;
}

interface BunSqliteModule {
  Database: {
    new (
      path: string,
      options: { readonly?: boolean; create?: boolean } | number,
    ): BunSqliteDatabase;
    setCustomSQLite(path: string): boolean;
  };
}

/** `SQLITE_OPEN_READONLY | SQLITE_OPEN_URI` (sqlite3.h; the values are part of SQLite's ABI). */
const READ_ONLY_URI_FLAGS = 0x01 | 0x40;

/** Options of {@linkcode openBunSqlite}. */
export interface BunSqliteOptions {
  /**
   * Open the file read-only. `path` may then be a `file:` URI (`?immutable=1`…).
   * @default false
   */
  readOnly?: boolean;
  /**
   * Path of a `libsqlite3.dylib` that can load extensions (macOS), e.g.
   * `/opt/homebrew/opt/sqlite/lib/libsqlite3.dylib` after `brew install sqlite`.
   * Set once per process, before the first open; ignored where Bun links SQLite
   * statically (Linux).
   * @default undefined (Bun's own SQLite)
   */
  customSQLite?: string;
  /**
   * The OS, as `process.platform` names it (tests inject one).
   * @default process.platform
   */
  os?: string;
}

const HOMEBREW_SQLITE = [
  "/opt/homebrew/opt/sqlite/lib/libsqlite3.dylib",
  "/usr/local/opt/sqlite/lib/libsqlite3.dylib",
];

// setCustomSQLite works once per process, before any Database exists.
let customSQLiteInUse: string | undefined;

/**
 * Tells whether a value looks like a `bun:sqlite` `Database`.
 *
 * @param value Any value.
 * @returns `true` when it has Bun's `query`, `prepare`, `loadExtension` and `inTransaction`.
 *
 * @example Usage
 * ```ts
 * import { isBunSqliteDatabase } from "./bun_sqlite.ts";
 * console.log(isBunSqliteDatabase({})); // false
 * ```
 */
export function isBunSqliteDatabase(value: unknown): value is BunSqliteDatabase {
  if (typeof value !== "object" || value === null) return false;
  const v = value as Record<string, unknown>;
  return typeof v.query === "function" && typeof v.prepare === "function" &&
    typeof v.loadExtension === "function" && typeof v.inTransaction === "boolean";
}

/**
 * Opens a database with `bun:sqlite`.
 *
 * @param path The file path, or `:memory:`.
 * @param options Read-only mode; a custom SQLite library (macOS).
 * @returns The driver.
 * @throws {SqliteSyncError} `driver` when `bun:sqlite` is missing, the custom SQLite cannot be
 *   set, or the file cannot be opened.
 *
 * @example Usage
 * ```ts ignore
 * import { openBunSqlite } from "./bun_sqlite.ts";
 * const db = await openBunSqlite(":memory:");
 * db.close();
 * ```
 */
export async function openBunSqlite(path: string, options: BunSqliteOptions = {}): Promise<Driver> {
  let mod: BunSqliteModule;
  try {
    // A variable keeps Deno's type checker and esbuild from resolving a Bun-only module.
    const spec = "bun:sqlite";
    mod = await import(spec);
  } catch (cause) {
    throw new SqliteSyncError("driver", "bun:sqlite is only available in Bun.", { cause });
  }
  if (options.customSQLite !== undefined && options.customSQLite !== customSQLiteInUse) {
    if (customSQLiteInUse !== undefined) {
      throw new SqliteSyncError(
        "state",
        `Bun already uses the SQLite library '${customSQLiteInUse}'; it cannot switch to ` +
          `'${options.customSQLite}' within one process.`,
      );
    }
    const os = options.os ?? process.platform;
    try {
      // Returns false where Bun links SQLite statically (Linux): nothing to switch there.
      if (mod.Database.setCustomSQLite(options.customSQLite)) {
        customSQLiteInUse = options.customSQLite;
      } else if (os === "darwin") {
        throw new Error("Bun did not accept it");
      }
    } catch (cause) {
      throw new SqliteSyncError(
        "driver",
        `Bun cannot use the SQLite library '${options.customSQLite}': ` +
          `${(cause as Error).message}. It must exist and be set before any database is opened.`,
        { cause },
      );
    }
  }
  let db: BunSqliteDatabase;
  try {
    // Read-only opens take `file:` URIs too (e.g. `?immutable=1`), as node:sqlite's do: Bun
    // passes SQLITE_OPEN_URI only when given the flags as a number.
    db = new mod.Database(path, options.readOnly ? READ_ONLY_URI_FLAGS : { create: true });
  } catch (cause) {
    throw new SqliteSyncError(
      "driver",
      `bun:sqlite cannot open '${path}': ${(cause as Error).message}`,
      { cause },
    );
  }
  return bunDriver(db, path, options);
}

/**
 * Adapts a `bun:sqlite` `Database` the caller already opened. The driver then
 * owns it: `close()` closes it.
 *
 * @param db The database.
 * @param path The path to report; read from the database when omitted.
 * @param options The OS, for the macOS hint on load failures.
 * @returns The driver.
 *
 * @example Usage
 * ```ts ignore
 * import { Database } from "bun:sqlite";
 * import { wrapBunSqlite } from "./bun_sqlite.ts";
 * const db = wrapBunSqlite(new Database(":memory:"));
 * db.close();
 * ```
 */
export function wrapBunSqlite(
  db: BunSqliteDatabase,
  path?: string,
  options: Pick<BunSqliteOptions, "os"> = {},
): Driver {
  return bunDriver(db, path ?? db.filename ?? "", options);
}

const BUN_STATEMENT: StatementCalls<BunSqliteStatement> = {
  run: (stmt, params) => stmt.run(...params),
  // Bun returns null for no row.
  get: (stmt, params) => (stmt.get(...params) as Record<string, unknown> | null) ?? undefined,
  all: (stmt, params) => stmt.all(...params) as Record<string, unknown>[],
  finalize: (stmt) => stmt.finalize(),
};

function bunDriver(db: BunSqliteDatabase, path: string, options: BunSqliteOptions): Driver {
  const os = options.os ?? process.platform;
  return new AdaptedDriver({
    name: "bun:sqlite",
    // One SQLite per Bun process (setCustomSQLite is process-wide): named for messages only.
    library: {
      driver: "bun:sqlite",
      ...(customSQLiteInUse ? { detail: `custom SQLite ${customSQLiteInUse}` } : {}),
    },
    exec: (sql) => db.exec(sql),
    prepare(sql) {
      const stmt = db.prepare(sql);
      stmt.safeIntegers?.(true);
      return stmt;
    },
    loadExtension(file) {
      try {
        db.loadExtension(file);
      } catch (err) {
        if (os === "darwin" && customSQLiteInUse === undefined) {
          const cause = err instanceof Error ? err.message : String(err);
          throw new SqliteSyncError(
            "unsupported-runtime",
            `Bun on macOS uses Apple's SQLite, which cannot load extensions (${cause}). ` +
              "Install SQLite with 'brew install sqlite' and pass its library as the " +
              `'customSQLite' option, e.g. customSQLite: '${HOMEBREW_SQLITE[0]}' ` +
              `(Apple silicon) or '${HOMEBREW_SQLITE[1]}' (Intel).`,
            { cause: err },
          );
        }
        throw sqlError(err, "load");
      }
    },
    close: () => db.close(),
    isOpen: () => true,
    inTransaction: () => db.inTransaction,
    statement: BUN_STATEMENT,
  }, { path, readOnly: options.readOnly });
}
