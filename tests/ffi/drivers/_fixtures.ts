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

/** The @db/sqlite fixture's entry point, relative to the repository. */
export const DB_SQLITE_FIXTURE: string = join(
  ROOT,
  "..",
  "shared",
  "fixtures",
  "db-sqlite",
  "driver",
  "mod.ts",
);

/** The system SQLite the fixture binds to. */
export const SYSTEM_LIBSQLITE: string = process.env.DENO_SQLITE_PATH ??
  "/usr/lib/x86_64-linux-gnu/libsqlite3.so.0";

/** Why the @db/sqlite fixture cannot run here, or `undefined` when it can. */
export const dbSqliteSkip: string | undefined = RUNTIME !== "deno"
  ? "@db/sqlite is a Deno FFI driver: not testable in Bun"
  : !existsSync(DB_SQLITE_FIXTURE)
  ? `the @db/sqlite fixture is absent (${DB_SQLITE_FIXTURE})`
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
  skip?: string;
  open(path: string): Promise<Driver>;
}

/** Every driver, each marked with why it is skipped in this runtime. */
export const DRIVER_CANDIDATES: DriverCandidate[] = [
  {
    name: "node:sqlite",
    skip: RUNTIME === "deno"
      ? undefined
      : "node:sqlite is Deno's and Node's driver; Bun uses bun:sqlite",
    open: async (path) =>
      (await import("../../../ffi/drivers/node_sqlite.ts")).openNodeSqlite(path),
  },
  {
    name: "bun:sqlite",
    skip: RUNTIME === "bun" ? undefined : "bun:sqlite exists only in Bun",
    open: async (path) => (await import("../../../ffi/drivers/bun_sqlite.ts")).openBunSqlite(path),
  },
  {
    name: "@db/sqlite",
    skip: dbSqliteSkip,
    open: async (path) =>
      (await import("../../../ffi/drivers/db_sqlite.ts")).openDbSqlite(path, {
        specifier: dbSqliteSpecifier(),
      }),
  },
];
