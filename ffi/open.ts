/**
 * Opens a connection the way sqlite-sync needs it: extension resolved and
 * loaded, busy timeout, `recursive_triggers` on, WAL, and the extension answering. The only place
 * connections are opened, so every connection that writes a synced table has
 * the extension.
 *
 * @module
 */
import { SqliteSyncError } from "../common/errors.ts";
import type { Driver, DriverName } from "./drivers/driver.ts";
import { assertRuntimeSupported, openDriver } from "./drivers/open_driver.ts";
import { assertExtensionLibrary, recordExtensionLibrary } from "./drivers/_process_library.ts";
// Type only: preflight.ts (and node:child_process) loads only when loading fails.
import type { PreflightProbe } from "./preflight.ts";
import { type ResolvedExtension, resolveExtension, type ResolveOptions } from "./resolve.ts";
import { detectRuntime, type RuntimeInfo } from "./runtime.ts";

/** SQLite journal modes a synced database may use. */
export type JournalMode = "wal" | "delete" | "truncate" | "persist" | "memory";

const JOURNAL_MODES: readonly JournalMode[] = ["wal", "delete", "truncate", "persist", "memory"];

/** How one connection is opened once the extension is known. */
export interface ConnectionOptions {
  /**
   * Which driver to use.
   * @default "node:sqlite" in Deno and Node, "bun:sqlite" in Bun
   */
  driver?: DriverName;
  /**
   * A database the caller opened (`node:sqlite` `DatabaseSync` with
   * `allowExtension: true`, `bun:sqlite` or `@db/sqlite` `Database`). It is
   * not closed when opening fails; afterwards the returned driver owns it.
   * @default undefined (the driver opens `path`)
   */
  database?: unknown;
  /**
   * Bun on macOS: path of a `libsqlite3.dylib` that can load extensions
   * (`brew install sqlite`).
   * @default undefined
   */
  customSQLite?: string;
  /**
   * How long a statement waits for another connection's lock, in milliseconds.
   * @default 5000
   */
  busyTimeoutMs?: number;
  /**
   * The journal mode. WAL lets the app write while a sync holds its lock;
   * skipped for in-memory and read-only databases.
   * @default "wal"
   */
  journalMode?: JournalMode;
  /**
   * Open the file read-only: the file must exist, its journal mode is kept (no
   * WAL switch), nothing is installed or written, and every write is refused
   * (`SQLITE_READONLY`). The path may be a `file:` URI (e.g. `?immutable=1`).
   * Reading a WAL database still uses its `-wal` and `-shm` files, as every
   * SQLite reader does (SQLite creates them when the folder allows).
   * @default false
   */
  readOnly?: boolean;
}

/**
 * What tests substitute for the real host. Not part of the public options
 * (`mod.ts` does not export it): only the `…WithHooks` functions take it.
 */
export interface OpenHooks {
  /** The runtime (e.g. a fake Deno Deploy). @default detectRuntime() */
  runtime?: RuntimeInfo;
  /** What the host checks read when loading fails. @default the real host */
  preflightProbe?: PreflightProbe;
}

const NO_HOOKS: OpenHooks = Object.freeze({});

/** Options of {@linkcode openDatabase}: where the extension comes from, and the connection. */
export interface OpenOptions extends ResolveOptions, ConnectionOptions {}

/** An open connection with the extension loaded. */
export interface OpenedDatabase {
  /** The connection. Close it with {@linkcode closeConnection}. */
  driver: Driver;
  /** The extension it loaded; pass it to {@linkcode openWithExtension} for sibling connections. */
  extension: ResolvedExtension;
}

/**
 * Tells whether a path names an in-memory database.
 *
 * @param path A database path or URI filename.
 * @returns `true` for `""`, `:memory:`, `file::memory:…` and `mode=memory` URIs.
 *
 * @example Usage
 * ```ts
 * import { isMemory } from "./open.ts";
 * console.log(isMemory(":memory:"), isMemory("app.db")); // true false
 * ```
 */
export function isMemory(path: string): boolean {
  return path === "" || path === ":memory:" || path.startsWith("file::memory:") ||
    /[?&]mode=memory(&|$)/.test(path);
}

function validate(path: string, options: ConnectionOptions): Required<
  Pick<ConnectionOptions, "busyTimeoutMs" | "journalMode" | "readOnly">
> {
  if (typeof path !== "string") {
    throw new TypeError(
      `Cannot open a database as 'path' must be a string: current value is ${path}`,
    );
  }
  const { busyTimeoutMs = 5000, journalMode = "wal", readOnly = false } = options;
  if (!Number.isInteger(busyTimeoutMs) || busyTimeoutMs < 0 || busyTimeoutMs > 2 ** 31 - 1) {
    throw new RangeError(
      `Cannot open '${path}' as 'busyTimeoutMs' must be an integer from 0 to 2147483647: ` +
        `current value is ${busyTimeoutMs}`,
    );
  }
  if (!JOURNAL_MODES.includes(journalMode)) {
    throw new RangeError(
      `Cannot open '${path}' as 'journalMode' must be one of ${JOURNAL_MODES.join(", ")}: ` +
        `current value is ${JSON.stringify(journalMode)}`,
    );
  }
  return { busyTimeoutMs, journalMode, readOnly };
}

