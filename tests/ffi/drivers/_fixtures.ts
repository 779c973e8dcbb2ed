/**
 * The drivers each runtime can test, and the @db/sqlite fixture (Deno only,
 * from ../shared, with Debian's libsqlite3).
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import process from "node:process";
import { ROOT, RUNTIME } from "../../_helpers.ts";
import type { Driver, DriverName } from "../../../ffi/drivers/driver.ts";

/**
 * Where the @db/sqlite fixture directory may be, first match wins: the
 * SQLITE_SYNC_DB_SQLITE_FIXTURE variable, `<repo>/../shared/fixtures/db-sqlite`
 * (a checkout beside the shared directory), then `/work/shared/fixtures/db-sqlite`
 * (a clean clone elsewhere, as CI makes).
 */
export const DB_SQLITE_FIXTURE_DIRS: readonly string[] = [
  process.env.SQLITE_SYNC_DB_SQLITE_FIXTURE,
  join(ROOT, "..", "shared", "fixtures", "db-sqlite"),
  "/work/shared/fixtures/db-sqlite",
].filter((d): d is string => d !== undefined && d !== "");

/** The @db/sqlite fixture's entry point: the first of {@linkcode DB_SQLITE_FIXTURE_DIRS} that has it. */
export const DB_SQLITE_FIXTURE: string = (() => {
  const entries = DB_SQLITE_FIXTURE_DIRS.map((d) => join(d, "driver", "mod.ts"));
  return entries.find((e) => existsSync(e)) ?? entries[0];
})();

/** The system SQLite the fixture binds to. */
export const SYSTEM_LIBSQLITE: string = process.env.DENO_SQLITE_PATH ??
  "/usr/lib/x86_64-linux-gnu/libsqlite3.so.0";

/**
 * Why the @db/sqlite fixture cannot run here, or `undefined` when it can. Bun never has it
 * (a Deno FFI driver): register @db/sqlite tests only when `RUNTIME === "deno"`.
 */
export const dbSqliteSkip: string | undefined = RUNTIME !== "deno"
  ? "@db/sqlite is a Deno FFI driver: not testable in Bun"
  : !existsSync(DB_SQLITE_FIXTURE)
  ? `the @db/sqlite fixture is absent (looked in ${
    DB_SQLITE_FIXTURE_DIRS.join(", ")
  }; set SQLITE_SYNC_DB_SQLITE_FIXTURE)`
  : !existsSync(SYSTEM_LIBSQLITE)
  ? `no system libsqlite3 for @db/sqlite at ${SYSTEM_LIBSQLITE} (set DENO_SQLITE_PATH)`
  : undefined;

/** The fixture's specifier, with DENO_SQLITE_PATH set before its first import. */
export function dbSqliteSpecifier(): string {
  process.env.DENO_SQLITE_PATH ??= SYSTEM_LIBSQLITE;
  return pathToFileURL(DB_SQLITE_FIXTURE).href;
}

/** The fixture's `Database` class. */
export async function dbSqliteDatabaseClass(): Promise<
  // deno-lint-ignore no-explicit-any
  new (path: string, options?: object) => any
> {
  const mod = await import(dbSqliteSpecifier());
  return mod.Database;
}

/** A driver to run the contract against, with a reason when it cannot run here. */
export interface DriverCandidate {
  name: DriverName;
  /** Why this runtime has the driver but cannot test it (a missing fixture), if so. */
  skip?: string;
  open(path: string): Promise<Driver>;
}

/** Every driver, and the runtimes that have it. */
const ALL_DRIVERS: (DriverCandidate & { runtime: "deno" | "bun" })[] = [
  {
    name: "node:sqlite",
    runtime: "deno",
    open: async (path) =>
      (await import("../../../ffi/drivers/node_sqlite.ts")).openNodeSqlite(path),
  },
  {
    name: "bun:sqlite",
    runtime: "bun",
    open: async (path) => (await import("../../../ffi/drivers/bun_sqlite.ts")).openBunSqlite(path),
  },
  {
    name: "@db/sqlite",
    runtime: "deno",
    skip: dbSqliteSkip,
    open: async (path) =>
      (await import("../../../ffi/drivers/db_sqlite.ts")).openDbSqlite(path, {
        specifier: dbSqliteSpecifier(),
      }),
  },
];

/**
 * The drivers the current runtime has (Deno: node:sqlite and @db/sqlite, Bun:
 * bun:sqlite); a driver of the other runtime is not listed, so its tests are
 * neither run nor counted as skipped here. `skip` is set only when this runtime
 * has the driver but not what testing it needs.
 */
export const DRIVER_CANDIDATES: DriverCandidate[] = ALL_DRIVERS
  .filter((d) => d.runtime === RUNTIME)
  .map(({ runtime: _runtime, ...candidate }) => candidate);
