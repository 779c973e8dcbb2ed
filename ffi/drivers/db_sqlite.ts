/**
 * The `@db/sqlite` driver (Deno FFI, from JSR). Never a dependency: it is
 * imported lazily from a specifier held in a variable, so neither `deno check`
 * nor esbuild resolves it, or the caller passes a `Database` they opened.
 *
 * @module
 */
import { SqliteSyncError } from "../../src/errors.ts";
import { closedError, sqlError, toRow } from "./_adapt.ts";
import { TransactionRunner } from "./_transaction.ts";
import type { Driver, PreparedStatement, Row, RunResult, SqlValue } from "./driver.ts";

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

interface DbSqliteModule {
  Database: new (path: string, options: object) => DbSqliteDatabase;
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
  let db: DbSqliteDatabase;
  try {
    db = new mod.Database(path, {
      readonly: options.readOnly ?? false,
      int64: true,
      parseJson: false,
    });
  } catch (cause) {
    throw new SqliteSyncError(
      "driver",
      `@db/sqlite cannot open '${path}': ${(cause as Error).message}`,
      { cause },
    );
  }
  return new DbSqliteDriver(db, path, options.readOnly ?? false);
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
  return new DbSqliteDriver(db, path ?? db.path ?? "", false);
}

class DbSqliteDriver implements Driver {
  readonly name = "@db/sqlite" as const;
  readonly path: string;
  #db: DbSqliteDatabase;
  #open = true;
  #tx: TransactionRunner;

  constructor(db: DbSqliteDatabase, path: string, readOnly: boolean) {
    this.#db = db;
    this.path = path;
    this.#tx = new TransactionRunner({
      exec: (sql) => this.exec(sql),
      inTransaction: () => db.inTransaction,
    }, readOnly ? "deferred" : "immediate");
  }

  get isOpen(): boolean {
    return this.#open && this.#db.open !== false;
  }

  exec(sql: string): void {
    if (!this.isOpen) throw closedError(this.path);
    try {
      this.#db.exec(sql);
    } catch (err) {
      throw sqlError(err);
    }
  }

  prepare(sql: string): PreparedStatement {
    if (!this.isOpen) throw closedError(this.path);
    try {
      const stmt = this.#db.prepare(sql);
      // Per statement, so a user-opened Database (int64 off by default) reads exact integers too.
      stmt.enableInt64?.();
      stmt.disableParseJson?.();
      return new DbSqliteStatementAdapter(stmt, this.#db, () => this.isOpen, this.path);
    } catch (err) {
      throw sqlError(err);
    }
  }

  transaction<T>(fn: () => T): T {
    return this.#tx.run(fn);
  }

  loadExtension(path: string): void {
    if (!this.isOpen) throw closedError(this.path);
    const before = this.#db.enableLoadExtension;
    try {
      this.#db.enableLoadExtension = true;
      this.#db.loadExtension(path);
    } catch (err) {
      throw sqlError(err, "load");
    } finally {
      // Leave SQL's load_extension() off, as SQLite advises, unless the caller had it on.
      try {
        this.#db.enableLoadExtension = before;
      } catch {
        // Library built without extension support: loadExtension already failed.
      }
    }
  }

  close(): void {
    if (!this.#open) return;
    this.#open = false;
    try {
      this.#db.close();
    } catch (err) {
      throw sqlError(err);
    }
  }
}

class DbSqliteStatementAdapter implements PreparedStatement {
  #stmt: DbSqliteStatement | undefined;
  #db: DbSqliteDatabase;
  #isOpen: () => boolean;
  #path: string;

  constructor(stmt: DbSqliteStatement, db: DbSqliteDatabase, isOpen: () => boolean, path: string) {
    this.#stmt = stmt;
    this.#db = db;
    this.#isOpen = isOpen;
    this.#path = path;
  }

  #live(): DbSqliteStatement {
    if (this.#stmt === undefined) {
      throw new SqliteSyncError("state", "The statement was finalized: prepare it again.");
    }
    if (!this.#isOpen()) throw closedError(this.#path);
    return this.#stmt;
  }

  // Parameters go as one array: a lone object argument would be read as named parameters.
  run(...params: SqlValue[]): RunResult {
    const stmt = this.#live();
    try {
      const changes = params.length ? stmt.run(params) : stmt.run();
      return { changes, lastInsertRowid: this.#db.lastInsertRowId };
    } catch (err) {
      throw sqlError(err);
    }
  }

  get(...params: SqlValue[]): Row | undefined {
    const stmt = this.#live();
    try {
      // The row object is reused between calls: copy it.
      const row = (params.length ? stmt.get(params) : stmt.get()) as Record<string, unknown>;
      return row === undefined ? undefined : toRow(row);
    } catch (err) {
      throw sqlError(err);
    }
  }

  all(...params: SqlValue[]): Row[] {
    const stmt = this.#live();
    try {
      const rows = (params.length ? stmt.all(params) : stmt.all()) as Record<string, unknown>[];
      return rows.map(toRow);
    } catch (err) {
      throw sqlError(err);
    }
  }

  finalize(): void {
    if (this.#stmt === undefined) return;
    const stmt = this.#stmt;
    this.#stmt = undefined;
    if (this.#isOpen()) stmt.finalize();
  }
}
