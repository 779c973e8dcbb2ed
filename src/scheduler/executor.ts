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
 * `docs/executors.md`. A database's handle on a pool is an
 * {@linkcode Executor} ({@linkcode createExecutor}); what its calls take and
 * answer is in `_executor_options.ts`.
 *
 * @module
 */
import type { SyncResult } from "../../common/sync_result.ts";
import { detectRuntime, type RuntimeName } from "../../ffi/runtime.ts";
import {
  configure,
  DatabaseSetup,
  DEFAULTS,
  integer,
  kindFor,
  processPool,
} from "./_executor_config.ts";
import type {
  ConnectionInfo,
  ExecutorCloseOptions,
  ExecutorInitOptions,
  ExecutorOptions,
  ExecutorSyncOptions,
  InitReply,
} from "./_executor_options.ts";
import type { Pool } from "./_executor_pool.ts";
import type { Seat } from "./_executor_seat.ts";

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
   * @default `_executor_entry.ts` (or `.js` in a build) next to this module
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

/** Where a database's executor stands. */
export type ExecutorState = "running" | "closing" | "closed";

/**
 * Gives a database a seat in the process's executor pool (or `options.pool`).
 * Nothing starts yet: {@linkcode Executor.init} opens its connection there.
 *
 * @param options Where the database and the extension are, time-outs, callbacks.
 * @returns The database's executor. Close it with `close()` (or `await using`).
 * @throws {TypeError} For a missing path or extension path.
 *
 * @example Usage
 * ```ts ignore
 * import { createExecutor } from "./executor.ts";
 * const executor = await createExecutor({ path: "app.db", extensionPath: "/path/cloudsync.so" });
 * await executor.init({ databaseId: "db_id", apiKey: "key", tables: ["notes"] });
 * try {
 *   const result = await executor.sync({ jobId: 1 }); // the main thread keeps running
 *   console.log(result.send.status, result.receive.rows);
 * } finally {
 *   await executor.close({ graceMs: 1000 });
 * }
 * ```
 */
export function createExecutor(options: ExecutorOptions): Promise<Executor> {
  try {
    return Promise.resolve(new Executor(options, INTERNAL));
  } catch (err) {
    return Promise.reject(err);
  }
}

const INTERNAL = Symbol("executor-internal");

/**
 * One database's seat in an executor pool, from {@linkcode createExecutor}.
 * Its calls run one at a time, in call order, on the Worker that keeps its
 * connection. A Worker that dies is replaced at once and the database
 * reopened there; the call it was running rejects with kind `interrupted`.
 * Errors are `SqliteSyncError`s (re-created from plain data; never a secret
 * in them), or `TypeError`/`RangeError` for bad arguments.
 *
 * @example Usage
 * ```ts ignore
 * import { createExecutor } from "./executor.ts";
 * await using executor = await createExecutor({ path: "app.db", extensionPath: "/path/cloudsync.so" });
 * await executor.init({ databaseId: "db_id", token: "jwt" });
 * console.log(await executor.unsentChanges(), await executor.dbVersion());
 * ```
 */
export class Executor {
  #pool: Pool;
  #seat: Seat;
  #kind: ExecutorKind;
  #setup: DatabaseSetup;
  #state: ExecutorState = "running";
  #closing: Promise<number> | undefined;

