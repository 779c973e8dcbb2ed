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
import { closeConnection, openDatabase, type OpenOptions, openWithExtension } from "../ffi/open.ts";
import { assertNoBlockReplace } from "./block_guard.ts";
import { classifyError } from "./classify.ts";
import { SqliteSyncError } from "./errors.ts";
import { CloudSyncNetwork } from "./network.ts";
import {
  assertBlockCandidate,
  assertColumn,
  assertIdentifier,
  describe,
  type InitChecks,
  initFlags,
  preflightTable,
  tableColumns,
  userTables,
} from "./schema.ts";
import { type SettingKey, settingValue } from "./settings.ts";
import { assertFilterExpression } from "./filter.ts";
import { assertUuidText, toHex, toSiteIdBytes } from "./site_id.ts";

/** CRDT algorithms that work in sqlite-sync 1.1.4 (`dws`/`aws` are documented but rejected). */
export type Algorithm = "cls" | "gos";

/** Options of {@linkcode SyncDatabase.init}. */
export interface InitOptions extends InitChecks {
  /** `cls` (causal-length set, insert/update/delete) or `gos` (grow-only set, insert only). @default "cls" */
  algorithm?: Algorithm;
}

/** Options of {@linkcode SyncDatabase.encodeChanges}. */
export interface EncodeOptions {
  /** Only changes with a db_version greater than this. @default 0 */
  sinceDbVersion?: number;
  /** Leave out changes made by this site (32 hex chars or 16 bytes), e.g. the receiver's own. */
  excludeSiteId?: string | Uint8Array;
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

/**
 * A SQLite database synced by sqlite-sync.
 *
 * @example Usage
 * ```ts ignore
 * import { SyncDatabase } from "jsr:@sqliteai/sync";
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
  #statements = new Map<string, PreparedStatement>();
  #blockTables = new Set<string>();
  #closed = false;
  #network: CloudSyncNetwork;

  private constructor(driver: Driver, extension: ResolvedExtension) {
    this.#driver = driver;
    this.#extension = extension;
    this.#network = new CloudSyncNetwork({
      call: (sql, params, op, secrets) => this.#call(sql, params, op, true, secrets),
      assertOpen: () => this.#assertOpen(),
      afterLogout: () => this.#refreshBlockTables(),
      blockTables: () => [...this.#blockTables],
    });
    this.#refreshBlockTables();
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
   * import { SyncDatabase } from "jsr:@sqliteai/sync";
   * const db = await SyncDatabase.open(":memory:");
   * console.log(db.version()); // "1.1.4"
   * db.close();
   * ```
   */
  static async open(path: string, options: OpenOptions = {}): Promise<SyncDatabase> {
    const { driver, extension } = await openDatabase(path, options);
    return new SyncDatabase(driver, extension);
  }

