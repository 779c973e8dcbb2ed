/**
 * `SyncDatabase`: one connection with the cloudsync extension loaded, typed
 * methods over every documented local `cloudsync_*` function, and the
 * lifecycle (terminate before close) done right. Network calls live on
 * {@linkcode SyncDatabase.network}.
 *
 * @module
 */
import type { Driver, Row, SqlValue } from "../ffi/drivers/driver.ts";
import type { ResolvedExtension } from "../ffi/resolve.ts";
import { openDatabase, type OpenOptions } from "../ffi/open.ts";
import { DatabaseCore } from "./_core.ts";
import { setSetting, siteIdBytes, uuidBlob, uuidText } from "./_identity.ts";
import { Network } from "./_network.ts";
import { applyChanges, encodeChanges, type EncodeOptions } from "./_payload.ts";
import { openSiblingDriver } from "./_sibling.ts";
import { type CleanupOptions, type InitOptions, Tables } from "./_tables.ts";
import { classifyError } from "./classify.ts";
import type { CloudSyncNetwork } from "./network.ts";
import type { SettingKey } from "./settings.ts";
import { toHex } from "./site_id.ts";

/**
 * A SQLite database synced by sqlite-sync. Methods taking a table or column
 * name find it as SQLite does, ASCII letters ignoring case (`enable("NOTES")`
 * finds table `notes`), and give the extension the name it was created with.
 *
 * @example Usage
 * ```ts
 * import { SyncDatabase } from "@sqliteai/sync";
 * await using db = await SyncDatabase.open("app.db");
 * db.exec("CREATE TABLE IF NOT EXISTS notes (id TEXT PRIMARY KEY NOT NULL, body TEXT)");
 * db.init("notes");
 * db.run("INSERT INTO notes (id, body) VALUES (?, ?)", db.uuid(), "hello");
 * console.log(db.dbVersion());
 * ```
 */
export class SyncDatabase {
  #core: DatabaseCore;
  #extension: ResolvedExtension;
  #tables: Tables;
  #network: Network;

