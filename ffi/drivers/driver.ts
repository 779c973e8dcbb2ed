/**
 * The one small interface every SQLite driver is adapted to. The typed API
 * and the scheduler see only this, never a runtime's own classes.
 *
 * @module
 */

/** The drivers this library can use. */
export type DriverName = "node:sqlite" | "bun:sqlite" | "@db/sqlite";

/** A value SQLite can store or bind. */
export type SqlValue = null | number | bigint | string | Uint8Array;

/** One result row, by column name. */
export type Row = Record<string, SqlValue>;

/** What a write statement changed. */
export interface RunResult {
  /** Rows changed by the statement. */
  changes: number;
  /** The rowid of the last inserted row. */
  lastInsertRowid: number | bigint;
}

/** A prepared statement with positional parameters. */
export interface PreparedStatement {
  /** Runs the statement and reports what it changed. */
  run(...params: SqlValue[]): RunResult;
  /** The first row, or `undefined` when there is none. */
  get(...params: SqlValue[]): Row | undefined;
  /** All rows. */
  all(...params: SqlValue[]): Row[];
  /** Releases the statement. Idempotent. */
  finalize(): void;
}

/**
 * The SQLite library a connection runs on. sqlite-sync serves one per process
 * (see `_process_library.ts`), so a sibling connection must use its parent's.
 */
export interface SqliteLibrary {
  /** The driver. */
  readonly driver: DriverName;
  /**
   * What tells two libraries of one driver apart: `@db/sqlite`'s `Database`
   * class (each copy of that module binds its own libsqlite3). `undefined` for
   * `node:sqlite` and `bun:sqlite`, which have one SQLite per process.
   */
  readonly binding?: unknown;
  /** Where the library comes from, for messages (e.g. bun:sqlite's custom SQLite). */
  readonly detail?: string;
}

/** An open SQLite connection. */
export interface Driver {
  /** Which driver this is. */
  readonly name: DriverName;
  /** The SQLite library the connection runs on. */
  readonly library: SqliteLibrary;
  /** The database path the connection was opened with. */
  readonly path: string;
  /** Runs one or more statements without parameters or results. */
  exec(sql: string): void;
  /** Prepares one statement. */
  prepare(sql: string): PreparedStatement;
  /**
   * Runs `fn` in a transaction (a savepoint when one is already open):
   * commits when it returns, rolls back and rethrows when it throws.
   */
  transaction<T>(fn: () => T): T;
  /** Loads a SQLite extension from a file. */
  loadExtension(path: string): void;
  /** Closes the connection. Idempotent. */
  close(): void;
  /** Whether the connection is open. */
  readonly isOpen: boolean;
}
