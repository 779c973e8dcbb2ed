/**
 * The executor: runs `cloudsync_network_sync` and friends off the main
 * thread, on a connection of its own, so the main event loop never stalls
 * while libcurl waits for the server (up to the request time-out, 300 s by
 * the extension's default).
 *
 * Two kinds, both available everywhere:
 * - `"worker"`: a `node:worker_threads` Worker. Cheap (no second runtime).
 * - `"process"`: a child process of the current runtime (`process.execPath`),
 *   talking newline-delimited JSON over stdin/stdout. Costs a runtime's
 *   memory; can always be SIGKILLed, and isolates crashes.
 *
 * No runtime interrupts a thread blocked in native code, so what `close()`
 * can promise depends on the kind and the runtime (see
 * {@linkcode defaultExecutorKind}): Deno's `node:worker_threads` Worker lets
 * the process exit after `terminate()`; Bun's and Node's Workers keep it
 * alive until the native call returns; a child process can be killed in
 * every runtime.
 *
 * @module
 */
import { SqliteSyncError } from "../../common/errors.ts";
import type { SyncResult } from "../../common/sync_result.ts";
import { detectRuntime } from "../../ffi/runtime.ts";
import { ExecutorLifecycle } from "./_executor_lifecycle.ts";
import {
  assertMs,
  defaultExecutorKind,
  DEFAULTS,
  entryUrl,
  type ExecutorCloseOptions,
  type ExecutorConnectionOptions,
  type ExecutorInitOptions,
  type ExecutorOptions,
  type ExecutorState,
  type ExecutorSyncOptions,
} from "./_executor_options.ts";
import type { ConnectionInfo, ExecutorKind, InitReply, TableSpec } from "./_executor_protocol.ts";

export type { ConnectionInfo, ExecutorKind, InitReply, TableSpec };
export { defaultExecutorKind, executorEntry } from "./_executor_options.ts";
export type {
  DataVersionChange,
  ExecutorCloseOptions,
  ExecutorConnectionOptions,
  ExecutorCrash,
  ExecutorInitOptions,
  ExecutorOptions,
  ExecutorState,
  ExecutorSyncOptions,
} from "./_executor_options.ts";

/**
 * Starts an executor (a Worker or a child process) and waits until it is
 * ready. Then {@linkcode Executor.init} opens its connection.
 *
 * @param options Where the database and the extension are, the kind, time-outs and callbacks.
 * @returns The running executor. Close it with `close()` (or `await using`).
 * @throws {SqliteSyncError} `interrupted` when it exits or does not start in time
 *   (the message carries its stderr, redacted of the credentials it was given).
 * @throws {RangeError} for a bad `pollMs` or `startTimeoutMs`.
 *
 * @example Usage
 * ```ts ignore
 * import { SyncDatabase } from "@sqliteai/sync";
 * import { createExecutor } from "./executor.ts";
 * const db = await SyncDatabase.open("app.db");
 * const executor = await createExecutor({
 *   path: "app.db",
 *   extensionPath: db.extension.path,
 *   driver: db.driver.name,
 *   connection: { requestTimeoutS: 30 },
 *   onDataVersionChange: ({ dbVersion }) => console.log("local change", dbVersion),
 * });
 * await executor.init({ databaseId: "db_id", apiKey: "key", tables: ["notes"] });
 * try {
 *   const result = await executor.sync({ jobId: 1 }); // the main thread keeps running
 *   console.log(result.send.status, result.receive.rows);
 * } finally {
 *   await executor.close({ graceMs: 1000 });
 * }
 * ```
 */
export async function createExecutor(options: ExecutorOptions): Promise<Executor> {
  const executor = new Executor(options, INTERNAL);
  await executor[START]();
  return executor;
}

const INTERNAL = Symbol("executor-internal");
const START = Symbol("executor-start");

