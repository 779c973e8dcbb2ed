/**
 * What one {@linkcode SyncDatabase} shares with the helpers it delegates to
 * (tables, payloads, network): the connection, its statement cache, whether
 * it is closed, the wrappers that turn driver errors into typed ones, and the
 * close that rebuilds cloudsync's context when the driver refuses to close.
 *
 * @module
 */
import type { Driver, PreparedStatement, SqlValue } from "../ffi/drivers/driver.ts";
import { closeConnection } from "../ffi/open.ts";
import { SqliteSyncError } from "../common/errors.ts";
import { keyGuardRefusal } from "./block_guard.ts";
import { classifyError, staleContext } from "./classify.ts";
import { describeValue } from "./schema.ts";
import { StatementCache } from "./_statement_cache.ts";
import type { PayloadHost } from "./_payload.ts";
import type { TablesHost } from "./_tables.ts";

/**
 * One open connection and its statements.
 *
 * @example Usage
 * ```ts ignore
 * const core = new DatabaseCore(driver);
 * console.log(core.call("SELECT cloudsync_version() AS v", [], "version()")); // "1.1.4"
 * core.close();
 * ```
 */
export class DatabaseCore implements TablesHost, PayloadHost {
  /** The connection. */
  readonly driver: Driver;
  /** Its prepared statements: the wrapper's fixed SQL and the caller's. */
  readonly statements: StatementCache;
  #closed = false;
  #writeListeners = new Set<(dbVersion: number) => void>();
  #seenVersion = -1;

  /** @param driver A connection with the extension loaded. */
  constructor(driver: Driver) {
    this.driver = driver;
    this.statements = new StatementCache((sql) => driver.prepare(sql));
  }

  /**
   * Runs a fresh connection's first queries. Not in a constructor: when they
   * throw (a read-only non-database file…), the connection is closed instead
   * of leaking, and their error is thrown.
   */
  start(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      try {
        this.statements.clear();
        closeConnection(this.driver);
      } catch {
        // The first error is the one to report.
      }
      throw err;
    }
  }

  /** Whether {@linkcode DatabaseCore.close} succeeded. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Throws `state` once closed. */
  assertOpen(): void {
    if (this.#closed) throw new SqliteSyncError("state", "The database is closed.");
  }

  /** A cached statement of the wrapper's own SQL. */
  statement(sql: string): PreparedStatement {
    this.assertOpen();
    return this.statements.fixed(sql);
  }

  /**
   * Runs `sql` (one `SELECT fn(...) AS v`) and returns `v`; errors are
   * classified (as network errors with `network`, redacting `secrets`).
   */
  call(
    sql: string,
    params: SqlValue[],
    operation: string,
    network = false,
    secrets: readonly string[] = [],
  ): SqlValue | undefined {
    const stmt = this.statement(sql);
    try {
      return stmt.get(...params)?.v;
    } catch (err) {
      throw classifyError(err, operation, { network, secrets });
    }
  }

  /**
   * Runs the caller's SQL through `run`: checks it is text first, and turns
   * the key guard's refusal into a `schema` error.
   */
  user<T>(sql: string, run: () => T): T {
    this.assertOpen();
    if (typeof sql !== "string") {
      throw new TypeError(`Expected SQL text, got ${describeValue(sql)}`);
    }
    let result: T;
    try {
      result = run();
    } catch (err) {
      throw keyGuardRefusal(staleContext(err));
    }
    this.noticeWrites();
    return result;
  }

  /**
   * Calls `listener` after a statement or transaction of this connection
   * committed changes to synced tables (`cloudsync_db_version()` advanced), with the new version.
   * Costs one cached query per statement, and only while a listener exists.
   *
   * @returns A function that removes the listener.
   */
  onWrite(listener: (dbVersion: number) => void): () => void {
    if (this.#writeListeners.size === 0) this.#seenVersion = this.#dbVersion();
    this.#writeListeners.add(listener);
    return () => this.#writeListeners.delete(listener);
  }

  /** Tells the write listeners when the database version advanced since they last heard. */
  noticeWrites(): void {
    if (this.#writeListeners.size === 0 || this.#closed) return;
    const version = this.#dbVersion();
    if (version <= this.#seenVersion) return;
    this.#seenVersion = version;
    for (const listener of [...this.#writeListeners]) {
      try {
        listener(version);
      } catch {
        // A listener's failure must not fail the caller's write, which has committed.
      }
    }
  }

  #dbVersion(): number {
    try {
      return Number(this.statements.fixed("SELECT cloudsync_db_version() AS v").get()?.v ?? -1);
    } catch {
      return -1; // No table synced yet.
    }
  }

  /** Finalizes every statement, then cloudsync's (`cloudsync_terminate()`). */
  terminate(): void {
    this.assertOpen();
    this.statements.clear();
    this.call("SELECT cloudsync_terminate() AS v", [], "terminate()");
  }

  /**
   * Closes the connection. When the driver refuses, the connection stays
   * open and cloudsync's context, which terminating dropped, is rebuilt (see
   * {@linkcode rebuildContext}); the driver's error is thrown.
   */
  close(): void {
    if (this.#closed) return;
    this.statements.clear();
    try {
      closeConnection(this.driver);
    } catch (err) {
      try {
        rebuildContext(this.driver);
      } catch (restoreErr) {
        const reason = (e: unknown) => (e instanceof Error ? e.message : String(e));
        throw new SqliteSyncError(
          "state",
          `close() could not close the connection (${reason(err)}), and cloudsync's context, ` +
            `dropped on the way, could not be rebuilt (${reason(restoreErr)}): the database ` +
            "is open but its synced tables refuse writes. Remove the cause and call close() again.",
          { cause: err },
        );
      }
      throw err;
    }
    this.#closed = true;
  }
}

/**
 * Reloads cloudsync's context after `cloudsync_terminate()` on a connection
 * that stays open. Without it, writes to synced tables fail ("Unable to
 * retrieve table name …") and `dbVersion()` says "not initialized".
 * `cloudsync_init()` of one synced table reloads the whole context from the
 * stored configuration (synced tables, algorithms, block columns, filters,
 * site id, version counter); the stored algorithm is passed and the init-time
 * schema checks skipped (flags 7: the table passed them when first synced).
 * A table without block columns is preferred: init() of a block table may
 * add metadata rows.
 *
 * @param driver The open connection.
 * @throws What the queries throw.
 */
export function rebuildContext(driver: Driver): void {
  const row = (sql: string, ...params: SqlValue[]) => {
    const stmt = driver.prepare(sql);
    try {
      return stmt.get(...params);
    } finally {
      stmt.finalize();
    }
  };
  const configured = row(
    "SELECT 1 AS x FROM sqlite_master WHERE type = 'table' AND name = 'cloudsync_table_settings'",
  );
  const table = configured && row(
    "SELECT s.tbl_name AS t, s.value AS algo FROM cloudsync_table_settings s " +
      "WHERE s.col_name = '*' AND s.key = 'algo' ORDER BY EXISTS (SELECT 1 FROM " +
      "cloudsync_table_settings b WHERE b.tbl_name = s.tbl_name AND b.col_name != '*' " +
      "AND b.key = 'algo' AND b.value = 'block'), s.tbl_name LIMIT 1",
  );
  if (table) row("SELECT cloudsync_init(?, ?, 7) AS v", table.t, table.algo);
}
