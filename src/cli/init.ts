/**
 * `sqlite-sync init <db> --table <t>…`: enables sync on tables of an existing
 * database, after the schema preflight (`SyncDatabase.init`). The tables are
 * enabled together or not at all. A table that is missing, reserved or
 * cannot be synced as it is exits with code 2 and the preflight's fix.
 *
 * The preflight runs first on a read-only connection, before the database is
 * opened for writing (which switches it to WAL): a refused table, a file that
 * is not a SQLite database or cannot be written leave the file as it was.
 *
 * @module
 */
import { defineCommand } from "citty";
import { SqliteSyncError } from "../../common/errors.ts";
import type { Driver } from "../../ffi/drivers/driver.ts";
import { SyncDatabase } from "../database.ts";
import { preflightTable, tablesToInit } from "../schema.ts";
import { type CliArgDef, parseCli } from "./_args.ts";
import {
  assertWritable,
  databaseFile,
  notDatabase,
  notWritable,
  withReadOnlyConnection,
} from "./_database_file.ts";
import { labelled, type Output, printJson, printLines, processOutput } from "./_output.ts";
import { UsageError } from "./_usage.ts";

const args = {
  db: { type: "positional", description: "The database file (it must exist)" },
  table: {
    type: "string",
    required: true,
    multiple: true,
    valueHint: "table",
    description: "A table to sync (repeat for several; '*' for every table)",
  },
  "allow-integer-primary-key": {
    type: "boolean",
    description: "Accept a single INTEGER PRIMARY KEY (every device must allocate disjoint ids)",
  },
  "allow-not-null-without-default": {
    type: "boolean",
    description: "Accept NOT NULL columns without a DEFAULT",
  },
  json: { type: "boolean", description: "Print the result as JSON" },
} satisfies Record<string, CliArgDef>;

/** The `init` command. */
export const initCommand = defineCommand({
  meta: { name: "init", description: "Enable sync on tables, after the schema preflight" },
  args,
  run: async ({ rawArgs }) => {
    const a = parseCli("init", rawArgs, args);
    return await initTables({
      database: a.positional("db")!,
      tables: a.list("table"),
      allowIntegerPrimaryKey: a.flag("allow-integer-primary-key"),
      allowNotNullWithoutDefault: a.flag("allow-not-null-without-default"),
      json: a.flag("json"),
    });
  },
});

/** Options of {@linkcode initTables}. */
export interface InitTablesOptions {
  /** The database file. */
  database: string;
  /** The tables. */
  tables: string[];
  /** Skip the INTEGER PRIMARY KEY check. @default false */
  allowIntegerPrimaryKey?: boolean;
  /** Skip the NOT NULL without DEFAULT check. @default false */
  allowNotNullWithoutDefault?: boolean;
  /** Print JSON. @default false */
  json?: boolean;
}

/**
 * Checks the tables on a read-only connection, then enables sync on them in
 * one transaction and prints the synced tables and site id.
 *
 * @param options The database, tables and output format.
 * @param out The streams.
 * @returns The exit code (0).
 * @throws {UsageError} for a missing, read-only or non-SQLite database, or a table the
 *   preflight refuses: before anything is written.
 * @throws {SqliteSyncError} when the extension cannot load or SQLite fails.
 */
export async function initTables(
  options: InitTablesOptions,
  out: Output = processOutput,
): Promise<number> {
  const file = databaseFile(options.database, "init");
  const path = file.path;
  const checks = {
    allowIntegerPrimaryKey: options.allowIntegerPrimaryKey === true,
    allowNotNullWithoutDefault: options.allowNotNullWithoutDefault === true,
  };
  await refused(() =>
    withReadOnlyConnection(file, (driver) => preflight(driver, options.tables, checks))
  );
  await assertWritable(file, "init");
  let db: SyncDatabase;
  try {
    db = await SyncDatabase.open(path);
  } catch (err) {
    throw notDatabase(path, err) ?? notWritable(file, "init", err) ?? err;
  }
  let result: { database: string; enabled: string[]; syncedTables: string[]; siteId: string };
  try {
    let siteId = "";
    await refused(() =>
      db.transaction(() => {
        for (const table of options.tables) siteId = db.init(table, checks);
      })
    );
    result = { database: path, enabled: options.tables, syncedTables: db.syncedTables(), siteId };
  } finally {
    db.close();
  }
  // After closing: nothing can fail once the result is printed.
  if (options.json) printJson(result, out);
  else {
    printLines([
      `enabled sync on ${options.tables.join(", ")}`,
      ...labelled([
        ["synced tables", result.syncedTables.join(", ")],
        ["site id", result.siteId],
      ]),
    ], out);
  }
  return 0;
}

/** The checks `SyncDatabase.init()` runs before it writes, on a connection that cannot write. */
function preflight(
  driver: Driver,
  tables: readonly string[],
  checks: { allowIntegerPrimaryKey: boolean; allowNotNullWithoutDefault: boolean },
): void {
  for (const table of tables) {
    const names = tablesToInit(driver, table);
    for (const name of names) preflightTable(driver, name, checks);
  }
}

/** What the user typed is wrong (a missing or reserved table, a schema to fix): bad input. */
async function refused<T>(fn: () => T | Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof TypeError || (err instanceof SqliteSyncError && err.kind === "schema")) {
      throw new UsageError(`${cliFix(err.message)} (nothing was enabled)`);
    }
    throw err;
  }
}

/** The preflight names the library's options as its fix; on the command line they are flags. */
function cliFix(message: string): string {
  return message
    .replace("pass { allowIntegerPrimaryKey: true }", "pass --allow-integer-primary-key")
    .replace("pass { allowNotNullWithoutDefault: true }", "pass --allow-not-null-without-default");
}
