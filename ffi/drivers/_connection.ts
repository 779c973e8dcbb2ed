/**
 * The one {@linkcode Driver} every runtime shares: the closed checks, error
 * wrapping, transactions and idempotent close. A driver supplies only its
 * native calls, as a {@linkcode NativeConnection}.
 *
 * @module
 */
import { closedError, sqlError } from "./_adapt.ts";
import { AdaptedStatement, type StatementCalls } from "./_statement.ts";
import { TransactionRunner } from "./_transaction.ts";
import type { Driver, DriverName, PreparedStatement, SqliteLibrary } from "./driver.ts";

/** What a driver supplies for its native connection and statements `S`. */
export interface NativeConnection<S> {
  /** Which driver this is. */
  readonly name: DriverName;
  /**
   * The SQLite library, when one driver can have several in a process.
   * @default { driver: name }
   */
  readonly library?: SqliteLibrary;
  /** Runs SQL without results. */
  exec(sql: string): unknown;
  /** Prepares a statement and sets it up to read exact integers. */
  prepare(sql: string): S;
  /** Loads an extension, throwing the driver's own error (with its runtime's hint). */
  loadExtension(path: string): void;
  /** Closes the native connection; called once. */
  close(): void;
  /** Whether the native connection says it is open (`true` when it cannot tell). */
  isOpen(): boolean;
  /** Whether a transaction is open, when the driver can tell. */
  inTransaction(): boolean | undefined;
  /** How to call its statements. */
  readonly statement: StatementCalls<S>;
}

/** Options of {@linkcode AdaptedDriver}. */
export interface AdaptedDriverOptions {
  /** The database path the connection was opened with. */
  path: string;
  /**
   * Whether the connection is read-only (transactions then begin deferred).
   * @default false
   */
  readOnly?: boolean;
}

/**
 * A native connection behind the {@linkcode Driver} interface.
 *
 * @example Usage
 * ```ts ignore
 * const driver = new AdaptedDriver(native, { path: ":memory:" });
 * driver.exec("create table t(x)");
 * ```
 */
export class AdaptedDriver<S> implements Driver {
  readonly name: DriverName;
  readonly library: SqliteLibrary;
  readonly path: string;
  #native: NativeConnection<S>;
  #open = true;
  #tx: TransactionRunner;

  /**
   * @param native The runtime's calls.
   * @param options The path; read-only mode.
   */
  constructor(native: NativeConnection<S>, options: AdaptedDriverOptions) {
    this.name = native.name;
    this.library = native.library ?? { driver: native.name };
    this.path = options.path;
    this.#native = native;
    this.#tx = new TransactionRunner({
      exec: (sql) => this.exec(sql),
      inTransaction: () => native.inTransaction(),
    }, options.readOnly ? "deferred" : "immediate");
  }

  get isOpen(): boolean {
    return this.#open && this.#native.isOpen();
  }

  exec(sql: string): void {
    if (!this.isOpen) throw closedError(this.path);
    try {
      this.#native.exec(sql);
    } catch (err) {
      throw sqlError(err);
    }
  }

  prepare(sql: string): PreparedStatement {
    if (!this.isOpen) throw closedError(this.path);
    try {
      const stmt = this.#native.prepare(sql);
      return new AdaptedStatement(stmt, this.#native.statement, () => this.isOpen, this.path);
    } catch (err) {
      throw sqlError(err);
    }
  }

  transaction<T>(fn: () => T): T {
    return this.#tx.run(fn);
  }

  loadExtension(path: string): void {
    if (!this.isOpen) throw closedError(this.path);
    this.#native.loadExtension(path);
  }

  close(): void {
    if (!this.#open) return;
    try {
      this.#native.close();
    } catch (err) {
      // Still open (e.g. SQLITE_BUSY with live statements): the caller may retry.
      throw sqlError(err);
    }
    this.#open = false;
  }
}
