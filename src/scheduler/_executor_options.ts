/**
 * The executor's options, result and state types, and its defaults: what
 * the main side of {@linkcode createExecutor} accepts. Public names are
 * re-exported by `executor.ts`.
 *
 * @module
 */
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import type { DriverName } from "../../ffi/drivers/driver.ts";
import { detectRuntime, type RuntimeName } from "../../ffi/runtime.ts";
import type { ExecutorKind, TableSpec } from "./_executor_protocol.ts";

/** Connection settings of the executor; every one has a sane default. */
export interface ExecutorConnectionOptions {
  /**
   * How long a statement on the executor's connection waits for another
   * connection's lock, in ms.
   * @default 5000
   */
  busyTimeoutMs?: number;
  /**
   * `network_connect_timeout`, set before every sync, in seconds (DNS included).
   * @default 10
   */
  connectTimeoutS?: number;
  /**
   * `network_request_timeout`, set before every sync, in seconds. It bounds
   * each request, not the call: one sync makes several requests.
   * @default 60
   */
  requestTimeoutS?: number;
}

/** What {@linkcode ExecutorOptions.onCrash} receives. */
export interface ExecutorCrash {
  /** `exited`: the executor died (killed, crashed); `deadline`: a sync exceeded `deadlineMs` and was ended. */
  reason: "exited" | "deadline";
  /** The exit code, when known. */
  code: number | null;
  /** The signal that ended a child process, when known. */
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
   * Worker or child process.
   * @default defaultExecutorKind(): "worker" in Deno, "process" in Bun and Node
   */
  kind?: ExecutorKind;
  /** The database file (a file: the executor opens its own connection to it). */
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
   * How often the idle executor reads `PRAGMA data_version`, in ms; 0 turns
   * change detection off.
   * @default 250
   */
  pollMs?: number;
  /**
   * Called when the executor dies without `close()` (pending calls reject
   * with kind `interrupted`), or was ended because a sync passed its
   * `deadlineMs`. Call {@linkcode Executor.restart} to get a new one.
   */
  onCrash?: (crash: ExecutorCrash) => void;
  /**
   * Called when another connection (this process's or another's) committed
   * a change to a synced table. Commits of the executor's own connection
   * (a sync applying rows) do not call it. It must not throw: an exception
   * is rethrown asynchronously (an uncaught error).
   */
  onDataVersionChange?: (change: DataVersionChange) => void;
  /**
   * The entry module the Worker or child runs.
   * @default executorEntry()
   */
  entry?: string | URL;
  /**
   * Replaces the runtime flags on a child's command line (before the entry),
   * e.g. Deno permissions.
   * @default defaultRuntimeArgs(runtime)
   */
  runtimeArgs?: readonly string[];
  /**
   * How long the Worker or child may take to start, in ms.
   * @default 30000
   */
  startTimeoutMs?: number;
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
  /** A fresh token, set before the sync (and kept for `restart()`). */
  token?: string;
  /** Diagnose a failed receive phase with one `/status` request (see `db.network.sync`). @default true */
  diagnose?: boolean;
  /**
   * When the sync has not returned after this many ms, the executor is ended
   * the hard way, the call rejects with kind `timeout` and `onCrash` fires
   * (`reason: "deadline"`). Unset: the network time-outs are the only bound.
   */
  deadlineMs?: number;
}

/** Options of {@linkcode Executor.close}. */
export interface ExecutorCloseOptions {
  /**
   * How long a call in flight may take to finish before the executor is
   * ended the hard way (SIGKILL for a child, `terminate()` for a Worker), in ms.
   * @default 2000
   */
  graceMs?: number;
}

/** Where an executor stands. */
export type ExecutorState =
  /** Up; calls are accepted. */
  | "running"
  /** `close()` is under way. */
  | "closing"
  /** `close()` finished; nothing of it is left. */
  | "closed"
  /** It died or was ended after a deadline; `restart()` brings it back. */
  | "exited";

/**
 * The executor's default kind in a runtime, chosen so that `close()` keeps
 * its promise (after it resolves, nothing keeps the process alive, even
 * while a network call is blocked in native code):
 * - Deno: `"worker"`: its `node:worker_threads` Worker lets the process exit
 *   after `terminate()`, and costs no second runtime.
 * - Bun and Node: `"process"`: their Workers keep the process alive until
 *   the blocked call returns (up to the request time-out); a child can be killed.
 *
 * @param runtime The runtime; detected when omitted.
 * @returns `"worker"` or `"process"`.
 *
 * @example Usage
 * ```ts
 * import { defaultExecutorKind } from "./executor.ts";
 * console.log(defaultExecutorKind("bun")); // "process"
 * ```
 */
export function defaultExecutorKind(runtime: RuntimeName = detectRuntime().name): ExecutorKind {
  return runtime === "deno" ? "worker" : "process";
}

/**
 * Where the Worker/child entry module is: `_executor_entry.ts` next to this
 * file, or `_executor_entry.js` when this module itself is JavaScript (a
 * build must then ship the entry as its own file next to the module that
 * contains this code). Override per executor with `entry`.
 *
 * @returns The entry's URL.
 *
 * @example Usage
 * ```ts
 * import { executorEntry } from "./executor.ts";
 * console.log(executorEntry().pathname.endsWith("_executor_entry.ts"));
 * ```
 */
export function executorEntry(): URL {
  const js = /\.[cm]?js$/.test(new URL(import.meta.url).pathname);
  return new URL(js ? "./_executor_entry.js" : "./_executor_entry.ts", import.meta.url);
}

/** The entry as a URL: a URL as given, a path (relative to the working directory) as a file URL. */
export function entryUrl(entry: string | URL | undefined): URL {
  if (entry === undefined) return executorEntry();
  if (entry instanceof URL) return entry;
  if (typeof entry !== "string" || entry === "") {
    throw new TypeError("createExecutor(): 'entry' must be a URL or a file path");
  }
  return /^[a-z][a-z0-9+.-]+:\/\//i.test(entry) ? new URL(entry) : pathToFileURL(resolve(entry));
}

/** How long to wait for an exit after `terminate()`/SIGKILL or after a graceful close. */
export const EXIT_WAIT_MS = 1000;

/** The defaults of {@linkcode ExecutorOptions} and of `close()`. */
export const DEFAULTS = {
  busyTimeoutMs: 5000,
  connectTimeoutS: 10,
  requestTimeoutS: 60,
  pollMs: 250,
  startTimeoutMs: 30_000,
  graceMs: 2000,
} as const;

/** An integer number of milliseconds within [min, 2^31 - 1], or a RangeError naming it. */
export function assertMs(value: unknown, name: string, min = 0): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > 2 ** 31 - 1) {
    throw new RangeError(
      `${name} must be an integer from ${min} to 2147483647 ms, got ${String(value)}`,
    );
  }
  return value;
}

/** A timer that can be awaited and cancelled (a pending timer would keep the process alive). */
export function delay(ms: number): { done: Promise<"timeout">; cancel(): void } {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const done = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), ms);
  });
  return { done, cancel: () => clearTimeout(timer) };
}