  /**
   * Internal: use {@linkcode createExecutor}.
   *
   * @internal
   * @param options The options.
   * @param token Guards against direct construction.
   */
  constructor(options: ExecutorOptions, token: typeof INTERNAL) {
    if (token !== INTERNAL) throw new TypeError("Use createExecutor() to start an executor");
    this.#setup = new DatabaseSetup(options);
    this.#pool = (options.pool ?? processPool(options.kind)).pool;
    this.#kind = this.#pool.config.kind;
    this.#seat = this.#pool.attach({
      onChange: (dbVersion, previous) => options.onDataVersionChange?.({ dbVersion, previous }),
      onCrash: (crash) => options.onCrash?.(crash),
      redact: (text) => this.#setup.redact(text),
    });
  }

  /** Where its Worker runs. */
  get kind(): ExecutorKind {
    return this.#kind;
  }

  /** The process its calls run in: the host's for `"process"`, this one's for `"worker"`. */
  get pid(): number | undefined {
    return this.#pool.pidOf(this.#seat);
  }

  /** Where it stands. */
  get state(): ExecutorState {
    return this.#state;
  }

  /** How many times the Worker serving it died and was replaced. */
  get restarts(): number {
    return this.#seat.restarts;
  }

  /**
   * Opens the database's connection in a Worker (the library's one open path),
   * `init()`s the tables not yet synced, `network.init()`s with the
   * credentials and starts change detection. The options stay in memory to
   * reopen the database wherever it moves.
   *
   * @param options Network id, address, credentials, tables.
   * @returns The database version and the synced tables.
   * @throws {SqliteSyncError} From opening, `init()` or `network.init()`.
   */
  init(options: ExecutorInitOptions): Promise<InitReply> {
    return this.#pool.call<InitReply>(this.#seat, this.#setup.open(options), "init()");
  }

  /**
   * Runs one `network.sync()`, after setting the connect and request
   * time-outs (they persist in the file, and another process may change them).
   *
   * @param options Job id, receive attempts, time-outs, a fresh token, a deadline.
   * @returns The sync's result.
   * @throws {SqliteSyncError} `offline`, `timeout`, `http` (with `status`), `auth`, `apply`…,
   *   with `partial` when the receive phase failed after a send phase that did not (its
   *   `send.chunks` tells whether anything was uploaded); `interrupted` when its Worker died or it
   *   was closed; `timeout` when `deadlineMs` passed.
   */
  sync(options: ExecutorSyncOptions = {}): Promise<SyncResult> {
    let deadlineMs: number | undefined;
    try {
      deadlineMs = options.deadlineMs === undefined
        ? undefined
        : integer(options.deadlineMs, "sync(): deadlineMs", 1);
    } catch (err) {
      return Promise.reject(err);
    }
    if (options.token !== undefined) this.#rememberToken(options.token);
    return this.#pool.call<SyncResult>(this.#seat, this.#setup.sync(options), "sync()", {
      jobId: options.jobId,
      deadlineMs,
    });
  }

  /**
   * Sets (or refreshes) the access token of the database's connection.
   *
   * @param token The token (kept in memory for a reopen).
   */
  async setToken(token: string): Promise<void> {
    await this.#pool.call(this.#seat, { t: "setToken", token }, "setToken()");
    this.#rememberToken(token);
  }

  /**
   * Local changes the next send would ship, counted locally (no network).
   *
   * @returns The count (0 while no table is synced).
   */
  unsentChanges(): Promise<number> {
    return this.#pool.call<number>(this.#seat, { t: "unsentChanges" }, "unsentChanges()");
  }

  /**
   * `cloudsync_db_version()` on the executor's connection.
   *
   * @returns The local database version.
   */
  dbVersion(): Promise<number> {
    return this.#pool.call<number>(this.#seat, { t: "dbVersion" }, "dbVersion()");
  }

  /**
   * The connection's settings as SQLite reports them, its pid and how it detects changes.
   *
   * @returns The settings.
   */
  connectionInfo(): Promise<ConnectionInfo> {
    return this.#pool.call<ConnectionInfo>(this.#seat, { t: "info" }, "connectionInfo()");
  }

  /**
   * Closes the database's connection and gives its seat back; idempotent. A
   * call still running after `graceMs` rejects with kind `interrupted`:
   * `"process"` kills the host process (other databases' calls in flight are
   * retried), `"worker"` terminates its Worker. The pool's Workers and host
   * end with its last database.
   *
   * @param options `graceMs`.
   * @returns Resolves when it is closed.
   */
  async close(options: ExecutorCloseOptions = {}): Promise<void> {
    await this.closeAndTell(options);
  }

  /**
   * @internal `close()`, telling until when a native call it had to abandon
   * (`"worker"` kind) may still be in a request (0: none).
   */
  closeAndTell(options: ExecutorCloseOptions = {}): Promise<number> {
    let graceMs: number;
    try {
      graceMs = integer(options.graceMs ?? DEFAULTS.graceMs, "close(): graceMs", 0);
    } catch (err) {
      return Promise.reject(err);
    }
    this.#closing ??= (async () => {
      this.#state = "closing";
      try {
        return await this.#pool.detach(this.#seat, graceMs, "closed while it was in flight");
      } finally {
        this.#state = "closed";
        this.#setup.forget();
      }
    })();
    return this.#closing;
  }

  /** Closes the executor at the end of an `await using` block. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #rememberToken(token: string): void {
    if (typeof token !== "string") return;
    this.#setup.keep(token);
    const open = this.#seat.open;
    if (open) this.#seat.open = { ...open, apiKey: undefined, token };
  }
}
