/**
 * The network functions of one {@linkcode SyncDatabase}, as `db.network`.
 * Every call runs the extension's libcurl request on the calling thread and
 * blocks it until the server answers or a time-out fires (the extension's
 * default request time-out is 300 s): call them from a Worker or use the
 * scheduler on servers.
 *
 * @module
 */
import type { ReceiveResult, SendResult, SyncResult } from "../common/sync_result.ts";

/** Options of {@linkcode CloudSyncNetwork.init}. */
export interface NetworkInitOptions {
  /** The SQLite Cloud managed database id (from the dashboard's OffSync page). */
  databaseId: string;
  /**
   * The CloudSync service address. Leave unset for SQLite Cloud's default; set it
   * only to another SQLite Cloud endpoint you were given (the licence forbids
   * pointing the network layer anywhere else).
   */
  address?: string;
  /** A SQLite Cloud API key (or `user:password` for the PostgreSQL quick start). Exclusive with `token`. */
  apiKey?: string;
  /** An access token / JWT for row-level security. Exclusive with `apiKey`. */
  token?: string;
}

/** Options of {@linkcode CloudSyncNetwork.sync}. */
export interface SyncOptions {
  /** Pause between receive attempts that found nothing, in ms. @default 100 */
  waitMs?: number;
  /** Total number of receive attempts (the extension's `max_retries`). @default 1 */
  maxAttempts?: number;
  /**
   * When the receive phase fails, the extension reports only "receive failed"
   * (the 1.1.4 sync trap). With `diagnose`, one follow-up `/status` request
   * finds the cause, so a wrong key is reported as `auth`, not `offline`.
   * It adds at most one request time-out to a failing sync.
   * @default true
   */
  diagnose?: boolean;
}

/** The raw `/status` body of the server. */
export interface ServerStatus {
  /** The last version the server accepted. */
  lastOptimisticVersion?: number;
  /** The last version the server confirmed applied. */
  lastConfirmedVersion?: number;
  /** Missing version ranges. */
  gaps?: unknown[];
  /** Failed asynchronous jobs. */
  failures?: Record<string, unknown>;
  /** Anything else the server sent. */
  [key: string]: unknown;
}

/**
 * Network sync of one database with SQLite Cloud's CloudSync service: what
 * `db.network` offers. There is no constructor: every {@linkcode SyncDatabase}
 * has its own, bound to its connection.
 *
 * @example Usage
 * ```ts
 * import { SyncDatabase } from "@sqliteai/sync";
 * await using db = await SyncDatabase.open("app.db");
 * db.exec("CREATE TABLE IF NOT EXISTS notes (id TEXT PRIMARY KEY NOT NULL, body TEXT)");
 * db.init("notes");
 * db.network.init({
 *   databaseId: process.env.SQLITE_SYNC_DATABASE_ID!,
 *   apiKey: process.env.SQLITE_SYNC_API_KEY!,
 * });
 * const result = db.network.sync({ waitMs: 500, maxAttempts: 4 });
 * console.log(result.send.status, result.receive.rows);
 * ```
 */
export interface CloudSyncNetwork {
  /** Whether `init()` succeeded and `cleanup()`/`logout()` has not run since. */
  readonly ready: boolean;

  /**
   * Prepares the network context, then sets the credentials. All arguments
   * are validated first, and credentials are set only after a successful
   * init (a failed init would discard them). No request is made.
   *
   * @param options The database id, and optionally the address and one credential.
   * @throws {TypeError} for a malformed id, address or credential (never echoed), or both
   *   `apiKey` and `token`.
   * @throws {SqliteSyncError} `state` when the database is closed.
   */
  init(options: NetworkInitOptions): void;

  /**
   * Sets (or replaces) the API key. Requires `init()`.
   *
   * @param apiKey A SQLite Cloud API key (or `user:password`).
   * @throws {TypeError} for a malformed key; {SqliteSyncError} `state` before `init()`.
   */
  setApiKey(apiKey: string): void;

  /**
   * Sets (or refreshes) the access token. Requires `init()`.
   *
   * @param token An access token / JWT.
   * @throws {TypeError} for a malformed token; {SqliteSyncError} `state` before `init()`.
   */
  setToken(token: string): void;

  /**
   * Uploads local changes since the last send. Blocks until the server answers.
   *
   * @returns What was sent and the server's versions.
   * @throws {SqliteSyncError} `state` before `init()`; `offline`, `auth`, `http`… from the server.
   */
  sendChanges(): SendResult;

  /**
   * Downloads and applies remote changes. Loop while `complete` is `false`
   * for a bounded, resumable drain.
   *
   * @param options `maxChunks`: at most this many chunks (≤ 0 or unset drains everything).
   * @returns The rows applied and whether the drain is complete.
   * @throws {RangeError} for a non-integer `maxChunks`; {SqliteSyncError} as
   *   {@linkcode CloudSyncNetwork.sendChanges}.
   */
  receiveChanges(options?: { maxChunks?: number }): ReceiveResult;

  /**
   * Sends, then receives with up to `maxAttempts` checks `waitMs` apart. A
   * failure after a good send throws a `SqliteSyncError` whose `partial`
   * holds the result so far.
   *
   * @param options Pause between attempts, number of attempts, and `diagnose`.
   * @returns Both phases' results.
   * @throws {RangeError} for `waitMs` or `maxAttempts` out of range; {SqliteSyncError} as
   *   {@linkcode CloudSyncNetwork.sendChanges}, with `partial` after a good send.
   */
  sync(options?: SyncOptions): SyncResult;

  /**
   * Whether local changes have not reached the server. Needs the network
   * (`GET /status`) unless nothing was ever written locally.
   *
   * @returns `true` while something is unsent.
   * @throws {SqliteSyncError} `state` before `init()`; network errors.
   */
  hasUnsentChanges(): boolean;

  /**
   * The server's raw `/status` for this device (undocumented in 1.1.4; the shape may change).
   *
   * @returns The status body.
   * @throws {SqliteSyncError} `http` when the body is not JSON; network errors.
   */
  status(): ServerStatus;

  /**
   * Forgets the send and receive checkpoints: the next sync re-sends and re-receives everything.
   *
   * @throws {SqliteSyncError} `state` before `init()`.
   */
  resetSyncVersion(): void;

  /**
   * Logs out: clears credentials, DELETES every local row of every synced
   * table and their settings (filters, block columns; only the algorithm
   * survives). Check `hasUnsentChanges()` first. Requires
   * `{ deleteLocalData: true }`; call `init()` again afterwards.
   *
   * @param options `{ deleteLocalData: true }`, the confirmation.
   * @throws {TypeError} without the confirmation; {SqliteSyncError} `state` before `init()` or
   *   while a table has block-level columns (1.1.4 fails on them).
   */
  logout(options: { deleteLocalData: true }): void;

  /**
   * Frees the network context. Call `init()` again before the next network
   * call. `db.close()` calls it.
   *
   * @throws {SqliteSyncError} `state` when the database is closed.
   */
  cleanup(): void;
}