  /** The underlying connection, for queries this class does not wrap. Bypasses the block-column guard. */
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
   * @param options Connection options.
   * @returns The sibling database.
   */
  async openSibling(options: OpenOptions = {}): Promise<SyncDatabase> {
    this.#assertOpen();
    const driver = await openWithExtension(this.#driver.path, this.#extension, options);
    return new SyncDatabase(driver, this.#extension);
  }

  // ---- plain SQL, with the block-column guard --------------------------------

  /**
   * Runs one or more statements without parameters.
   *
   * @param sql The statements.
   * @throws {SqliteSyncError} `schema` for `INSERT OR REPLACE`/`REPLACE INTO` on a table with
   *   block columns; `sql`, `busy`… from SQLite.
   */
  exec(sql: string): void {
    this.#guard(sql);
    try {
      this.#driver.exec(sql);
    } catch (err) {
      throw staleContext(err);
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
      return this.#cached(sql).run(...params);
    } catch (err) {
      throw staleContext(err);
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
      return this.#cached(sql).get(...params);
    } catch (err) {
      throw staleContext(err);
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
      return this.#cached(sql).all(...params);
    } catch (err) {
      throw staleContext(err);
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
    this.#assertOpen();
    const { algorithm = "cls", ...checks } = options;
    if (algorithm !== "cls" && algorithm !== "gos") {
      throw new SqliteSyncError(
        "schema",
        `Cannot init ${describe(table)} with algorithm ${
          describe(algorithm)
        }: sqlite-sync 1.1.4 supports ` +
          `only "cls" (default) and "gos"; "dws" and "aws" are documented but rejected by the extension.`,
      );
    }
    // cloudsync_init('*') answers "Table * does not exist" in 1.1.4: expand it here.
    const tables = table === "*" ? userTables(this.#driver) : [table];
    if (tables.length === 0) {
      throw new SqliteSyncError(
        "schema",
        `Cannot init "*": the database has no user tables. Create the tables to sync first.`,
      );
    }
    for (const t of tables) preflightTable(this.#driver, t, checks);
    const flags = initFlags(checks);
    // One transaction: with '*' either every table is synced or none is.
    const id = this.#driver.transaction(() => {
      let last: SqlValue | undefined;
      for (const t of tables) {
        last = this.#call("SELECT cloudsync_init(?, ?, ?) AS v", [t, algorithm, flags], "init()");
      }
      return last;
    });
    this.#refreshBlockTables();
    return String(id).toLowerCase();
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
      [this.#syncedTable(table, "enable()")],
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
      [this.#syncedTable(table, "disable()")],
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
    this.#assertOpen();
    if (!this.#hasMeta()) return [];
    return this.#cached(
      "SELECT DISTINCT tbl_name AS t FROM cloudsync_table_settings WHERE col_name = '*' AND key = 'algo' ORDER BY 1",
    ).all().map((r) => String(r.t));
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
    const name = this.#syncedTable(table, "cleanup()");
    const synced = this.syncedTables();
    if (synced.length === 1 && synced[0] === name && options.destroySiteIdentity !== true) {
      throw new SqliteSyncError(
        "state",
        `cleanup(${
          JSON.stringify(name)
        }) would remove the last synced table, which also deletes all ` +
          `cloudsync metadata and this device's site id. Pass { destroySiteIdentity: true } to confirm.`,
      );
    }
    this.#call("SELECT cloudsync_cleanup(?) AS v", [name], "cleanup()");
    this.#refreshBlockTables();
  }

  /**
   * Makes a TEXT column block-level LWW: its value merges per line (or per
   * `delimiter`). Writes to the table must then use `UPDATE`, never
   * `INSERT OR REPLACE` (refused by this class).
   *
   * @param table A synced table.
   * @param column A non-key TEXT column.
   * @param options `algorithm: "block"`, and an optional `delimiter` (default `"\n"`).
   * @throws {SqliteSyncError} `state` (table not synced) or `schema` (no such column, a key or
   *   non-TEXT column).
   * @throws {TypeError} for another algorithm or a delimiter with NUL.
   */
  setColumn(
    table: string,
    column: string,
    options: { algorithm: "block"; delimiter?: string },
  ): void {
    const name = this.#syncedTable(table, "setColumn()");
    assertBlockCandidate(assertColumn(this.#driver, name, column), name);
    if (options?.algorithm !== "block") {
      throw new TypeError(
        `setColumn(): algorithm must be "block", got ${describe(options?.algorithm)}`,
      );
    }
    if (
      options.delimiter !== undefined &&
      (typeof options.delimiter !== "string" || options.delimiter.includes("\0"))
    ) {
      throw new TypeError(
        `setColumn(): delimiter must be a string without NUL, got ${describe(options.delimiter)}`,
      );
    }
    this.#driver.transaction(() => {
      this.#call(
        "SELECT cloudsync_set_column(?, ?, 'algo', 'block') AS v",
        [name, column],
        "setColumn()",
      );
      if (options.delimiter !== undefined) {
        this.#call("SELECT cloudsync_set_column(?, ?, 'delimiter', ?) AS v", [
          name,
          column,
          options.delimiter,
        ], "setColumn()");
      }
    });
    this.#refreshBlockTables();
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
    const name = this.#syncedTable(table, "setFilter()");
    assertFilterExpression(this.#driver, name, expression);
    // cloudsync_set_filter rewrites the triggers before it refills metadata; when
    // the refill fails it leaves the new triggers behind. A transaction undoes them.
    try {
      this.#driver.transaction(() => {
        this.#call("SELECT cloudsync_set_filter(?, ?) AS v", [name, expression], "setFilter()");
      });
    } catch (err) {
      if (!(err instanceof SqliteSyncError) || err.kind !== "sql") throw err;
      throw new SqliteSyncError(
        "schema",
        `setFilter(): ${describe(expression)} failed when evaluated over the rows of table ${
          JSON.stringify(name)
        }, nothing was changed: ${err.message}`,
        { cause: err },
      );
    }
  }

  /**
   * Removes a table's row filter: every row is tracked again.
   *
   * @param table A synced table.
   */
  clearFilter(table: string): void {
    this.#call(
      "SELECT cloudsync_clear_filter(?) AS v",
      [this.#syncedTable(table, "clearFilter()")],
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
    const name = this.#syncedTable(table, "textMaterialize()");
    assertColumn(this.#driver, name, column);
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
    const pkCount = tableColumns(this.#driver, name).filter((c) => c.pk > 0).length;
    if (pk.length !== pkCount) {
      throw new TypeError(
        `textMaterialize(): table ${
          JSON.stringify(name)
        } has ${pkCount} primary key column(s), got ${pk.length} value(s)`,
      );
    }
    const marks = pk.map(() => "?").join(", ");
    this.#call(
      `SELECT cloudsync_text_materialize(?, ?, ${marks}) AS v`,
      [name, column, ...pk],
      "textMaterialize()",
    );
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
    const name = this.#syncedTable(table, "alter()");
    if (typeof fn !== "function") {
      throw new TypeError("alter(): expected a function running the DDL");
    }
    this.#driver.transaction(() => {
      this.#call("SELECT cloudsync_begin_alter(?) AS v", [name], "alter()");
      const result: unknown = fn(this);
      if (result instanceof Promise) {
        throw new TypeError(
          "alter(): the function must be synchronous (DDL runs inside one transaction)",
        );
      }
      this.#call("SELECT cloudsync_commit_alter(?) AS v", [name], "alter()");
    });
    this.#refreshBlockTables();
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
      throw new TypeError(`uuidText(): expected 16 bytes, got ${describe(bytes)}`);
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
    const since = options.sinceDbVersion ?? 0;
    if (!Number.isSafeInteger(since) || since < 0) {
      throw new RangeError(
        `encodeChanges(): sinceDbVersion must be an integer ≥ 0, got ${describe(since)}`,
      );
    }
    const base =
      "SELECT cloudsync_payload_encode(tbl, pk, col_name, col_value, col_version, db_version, site_id, cl, seq) AS v " +
      "FROM cloudsync_changes WHERE db_version > ?";
    const exclude = options.excludeSiteId;
    if (exclude === undefined) {
      return this.#call(base, [since], "encodeChanges()") as Uint8Array | null;
    }
    return this.#call(
      `${base} AND site_id != ?`,
      [since, toSiteIdBytes(exclude)],
      "encodeChanges()",
    ) as
      | Uint8Array
      | null;
  }

