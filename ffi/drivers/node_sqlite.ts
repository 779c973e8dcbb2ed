/**
 * The `node:sqlite` driver: Deno's default and Node's (≥ 22.13, which added
 * `allowExtension`).
 *
 * @module
 */
import process from "node:process";
import { SqliteSyncError } from "../../common/errors.ts";
import { detectRuntime, type RuntimeInfo } from "../runtime.ts";
import { sqlError } from "./_adapt.ts";
import { AdaptedDriver } from "./_connection.ts";
import type { StatementCalls } from "./_statement.ts";
import type { Driver, SqlValue } from "./driver.ts";

/** The subset of a `node:sqlite` `StatementSync` this driver uses. */
export interface NodeSqliteStatement {
  /** Runs the statement. */
  run(...params: SqlValue[]): { changes: number | bigint; lastInsertRowid: number | bigint };
  /** The first row. */
  get(...params: SqlValue[]): unknown;
  /** All rows. */
  all(...params: SqlValue[]): unknown[];
  /** Return every integer as a `bigint` (we turn safe ones back into numbers). */
  setReadBigInts(enabled: boolean): void;
}

/** The subset of a `node:sqlite` `DatabaseSync` this driver uses. */
export interface NodeSqliteDatabase {
  /** Runs SQL without results. */
  exec(sql: string): void;
  /** Prepares a statement. */
  prepare(sql: string): NodeSqliteStatement;
  /** Loads an extension (needs `allowExtension: true` at construction). */
  loadExtension(path: string): void;
  /** Closes the database; throws when already closed. */
  close(): void;
  /** Node ≥ 22.15 and Deno: whether it is open. */
  readonly isOpen?: boolean;
  /** Node ≥ 22.16 and Deno: whether a transaction is open. */
  readonly isTransaction?: boolean;
  /** Node ≥ 22.16: the file path (`null` in memory). */
  location?(): string | null;
}

/** The oldest Node releases whose `node:sqlite` can load extensions, per major. */
export const MIN_NODE_VERSION = "22.13.0";
const MIN_DENO_VERSION = "2.3.0";

/** Options of {@linkcode openNodeSqlite}. */
export interface NodeSqliteOptions {
  /**
   * Open the file read-only.
   * @default false
   */
  readOnly?: boolean;
  /**
   * The runtime to check; detected when omitted (tests inject one).
   * @default detectRuntime()
   */
  runtime?: RuntimeInfo;
}

function parseVersion(v: string): [number, number, number] {
  const [a = 0, b = 0, c = 0] = v.split(/[.-]/).map((p) => Number.parseInt(p, 10) || 0);
  return [a, b, c];
}

function atLeast(version: string, min: string): boolean {
  const v = parseVersion(version);
  const m = parseVersion(min);
  for (let i = 0; i < 3; i++) if (v[i] !== m[i]) return v[i] > m[i];
  return true;
}

/**
 * Checks that the runtime's `node:sqlite` can load extensions.
 *
 * @param runtime The runtime.
 * @throws {SqliteSyncError} `unsupported-runtime` naming the version and the minimum.
 *
 * @example Usage
 * ```ts
 * import { assertNodeSqliteSupported } from "./node_sqlite.ts";
 * assertNodeSqliteSupported({ name: "node", version: "22.23.3", denoDeploy: false });
 * ```
 */
export function assertNodeSqliteSupported(runtime: RuntimeInfo): void {
  if (runtime.name === "node") {
    const [major] = parseVersion(runtime.version);
    // 23.0–23.4 lack allowExtension too; 23.5 added it.
    const ok = major === 22
      ? atLeast(runtime.version, MIN_NODE_VERSION)
      : atLeast(runtime.version, "23.5.0");
    if (!ok) {
      throw new SqliteSyncError(
        "unsupported-runtime",
        `Node ${runtime.version} cannot load SQLite extensions through node:sqlite: ` +
          `Node ${MIN_NODE_VERSION} or newer (23.5+ on the 23 line) is required. Upgrade Node.`,
      );
    }
  } else if (runtime.name === "deno" && !atLeast(runtime.version, MIN_DENO_VERSION)) {
    throw new SqliteSyncError(
      "unsupported-runtime",
      `Deno ${runtime.version} cannot load SQLite extensions through node:sqlite: ` +
        `Deno ${MIN_DENO_VERSION} or newer is required. Run 'deno upgrade'.`,
    );
  }
}

/**
 * Tells whether a value looks like a `node:sqlite` `DatabaseSync`.
 *
 * @param value Any value.
 * @returns `true` when it has the methods this driver uses and none of Bun's or @db/sqlite's.
 *
 * @example Usage
 * ```ts
 * import { isNodeSqliteDatabase } from "./node_sqlite.ts";
 * console.log(isNodeSqliteDatabase({})); // false
 * ```
 */
