/**
 * Table configuration behind {@linkcode SyncDatabase}: init, enable/disable,
 * cleanup, block columns and their key guards, row filters, text
 * materialisation and the alter flow, plus the metadata queries they share
 * (which tables are synced, which have block columns). Table and column names
 * are matched as SQLite matches them (ASCII letters ignore case) and passed to
 * the extension as stored.
 *
 * @module
 */
import type { Driver, PreparedStatement, SqlValue } from "../ffi/drivers/driver.ts";
import {
  assertBlockTableName,
  installKeyGuard,
  installMissingKeyGuards,
  KEY_GUARDS,
} from "./block_guard.ts";
import { SqliteSyncError } from "../common/errors.ts";
import { assertFilterExpression } from "./filter.ts";
import {
  assertBlockCandidate,
  assertColumn,
  assertIdentifier,
  describeValue,
  foldIdentifier,
  type InitChecks,
  initFlags,
  preflightTable,
  quoteIdentifier,
  tableColumns,
  tablesToInit,
} from "./schema.ts";

/** CRDT algorithms that work in sqlite-sync 1.1.4 (`dws`/`aws` are documented but rejected). */
export type Algorithm = "cls" | "gos";

/** Options of {@linkcode SyncDatabase.init}. */
export interface InitOptions extends InitChecks {
  /** `cls` (causal-length set, insert/update/delete) or `gos` (grow-only set, insert only). @default "cls" */
  algorithm?: Algorithm;
}

/**
 * A table a sync service initialises when it is not synced yet: its name and
 * its {@linkcode SyncDatabase.init} options.
 *
 * @example Usage
 * ```ts
 * import type { TableSpec } from "@sqliteai/sync";
 * const notes: TableSpec = { name: "notes", algorithm: "cls" };
 * console.log(notes.name); // "notes"
 * ```
 */
export interface TableSpec extends InitOptions {
  /** The table name. */
  name: string;
}

/** Options of {@linkcode SyncDatabase.cleanup}. */
export interface CleanupOptions {
  /**
   * Required when `table` is the last synced table: cleaning it also drops all
   * cloudsync metadata, including this device's site id (a new identity follows).
   * @default false
   */
  destroySiteIdentity?: boolean;
}

/** Options of {@linkcode SyncDatabase.setColumn}. */
export interface ColumnOptions {
  /** Block-level LWW, the only column algorithm. */
  algorithm: "block";
  /** What separates blocks. @default "\n" */
  delimiter?: string;
}

/** What the table methods need from their database. */
export interface TablesHost {
  /** The connection. */
  readonly driver: Driver;
  /** Throws when the database is closed. */
  assertOpen(): void;
  /** A cached statement of fixed SQL. */
  statement(sql: string): PreparedStatement;
  /** Runs `sql` (one `SELECT fn(...) AS v`) and returns `v`, classifying errors. */
  call(sql: string, params: SqlValue[], operation: string): SqlValue | undefined;
}

const HAS_META =
  "SELECT 1 AS x FROM sqlite_master WHERE type = 'table' AND name = 'cloudsync_table_settings'";
const SYNCED =
  "SELECT DISTINCT tbl_name AS t FROM cloudsync_table_settings WHERE col_name = '*' AND key = 'algo' ORDER BY 1";
const IS_BLOCK = "SELECT 1 AS x FROM cloudsync_table_settings WHERE tbl_name = ? COLLATE NOCASE " +
  "AND col_name = ? COLLATE NOCASE AND key = 'algo' AND value = 'block'";
const BLOCK_TABLES =
  "SELECT DISTINCT tbl_name AS t FROM cloudsync_table_settings WHERE col_name != '*' AND key = 'algo' AND value = 'block'";

/** The table configuration of one database. */
export class Tables {
  #host: TablesHost;
  #blockTables: ReadonlySet<string> = new Set();
  #blockNames: readonly string[] = [];

  /** @param host The owning database's hooks. */
  constructor(host: TablesHost) {
    this.#host = host;
  }

  /** Lower-cased names of the tables that have block columns (as of the last refresh). */
  get blockTables(): ReadonlySet<string> {
    return this.#blockTables;
  }

  /** Re-reads which tables have block columns. */
  refresh(): void {
    const rows = this.#hasMeta() ? this.#host.statement(BLOCK_TABLES).all() : [];
    this.#blockNames = rows.map((r) => String(r.t));
    this.#blockTables = new Set(this.#blockNames.map(foldIdentifier));
  }