  /**
   * Applies a payload made by {@linkcode SyncDatabase.encodeChanges} on another replica.
   *
   * @param payload The payload bytes.
   * @returns The number of rows applied.
   * @throws {SqliteSyncError} `apply` for a corrupt payload or an unknown schema.
   */
  applyChanges(payload: Uint8Array): number {
    if (!(payload instanceof Uint8Array) || payload.length === 0) {
      throw new TypeError(
        `applyChanges(): expected a non-empty Uint8Array, got ${describe(payload)}`,
      );
    }
    try {
      return Number(
        this.#call("SELECT cloudsync_payload_apply(?) AS v", [payload], "applyChanges()"),
      );
    } catch (err) {
      // Every SQL failure of payload_apply is about the payload ("Error on
      // cloudsync_payload_decode: invalid input size." is not caught by the classifier).
      if (err instanceof SqliteSyncError && err.kind === "sql") {
        throw new SqliteSyncError("apply", err.message, {
          cause: err.cause ?? err,
          code: err.code,
        });
      }
      throw err;
    }
  }

  // ---- lifecycle ----------------------------------------------------------------

  /** Finalizes cloudsync's statements (required before close). `close()` calls it. */
  terminate(): void {
    this.#finalizeCached();
    this.#call("SELECT cloudsync_terminate() AS v", [], "terminate()");
  }

