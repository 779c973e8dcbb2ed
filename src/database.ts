/**
 * `SyncDatabase`: one connection with the cloudsync extension loaded, typed
 * methods over every documented local `cloudsync_*` function, and the
 * lifecycle (terminate before close) done right. Network calls live on
 * {@linkcode SyncDatabase.network}.
 *
 * @module
 */
import type { Driver, PreparedStatement, Row, SqlValue } from "../ffi/drivers/driver.ts";
import type { ResolvedExtension } from "../ffi/resolve.ts";
import {
  closeConnection,
  isMemory,
  openDatabase,
  type OpenOptions,
  openWithExtension,
} from "../ffi/open.ts";
import { siblingOptions } from "../ffi/drivers/open_driver.ts";
import { applyChanges, encodeChanges, type EncodeOptions, type PayloadHost } from "./_payload.ts";
import { StatementCache } from "./_statement_cache.ts";
import { type CleanupOptions, type InitOptions, Tables } from "./_tables.ts";
import { keyGuardRefusal } from "./block_guard.ts";
import { classifyError, staleContext } from "./classify.ts";
import { SqliteSyncError } from "../common/errors.ts";
import { Network } from "./_network.ts";
import type { CloudSyncNetwork } from "./network.ts";
import { assertIdentifier, describeValue } from "./schema.ts";
import { type SettingKey, settingValue } from "./settings.ts";
import { assertUuidText, toHex } from "./site_id.ts";

export type { EncodeOptions } from "./_payload.ts";
export type { Algorithm, CleanupOptions, InitOptions } from "./_tables.ts";

/**
 * A SQLite database synced by sqlite-sync.
 *
 * @example Usage
 * ```ts ignore
 * import { SyncDatabase } from "@sqliteai/sync";
 * await using db = await SyncDatabase.open("app.db");
 * db.exec("CREATE TABLE IF NOT EXISTS notes (id TEXT PRIMARY KEY NOT NULL, body TEXT)");
 * db.init("notes");
 * db.run("INSERT INTO notes (id, body) VALUES (?, ?)", db.uuid(), "hello");
 * console.log(db.dbVersion());
 * ```
 */
export class SyncDatabase {
  #driver: Driver;
  #extension: ResolvedExtension;
  #statements: StatementCache;
  #tables: Tables;
  #host: PayloadHost;
  #closed = false;
  #network: Network;