/**
 * A running executor; create it with {@linkcode createExecutor}. Calls run
 * one at a time in the executor, in call order. Every call rejects with a
 * `SqliteSyncError` (re-created from plain data; never a secret in it), or a
 * `TypeError`/`RangeError` for invalid arguments.
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
  #options: ExecutorOptions;
  #kind: ExecutorKind;
  #pollMs: number;
  #connection: Required<ExecutorConnectionOptions>;
  #life: ExecutorLifecycle;
  #initOptions: ExecutorInitOptions | undefined;
  #closing: Promise<void> | undefined;

  /**
   * Internal: use {@linkcode createExecutor}.
   *
   * @internal
   * @param options The options.
   * @param token Guards against direct construction.
   */
  constructor(options: ExecutorOptions, token: typeof INTERNAL) {
    if (token !== INTERNAL) throw new TypeError("Use createExecutor() to start an executor");
    if (!options || typeof options.path !== "string" || typeof options.extensionPath !== "string") {
      throw new TypeError("createExecutor(): 'path' and 'extensionPath' must be strings");
    }
    this.#options = options;
    const runtime = detectRuntime().name;
    this.#kind = options.kind ?? defaultExecutorKind(runtime);
    if (this.#kind !== "worker" && this.#kind !== "process") {
      throw new TypeError(`createExecutor(): kind must be "worker" or "process"`);
    }
    const entry = entryUrl(options.entry);
    this.#pollMs = assertMs(options.pollMs ?? DEFAULTS.pollMs, "pollMs");
    assertMs(options.startTimeoutMs ?? DEFAULTS.startTimeoutMs, "startTimeoutMs", 1);
    this.#connection = {
      busyTimeoutMs: options.connection?.busyTimeoutMs ?? DEFAULTS.busyTimeoutMs,
      connectTimeoutS: options.connection?.connectTimeoutS ?? DEFAULTS.connectTimeoutS,
      requestTimeoutS: options.connection?.requestTimeoutS ?? DEFAULTS.requestTimeoutS,
    };
    this.#life = new ExecutorLifecycle(options, {
      kind: this.#kind,
      runtime,
      entry,
      redact: (text) => this.#redact(text),
    });
  }

  /** Worker or child process. */
  get kind(): ExecutorKind {
    return this.#kind;
  }

  /** The process the executor runs in: the child's id, or this process's for a Worker. */
  get pid(): number | undefined {
    return this.#life.pid;
  }

  /** Where the executor stands. */
  get state(): ExecutorState {
    return this.#life.state;
  }

  /** Calls sent and not answered yet. */
  get inFlight(): number {
    return this.#life.inFlight;
  }

  /**
   * Opens the executor's connection (same driver, the extension loaded, WAL,
   * busy timeout, `recursive_triggers`: the library's one open path),
   * `init()`s the `tables` not yet synced, then `network.init()` with the
   * credentials. Starts change detection. The options are kept (in memory)
   * for {@linkcode Executor.restart}.
   *
   * @param options Network id, address, credentials, tables.
   * @returns The database version and the synced tables.
   * @throws {SqliteSyncError} from opening, `init()` or `network.init()`; {TypeError} for a
   *   malformed id, address or credential (never echoed).
   */
  async init(options: ExecutorInitOptions): Promise<InitReply> {
    const reply = await this.#life.call<InitReply>(
      {
        t: "init",
        id: 0,
        options: {
          path: this.#options.path,
          extensionPath: this.#options.extensionPath,
          driver: this.#options.driver,
          busyTimeoutMs: this.#connection.busyTimeoutMs,
          pollMs: this.#pollMs,
          databaseId: options?.databaseId,
          address: options?.address,
          apiKey: options?.apiKey,
          token: options?.token,
          tables: options?.tables ? [...options.tables] : undefined,
        },
      },
      "init()",
    );
    this.#initOptions = { ...options };
    return reply;
  }

  /**
   * Runs one `network.sync()` in the executor, after setting the connect
   * and request time-outs (they persist in the file, and another process
   * may have changed them).
   *
   * @param options Job id, receive attempts, time-outs, a fresh token, a deadline.
   * @returns The sync's result.
   * @throws {SqliteSyncError} `offline`, `timeout`, `http` (with `status`), `auth`, `apply`…,
   *   with `partial` when the send phase completed; `interrupted` when the executor died or
   *   was closed during the call; `timeout` when `deadlineMs` passed.
   */
  sync(options: ExecutorSyncOptions = {}): Promise<SyncResult> {
    let deadlineMs: number | undefined;
    try {
      deadlineMs = options.deadlineMs === undefined
        ? undefined
        : assertMs(options.deadlineMs, "sync(): deadlineMs", 1);
    } catch (err) {
      return Promise.reject(err);
    }
    const promise = this.#life.call<SyncResult>(
      {
        t: "sync",
        id: 0,
        options: {
          jobId: options.jobId,
          waitMs: options.waitMs ?? 100,
          maxAttempts: options.maxAttempts ?? 1,
          connectTimeoutS: options.connectTimeoutS ?? this.#connection.connectTimeoutS,
          requestTimeoutS: options.requestTimeoutS ?? this.#connection.requestTimeoutS,
          diagnose: options.diagnose ?? true,
          token: options.token,
        },
      },
      "sync()",
      { jobId: options.jobId, deadlineMs },
    );
    if (options.token !== undefined) this.#rememberToken(options.token);
    return promise;
  }

  /**
   * Sets (or refreshes) the access token of the executor's connection.
   *
   * @param token The token. Kept in memory for `restart()`.
   */
  async setToken(token: string): Promise<void> {
    await this.#life.call({ t: "setToken", id: 0, token }, "setToken()");
    this.#rememberToken(token);
  }

  /**
   * Local changes the next send would ship, counted locally (no network):
   * this site's rows of `cloudsync_changes` after the send checkpoint
   * (`send_dbversion`), one per changed column (or row delete).
   *
   * @returns The count (0 while no table is synced).
   */
  unsentChanges(): Promise<number> {
    return this.#life.call<number>({ t: "unsentChanges", id: 0 }, "unsentChanges()");
  }

  /**
   * `cloudsync_db_version()` on the executor's connection.
   *
   * @returns The local database version.
   */
  dbVersion(): Promise<number> {
    return this.#life.call<number>({ t: "dbVersion", id: 0 }, "dbVersion()");
  }

  /**
   * The executor connection's settings as SQLite reports them (journal mode,
   * busy timeout, `recursive_triggers`, stored network time-outs, driver, pid).
   *
   * @returns The settings.
   */
  connectionInfo(): Promise<ConnectionInfo> {
    return this.#life.call<ConnectionInfo>({ t: "info", id: 0 }, "connectionInfo()");
  }

  /**
   * Closes the executor's database (network cleanup, terminate, close) and
   * ends it. A call still in flight after `graceMs` is ended the hard way:
   * a child process gets SIGKILL, a Worker `terminate()`; the call rejects
   * with kind `interrupted`. Once it resolves, nothing of the executor keeps
   * the process alive, except a Worker blocked in native code in Bun or Node
   * (their runtimes wait for the thread; use the `"process"` kind there).
   * Idempotent.
   *
   * @param options `graceMs`.
   */
  close(options: ExecutorCloseOptions = {}): Promise<void> {
    let graceMs: number;
    try {
      graceMs = assertMs(options.graceMs ?? DEFAULTS.graceMs, "close(): graceMs");
    } catch (err) {
      return Promise.reject(err);
    }
    this.#closing ??= (async () => {
      this.#life.state = "closing";
      this.#life.pin();
      try {
        await this.#life.end(graceMs, "closed while it was in flight");
      } finally {
        this.#life.state = "closed";
        this.#initOptions = undefined;
        this.#life.unpin();
      }
    })();
    return this.#closing;
  }

  /**
   * Replaces the executor with a new one (after a crash, or to recover from a
   * hung call): ends the current one when it still runs (like `close()`),
   * starts another and replays the last `init()` with the latest token.
   *
   * @param options `graceMs` for ending a running executor.
   * @throws {SqliteSyncError} `state` after `close()`; what starting or `init()` raise.
   */
  async restart(options: ExecutorCloseOptions = {}): Promise<void> {
    if (this.#life.state === "closing" || this.#life.state === "closed") {
      throw new SqliteSyncError("state", "restart(): the executor is closed.");
    }
    const graceMs = assertMs(options.graceMs ?? DEFAULTS.graceMs, "restart(): graceMs");
    if (this.#life.state === "running") {
      this.#life.pin();
      try {
        await this.#life.end(graceMs, "restarted while it was in flight");
      } finally {
        this.#life.unpin();
      }
    }
    this.#life.state = "running";
    await this[START]();
    if (this.#initOptions) await this.init(this.#initOptions);
  }

  /** Closes the executor at the end of an `await using` block. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  // ---- internals ------------------------------------------------------------------

  /**
   * Internal: starts the Worker or child and waits for its `ready`.
   *
   * @internal
   */
  [START](): Promise<void> {
    return this.#life.start();
  }

  /** The credentials this executor was given never appear in what it reports. */
  #redact(text: string): string {
    let out = text;
    const o = this.#initOptions;
    for (const secret of [o?.apiKey, o?.token, o?.databaseId]) {
      if (secret && secret.length >= 4) out = out.split(secret).join("***");
    }
    return out;
  }

  #rememberToken(token: string): void {
    if (this.#initOptions && typeof token === "string") {
      this.#initOptions = { ...this.#initOptions, apiKey: undefined, token };
    }
  }
}