  /** Terminates cloudsync and closes the connection. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#finalizeCached();
    closeConnection(this.#driver);
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
    let stmt = this.#statements.get(sql);
    if (!stmt) {
      stmt = this.#driver.prepare(sql);
      this.#statements.set(sql, stmt);
    }
    return stmt;
  }

  #finalizeCached(): void {
    for (const stmt of this.#statements.values()) stmt.finalize();
    this.#statements.clear();
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
    if (typeof sql !== "string") throw new TypeError(`Expected SQL text, got ${describe(sql)}`);
    assertNoBlockReplace(sql, this.#blockTables);
  }

  // Cached (finalized on close) rather than prepared per call: a statement left
  // to the GC keeps a bun:sqlite connection (and its file descriptors) alive.
  #hasMeta(): boolean {
    return this.#cached(
      "SELECT 1 AS x FROM sqlite_master WHERE type = 'table' AND name = 'cloudsync_table_settings'",
    ).get() !== undefined;
  }

  #isBlockColumn(table: string, column: string): boolean {
    return this.#hasMeta() && this.#cached(
          "SELECT 1 AS x FROM cloudsync_table_settings WHERE tbl_name = ? AND col_name = ? AND key = 'algo' AND value = 'block'",
        ).get(table, column) !== undefined;
  }

  #refreshBlockTables(): void {
    this.#blockTables = new Set(
      this.#hasMeta()
        ? this.#cached(
          "SELECT DISTINCT lower(tbl_name) AS t FROM cloudsync_table_settings WHERE col_name != '*' AND key = 'algo' AND value = 'block'",
        ).all().map((r) => String(r.t))
        : [],
    );
  }

  #syncedTable(table: string, operation: string): string {
    this.#assertOpen();
    if (table === "*") {
      throw new TypeError(
        `${operation}: "*" (every table) is accepted only by init(); name one table.`,
      );
    }
    assertIdentifier(table, "table");
    if (!this.syncedTables().includes(table)) {
      throw new SqliteSyncError(
        "state",
        `Table ${JSON.stringify(table)} is not enabled for sync: call init(${
          JSON.stringify(table)
        }) first.`,
      );
    }
    return table;
  }
}

/**
 * A connection loads cloudsync's table list when the extension loads: a table
 * init()ed later on another connection is unknown here, and its triggers fail
 * with "Unable to retrieve table name X in cloudsync_insert". Say how to fix it.
 */
function staleContext(err: unknown): unknown {
  const m = err instanceof Error
    ? /Unable to retrieve table name (.+?) in cloudsync_\w+/.exec(err.message)
    : null;
  if (!m) return err;
  return new SqliteSyncError(
    "state",
    `Table ${JSON.stringify(m[1])} was enabled for sync on another connection after this one ` +
      `opened, so this connection does not track it yet: call init(${
        JSON.stringify(m[1])
      }) on this connection too (init is idempotent), or open it after init.`,
    { cause: err },
  );
}
