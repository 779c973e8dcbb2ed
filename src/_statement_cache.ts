/**
 * The prepared statements of one {@linkcode SyncDatabase}: the wrapper's own
 * fixed SQL stays cached for the connection's life; user SQL (`run`/`get`/
 * `all`) goes through a bounded least-recently-used cache whose evicted
 * statements are finalized, so a program that builds SQL strings cannot
 * grow it without limit.
 *
 * @module
 */
import type { PreparedStatement } from "../ffi/drivers/driver.ts";

/** How many user statements stay prepared; beyond that the least recently used is finalized. */
export const USER_STATEMENT_LIMIT = 128;

/** Fixed and user statements of one connection. */
export class StatementCache {
  #prepare: (sql: string) => PreparedStatement;
  #limit: number;
  #fixed = new Map<string, PreparedStatement>();
  #user = new Map<string, PreparedStatement>();

  /**
   * @param prepare Prepares one statement on the connection.
   * @param limit How many user statements to keep.
   */
  constructor(prepare: (sql: string) => PreparedStatement, limit = USER_STATEMENT_LIMIT) {
    this.#prepare = prepare;
    this.#limit = limit;
  }

  /** A statement of the wrapper's own, fixed SQL (a small, known set): cached until `clear()`. */
  fixed(sql: string): PreparedStatement {
    let stmt = this.#fixed.get(sql);
    if (stmt === undefined) {
      stmt = this.#prepare(sql);
      this.#fixed.set(sql, stmt);
    }
    return stmt;
  }

  /** A statement of caller SQL: the most recently used `limit` stay prepared. */
  user(sql: string): PreparedStatement {
    const stmt = this.#user.get(sql);
    if (stmt !== undefined) {
      // Map keeps insertion order: re-inserting makes it the most recent.
      this.#user.delete(sql);
      this.#user.set(sql, stmt);
      return stmt;
    }
    const fresh = this.#prepare(sql);
    this.#user.set(sql, fresh);
    if (this.#user.size > this.#limit) {
      const [oldest, evicted] = this.#user.entries().next().value!;
      this.#user.delete(oldest);
      evicted.finalize();
    }
    return fresh;
  }

  /** How many statements are prepared: fixed and user. */
  get size(): { fixed: number; user: number } {
    return { fixed: this.#fixed.size, user: this.#user.size };
  }

  /** Finalizes every statement (before terminate and close). */
  clear(): void {
    for (const stmt of this.#fixed.values()) stmt.finalize();
    for (const stmt of this.#user.values()) stmt.finalize();
    this.#fixed.clear();
    this.#user.clear();
  }
}