  private constructor(driver: Driver, extension: ResolvedExtension) {
    const core = new DatabaseCore(driver);
    this.#core = core;
    this.#extension = extension;
    this.#tables = new Tables(core);
    this.#network = new Network({
      call: (sql, params, op, secrets) => core.call(sql, params, op, true, secrets),
      assertOpen: () => core.assertOpen(),
      afterLogout: () => this.#tables.refresh(),
      blockTables: () => [...this.#tables.blockTables],
    });
  }

  /**
   * Wraps a fresh connection and runs its first queries (closing it when they
   * throw). A writable connection installs the key guard of block tables that
   * lack one (given block columns by an older build or a raw `cloudsync_set_column`).
   */
  static #adopt(driver: Driver, extension: ResolvedExtension, writable: boolean): SyncDatabase {
    const db = new SyncDatabase(driver, extension);
    db.#core.start(() => {
      db.#tables.refresh();
      if (writable) db.#tables.installMissingKeyGuards();
    });
    return db;
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
   * ```ts
   * import { SyncDatabase } from "@sqliteai/sync";
   * const db = await SyncDatabase.open(":memory:");
   * console.log(db.version()); // "1.1.4"
   * db.close();
   * ```
   */
  static async open(path: string, options: OpenOptions = {}): Promise<SyncDatabase> {
    const { driver, extension } = await openDatabase(path, options);
    return SyncDatabase.#adopt(driver, extension, options.readOnly !== true);
  }

  /**
   * The underlying connection, for queries this class does not wrap. It runs
   * with `recursive_triggers` on like every connection the library opens; the
   * primary-key guard of block-column tables applies to it too (a trigger).
   */
  get driver(): Driver {
    this.#core.assertOpen();
    return this.#core.driver;
  }

  /** The resolved extension (path, version, verification). */
  get extension(): ResolvedExtension {
    return this.#extension;
  }

  /** The network functions (init, credentials, send, receive, sync…). They block the calling thread. */
  get network(): CloudSyncNetwork {
    this.#core.assertOpen();
    return this.#network;
  }

  /** Whether `close()` has run. */
  get closed(): boolean {
    return this.#core.closed;
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
    this.#core.assertOpen();
    const driver = await openSiblingDriver(this.#core.driver, this.#extension, options);
    return SyncDatabase.#adopt(driver, this.#extension, options.readOnly !== true);
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
    this.#core.user(sql, () => this.#core.driver.exec(sql));
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
    return this.#core.user(sql, () => this.#core.statements.user(sql).run(...params));
  }

  /**
   * Runs a query with positional parameters.
   *
   * @param sql The query.
   * @param params Values bound to its `?` placeholders.
   * @returns The first row, or `undefined` when there is none.
   */
  get(sql: string, ...params: SqlValue[]): Row | undefined {
    return this.#core.user(sql, () => this.#core.statements.user(sql).get(...params));
  }

  /**
   * Runs a query with positional parameters.
   *
   * @param sql The query.
   * @param params Values bound to its `?` placeholders.
   * @returns Every row.
   */
  all(sql: string, ...params: SqlValue[]): Row[] {
    return this.#core.user(sql, () => this.#core.statements.user(sql).all(...params));
  }

  /**
   * Runs `fn` in a transaction (a savepoint when one is open).
   *
   * @param fn Synchronous work; its return value is returned.
   * @returns What `fn` returned, after the commit.
   * @throws Whatever `fn` threw, after the rollback.
   */
  transaction<T>(fn: () => T): T {
    this.#core.assertOpen();
    const result = this.#core.driver.transaction(fn);
    this.#core.noticeWrites();
    return result;
  }

  /**
   * Calls `listener` after this connection committed changes to synced
   * tables (through `exec`, `run`, `get`, `all` or `transaction`). A
   * `SyncService` started with this database uses it to send local writes
   * promptly; writes through `db.driver` or other connections are seen by
   * the service's own change detection instead.
   *
   * @param listener Called after the commit with the new `cloudsync_db_version()`; what it
   *   throws is ignored.
   * @returns A function that removes the listener.
   *
   * @example Usage
   * ```ts
   * import { SyncDatabase } from "@sqliteai/sync";
   * const db = await SyncDatabase.open("app.db");
   * const off = db.onLocalWrite(() => console.log("synced tables changed"));
   * off();
   * ```
   */
  onLocalWrite(listener: (dbVersion: number) => void): () => void {
    this.#core.assertOpen();
    if (typeof listener !== "function") {
      throw new TypeError("onLocalWrite(): the listener must be a function");
    }
    return this.#core.onWrite(listener);
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
    this.#tables.setEnabled(table, true);
  }

  /**
   * Pauses tracking a table: writes made meanwhile are not synced, even after `enable()`.
   *
   * @param table A synced table.
   * @throws {SqliteSyncError} `state` when the table is not synced.
   */
  disable(table: string): void {
    this.#tables.setEnabled(table, false);
  }

  /**
   * Tells whether a table is tracked.
   *
   * @param table The table.
   * @returns `true` when it is synced and enabled.
   */
  isEnabled(table: string): boolean {
    return this.#tables.isEnabled(table);
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
    this.#tables.clearFilter(table);
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
    return String(this.#core.call("SELECT cloudsync_version() AS v", [], "version()"));
  }

  /** This device's site id as 32 lowercase hex chars. */
  siteId(): string {
    return toHex(this.siteIdBytes());
  }

  /** This device's site id as 16 bytes. */
  siteIdBytes(): Uint8Array {
    return siteIdBytes(this.#core);
  }

  /** The local database version (advances with each committed change). */
  dbVersion(): number {
    // Hot path (called around every write by schedulers): no parameter array,
    // no spread. bench/api_bench.ts: via #call it cost 1.08× the raw statement in Bun.
    const stmt = this.#core.statement("SELECT cloudsync_db_version() AS v");
    try {
      return Number(stmt.get()!.v);
    } catch (err) {
      throw classifyError(err, "dbVersion()");
    }
  }

  /** A new UUIDv7 (lowercase, dashed): the recommended primary key. */
  uuid(): string {
    return this.#core.statement("SELECT cloudsync_uuid() AS v").get()!.v as string;
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
    return uuidText(this.#core, bytes, options.dashes !== false);
  }

  /**
   * Parses a UUID into 16 bytes.
   *
   * @param text Dashed or bare, any case.
   * @returns The bytes.
   * @throws {TypeError} when `text` is not a UUID.
   */
  uuidBlob(text: string): Uint8Array {
    return uuidBlob(this.#core, text);
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
    setSetting(this.#core, key, value);
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
    this.#core.assertOpen();
    return encodeChanges(this.#core, options);
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
    this.#core.assertOpen();
    return applyChanges(this.#core, payload);
  }

  // ---- lifecycle ----------------------------------------------------------------

  /** Finalizes cloudsync's statements (required before close). `close()` calls it. */
  terminate(): void {
    this.#core.terminate();
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
    if (this.#core.closed) return;
    try {
      this.#network.cleanup();
    } catch {
      // Best effort: closing matters more than freeing the context cleanly.
    }
    this.#core.close();
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
}
