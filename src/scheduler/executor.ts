/**
 * The executor pool: where syncs run, off the thread that schedules them.
 * `cloudsync_network_sync` blocks its thread in libcurl for up to the
 * request time-out, so it runs in a `node:worker_threads` Worker with a
 * connection of its own. One pool per process serves every database of it
 * (every `SyncService`, the daemon's included): a few Workers, each keeping
 * one connection per database it serves, so the cost of a database is a
 * connection, not a thread or a process.
 *
 * Two kinds ({@linkcode ExecutorKind}), chosen per runtime by default
 * ({@linkcode defaultExecutorKind}) so that `stop()` keeps its promise:
 * - `"worker"`: the Workers run in this process. Deno lets the process exit
 *   after `terminate()`, even while a Worker is blocked in native code.
 * - `"process"`: the Workers run in ONE host process of the current runtime,
 *   whose main thread stays free: it exits the moment this process is gone,
 *   and a SIGKILL of it ends every blocked call at once (Bun and Node keep a
 *   process alive while one of its Workers is blocked).
 *
 * Configure it with {@linkcode configureExecutors}; the rules it follows
 * (growth while Workers are blocked, supervision, quarantine) are in
 * `docs/executors.md`. A database's handle on a pool (`createExecutor()`)
 * is in `_executor_connection.ts`.
 *
 * @module
 */
import { detectRuntime, type RuntimeName } from "../../ffi/runtime.ts";
import { configure, kindFor, PoolSetup, processPool, sibling } from "./_executor_config.ts";
import type { Pool } from "./_executor_pool.ts";

/**
 * Where the pool's Workers run: in this process (`"worker"`), or in one host
 * process of the current runtime (`"process"`) that can always be killed.
 */
export type ExecutorKind = "worker" | "process";

/** How the process's executor pools are set up; see {@linkcode configureExecutors}. */
export interface ExecutorPoolOptions {
  /**
   * Where the Workers run by default.
   * @default defaultExecutorKind(): "worker" in Deno, "process" in Bun and Node
   */
  kind?: ExecutorKind;
  /**
   * Workers kept for syncs that are not blocked; 2 fits a 2-core board.
   * @default 2
   */
  size?: number;
  /**
   * The most Workers at once, counting those blocked in a call to a server
   * that does not answer: up to `maxSize − size` such servers never delay
   * the other databases.
   * @default 8
   */
  maxSize?: number;
  /**
   * A Worker busy in one call for this long counts as blocked (databases
   * waiting for it move), in ms.
   * @default 1000
   */
  blockedAfterMs?: number;
  /**
   * A Worker above `size` idle for this long ends (its databases reopen elsewhere), in ms.
   * @default 60000
   */
  idleMs?: number;
  /**
   * How long a Worker (and the host process) may take to start, in ms.
   * @default 30000
   */
  startTimeoutMs?: number;
  /**
   * The Worker entry module (a compiled binary passes its embedded copy).
   * @default executorEntry()
   */
  entry?: string | URL;
  /**
   * Replaces the runtime flags on the host process's command line (before its entry).
   * @default Deno: run --no-check --quiet and read, write, FFI, env and sys permissions
   */
  runtimeArgs?: readonly string[];
}
/** A snapshot of a pool, from {@linkcode ExecutorPool.status}. */
export interface ExecutorPoolStatus {
  /** Where its Workers run. */
  kind: ExecutorKind;
  /** Workers kept for syncs that are not blocked. */
  size: number;
  /** The most Workers at once. */
  maxSize: number;
  /** Workers running now. */
  executors: number;
  /** Workers running a call. */
  busy: number;
  /** Workers running one call for longer than `blockedAfterMs`. */
  blocked: number;
  /** Databases served. */
  databases: number;
  /** Workers that died and were replaced. */
  restarts: number;
  /** The process the Workers run in (the host's for `"process"`), while any runs. */
  pid: number | undefined;
}

/**
 * The executor's default kind in a runtime: the one with which nothing keeps
 * the process alive after `stop()` resolves, even while a network call is
 * blocked in native code.
 *
 * @param runtime The runtime; detected when omitted.
 * @returns `"worker"` in Deno, `"process"` in Bun and Node.
 *
 * @example Usage
 * ```ts
 * import { defaultExecutorKind } from "./executor.ts";
 * console.log(defaultExecutorKind("bun")); // "process"
 * ```
 */
export function defaultExecutorKind(runtime: RuntimeName = detectRuntime().name): ExecutorKind {
  return kindFor(runtime);
}

/**
 * Where the Worker entry module is: `_executor_entry.ts` next to this file,
 * or `_executor_entry.js` when this module itself is JavaScript (a build
 * ships the entry as its own file next to the module that contains this code).
 *
 * @returns The entry's URL.
 *
 * @example Usage
 * ```ts
 * import { executorEntry } from "./executor.ts";
 * console.log(executorEntry().pathname.endsWith("_executor_entry.ts")); // true
 * ```
 */
export function executorEntry(): URL {
  return sibling("_executor_entry");
}

/**
 * A pool of executors: Workers that run the blocking network calls of many
 * databases. The process has one per kind, shared by every `SyncService`;
 * create another only to isolate databases (or in tests).
 *
 * @example Usage
 * ```ts ignore
 * import { createExecutor } from "./_executor_connection.ts";
 * import { ExecutorPool } from "./executor.ts";
 * const pool = new ExecutorPool({ kind: "worker", size: 1 });
 * const executor = await createExecutor({ path: "a.db", extensionPath: "/path/cloudsync.so", pool });
 * console.log(pool.status().databases); // 1
 * await executor.close();
 * ```
 */
export class ExecutorPool {
  #setup: PoolSetup;

  /**
   * Sets a pool up; nothing starts before its first database.
   *
   * @param options Kind, sizes, time-outs, entry.
   * @throws {TypeError} {RangeError} For a bad option.
   */
  constructor(options: ExecutorPoolOptions = {}) {
    this.#setup = new PoolSetup(options, "ExecutorPool");
  }

  /**
   * A snapshot: Workers, busy and blocked ones, databases, restarts.
   *
   * @returns The status.
   */
  status(): ExecutorPoolStatus {
    return this.#setup.status();
  }

  /** @internal The running pool (started on first use). */
  get pool(): Pool {
    return this.#setup.pool;
  }
}

/**
 * Sets up the process's executor pools: the default kind, how many Workers
 * they keep and at most run, when a Worker counts as blocked. Call it before
 * the first `SyncService` starts; the numbers can change later too.
 *
 * @param options The settings; unset ones keep their current value.
 * @throws {TypeError} {RangeError} For a bad option.
 * @throws {SqliteSyncError} `state` when the kind or entry changes while databases use the pool.
 *
 * @example Usage
 * ```ts
 * import { configureExecutors, executorStatus } from "@sqliteai/sync";
 * configureExecutors({ size: 2, maxSize: 6 });
 * console.log(executorStatus().maxSize); // 6
 * ```
 */
export function configureExecutors(options: ExecutorPoolOptions): void {
  configure(options);
}

/**
 * A snapshot of the process's executor pool (of the default kind, or `kind`).
 *
 * @param kind Which pool.
 * @returns The status.
 *
 * @example Usage
 * ```ts
 * import { executorStatus } from "@sqliteai/sync";
 * console.log(executorStatus().executors); // 0 before the first SyncService
 * ```
 */
export function executorStatus(kind?: ExecutorKind): ExecutorPoolStatus {
  return processPool(kind).status();
}
