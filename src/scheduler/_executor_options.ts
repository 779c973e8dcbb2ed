/**
 * What a database's executor is given and answers: the options of
 * `createExecutor()` and of its calls, what its callbacks receive, and the
 * replies of `init()` and `connectionInfo()` (the Worker entry builds those).
 * The handle itself is in `executor.ts`.
 *
 * @module
 */
import type { DriverName } from "../../ffi/drivers/driver.ts";
import type { TableSpec } from "../_tables.ts";
import type { ExecutorPool } from "./_executor_config.ts";
import type { ExecutorKind } from "./executor.ts";

/** What {@linkcode Executor.init} answers. */
export interface InitReply {
  /** The local database version (`-1` while no table is synced). */
  dbVersion: number;
  /** The synced tables after `open`. */
  syncedTables: string[];
}

/** A database connection's settings, as SQLite reports them. */
export interface ConnectionInfo {
  /** The driver of the executor's connection. */
  driver: DriverName;
  /** `PRAGMA journal_mode`. */
  journalMode: string;
  /** `PRAGMA busy_timeout`, in ms. */
  busyTimeoutMs: number;
  /** `PRAGMA recursive_triggers`. */
  recursiveTriggers: boolean;
  /** `network_connect_timeout` as stored, in seconds (`null` when never set). */
  connectTimeoutS: number | null;
  /** `network_request_timeout` as stored, in seconds (`null` when never set). */
  requestTimeoutS: number | null;
  /** The process id the executor runs in (this process's for the `"worker"` kind). */
  pid: number;
  /** How the executor learns of other connections' commits: a file watch, else a slow poll. */
  changeDetection: "watch" | "poll" | "off";
}

/** Connection settings of a database's executor. */
export interface ExecutorConnectionOptions {
  /**
   * How long a statement on the executor's connection waits for another connection's lock, in ms.
   * @default 5000
   */
  busyTimeoutMs?: number;
  /**
   * `network_connect_timeout`, set before every sync, in seconds (DNS included).
   * @default 10
   */
  connectTimeoutS?: number;
  /**
   * `network_request_timeout`, set before every sync, in seconds: it bounds
   * each request, not the call (one sync makes several requests).
   * @default 60
   */
  requestTimeoutS?: number;
}

/** What {@linkcode ExecutorOptions.onCrash} receives. */
export interface ExecutorCrash {
  /** `exited`: the Worker (or the host) died; `deadline`: a sync exceeded `deadlineMs`. */
  reason: "exited" | "deadline";
  /** The exit code, when known. */
  code: number | null;
  /** The signal that ended the host process, when known. */
  signal: string | null;
  /** The job in flight, when there was one. */
  jobId?: number;
  /** A one-line description (no secret). */
  message: string;
}

/** What {@linkcode ExecutorOptions.onDataVersionChange} receives. */
export interface DataVersionChange {
  /** `cloudsync_db_version()` now. */
  dbVersion: number;
  /** The version when the executor last looked (`-1` when no table was synced then). */
  previous: number;
}

/** Options of {@linkcode createExecutor}. */
export interface ExecutorOptions {
  /**
   * Which of the process's pools serves this database.
   * @default the kind set by configureExecutors(), else defaultExecutorKind()
   */
  kind?: ExecutorKind;
  /** The database file (the executor opens its own connection to it). */
  path: string;
  /** The extension binary, already resolved (e.g. `db.extension.path`). */
  extensionPath: string;
  /**
   * The driver of the executor's connection; use the main side's.
   * @default "node:sqlite" in Deno and Node, "bun:sqlite" in Bun
   */
  driver?: DriverName;
  /** Busy timeout and network time-outs. */
  connection?: ExecutorConnectionOptions;
  /**
   * Whether to watch for commits of other connections (`onDataVersionChange`).
   * @default true
   */
  watch?: boolean;
  /**
   * Called when the Worker serving this database died, idle or busy (the
   * database reopens on another), or was ended past a sync's `deadlineMs`.
   */
  onCrash?: (crash: ExecutorCrash) => void;
  /**
   * Called when another connection (this process's or another's) committed
   * to a synced table, never for the executor's own commits. It must not
   * throw: an exception is rethrown asynchronously.
   */
  onDataVersionChange?: (change: DataVersionChange) => void;
  /** A pool of its own instead of the process's (tests, isolation). */
  pool?: ExecutorPool;
}

/** Options of {@linkcode Executor.init}: the network, as `db.network.init()` takes it, and tables. */
export interface ExecutorInitOptions {
  /** The SQLite Cloud managed database id. */
  databaseId: string;
  /** The CloudSync address; leave unset for SQLite Cloud's. */
  address?: string;
  /** An API key (exclusive with `token`). Kept in memory only. */
  apiKey?: string;
  /** An access token (exclusive with `apiKey`). Kept in memory only. */
  token?: string;
  /** Tables to `init()` when not yet synced (a name, or a name with init options). */
  tables?: readonly (string | TableSpec)[];
}

/** Options of {@linkcode Executor.sync}. */
export interface ExecutorSyncOptions {
  /** The caller's job id (reported by `onCrash` when the job was in flight). */
  jobId?: number;
  /** Pause between receive attempts that found nothing, in ms. @default 100 */
  waitMs?: number;
  /** Total receive attempts (the extension's `max_retries`). @default 1 */
  maxAttempts?: number;
  /** Overrides `connection.connectTimeoutS` for this sync. */
  connectTimeoutS?: number;
  /** Overrides `connection.requestTimeoutS` for this sync. */
  requestTimeoutS?: number;
  /** A fresh token, set before the sync (and kept for a reopen). */
  token?: string;
  /** Diagnose a failed receive phase with one `/status` request (see `db.network.sync`). @default true */
  diagnose?: boolean;
  /**
   * When the sync has not returned this many ms after it started, its Worker
   * is ended (the pool starts another), the call rejects with kind `timeout`
   * and `onCrash` fires (`reason: "deadline"`). Unset: the network time-outs are the only bound.
   */
  deadlineMs?: number;
}

/** Options of {@linkcode Executor.close}. */
export interface ExecutorCloseOptions {
  /**
   * How long a call in flight may take before it is ended the hard way, in ms.
   * @default 2000
   */
  graceMs?: number;
}
