/**
 * `sqlite-sync init <db> --table <t>…`: enables sync on tables of an existing
 * database, after the schema preflight (`SyncDatabase.init`). The tables are
 * enabled together or not at all. A table that is missing, reserved or
 * cannot be synced as it is exits with code 2 and the preflight's fix.
 *
 * @module
 */
import { defineCommand } from "citty";
import { SqliteSyncError } from "../../common/errors.ts";
import { SyncDatabase } from "../database.ts";
import { type CliArgDef, parseCli } from "./_args.ts";
import { existingDatabase } from "./_database_file.ts";
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
 * Enables sync on the tables in one transaction and prints the synced tables and site id.
 *
 * @param options The database, tables and output format.
 * @param out The streams.
 * @returns The exit code (0).
 * @throws {UsageError} for a missing database or a table the preflight refuses.
 * @throws {SqliteSyncError} when the extension cannot load or SQLite fails.
 */
export async function initTables(
  options: InitTablesOptions,
  out: Output = processOutput,
): Promise<number> {
  const path = existingDatabase(options.database, "init");
  const checks = {
    allowIntegerPrimaryKey: options.allowIntegerPrimaryKey === true,
    allowNotNullWithoutDefault: options.allowNotNullWithoutDefault === true,
  };
  const db = await SyncDatabase.open(path);
  try {
    let siteId = "";
    try {
      db.transaction(() => {
        for (const table of options.tables) siteId = db.init(table, checks);
      });
    } catch (err) {
      // What the user typed is wrong (a missing or reserved table, a schema to fix): bad input.
      if (err instanceof TypeError || (err instanceof SqliteSyncError && err.kind === "schema")) {
        throw new UsageError(`${cliFix(err.message)} (nothing was enabled)`);
      }
      throw err;
    }
    const result = {
      database: path,
      enabled: options.tables,
      syncedTables: db.syncedTables(),
      siteId,
    };
    if (options.json) printJson(result, out);
    else {
      printLines([
        `enabled sync on ${options.tables.join(", ")}`,
        ...labelled([
          ["synced tables", result.syncedTables.join(", ")],
          ["site id", siteId],
        ]),
      ], out);
    }
    return 0;
  } finally {
    db.close();
  }
}

/** The preflight names the library's options as its fix; on the command line they are flags. */
function cliFix(message: string): string {
  return message
    .replace("pass { allowIntegerPrimaryKey: true }", "pass --allow-integer-primary-key")
    .replace("pass { allowNotNullWithoutDefault: true }", "pass --allow-not-null-without-default");
}