export function isNodeSqliteDatabase(value: unknown): value is NodeSqliteDatabase {
  if (typeof value !== "object" || value === null) return false;
  const v = value as Record<string, unknown>;
  return typeof v.prepare === "function" && typeof v.exec === "function" &&
    typeof v.loadExtension === "function" && typeof v.query !== "function" &&
    !("lastInsertRowId" in v) &&
    (v.constructor?.name === "DatabaseSync" || typeof v.isOpen === "boolean");
}

/**
 * Opens a database with `node:sqlite`, extension loading allowed.
 *
 * @param path The file path, or `:memory:`.
 * @param options Read-only mode; the runtime to check.
 * @returns The driver.
 * @throws {SqliteSyncError} `unsupported-runtime` on Node < 22.13 or Deno < 2.3; `driver` when
 *   the module is missing or the file cannot be opened.
 *
 * @example Usage
 * ```ts ignore
 * import { openNodeSqlite } from "./node_sqlite.ts";
 * const db = await openNodeSqlite(":memory:");
 * db.close();
 * ```
 */
export async function openNodeSqlite(
  path: string,
  options: NodeSqliteOptions = {},
): Promise<Driver> {
  assertNodeSqliteSupported(options.runtime ?? detectRuntime());
  let mod: NodeSqliteModule;
  try {
    mod = await importNodeSqlite();
  } catch (cause) {
    throw new SqliteSyncError(
      "driver",
      "node:sqlite is not available in this runtime: use Node ≥ 22.13 or Deno ≥ 2.3.",
      { cause },
    );
  }
  let db: NodeSqliteDatabase;
  try {
    db = new mod.DatabaseSync(path, { allowExtension: true, readOnly: options.readOnly ?? false });
  } catch (cause) {
    throw new SqliteSyncError(
      "driver",
      `node:sqlite cannot open '${path}': ${(cause as Error).message}`,
      { cause },
    );
  }
  return nodeDriver(db, path, options.readOnly ?? false);
}

type NodeSqliteModule = {
  DatabaseSync: new (path: string, options: object) => NodeSqliteDatabase;
};

const EXPERIMENTAL_SQLITE = /SQLite is an experimental feature/;

/**
 * Imports `node:sqlite`. Node before 26 prints "ExperimentalWarning: SQLite is an experimental
 * feature" on stderr the first time the module loads; when this import is what loads it, the
 * library caused that line, so it is dropped. Every other warning passes, and a program that
 * imported `node:sqlite` itself already got its warning.
 */
async function importNodeSqlite(): Promise<NodeSqliteModule> {
  const emit = process.emitWarning;
  const quiet = function (this: unknown, warning: string | Error, ...rest: unknown[]): void {
    const text = typeof warning === "string" ? warning : warning?.message;
    if (EXPERIMENTAL_SQLITE.test(String(text))) return;
    return Reflect.apply(emit, process, [warning, ...rest]);
  };
  process.emitWarning = quiet as typeof process.emitWarning;
  try {
    return await import("node:sqlite");
  } finally {
    if (process.emitWarning === quiet) process.emitWarning = emit;
  }
}

/**
 * Adapts a `DatabaseSync` the caller already opened (with `allowExtension: true`,
 * or the extension cannot be loaded). The driver then owns it: `close()` closes it.
 *
 * @param db The database.
 * @param path The path to report; read from the database when omitted.
 * @returns The driver.
 *
 * @example Usage
 * ```ts ignore
 * import { DatabaseSync } from "node:sqlite";
 * import { wrapNodeSqlite } from "./node_sqlite.ts";
 * const db = wrapNodeSqlite(new DatabaseSync(":memory:", { allowExtension: true }));
 * db.close();
 * ```
 */
export function wrapNodeSqlite(db: NodeSqliteDatabase, path?: string): Driver {
  return nodeDriver(db, path ?? safeLocation(db), false);
}

function safeLocation(db: NodeSqliteDatabase): string {
  try {
    return db.location?.() ?? ":memory:";
  } catch {
    return "";
  }
}

// node:sqlite has no finalize: dropping the reference lets GC (or close) free a statement.
const NODE_STATEMENT: StatementCalls<NodeSqliteStatement> = {
  run: (stmt, params) => stmt.run(...params),
  get: (stmt, params) => stmt.get(...params) as Record<string, unknown> | undefined,
  all: (stmt, params) => stmt.all(...params) as Record<string, unknown>[],
};

function nodeDriver(db: NodeSqliteDatabase, path: string, readOnly: boolean): Driver {
  return new AdaptedDriver({
    name: "node:sqlite",
    exec: (sql) => db.exec(sql),
    prepare(sql) {
      const stmt = db.prepare(sql);
      stmt.setReadBigInts(true);
      return stmt;
    },
    loadExtension(file) {
      try {
        db.loadExtension(file);
      } catch (err) {
        const e = sqlError(err, "load");
        if (/not allowed|allowExtension/i.test(e.message)) {
          e.message += " (open the DatabaseSync with { allowExtension: true })";
        }
        throw e;
      }
    },
    close() {
      if (db.isOpen !== false) db.close();
    },
    isOpen: () => db.isOpen !== false,
    inTransaction: () => db.isTransaction,
    statement: NODE_STATEMENT,
  }, { path, readOnly });
}
