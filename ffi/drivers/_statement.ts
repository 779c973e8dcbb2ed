/**
 * The one {@linkcode PreparedStatement} every driver shares: the finalized and
 * closed checks, error wrapping and value conversion. A driver supplies only
 * the native calls, as {@linkcode StatementCalls}.
 *
 * @module
 */
import { SqliteSyncError } from "../../common/errors.ts";
import { closedError, sqlError, toRow, toSqlValue } from "./_adapt.ts";
import type { PreparedStatement, Row, RunResult, SqlValue } from "./driver.ts";

/** How a driver calls its native statement `S`. */
export interface StatementCalls<S> {
  /** Runs the statement. */
  run(stmt: S, params: SqlValue[]): { changes: number | bigint; lastInsertRowid: number | bigint };
  /** The first row, or `undefined` when there is none. */
  get(stmt: S, params: SqlValue[]): Record<string, unknown> | undefined;
  /** All rows. */
  all(stmt: S, params: SqlValue[]): Record<string, unknown>[];
  /** Frees the statement while the connection is open; omitted when the driver has no such call. */
  finalize?(stmt: S): void;
}

/**
 * A native statement behind the shared interface.
 *
 * @example Usage
 * ```ts ignore
 * const stmt = new AdaptedStatement(native, calls, () => driver.isOpen, driver.path);
 * stmt.all(1);
 * ```
 */
export class AdaptedStatement<S> implements PreparedStatement {
  #stmt: S | undefined;
  #calls: StatementCalls<S>;
  #isOpen: () => boolean;
  #path: string;

  /**
   * @param stmt The native statement.
   * @param calls How to call it.
   * @param isOpen Whether its connection is still open.
   * @param path The connection's path, for the closed error.
   */
  constructor(stmt: S, calls: StatementCalls<S>, isOpen: () => boolean, path: string) {
    this.#stmt = stmt;
    this.#calls = calls;
    this.#isOpen = isOpen;
    this.#path = path;
  }

  #live(): S {
    if (this.#stmt === undefined) {
      throw new SqliteSyncError("state", "The statement was finalized: prepare it again.");
    }
    if (!this.#isOpen()) throw closedError(this.#path);
    return this.#stmt;
  }

  run(...params: SqlValue[]): RunResult {
    const stmt = this.#live();
    try {
      const r = this.#calls.run(stmt, params);
      return {
        changes: Number(r.changes),
        lastInsertRowid: toSqlValue(r.lastInsertRowid) as number | bigint,
      };
    } catch (err) {
      throw sqlError(err);
    }
  }

  get(...params: SqlValue[]): Row | undefined {
    const stmt = this.#live();
    try {
      const row = this.#calls.get(stmt, params);
      return row === undefined ? undefined : toRow(row);
    } catch (err) {
      throw sqlError(err);
    }
  }

  all(...params: SqlValue[]): Row[] {
    const stmt = this.#live();
    try {
      return this.#calls.all(stmt, params).map(toRow);
    } catch (err) {
      throw sqlError(err);
    }
  }

  finalize(): void {
    if (this.#stmt === undefined) return;
    const stmt = this.#stmt;
    this.#stmt = undefined;
    // Without a native finalize, dropping the reference lets GC (or close) free it.
    if (this.#calls.finalize !== undefined && this.#isOpen()) this.#calls.finalize(stmt);
  }
}
