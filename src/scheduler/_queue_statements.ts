/**
 * The connection of one sync queue as its readers and writers use it:
 * statements prepared once and finalized on close, the closed check, a
 * damaged file reported as such, and `BEGIN IMMEDIATE` transactions.
 *
 * @module
 */
import { SqliteSyncError } from "../../common/errors.ts";
import type { Driver, PreparedStatement } from "../../ffi/drivers/driver.ts";
import { isDamagedFileError, queueFileError } from "./_queue_schema.ts";

/**
 * The prepared statements of one queue connection.
 *
 * @example Usage
 * ```ts ignore
 * const sql = new QueueStatements(driver);
 * const depth = sql.guard(() => sql.q("SELECT count(*) AS n FROM jobs").get()!.n);
 * sql.close();
 * ```
 */
export class QueueStatements {
  /** The connection, with the queue's schema in place. */
  readonly driver: Driver;
  #statements = new Map<string, PreparedStatement>();
  #open = true;

  /** @param driver The connection, with the schema in place. */
  constructor(driver: Driver) {
    this.driver = driver;
  }

  /** Whether neither the statements nor the connection are closed. */
  get isOpen(): boolean {
    return this.#open && this.driver.isOpen;
  }

  /** The statement for `sql`, prepared on first use. */
  q(sql: string): PreparedStatement {
    let stmt = this.#statements.get(sql);
    if (stmt === undefined) {
      stmt = this.driver.prepare(sql);
      this.#statements.set(sql, stmt);
    }
    return stmt;
  }

  /**
   * Runs `fn` unless closed (a `state` error then); a damaged file becomes a
   * `schema` error naming it.
   */
  guard<T>(fn: () => T): T {
    if (!this.#open) {
      throw new SqliteSyncError(
        "state",
        `The sync queue '${this.driver.path}' is closed: open it again with SyncQueue.open().`,
      );
    }
    try {
      return fn();
    } catch (err) {
      if (isDamagedFileError(err)) {
        throw queueFileError(this.driver.path, "is damaged", undefined, err);
      }
      throw err;
    }
  }

  /** {@linkcode QueueStatements.guard} around one transaction. */
  tx<T>(fn: () => T): T {
    return this.guard(() => this.driver.transaction(fn));
  }

  /** Finalizes the statements (the caller closes the connection). Idempotent. */
  close(): void {
    if (!this.#open) return;
    this.#open = false;
    for (const stmt of this.#statements.values()) stmt.finalize();
    this.#statements.clear();
  }
}
