/**
 * What the executor's options become: a pool's {@linkcode PoolConfig}
 * (checked, defaults filled in), the process's pools (one per kind, set up by
 * `configureExecutors()`), and a database's requests to its Worker, with the
 * credentials it was given kept to redact them.
 *
 * @module
 */
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { SqliteSyncError } from "../../common/errors.ts";
import { redact } from "../../common/redact.ts";
import { detectRuntime, type RuntimeName } from "../../ffi/runtime.ts";
import { Pool } from "./_executor_pool.ts";
import type { DriverName } from "../../ffi/drivers/driver.ts";
import type { TableSpec } from "../_tables.ts";
import type {
  DatabaseRequest,
  OpenRequest,
  PoolConfig,
  PoolOptions,
  PoolSnapshot,
  SyncRequest,
  WorkerKind,
} from "./_executor_protocol.ts";

/** What a database's setup reads of its options (the public `ExecutorOptions` has them). */
interface DatabaseOptions {
  kind?: WorkerKind;
  path: string;
  extensionPath: string;
  driver?: DriverName;
  watch?: boolean;
  connection?: { busyTimeoutMs?: number; connectTimeoutS?: number; requestTimeoutS?: number };
}

/** What `init()` takes (the public `ExecutorInitOptions`). */
type InitInput = Pick<OpenRequest, "address" | "apiKey" | "token"> & {
  databaseId: string;
  tables?: readonly (string | TableSpec)[];
};

/** The defaults documented on the options (`@default`). */
export const DEFAULTS = {
  size: 2,
  maxSize: 8,
  blockedAfterMs: 1000,
  idleMs: 60_000,
  startTimeoutMs: 30_000,
  busyTimeoutMs: 5000,
  connectTimeoutS: 10,
  requestTimeoutS: 60,
  graceMs: 2000,
} as const;

/** The default kind of a runtime; see `defaultWorkerKind()`. */
export function kindFor(runtime: RuntimeName): WorkerKind {
  return runtime === "deno" ? "worker" : "process";
}

/** A module next to this one: `.js` when this code is JavaScript (a build), else `.ts`. */
export function sibling(name: string): URL {
  const js = /\.[cm]?js$/.test(new URL(import.meta.url).pathname);
  return new URL(`./${name}.${js ? "js" : "ts"}`, import.meta.url);
}

/**
 * Checks a pool's options and fills in the defaults.
 *
 * @param o The options.
 * @param where The caller, for messages (`ExecutorPool`, `configureExecutors()`).
 * @returns The configuration.
 * @throws {TypeError} {RangeError} For a bad option.
 */
export function poolConfig(o: PoolOptions, where: string): PoolConfig {
  if (o === null || typeof o !== "object") {
    throw new TypeError(`${where}: options must be an object`);
  }
  const runtime = detectRuntime().name;
  const kind = o.kind ?? kindFor(runtime);
  if (kind !== "worker" && kind !== "process") {
    throw new TypeError(`${where}: 'kind' must be "worker" or "process": got ${String(kind)}`);
  }
  const size = integer(o.size ?? DEFAULTS.size, `${where}: 'size'`, 1, 64);
  const maxSize = integer(
    o.maxSize ?? Math.max(DEFAULTS.maxSize, size),
    `${where}: 'maxSize'`,
    1,
    64,
  );
  if (maxSize < size) {
    throw new RangeError(`${where}: 'maxSize' (${maxSize}) must be at least 'size' (${size})`);
  }
  return {
    kind,
    size,
    maxSize,
    blockedAfterMs: integer(
      o.blockedAfterMs ?? DEFAULTS.blockedAfterMs,
      `${where}: 'blockedAfterMs'`,
      1,
    ),
    idleMs: integer(o.idleMs ?? DEFAULTS.idleMs, `${where}: 'idleMs'`, 1),
    startTimeoutMs: integer(
      o.startTimeoutMs ?? DEFAULTS.startTimeoutMs,
      `${where}: 'startTimeoutMs'`,
      1,
    ),
    entry: entryUrl(o.entry, where),
    hostEntry: sibling("_executor_host"),
    runtime,
    runtimeArgs: o.runtimeArgs,
  };
}

function entryUrl(entry: string | URL | undefined, where: string): URL {
  if (entry === undefined) return sibling("_executor_entry");
  if (entry instanceof URL) return entry;
  if (typeof entry !== "string" || entry === "") {
    throw new TypeError(`${where}: 'entry' must be a URL or a file path`);
  }
  return /^[a-z][a-z0-9+.-]+:\/\//i.test(entry) ? new URL(entry) : pathToFileURL(resolve(entry));
}

/**
 * Checks an integer option.
 *
 * @returns `value`.
 * @throws {RangeError} When it is not an integer from `min` to `max`.
 */
export function integer(value: unknown, name: string, min: number, max = 2 ** 31 - 1): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`${name} must be an integer from ${min} to ${max}: got ${String(value)}`);
  }
  return value;
}

/** A pool's configuration and, from its first database on, the pool itself. */
export class PoolSetup {
  #pool: Pool | undefined;
  #config: PoolConfig;

  /** @throws {TypeError} {RangeError} For a bad option. */
  constructor(options: PoolOptions, where: string) {
    this.#config = poolConfig(options, where);
  }