  private constructor(driver: Driver, extension: ResolvedExtension) {
    this.#driver = driver;
    this.#extension = extension;
    this.#statements = new StatementCache((sql) => driver.prepare(sql));
    const host = {
      driver,
      assertOpen: () => this.#assertOpen(),
      statement: (sql: string) => this.#cached(sql),
      call: (sql: string, params: SqlValue[], op: string) => this.#call(sql, params, op),
    };
    this.#tables = new Tables(host);
    this.#host = host;
    this.#network = new Network({
      call: (sql, params, op, secrets) => this.#call(sql, params, op, true, secrets),
      assertOpen: () => this.#assertOpen(),
      afterLogout: () => this.#tables.refresh(),
      blockTables: () => [...this.#tables.blockTables],
    });
  }

  /**
   * Wraps a fresh connection. Its first queries run here, not in the
   * constructor: when they throw (a read-only non-database file…), the
   * connection is closed instead of leaking.
   */
  static #adopt(driver: Driver, extension: ResolvedExtension): SyncDatabase {
    const db = new SyncDatabase(driver, extension);
    try {
      db.#tables.refresh();
      return db;
    } catch (err) {
      try {
        db.#statements.clear();
        closeConnection(driver);
      } catch {
        // The first error is the one to report.
      }
      throw err;
    }
  }

  /**
   * Opens (or creates) a database with the extension resolved, verified and
   * loaded, WAL and a busy timeout set.
   *
   * @param path The database file (`:memory:` for a private in-memory database).
   * @param options Resolution and connection options.
   * @returns The open database; close it with `close()` or `await using`.
   * @throws {SqliteSyncError} from resolution, loading or opening.
   *
   * @example Usage
   * ```ts ignore
   * import { SyncDatabase } from "@sqliteai/sync";
   * const db = await SyncDatabase.open(":memory:");
   * console.log(db.version()); // "1.1.4"
   * db.close();
   * ```
   */
  static async open(path: string, options: OpenOptions = {}): Promise<SyncDatabase> {
    const { driver, extension } = await openDatabase(path, options);
    return SyncDatabase.#adopt(driver, extension);
  }

  /**
   * The underlying connection, for queries this class does not wrap. It runs
   * with `recursive_triggers` on like every connection the library opens; the
   * primary-key guard of block-column tables applies to it too (a trigger).
   */
  get driver(): Driver {
    this.#assertOpen();
    return this.#driver;
  }

  /** The resolved extension (path, version, verification). */
  get extension(): ResolvedExtension {
    return this.#extension;
  }

  /** The network functions (init, credentials, send, receive, sync…). They block the calling thread. */
  get network(): CloudSyncNetwork {
    this.#assertOpen();
    return this.#network;
  }

  /** Whether `close()` has run. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Opens another connection to the same file with the extension loaded
   * (every connection that writes a synced table needs it). A connection
   * learns the synced tables when it opens: after `init()` of a new table,
   * call `init()` on already-open siblings too (it is idempotent).
   *
   * The sibling runs on this connection's SQLite library: the same driver
   * and, for `@db/sqlite`, the same `Database` class (sqlite-sync serves one
   * SQLite library per process).
   *
   * @param options Connection options; `driver`, when given, must be this connection's.
   * @returns The sibling database.
   * @throws {SqliteSyncError} `state` when this database is closed or private in-memory (a
   *   second connection would open another, empty database); `driver` for another `driver`;
   *   whatever opening raises.
   */
  async openSibling(options: OpenOptions = {}): Promise<SyncDatabase> {
    this.#assertOpen();
    const path = this.#driver.path;
    if (isMemory(path) && !/[?&]cache=shared(&|$)/.test(path)) {
      throw new SqliteSyncError(
        "state",
        `openSibling(): '${path}' is a private in-memory database, which no other connection ` +
          "can open: a sibling would be a new, empty database. Open a database file (e.g. " +
          "SyncDatabase.open('app.db')) to have sibling connections.",
      );
    }
    const sibling = siblingOptions(this.#driver, path, options);
    let driver: Driver;
    try {
      driver = await openWithExtension(path, this.#extension, {
        ...options,
        driver: sibling.driver,
        database: sibling.database,
      });
    } catch (err) {
      sibling.discard();
      throw err;
    }
    return SyncDatabase.#adopt(driver, this.#extension);
  }

  // ---- plain SQL -----------------------------------------------------------------

  /**
   * Runs one or more statements without parameters.
   *
   * @param sql The statements.
   * @throws {SqliteSyncError} `schema` for a primary-key change on a table with block columns
   *   (refused by a trigger: insert a new row and delete the old one instead); `sql`, `busy`…
   *   from SQLite.
   */
  exec(sql: string): void {
    this.#guard(sql);
    try {
      this.#driver.exec(sql);
    } catch (err) {
      throw keyGuardRefusal(staleContext(err));
    }
  }

  /**
   * Runs one statement with positional parameters (prepared once, then cached).
   *
   * @param sql The statement.
   * @param params Values bound to its `?` placeholders.
   * @returns Rows changed and the last inserted rowid.
   * @throws {SqliteSyncError} as {@linkcode SyncDatabase.exec}.
   */
  run(sql: string, ...params: SqlValue[]): { changes: number; lastInsertRowid: number | bigint } {
    this.#guard(sql);
    try {
      return this.#statements.user(sql).run(...params);
    } catch (err) {
      throw keyGuardRefusal(staleContext(err));
    }
  }

  /**
   * Runs a query with positional parameters.
   *
   * @param sql The query.
   * @param params Values bound to its `?` placeholders.
   * @returns The first row, or `undefined` when there is none.
   */
  get(sql: string, ...params: SqlValue[]): Row | undefined {
    this.#guard(sql);
    try {
      return this.#statements.user(sql).get(...params);
    } catch (err) {
      throw keyGuardRefusal(staleContext(err));
    }
  }

  /**
   * Runs a query with positional parameters.
   *
   * @param sql The query.
   * @param params Values bound to its `?` placeholders.
   * @returns Every row.
   */
  all(sql: string, ...params: SqlValue[]): Row[] {
    this.#guard(sql);
    try {
      return this.#statements.user(sql).all(...params);
    } catch (err) {
      throw keyGuardRefusal(staleContext(err));
    }
  }

  /**
   * Runs `fn` in a transaction (a savepoint when one is open).
   *
   * @param fn Synchronous work; its return value is returned.
   * @returns What `fn` returned, after the commit.
   * @throws Whatever `fn` threw, after the rollback.
   */
  transaction<T>(fn: () => T): T {
    this.#assertOpen();
    return this.#driver.transaction(fn);
  }

  // ---- tables -----------------------------------------------------------------

  /**
   * Enables sync on a table (or `'*'` for every user table) after a schema
   * preflight. Idempotent.
   *
   * @param table The table, or `'*'`.
   * @param options Algorithm and checks to skip.
   * @returns This device's site id (32 hex chars).
   * @throws {SqliteSyncError} `schema` naming the table, column and fix.
   */
  init(table: string, options: InitOptions = {}): string {
    return this.#tables.init(table, options);
  }

  /**
   * Resumes tracking a table. Writes made while it was disabled stay unsynced.
   *
   * @param table A synced table.
   * @throws {SqliteSyncError} `state` when the table is not synced.
   */
  enable(table: string): void {
    this.#call(
      "SELECT cloudsync_enable(?) AS v",
      [this.#tables.syncedTable(table, "enable()")],
      "enable()",
    );
  }

  /**
   * Pauses tracking a table: writes made meanwhile are not synced, even after `enable()`.
   *
   * @param table A synced table.
   * @throws {SqliteSyncError} `state` when the table is not synced.
   */
  disable(table: string): void {
    this.#call(
      "SELECT cloudsync_disable(?) AS v",
      [this.#tables.syncedTable(table, "disable()")],
      "disable()",
    );
  }

  /**
   * Tells whether a table is tracked.
   *
   * @param table The table.
   * @returns `true` when it is synced and enabled.
   */
  isEnabled(table: string): boolean {
    assertIdentifier(table, "table");
    return Number(this.#call("SELECT cloudsync_is_enabled(?) AS v", [table], "isEnabled()")) ===
      1;
  }

  /**
   * Lists the synced tables.
   *
   * @returns Their names, sorted.
   */
  syncedTables(): string[] {
    return this.#tables.synced();
  }

  /**
   * Stops syncing a table and drops its metadata (the rows stay).
   *
   * @param table A synced table.
   * @param options `destroySiteIdentity` must be `true` when `table` is the last synced table:
   *   cleaning it also drops all cloudsync metadata, this device's site id included.
   * @throws {SqliteSyncError} `state` when the table is not synced, or is the last one without
   *   confirmation.
   */
  cleanup(table: string, options: CleanupOptions = {}): void {
    this.#tables.cleanup(table, options);
  }

  /**
   * Makes a TEXT column block-level LWW: its value merges per line (or per
   * `delimiter`). It also installs a trigger refusing primary-key changes on
   * the table, on every connection (1.1.4 empties the text on every replica
   * when a key changes); `cleanup()` removes it.
   *
   * @param table A synced table, named like a plain SQL identifier (1.1.4 does not quote it).
   * @param column A non-key TEXT column.
   * @param options `algorithm: "block"`, and an optional `delimiter` (default `"\n"`).
   * @throws {SqliteSyncError} `state` (table not synced) or `schema` (no such column, a key or
   *   non-TEXT column, a table name 1.1.4 cannot use).
   * @throws {TypeError} for another algorithm or a delimiter with NUL.
   */
  setColumn(
    table: string,
    column: string,
    options: { algorithm: "block"; delimiter?: string },
  ): void {
    this.#tables.setColumn(table, column, options);
  }

  /**
   * Tracks only rows matching a boolean expression over the table's columns
   * (e.g. `"tenant_id = 'acme'"`). The expression is SQL from your code, not
   * user input: it is checked to be one expression that compiles over the
   * table, and applied in a transaction (nothing changes if it fails).
   *
   * @param table A synced table.
   * @param expression The condition.
   * @throws {TypeError} for a malformed expression; {SqliteSyncError} `schema` when it does not
   *   compile or fails over the existing rows.
   */
  setFilter(table: string, expression: string): void {
    this.#tables.setFilter(table, expression);
  }

  /**
   * Removes a table's row filter: every row is tracked again.
   *
   * @param table A synced table.
   */
  clearFilter(table: string): void {
    this.#call(
      "SELECT cloudsync_clear_filter(?) AS v",
      [this.#tables.syncedTable(table, "clearFilter()")],
      "clearFilter()",
    );
  }

  /**
   * Rebuilds a block column's value from its blocks for one row.
   *
   * @param table A synced table.
   * @param column A block-level column.
   * @param pk The row's primary key values, in declaration order.
   * @throws {SqliteSyncError} `schema` when the column is not block-level; {TypeError} for a wrong
   *   number of key values.
   */
  textMaterialize(table: string, column: string, ...pk: SqlValue[]): void {
    this.#tables.textMaterialize(table, column, pk);
  }

  /**
   * Runs schema changes on a synced table between `cloudsync_begin_alter` and
   * `cloudsync_commit_alter`, in one transaction: on error nothing changes.
   * Every replica (and the cloud database) must apply the same DDL; DDL
   * outside `alter()` leaves new columns silently untracked.
   *
   * @param table A synced table.
   * @param fn Synchronous DDL, e.g. `(db) => db.exec("ALTER TABLE notes ADD COLUMN tags TEXT")`.
   * @throws Whatever `fn` threw, after the rollback; {TypeError} for an async `fn`.
   */
  alter(table: string, fn: (db: SyncDatabase) => void): void {
    this.#tables.alter(table, typeof fn === "function" ? () => fn(this) : fn);
  }

  // ---- identity, versions, uuids -----------------------------------------------

  /** The extension's version, e.g. `"1.1.4"`. */
  version(): string {
    return String(this.#call("SELECT cloudsync_version() AS v", [], "version()"));
  }

  /** This device's site id as 32 lowercase hex chars. */
  siteId(): string {
    return toHex(this.siteIdBytes());
  }

  /** This device's site id as 16 bytes. */
  siteIdBytes(): Uint8Array {
    const v = this.#call("SELECT cloudsync_siteid() AS v", [], "siteId()");
    // Before any init the extension answers 16 zero bytes, not NULL.
    if (!(v instanceof Uint8Array) || v.length !== 16 || v.every((b) => b === 0)) {
      throw new SqliteSyncError("state", "siteId(): no site id yet; call init() on a table first.");
    }
    return v;
  }

  /** The local database version (advances with each committed change). */
  dbVersion(): number {
    // Hot path (called around every write by schedulers): no parameter array,
    // no spread. bench/api_bench.ts: via #call it cost 1.08× the raw statement in Bun.
    const stmt = this.#cached("SELECT cloudsync_db_version() AS v");
    try {
      return Number(stmt.get()!.v);
    } catch (err) {
      throw classifyError(err, "dbVersion()");
    }
  }

  /** A new UUIDv7 (lowercase, dashed): the recommended primary key. */
  uuid(): string {
    return this.#cached("SELECT cloudsync_uuid() AS v").get()!.v as string;
  }

  /**
   * Formats 16 bytes as a UUID.
   *
   * @param bytes Exactly 16 bytes.
   * @param options `dashes` (default `true`).
   * @returns Lowercase hex.
   * @throws {TypeError} for anything but 16 bytes.
   */
  uuidText(bytes: Uint8Array, options: { dashes?: boolean } = {}): string {
    if (!(bytes instanceof Uint8Array) || bytes.length !== 16) {
      throw new TypeError(`uuidText(): expected 16 bytes, got ${describeValue(bytes)}`);
    }
    return String(
      this.#call(
        "SELECT cloudsync_uuid_text(?, ?) AS v",
        [bytes, options.dashes === false ? 0 : 1],
        "uuidText()",
      ),
    );
  }

  /**
   * Parses a UUID into 16 bytes.
   *
   * @param text Dashed or bare, any case.
   * @returns The bytes.
   * @throws {TypeError} when `text` is not a UUID.
   */
  uuidBlob(text: string): Uint8Array {
    assertUuidText(text, "uuidBlob()");
    return this.#call("SELECT cloudsync_uuid_blob(?) AS v", [text], "uuidBlob()") as Uint8Array;
  }

  /**
   * Sets one of the six documented runtime settings. The value persists in
   * the database file and outlives the process. Internal checkpoints
   * (`send_dbversion`, `check_seq`…) cannot be written.
   *
   * @param key `network_connect_timeout`, `network_request_timeout` (seconds)…
   * @param value An integer within the key's range.
   * @throws {TypeError} for another key; {RangeError} for a value out of range.
   */
  set(key: SettingKey, value: number): void {
    const text = settingValue(key, value);
    this.#call("SELECT cloudsync_set(?, ?) AS v", [key, text], "set()");
  }

  // ---- payloads (local verification, demos between local replicas) ----------

  /**
   * Encodes local changes into one payload blob, for CRDT merges between
   * local replicas and tests. Not a transport: network sync goes through
   * {@linkcode SyncDatabase.network}.
   *
   * @param options `sinceDbVersion` (default 0) and `excludeSiteId`.
   * @returns The payload, or `null` when there is nothing to encode.
   * @throws {RangeError} for a negative version; {TypeError} for a malformed site id.
   */
  encodeChanges(options: EncodeOptions = {}): Uint8Array | null {
    this.#assertOpen();
    return encodeChanges(this.#host, options);
  }

  /**
   * Applies a payload made by {@linkcode SyncDatabase.encodeChanges} on another replica.
   *
   * @param payload The payload bytes.
   * @returns The number of rows applied.
   * @throws {SqliteSyncError} `apply` for a corrupt payload, an unknown schema or a failed
   *   constraint; a transaction the failed apply left open (1.1.4) is rolled back first.
   */
  applyChanges(payload: Uint8Array): number {
    this.#assertOpen();
    return applyChanges(this.#host, payload);
  }

  // ---- lifecycle ----------------------------------------------------------------

  /** Finalizes cloudsync's statements (required before close). `close()` calls it. */
  terminate(): void {
    this.#assertOpen();
    this.#statements.clear();
    this.#call("SELECT cloudsync_terminate() AS v", [], "terminate()");
  }

  /**
   * Frees the network context (when `network.init()` ran), terminates
   * cloudsync and closes the connection: the 1.1.4 lifecycle. Idempotent.
   *
   * When the connection refuses to close (e.g. `SQLITE_BUSY` while a statement
   * prepared on `db.driver` is not finalized, with a driver that reports it),
   * the error is thrown and the database stays open and fully usable:
   * cloudsync's context, which terminating dropped, is rebuilt from the
   * configuration stored in the database (synced tables, algorithms, block
   * columns, filters, site id, version counter), as loading the extension
   * does. Only the network context stays freed: call `network.init()` again
   * before the next network call. Remove the cause, then call `close()` again.
   *
   * @throws {SqliteSyncError} the driver's error when the connection cannot be
   *   closed; `state` when, in addition, cloudsync's context cannot be rebuilt
   *   (synced tables then refuse writes until `close()` succeeds).
   */
  close(): void {
    if (this.#closed) return;
    try {
      this.#network.cleanup();
    } catch {
      // Best effort: closing matters more than freeing the context cleanly.
    }
    this.#statements.clear();
    try {
      closeConnection(this.#driver);
    } catch (err) {
      // Still open, but cloudsync_terminate() ran: its context is gone, so writes to synced
      // tables would fail ("Unable to retrieve table name …") and dbVersion() would say "not
      // initialized". cloudsync_init() of one synced table reloads the whole context from the
      // stored configuration; the stored algorithm is passed, the init-time schema checks are
      // skipped (flags 7: the table passed them when first synced). A table without block
      // columns is preferred: init() of a block table may add metadata rows.
      try {
        const row = (sql: string, ...params: SqlValue[]) => {
          const stmt = this.#driver.prepare(sql);
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

  /** Closes the database at the end of a `using` block. */
  [Symbol.dispose](): void {
    this.close();
  }

  /** Closes the database at the end of an `await using` block. */
  [Symbol.asyncDispose](): Promise<void> {
    this.close();
    return Promise.resolve();
  }

  // ---- internals ------------------------------------------------------------------

  #assertOpen(): void {
    if (this.#closed) throw new SqliteSyncError("state", "The database is closed.");
  }

  #cached(sql: string): PreparedStatement {
    this.#assertOpen();
    return this.#statements.fixed(sql);
  }

  #call(
    sql: string,
    params: SqlValue[],
    operation: string,
    network = false,
    secrets: readonly string[] = [],
  ): SqlValue | undefined {
    const stmt = this.#cached(sql);
    try {
      return stmt.get(...params)?.v;
    } catch (err) {
      throw classifyError(err, operation, { network, secrets });
    }
  }

  #guard(sql: string): void {
    this.#assertOpen();
    if (typeof sql !== "string") {
      throw new TypeError(`Expected SQL text, got ${describeValue(sql)}`);
    }
  }
}
