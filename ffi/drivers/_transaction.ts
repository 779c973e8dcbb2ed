/**
 * The one transaction helper every driver shares: BEGIN/COMMIT/ROLLBACK at the
 * top level, SAVEPOINTs when nested.
 *
 * @module
 */

/** What the helper needs from a connection. */
export interface TransactionHost {
  /** Runs SQL without parameters. */
  exec(sql: string): void;
  /**
   * Whether SQLite has a transaction open, when the driver can tell
   * (`undefined` otherwise). Catches a `BEGIN` the caller ran by hand.
   */
  inTransaction(): boolean | undefined;
}

/** How a top-level transaction starts. */
export type BeginMode = "deferred" | "immediate";

/**
 * Runs transactions on one connection. Keeps the nesting depth so inner calls
 * become savepoints.
 *
 * @example Usage
 * ```ts ignore
 * const tx = new TransactionRunner(host, "immediate");
 * tx.run(() => host.exec("insert into t values (1)"));
 * ```
 */
export class TransactionRunner {
  #host: TransactionHost;
  #begin: string;
  #depth = 0;

  /**
   * @param host The connection.
   * @param mode `immediate` takes the write lock at BEGIN, so the busy timeout
   *   applies there instead of failing a later read-to-write upgrade with
   *   SQLITE_BUSY; read-only connections use `deferred`.
   */
  constructor(host: TransactionHost, mode: BeginMode) {
    this.#host = host;
    this.#begin = mode === "immediate" ? "BEGIN IMMEDIATE" : "BEGIN";
  }

  /**
   * Runs `fn` in a transaction, or in a savepoint when one is already open.
   *
   * @param fn A synchronous function.
   * @returns What `fn` returned.
   * @throws {TypeError} When `fn` returns a promise (it would commit before the work ends).
   * @throws Whatever `fn`, BEGIN or COMMIT threw, after rolling back.
   */
  run<T>(fn: () => T): T {
    const nested = this.#depth > 0 || this.#host.inTransaction() === true;
    const name = `sqlite_sync_sp${this.#depth}`;
    this.#host.exec(nested ? `SAVEPOINT ${name}` : this.#begin);
    this.#depth++;
    let result: T;
    try {
      result = fn();
      if (isThenable(result)) {
        throw new TypeError(
          "transaction() needs a synchronous function: the callback returned a promise, " +
            "which would commit before its work ended",
        );
      }
    } catch (err) {
      this.#depth--;
      this.#rollback(nested, name);
      throw err;
    }
    this.#depth--;
    try {
      this.#host.exec(nested ? `RELEASE ${name}` : "COMMIT");
    } catch (err) {
      // A failed COMMIT (a commit hook, SQLITE_BUSY) can leave the transaction
      // open; roll it back so the connection stays usable.
      this.#rollback(nested, name);
      throw err;
    }
    return result;
  }

  #rollback(nested: boolean, name: string): void {
    try {
      if (nested) this.#host.exec(`ROLLBACK TO ${name}; RELEASE ${name}`);
      else if (this.#host.inTransaction() !== false) this.#host.exec("ROLLBACK");
    } catch {
      // SQLite already rolled back (e.g. after SQLITE_FULL); the original error matters.
    }
  }
}

function isThenable(value: unknown): boolean {
  return typeof value === "object" && value !== null &&
    typeof (value as { then?: unknown }).then === "function";
}