  /** The synced tables, sorted. */
  synced(): string[] {
    this.#host.assertOpen();
    if (!this.#hasMeta()) return [];
    return this.#host.statement(SYNCED).all().map((r) => String(r.t));
  }

  /**
   * The synced table `table` names, as stored (SQLite matches names ignoring ASCII case).
   *
   * @throws {TypeError} for `*` or a malformed name; {SqliteSyncError} `state` when not synced.
   */
  syncedTable(table: string, operation: string): string {
    this.#host.assertOpen();
    if (table === "*") {
      throw new TypeError(
        `${operation}: "*" (every table) is accepted only by init(); name one table.`,
      );
    }
    assertIdentifier(table, "table");
    const stored = this.#syncedName(table);
    if (stored === undefined) {
      throw new SqliteSyncError(
        "state",
        `Table ${JSON.stringify(table)} is not enabled for sync: call init(${
          JSON.stringify(table)
        }) first.`,
      );
    }
    return stored;
  }

  /** See {@linkcode SyncDatabase.enable} and {@linkcode SyncDatabase.disable}. */
  setEnabled(table: string, enabled: boolean): void {
    const operation = enabled ? "enable()" : "disable()";
    const sql = `SELECT cloudsync_${enabled ? "enable" : "disable"}(?) AS v`;
    this.#host.call(sql, [this.syncedTable(table, operation)], operation);
  }

  /** See {@linkcode SyncDatabase.isEnabled}. */
  isEnabled(table: string): boolean {
    this.#host.assertOpen();
    assertIdentifier(table, "table");
    const name = this.#syncedName(table) ?? table;
    return Number(this.#host.call("SELECT cloudsync_is_enabled(?) AS v", [name], "isEnabled()")) ===
      1;
  }

  /** See {@linkcode SyncDatabase.init}. */
  init(table: string, options: InitOptions): string {
    this.#host.assertOpen();
    const { algorithm = "cls", ...checks } = options;
    if (algorithm !== "cls" && algorithm !== "gos") {
      throw new SqliteSyncError(
        "schema",
        `Cannot init ${describeValue(table)} with algorithm ${
          describeValue(algorithm)
        }: sqlite-sync 1.1.4 supports ` +
          `only "cls" (default) and "gos"; "dws" and "aws" are documented but rejected by the extension.`,
      );
    }
    const driver = this.#host.driver;
    const tables = tablesToInit(driver, table);
    for (const t of tables) preflightTable(driver, t, checks);
    const flags = initFlags(checks);
    // One transaction: with '*' either every table is synced or none is.
    const id = driver.transaction(() => {
      let last: SqlValue | undefined;
      for (const t of tables) {
        last = this.#host.call(
          "SELECT cloudsync_init(?, ?, ?) AS v",
          [t, algorithm, flags],
          "init()",
        );
      }
      return last;
    });
    this.refresh();
    return String(id).toLowerCase();
  }

  /** See {@linkcode SyncDatabase.cleanup}. */
  cleanup(table: string, options: CleanupOptions): void {
    const name = this.syncedTable(table, "cleanup()");
    const synced = this.synced();
    if (synced.length === 1 && synced[0] === name && options.destroySiteIdentity !== true) {
      throw new SqliteSyncError(
        "state",
        `cleanup(${
          JSON.stringify(name)
        }) would remove the last synced table, which also deletes all ` +
          `cloudsync metadata and this device's site id. Pass { destroySiteIdentity: true } to confirm.`,
      );
    }
    this.#host.driver.transaction(() => {
      this.#host.call("SELECT cloudsync_cleanup(?) AS v", [name], "cleanup()");
      // cloudsync_cleanup drops only its own triggers: the key guard goes here.
      const key = foldIdentifier(name);
      for (const guard of this.#host.statement(KEY_GUARDS).all()) {
        if (foldIdentifier(String(guard.t)) !== key) continue;
        this.#host.driver.exec(`DROP TRIGGER IF EXISTS ${quoteIdentifier(String(guard.name))}`);
      }
    });
    this.refresh();
  }

  /** See {@linkcode SyncDatabase.setColumn}. */
  setColumn(table: string, column: string, options: ColumnOptions): void {
    const name = this.syncedTable(table, "setColumn()");
    const driver = this.#host.driver;
    const info = assertColumn(driver, name, column);
    assertBlockCandidate(info, name);
    if (options?.algorithm !== "block") {
      throw new TypeError(
        `setColumn(): algorithm must be "block", got ${describeValue(options?.algorithm)}`,
      );
    }
    if (
      options.delimiter !== undefined &&
      (typeof options.delimiter !== "string" || options.delimiter.includes("\0"))
    ) {
      throw new TypeError(
        `setColumn(): delimiter must be a string without NUL, got ${
          describeValue(options.delimiter)
        }`,
      );
    }
    assertBlockTableName(name);
    driver.transaction(() => {
      this.#host.call(
        "SELECT cloudsync_set_column(?, ?, 'algo', 'block') AS v",
        [name, info.name],
        "setColumn()",
      );
      if (options.delimiter !== undefined) {
        this.#host.call(
          "SELECT cloudsync_set_column(?, ?, 'delimiter', ?) AS v",
          [name, info.name, options.delimiter],
          "setColumn()",
        );
      }
      installKeyGuard(driver, name);
    });
    this.refresh();
  }

  /** See {@linkcode SyncDatabase.setFilter}. */
  setFilter(table: string, expression: string): void {
    const name = this.syncedTable(table, "setFilter()");
    assertFilterExpression(this.#host.driver, name, expression);
    // cloudsync_set_filter rewrites the triggers before it refills metadata; when
    // the refill fails it leaves the new triggers behind. A transaction undoes them.
    try {
      this.#host.driver.transaction(() => {
        this.#host.call(
          "SELECT cloudsync_set_filter(?, ?) AS v",
          [name, expression],
          "setFilter()",
        );
      });
    } catch (err) {
      if (!(err instanceof SqliteSyncError) || err.kind !== "sql") throw err;
      throw new SqliteSyncError(
        "schema",
        `setFilter(): ${describeValue(expression)} failed when evaluated over the rows of table ${
          JSON.stringify(name)
        }, nothing was changed: ${err.message}`,
        { cause: err },
      );
    }
  }

  /** See {@linkcode SyncDatabase.clearFilter}. */
  clearFilter(table: string): void {
    const name = this.syncedTable(table, "clearFilter()");
    this.#host.call("SELECT cloudsync_clear_filter(?) AS v", [name], "clearFilter()");
  }

  /** See {@linkcode SyncDatabase.textMaterialize}. */
  textMaterialize(table: string, column: string, pk: SqlValue[]): void {
    const name = this.syncedTable(table, "textMaterialize()");
    const driver = this.#host.driver;
    column = assertColumn(driver, name, column).name;
    if (!this.#isBlockColumn(name, column)) {
      throw new SqliteSyncError(
        "schema",
        `textMaterialize(): column ${JSON.stringify(column)} of table ${
          JSON.stringify(name)
        } is not block-level; call setColumn(${JSON.stringify(name)}, ${
          JSON.stringify(column)
        }, { algorithm: "block" }) first.`,
      );
    }
    const pkCount = tableColumns(driver, name).filter((c) => c.pk > 0).length;
    if (pk.length !== pkCount) {
      throw new TypeError(
        `textMaterialize(): table ${
          JSON.stringify(name)
        } has ${pkCount} primary key column(s), got ${pk.length} value(s)`,
      );
    }
    const marks = pk.map(() => "?").join(", ");
    this.#host.call(
      `SELECT cloudsync_text_materialize(?, ?, ${marks}) AS v`,
      [name, column, ...pk],
      "textMaterialize()",
    );
  }

  /** See {@linkcode SyncDatabase.alter}; `fn` runs the DDL. */
  alter(table: string, fn: () => unknown): void {
    const name = this.syncedTable(table, "alter()");
    if (typeof fn !== "function") {
      throw new TypeError("alter(): expected a function running the DDL");
    }
    this.#host.driver.transaction(() => {
      this.#host.call("SELECT cloudsync_begin_alter(?) AS v", [name], "alter()");
      const result = fn();
      if (result instanceof Promise) {
        throw new TypeError(
          "alter(): the function must be synchronous (DDL runs inside one transaction)",
        );
      }
      this.#host.call("SELECT cloudsync_commit_alter(?) AS v", [name], "alter()");
      // A rebuilt table (CREATE new, copy, DROP, RENAME) lost its triggers, and
      // its key may have changed: recreate every key guard.
      for (const row of this.#host.statement(BLOCK_TABLES).all()) {
        const t = String(row.t);
        if (tableColumns(this.#host.driver, t).length > 0) installKeyGuard(this.#host.driver, t);
      }
    });
    this.refresh();
  }

  /**
   * Installs the key guard of every table with block columns that lacks one
   * (see {@linkcode installMissingKeyGuards}). Costs nothing when no table
   * has block columns (known since the last refresh); otherwise one query,
   * and a write only when a guard is missing.
   */
  installMissingKeyGuards(): void {
    if (this.#blockNames.length === 0) return;
    const guarded = new Set(
      this.#host.statement(KEY_GUARDS).all().map((r) => foldIdentifier(String(r.t))),
    );
    const missing = this.#blockNames.filter((t) => !guarded.has(foldIdentifier(t)));
    if (missing.length > 0) installMissingKeyGuards(this.#host.driver, missing);
  }

  // Statements below are cached (finalized on close) rather than prepared per
  // call: a statement left to the GC keeps a bun:sqlite connection alive.
  #syncedName(table: string): string | undefined {
    const key = foldIdentifier(table);
    return this.synced().find((t) => foldIdentifier(t) === key);
  }

  #hasMeta(): boolean {
    return this.#host.statement(HAS_META).get() !== undefined;
  }

  #isBlockColumn(table: string, column: string): boolean {
    return this.#hasMeta() && this.#host.statement(IS_BLOCK).get(table, column) !== undefined;
  }
}
