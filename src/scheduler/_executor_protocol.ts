/**
 * The messages between the main side of an executor ({@linkcode Executor} in
 * `executor.ts`) and its Worker or child process (`_executor_entry.ts`).
 * Plain, JSON-safe data only: the same messages travel by `postMessage` to a
 * Worker and as newline-delimited JSON over a child's stdin/stdout.
 *
 * Secrets (API key, token) travel only in `init`, `sync` and `setToken`
 * requests; they are never part of a reply.
 *
 * @module
 */
import { SqliteSyncError, type SqliteSyncErrorKind } from "../../common/errors.ts";
import type { SyncResult } from "../../common/sync_result.ts";
import type { DriverName } from "../../ffi/drivers/driver.ts";
import type { InitOptions } from "../_tables.ts";

/**
 * Where an executor runs: a `node:worker_threads` Worker in this process, or
 * a child process of the current runtime.
 */
export type ExecutorKind = "worker" | "process";

/** Bumped whenever a message changes shape; the entry refuses another version. */
export const PROTOCOL_VERSION = 1;

/** A table to sync, with its `init()` options. */
export interface TableSpec extends InitOptions {
  /** The table name. */
  name: string;
}

/** What the executor needs to open its connection and prepare the network. */
export interface InitRequest {
  /** The database file. */
  path: string;
  /** The extension binary (already resolved and verified by the main side). */
  extensionPath: string;
  /** The driver, the same as the main side's. */
  driver?: DriverName;
  /** `PRAGMA busy_timeout` of the executor's connection, in ms. */
  busyTimeoutMs: number;
  /** How often the idle executor reads `PRAGMA data_version`, in ms (0: never). */
  pollMs: number;
  /** The managed database id. */
  databaseId: string;
  /** The CloudSync address (unset: SQLite Cloud's default). */
  address?: string;
  /** API key (secret). */
  apiKey?: string;
  /** Access token (secret). */
  token?: string;
  /** Tables to `init()` when not yet synced. */
  tables?: (string | TableSpec)[];
}

/** One sync, with every time-out spelled out by the main side. */
export interface SyncRequest {
  /** The caller's job id, echoed in crash reports. */
  jobId?: number;
  /** Pause between receive attempts that found nothing, in ms. */
  waitMs: number;
  /** Total receive attempts. */
  maxAttempts: number;
  /** `network_connect_timeout`, seconds, set before the sync. */
  connectTimeoutS: number;
  /** `network_request_timeout`, seconds, set before the sync. */
  requestTimeoutS: number;
  /** Whether a failed receive phase is diagnosed with one `/status` request. */
  diagnose: boolean;
  /** A fresh token to set before the sync (secret). */
  token?: string;
}

/** Requests from the main side. Each carries an `id` its reply echoes. */
export type Request =
  | { t: "init"; id: number; options: InitRequest }
  | { t: "sync"; id: number; options: SyncRequest }
  | { t: "setToken"; id: number; token: string }
  | { t: "unsentChanges"; id: number }
  | { t: "dbVersion"; id: number }
  | { t: "info"; id: number }
  | { t: "close"; id: number };

/** What `init` answers. */
export interface InitReply {
  /** The local database version (`-1` while no table is synced). */
  dbVersion: number;
  /** The synced tables after `init`. */
  syncedTables: string[];
}

/** The executor connection's settings, as SQLite reports them. */
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
  /** The process id the executor runs in (the main side's own for a Worker). */
  pid: number;
}

/** An error as it crosses the boundary (already redacted where it was raised). */
export interface ErrorData {
  /** `SqliteSyncError`, `TypeError`, `RangeError` or another name. */
  name: string;
  /** The `SqliteSyncError` kind. */
  kind?: SqliteSyncErrorKind;
  /** The message. */
  message: string;
  /** The HTTP status. */
  status?: number;
  /** The machine-readable code. */
  code?: string;
  /** What a failed sync achieved before it failed. */
  partial?: SyncResult;
}

/** Messages from the executor. */
export type Reply =
  | { t: "ready"; pid: number; protocol: number }
  | { t: "ok"; id: number; value: unknown }
  | { t: "err"; id: number; error: ErrorData }
  | { t: "change"; dbVersion: number; previous: number };

/**
 * Turns what an executor call threw into plain data.
 *
 * @param err The error.
 * @returns Its safe fields.
 *
 * @example Usage
 * ```ts
 * import { SqliteSyncError } from "../../common/errors.ts";
 * import { fromErrorData, toErrorData } from "./_executor_protocol.ts";
 * const data = toErrorData(new SqliteSyncError("http", "sync() failed: 503", { status: 503 }));
 * const again = fromErrorData(JSON.parse(JSON.stringify(data)));
 * console.log(again instanceof SqliteSyncError, (again as SqliteSyncError).status); // true 503
 * ```
 */
export function toErrorData(err: unknown): ErrorData {
  if (err instanceof SqliteSyncError) {
    return {
      name: "SqliteSyncError",
      kind: err.kind,
      message: err.message,
      ...(err.status === undefined ? {} : { status: err.status }),
      ...(err.code === undefined ? {} : { code: err.code }),
      ...(err.partial === undefined ? {} : { partial: err.partial }),
    };
  }
  if (err instanceof Error) return { name: err.name, message: err.message };
  return { name: "Error", message: String(err) };
}

/**
 * Re-creates an error on the main side: a `SqliteSyncError` with the same
 * kind, status, code and partial result; `TypeError`/`RangeError` as such
 * (invalid arguments); anything else as a `SqliteSyncError` of kind `sql`.
 *
 * @param data The error's data.
 * @returns The error to reject with.
 *
 * @example Usage
 * ```ts
 * import { fromErrorData } from "./_executor_protocol.ts";
 * const err = fromErrorData({ name: "SqliteSyncError", kind: "offline", message: "unreachable" });
 * console.log(err.message); // "unreachable"
 * ```
 */
export function fromErrorData(data: ErrorData): Error {
  if (data.name === "TypeError") return new TypeError(data.message);
  if (data.name === "RangeError") return new RangeError(data.message);
  return new SqliteSyncError(data.kind ?? "sql", data.message, {
    ...(data.status === undefined ? {} : { status: data.status }),
    ...(data.code === undefined ? {} : { code: data.code }),
    ...(data.partial === undefined ? {} : { partial: data.partial }),
  });
}