/**
 * Closes a connection that loaded the extension: `cloudsync_terminate()`
 * first (SQLite cannot close while the extension's statements are live), then
 * `close()`. Idempotent.
 *
 * @param driver The connection.
 * @throws {SqliteSyncError} When closing fails.
 *
 * @example Usage
 * ```ts
 * import { closeConnection, openDatabase } from "@sqliteai/sync";
 * const { driver } = await openDatabase(":memory:");
 * closeConnection(driver);
 * ```
 */
export function closeConnection(driver: Driver): void {
  if (!driver.isOpen) return;
  try {
    driver.exec("select cloudsync_terminate()");
  } catch {
    // Not loaded, or already terminated: close anyway.
  }
  driver.close();
}

async function loadOrExplain(
  driver: Driver,
  extension: ResolvedExtension,
  probe?: PreflightProbe,
): Promise<void> {
  // One SQLite library per process: a second one would crash it (see _process_library.ts).
  assertExtensionLibrary(driver.library);
  try {
    driver.loadExtension(extension.path);
    recordExtensionLibrary(driver.library);
  } catch (err) {
    if (err instanceof SqliteSyncError && err.kind === "unsupported-runtime") throw err;
    const { checkHost, hostProbe } = await import("./preflight.ts");
    const report = checkHost(extension.platform, probe ?? hostProbe);
    const missing = report.checks.filter((c) => !c.ok && c.affects === "load");
    const reason = err instanceof Error ? err.message : String(err);
    if (missing.length > 0) {
      throw new SqliteSyncError(
        "preflight",
        `Cannot load the sqlite-sync extension '${extension.path}': ` +
          `${missing.map((c) => c.detail).join("; ")}. ${missing.map((c) => c.fix).join(" ")} ` +
          `(SQLite said: ${reason})`,
        { cause: err },
      );
    }
    throw new SqliteSyncError(
      "load",
      `SQLite refused to load the sqlite-sync extension '${extension.path}': ${reason}`,
      { cause: err, ...(err instanceof SqliteSyncError && err.code ? { code: err.code } : {}) },
    );
  }
}

/**
 * Opens one more connection with an extension already resolved, e.g. the
 * scheduler Worker's connection to the same file. Same settings as
 * {@linkcode openDatabase}, without resolving again.
 *
 * @param path The database file, or `:memory:`.
 * @param extension The extension, from {@linkcode openDatabase} or `resolveExtension()`.
 * @param options Driver and connection settings.
 * @returns The connection, extension loaded and answering.
 * @throws {SqliteSyncError} `unsupported-runtime`, `driver`, `load`, `preflight`, `busy` or
 *   `sql`; the connection is closed first.
 * @throws {RangeError} For a bad `busyTimeoutMs` or `journalMode`.
 *
 * @example Usage
 * ```ts
 * import { closeConnection, openDatabase, openWithExtension } from "@sqliteai/sync";
 * const { driver, extension } = await openDatabase("app.db");
 * const sibling = await openWithExtension("app.db", extension); // resolves nothing again
 * closeConnection(sibling);
 * closeConnection(driver);
 * ```
 */
export function openWithExtension(
  path: string,
  extension: ResolvedExtension,
  options: ConnectionOptions = {},
): Promise<Driver> {
  return openWithExtensionWithHooks(path, extension, options, NO_HOOKS);
}

/**
 * {@linkcode openWithExtension} on a substituted host (tests).
 *
 * @param path The database file, or `:memory:`.
 * @param extension The extension.
 * @param options Driver and connection settings.
 * @param hooks The runtime and the host probe to use instead of the real ones.
 * @returns The connection, extension loaded and answering.
 * @throws As {@linkcode openWithExtension}.
 *
 * @example Usage
 * ```ts ignore
 * import { openWithExtensionWithHooks } from "./open.ts";
 * const deploy = { name: "deno", version: "2.9.6", denoDeploy: true } as const;
 * await openWithExtensionWithHooks(":memory:", extension, {}, { runtime: deploy }); // throws
 * ```
 */