  /** A snapshot: Workers, busy and blocked ones, databases, restarts. */
  status(): PoolSnapshot {
    return this.#pool?.snapshot() ?? {
      kind: this.#config.kind,
      size: this.#config.size,
      maxSize: this.#config.maxSize,
      executors: 0,
      busy: 0,
      blocked: 0,
      databases: 0,
      restarts: 0,
      pid: undefined,
    };
  }

  /** The running pool (started on first use). */
  get pool(): Pool {
    this.#pool ??= new Pool(this.#config);
    return this.#pool;
  }

  /** Changes the numbers of a running pool, or everything of an idle one. */
  reconfigure(options: PoolOptions): void {
    const next = poolConfig({ ...this.#options(), ...options }, "configureExecutors()");
    const running = this.#pool && this.#pool.snapshot().databases > 0;
    if (
      running && (next.kind !== this.#config.kind || next.entry.href !== this.#config.entry.href)
    ) {
      throw new SqliteSyncError(
        "state",
        "configureExecutors(): the executor pool serves databases now; its kind and entry can " +
          "change only before the first SyncService starts (or after every one stopped).",
      );
    }
    this.#config = next;
    if (this.#pool) Object.assign(this.#pool.config, next);
  }

  #options(): PoolOptions {
    const c = this.#config;
    return {
      kind: c.kind,
      size: c.size,
      maxSize: c.maxSize,
      blockedAfterMs: c.blockedAfterMs,
      idleMs: c.idleMs,
      startTimeoutMs: c.startTimeoutMs,
      entry: c.entry,
      runtimeArgs: c.runtimeArgs,
    };
  }
}

/**
 * A pool of its own, apart from the process's (one per kind, shared by every
 * `SyncService`): to isolate databases, and in tests. Pass it as
 * `createExecutor({ pool })`; nothing starts before its first database.
 */
export class ExecutorPool extends PoolSetup {
  /** @throws {TypeError} {RangeError} For a bad option. */
  constructor(options: PoolOptions = {}) {
    super(options, "ExecutorPool");
  }
}

let defaults: PoolOptions = {};
const processPools = new Map<WorkerKind, PoolSetup>();

/** The process's pool of `kind` (by default, the configured kind, else the runtime's). */
export function processPool(kind: WorkerKind | undefined): PoolSetup {
  const k = kind ?? defaults.kind ?? kindFor(detectRuntime().name);
  let pool = processPools.get(k);
  if (!pool) {
    pool = new PoolSetup({ ...defaults, kind: k }, "ExecutorPool");
    processPools.set(k, pool);
  }
  return pool;
}

/** See `configureExecutors()`. */
export function configure(options: PoolOptions): void {
  const next = { ...defaults, ...options };
  poolConfig(next, "configureExecutors()"); // Validate before anything changes.
  // Each pool keeps its own kind: `kind` chooses the pool of the services that start from now on.
  const { kind: _kind, ...numbers } = options;
  for (const pool of processPools.values()) pool.reconfigure(numbers);
  defaults = next;
}

/**
 * One database's requests, built from its options (defaults filled in), and
 * the credentials it was given, which never appear in what it reports.
 */
export class DatabaseSetup {
  #options: DatabaseOptions;
  #connection: Required<NonNullable<DatabaseOptions["connection"]>>;
  #watch: boolean;
  #secrets: string[] = [];

  /** @throws {TypeError} For a missing path or extension path, or an unknown kind. */
  constructor(options: DatabaseOptions) {
    if (!options || typeof options.path !== "string" || typeof options.extensionPath !== "string") {
      throw new TypeError("createExecutor(): 'path' and 'extensionPath' must be strings");
    }
    if (options.kind !== undefined && options.kind !== "worker" && options.kind !== "process") {
      throw new TypeError(`createExecutor(): kind must be "worker" or "process"`);
    }
    this.#options = options;
    this.#watch = options.watch ?? true;
    this.#connection = {
      busyTimeoutMs: options.connection?.busyTimeoutMs ?? DEFAULTS.busyTimeoutMs,
      connectTimeoutS: options.connection?.connectTimeoutS ?? DEFAULTS.connectTimeoutS,
      requestTimeoutS: options.connection?.requestTimeoutS ?? DEFAULTS.requestTimeoutS,
    };
  }

  /** The `open` request of `init()`; keeps its credentials to redact them. */
  open(options: InitInput): DatabaseRequest {
    this.keep(options?.apiKey, options?.token, options?.databaseId);
    return {
      t: "open",
      options: {
        path: this.#options.path,
        extensionPath: this.#options.extensionPath,
        driver: this.#options.driver,
        busyTimeoutMs: this.#connection.busyTimeoutMs,
        watch: this.#watch,
        databaseId: options?.databaseId,
        address: options?.address,
        apiKey: options?.apiKey,
        token: options?.token,
        tables: options?.tables ? [...options.tables] : undefined,
      },
    };
  }

  /** The request of `sync()`, with the connection's time-outs unless `options` overrides them. */
  sync(options: Partial<SyncRequest>): DatabaseRequest {
    return {
      t: "sync",
      options: {
        jobId: options.jobId,
        waitMs: options.waitMs ?? 100,
        maxAttempts: options.maxAttempts ?? 1,
        connectTimeoutS: options.connectTimeoutS ?? this.#connection.connectTimeoutS,
        requestTimeoutS: options.requestTimeoutS ?? this.#connection.requestTimeoutS,
        diagnose: options.diagnose ?? true,
        token: options.token,
      },
    };
  }

  /** Keeps credentials (strings of 4 characters or more) to redact them. */
  keep(...secrets: unknown[]): void {
    for (const secret of secrets) {
      if (typeof secret === "string" && secret.length >= 4) this.#secrets.push(secret);
    }
  }

  /** `text` with every credential kept replaced by `***`. */
  redact(text: string): string {
    return redact(text, this.#secrets);
  }

  /** Forgets the credentials (the executor is closed). */
  forget(): void {
    this.#secrets = [];
  }
}
