/**
 * The messages of the executor pool. Plain, JSON-safe data only: the same
 * messages travel by `postMessage` to a Worker, and through the pool's host
 * process (newline-delimited JSON over its stdin/stdout) to a Worker there.
 *
 * - Main side ↔ Worker (`_executor_entry.ts`): {@linkcode Request} and
 *   {@linkcode Reply}. A Worker serves many databases; every request but
 *   `close` names one by its `db` key.
 * - Main side ↔ host process (`_executor_host.ts`): {@linkcode HostCommand}
 *   and {@linkcode HostEvent}, which wrap the above per Worker slot.
 *
 * Secrets (API key, token) travel only in `open`, `sync` and `setToken`
 * requests; they are never part of a reply.
 *
 * @module
 */
import { SqliteSyncError, type SqliteSyncErrorKind } from "../../common/errors.ts";
import type { SyncResult } from "../../common/sync_result.ts";
import type { DriverName } from "../../ffi/drivers/driver.ts";
import type { TableSpec } from "../_tables.ts";
import type { RuntimeName } from "../../ffi/runtime.ts";

/**
 * The V8 limits of every thread the pool starts (its Workers and the host
 * relay). They allocate little, but under a sustained stream of calls V8
 * grows each isolate's young generation towards 64 MB (seen in Deno: +24 MB
 * of RSS over 20,000 syncs, still growing); 4 MB keeps a scavenge cheap and
 * the memory flat. Runtimes that ignore `resourceLimits` (Bun) lose nothing.
 */
export const WORKER_RESOURCE_LIMITS: { readonly maxYoungGenerationSizeMb: number } = {
  maxYoungGenerationSizeMb: 4,
};

/** Where a pool's Workers run (the public `ExecutorKind`). */
export type WorkerKind = "worker" | "process";

/** How a pool is set up: its options, checked, with the defaults filled in. */
export interface PoolConfig {
  kind: WorkerKind;
  size: number;
  maxSize: number;
  blockedAfterMs: number;
  idleMs: number;
  startTimeoutMs: number;
  entry: URL;
  hostEntry: URL;
  runtime: RuntimeName;
  runtimeArgs?: readonly string[];
}

/** The pool options as given (the shape of the public `ExecutorPoolOptions`). */
export interface PoolOptions {
  kind?: WorkerKind;
  size?: number;
  maxSize?: number;
  blockedAfterMs?: number;
  idleMs?: number;
  startTimeoutMs?: number;
  entry?: string | URL;
  runtimeArgs?: readonly string[];
}

/** A crash as a database hears it (the shape of the public `ExecutorCrash`). */
export interface CrashReport {
  reason: "exited" | "deadline";
  code: number | null;
  signal: string | null;
  jobId?: number;
  message: string;
}

/** A pool's snapshot (the shape of the public `ExecutorPoolStatus`). */
export interface PoolSnapshot {
  kind: WorkerKind;
  size: number;
  maxSize: number;
  executors: number;
  busy: number;
  blocked: number;
  databases: number;
  restarts: number;
  pid: number | undefined;
}

/** Bumped whenever a message changes shape; the main side refuses another version. */
export const PROTOCOL_VERSION = 2;

/** What a Worker needs to open one database's connection and prepare its network. */
export interface OpenRequest {
  /** The database file. */
  path: string;
  /** The extension binary (already resolved and verified by the main side). */
  extensionPath: string;
  /** The driver, the same as the main side's. */
  driver?: DriverName;
  /** `PRAGMA busy_timeout` of the connection, in ms. */
  busyTimeoutMs: number;
  /** Whether to report commits of other connections (`change`). */
  watch: boolean;
  /**
   * The last database version the main side knows of (when reopening after a
   * move or a crash): a higher version at open is reported as a `change` at
   * once, so a commit made while the database had no Worker is not missed.
   */
  knownDbVersion?: number;
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

/** A request about one database, without its routing (`id`, `db`). */
export type DatabaseRequest =
  | { t: "open"; options: OpenRequest }
  | { t: "sync"; options: SyncRequest }
  | { t: "setToken"; token: string }
  | { t: "unsentChanges" }
  | { t: "dbVersion" }
  | { t: "info" }
  | { t: "detach" };

/** Requests to a Worker. Each carries an `id` its reply echoes. */
export type Request =
  | (DatabaseRequest & { id: number; db: number })
  /** Closes every database of the Worker (before it is ended). */
  | { t: "close"; id: number };

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

/** Messages from a Worker. */
export type Reply =
  | { t: "ready"; protocol: number }
  | { t: "ok"; id: number; value: unknown }
  | { t: "err"; id: number; error: ErrorData }
  | { t: "change"; db: number; dbVersion: number; previous: number };

/** From the main side to the host process. */
export type HostCommand =
  /** Starts a Worker on `entry` as slot `slot`. */
  | { t: "spawn"; slot: number; entry: string }
  /** Forwards a request to a slot's Worker. */
  | { t: "send"; slot: number; m: Request }
  /** Terminates a slot's Worker. */
  | { t: "kill"; slot: number };

/** From the host process to the main side. */
export type HostEvent =
  | { t: "hello"; pid: number; protocol: number }
  | { t: "from"; slot: number; m: Reply }
  | { t: "exit"; slot: number; code: number | null; error?: string };

/** A port a message can be posted to (a `Worker`, `parentPort`). */
export interface MessageTarget {
  postMessage(data: unknown): void;
}

/**
 * Posts `message` as JSON text. Every port of the pool carries text, not
 * objects: Deno keeps ~130 bytes of each structured-cloned object for good
 * (a `MessageChannel` echo: +8 MB per 60,000 round trips as objects, +2 MB as
 * text), which a long-running daemon paid on every sync. The messages are
 * JSON-safe anyway (the host process sends them as JSON lines).
 *
 * @param port Where to post.
 * @param message The message.
 *
 * @example Usage
 * ```ts
 * import { postText, readText } from "./_executor_protocol.ts";
 * const { port1, port2 } = new MessageChannel();
 * port2.onmessage = (e) => {
 *   console.log(readText<{ t: string }>(e.data).t); // "ready"
 *   port1.close();
 *   port2.close();
 * };
 * postText(port1, { t: "ready" });
 * ```
 */
export function postText(port: MessageTarget, message: unknown): void {
  port.postMessage(JSON.stringify(message));
}

/**
 * Reads a message {@linkcode postText} sent.
 *
 * @param data The message event's data.
 * @returns The message.
 */
export function readText<T>(data: unknown): T {
  return JSON.parse(data as string) as T;
}

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