export async function openWithExtensionWithHooks(
  path: string,
  extension: ResolvedExtension,
  options: ConnectionOptions,
  hooks: OpenHooks,
): Promise<Driver> {
  const { busyTimeoutMs, journalMode, readOnly } = validate(path, options);
  const driver = await openDriver(path, {
    driver: options.driver,
    database: options.database,
    customSQLite: options.customSQLite,
    readOnly,
    runtime: hooks.runtime,
  });
  let loaded = false;
  try {
    // Before loading: the WAL switch below may need to wait for another connection.
    // recursive_triggers: without it SQLite fires no DELETE trigger for the rows a REPLACE
    // conflict resolution deletes, so cloudsync never records those deletes and peers keep
    // the replaced rows (or fail on UNIQUE forever).
    driver.exec(`PRAGMA busy_timeout = ${busyTimeoutMs}; PRAGMA recursive_triggers = ON`);
    await loadOrExplain(driver, extension, hooks.preflightProbe);
    loaded = true;
    const recursive = query(driver, "PRAGMA recursive_triggers")?.recursive_triggers;
    if (Number(recursive) !== 1) {
      throw new SqliteSyncError(
        "driver",
        `Cannot turn on recursive_triggers on '${path}': SQLite answered ${
          JSON.stringify(recursive ?? null)
        }. Without it the deletes done by REPLACE are not synced; use a SQLite build with ` +
          "triggers enabled, and do not turn the pragma off on this connection.",
      );
    }
    if (!readOnly && !isMemory(driver.path || path)) {
      const row = query(driver, `PRAGMA journal_mode = ${journalMode}`);
      const mode = String(row?.journal_mode ?? "").toLowerCase();
      if (mode !== journalMode) {
        throw new SqliteSyncError(
          "driver",
          `Cannot set journal_mode=${journalMode} on '${path}': SQLite kept '${mode}' ` +
            "(WAL needs a local file system that supports shared memory).",
        );
      }
    }
    return driver;
  } catch (err) {
    abandon(driver, loaded, options.database !== undefined);
    throw err;
  }
}

function query(driver: Driver, sql: string): Record<string, unknown> | undefined {
  const stmt = driver.prepare(sql);
  try {
    return stmt.get();
  } finally {
    stmt.finalize();
  }
}

function abandon(driver: Driver, loaded: boolean, userOwned: boolean): void {
  try {
    if (loaded) driver.exec("select cloudsync_terminate()");
  } catch {
    // Best effort: the original error is what the caller needs.
  }
  if (userOwned) return;
  try {
    driver.close();
  } catch {
    // Same.
  }
}

/**
 * Opens a database with sqlite-sync loaded: resolves the extension (explicit
 * path, environment, cache, download), opens the driver, sets the busy
 * timeout, `recursive_triggers` and WAL and loads the extension (a failed load raises).
 *
 * @param path The database file, or `:memory:`.
 * @param options Where the extension comes from, and the connection settings.
 * @returns The connection and the extension it loaded.
 * @throws {SqliteSyncError} `unsupported-runtime` (Deno Deploy, old Node, Bun on macOS without
 *   a custom SQLite), resolution errors (`not-found`, `integrity`, `download`…), `driver`,
 *   `preflight` (the host lacks OpenSSL 3 or glibc ≥ 2.34), `load`, `busy`, `sql`.
 * @throws {RangeError} For a bad `busyTimeoutMs` or `journalMode`.
 *
 * @example Usage
 * ```ts
 * import { closeConnection, openDatabase } from "@sqliteai/sync";
 * const { driver, extension } = await openDatabase("app.db");
 * console.log(extension.version, driver.prepare("select cloudsync_version() v").get());
 * closeConnection(driver);
 * ```
 */
export function openDatabase(path: string, options: OpenOptions = {}): Promise<OpenedDatabase> {
  return openDatabaseWithHooks(path, options, NO_HOOKS);
}

/**
 * {@linkcode openDatabase} on a substituted host (tests).
 *
 * @param path The database file, or `:memory:`.
 * @param options Where the extension comes from, and the connection settings.
 * @param hooks The runtime and the host probe to use instead of the real ones.
 * @returns The connection and the extension it loaded.
 * @throws As {@linkcode openDatabase}.
 *
 * @example Usage
 * ```ts ignore
 * import { openDatabaseWithHooks } from "./open.ts";
 * const deploy = { name: "deno", version: "2.9.6", denoDeploy: true } as const;
 * await openDatabaseWithHooks(":memory:", {}, { runtime: deploy }); // throws unsupported-runtime
 * ```
 */
export async function openDatabaseWithHooks(
  path: string,
  options: OpenOptions,
  hooks: OpenHooks,
): Promise<OpenedDatabase> {
  // Resolution and the connection each read only their own fields (no name is shared).
  validate(path, options);
  // Before resolving, so Deploy fails at once instead of after a download.
  assertRuntimeSupported(hooks.runtime ?? detectRuntime());
  const extension = await resolveExtension(options);
  const driver = await openWithExtensionWithHooks(path, extension, options, hooks);
  return { driver, extension };
}
