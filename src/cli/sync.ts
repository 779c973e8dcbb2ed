/**
 * `sqlite-sync sync <db> [--database-id <id>]`: one sync (send, then receive)
 * of an existing database whose tables were enabled with `init`, printing the
 * typed result as text or `--json`. The database id comes from `--database-id`,
 * else from `SQLITE_SYNC_DATABASE_ID`; without either the command exits 2 with
 * one line naming both. The API key or token comes from
 * `SQLITE_SYNC_API_KEY`/`SQLITE_SYNC_TOKEN` or `--api-key-file`/`--token-file`,
 * never from the command line; without one it exits 2 before any network
 * access. A network failure prints one line with its kind and exits with
 * code 1 (it is not bad input).
 *
 * Everything that can be refused is checked before the database is opened for
 * writing (which switches it to WAL): the flags, the credential, that the file
 * is a SQLite database that can be written, and that it has synced tables
 * (read on a read-only connection). A refusal leaves the file as it was.
 *
 * @module
 */
import process from "node:process";
import { defineCommand } from "citty";
import { SqliteSyncError } from "../../common/errors.ts";
import type { SyncResult } from "../../common/sync_result.ts";
import { SyncDatabase } from "../database.ts";
import { assertAddress, assertDatabaseId, assertSecret } from "../_network_options.ts";
import { type CliArgDef, parseCli } from "./_args.ts";
import { API_KEY_ENV, readCredential, refuseUrlCredentials, TOKEN_ENV } from "./_credentials.ts";
import {
  assertWritable,
  databaseFile,
  notDatabase,
  notWritable,
  shellWord,
  syncedTablesOf,
  withReadOnlyConnection,
} from "./_database_file.ts";
import { CommandFailure } from "./_failure.ts";
import {
  formatBytes,
  labelled,
  type Output,
  printJson,
  printLines,
  processOutput,
} from "./_output.ts";
import { UsageError } from "./_usage.ts";

/** The environment variable read when `--database-id` is not given. */
export const DATABASE_ID_ENV = "SQLITE_SYNC_DATABASE_ID";

const args = {
  db: { type: "positional", description: "The database file (its tables enabled with init)" },
  "database-id": {
    type: "string",
    valueHint: "id",
    description: `The SQLite Cloud managed database id (default: env ${DATABASE_ID_ENV})`,
  },
  address: {
    type: "string",
    valueHint: "url",
    description: "The CloudSync address (default: SQLite Cloud's)",
  },
  "api-key-file": {
    type: "string",
    valueHint: "file",
    description: "A file holding the API key (default: env SQLITE_SYNC_API_KEY)",
  },
  "token-file": {
    type: "string",
    valueHint: "file",
    description: "A file holding an access token (default: env SQLITE_SYNC_TOKEN)",
  },
  timeout: {
    type: "string",
    valueHint: "seconds",
    description: "Time-out of each request, 1–86400 s (default: 60)",
  },
  "wait-ms": {
    type: "string",
    valueHint: "ms",
    description: "Pause between receive attempts, 0–600000 ms (default: 100)",
  },
  "max-attempts": {
    type: "string",
    valueHint: "n",
    description: "Receive attempts, 1–1000 (default: 1)",
  },
  json: { type: "boolean", description: "Print the result as JSON" },
} satisfies Record<string, CliArgDef>;

/** The `sync` command. */
export const syncCommand = defineCommand({
  meta: { name: "sync", description: "Sync a database once and print the result" },
  args,
  run: async ({ rawArgs }) => {
    const a = parseCli("sync", rawArgs, args);
    return await syncOnce({
      database: a.positional("db")!,
      databaseId: a.string("database-id"),
      address: a.string("address"),
      apiKeyFile: a.string("api-key-file"),
      tokenFile: a.string("token-file"),
      timeoutS: integerFlag("--timeout", a.string("timeout"), 1, 86_400, 60),
      waitMs: integerFlag("--wait-ms", a.string("wait-ms"), 0, 600_000, 100),
      maxAttempts: integerFlag("--max-attempts", a.string("max-attempts"), 1, 1000, 1),
      json: a.flag("json"),
    });
  },
});

/** Options of {@linkcode syncOnce}. */
export interface SyncOnceOptions {
  /** The database file. */
  database: string;
  /** The managed database id (`--database-id`); `SQLITE_SYNC_DATABASE_ID` of `env` when absent. */
  databaseId?: string;
  /** The CloudSync address. */
  address?: string;
  /** A file holding the API key. */
  apiKeyFile?: string;
  /** A file holding the token. */
  tokenFile?: string;
  /** `network_request_timeout`, in seconds. */
  timeoutS: number;
  /** Pause between receive attempts. */
  waitMs: number;
  /** Receive attempts. */
  maxAttempts: number;
  /** Print JSON. @default false */
  json?: boolean;
  /** The environment the credential is read from. @default process.env */
  env?: Record<string, string | undefined>;
}

/**
 * An integer flag's value, or its default when absent.
 *
 * @param flag The flag, for the message.
 * @param value Its text.
 * @param min The smallest value.
 * @param max The largest value.
 * @param fallback The default.
 * @returns The integer.
 * @throws {UsageError} when it is not an integer in range.
 */
export function integerFlag(
  flag: string,
  value: string | undefined,
  min: number,
  max: number,
  fallback: number,
): number {
  if (value === undefined) return fallback;
  const n = /^\d{1,10}$/.test(value) ? Number(value) : NaN;
  if (!(n >= min && n <= max)) {
    throw new UsageError(`${flag} must be an integer from ${min} to ${max}: fix its value`);
  }
  return n;
}

/**
 * Checks every input, then opens the database, initializes the network from
 * the flags and the credential, syncs once, prints the result.
 *
 * @param options The database, network settings and output format.
 * @param out The streams.
 * @returns The exit code (0).
 * @throws {UsageError} for no database id, no credential, a missing, read-only or non-SQLite
 *   database, no synced table, bad network settings: before anything is written or sent.
 * @throws {CommandFailure} the sync's error (`offline`, `timeout`, `http`, `auth`…) as
 *   `sync failed (<kind>): <message>`.
 * @throws {SqliteSyncError} when the extension cannot load or the database cannot be opened.
 */
export async function syncOnce(
  options: SyncOnceOptions,
  out: Output = processOutput,
): Promise<number> {
  const env = options.env ?? process.env;
  const fromEnv = options.databaseId === undefined;
  const databaseId = options.databaseId ?? (env[DATABASE_ID_ENV] || undefined);
  if (databaseId === undefined) {
    throw new UsageError(
      `missing --database-id: sqlite-sync sync <db> --database-id <id>, or set ${DATABASE_ID_ENV}`,
    );
  }
  const file = databaseFile(options.database, "sync");
  const path = file.path;
  if (options.address !== undefined) {
    refuseUrlCredentials(
      "--address",
      options.address,
      "SQLITE_SYNC_API_KEY/SQLITE_SYNC_TOKEN or --api-key-file/--token-file for the credential",
    );
  }
  try {
    // The library checks these again in network.init(); here nothing is opened yet.
    assertDatabaseId(databaseId);
    if (options.address !== undefined) assertAddress(options.address);
  } catch (err) {
    // The library names what is wrong without echoing the value.
    if (err instanceof TypeError) throw new UsageError(flagNames(err.message, fromEnv));
    throw err;
  }
  const credential = readCredential(
    { apiKeyFile: options.apiKeyFile, tokenFile: options.tokenFile },
    env,
  );
  const secret = credential.apiKey ?? credential.token;
  if (secret === undefined) {
    throw new UsageError(
      `no credential: set ${API_KEY_ENV} (an API key) or ${TOKEN_ENV} (an access token), or ` +
        `pass --api-key-file <file> or --token-file <file> (a file readable by you only)`,
    );
  }
  try {
    assertSecret(secret, credential.from);
  } catch (err) {
    if (err instanceof TypeError) throw new UsageError(`${err.message} (the value is not shown)`);
    throw err;
  }
  const synced = await withReadOnlyConnection(file, syncedTablesOf);
  if (synced.length === 0) {
    throw new UsageError(
      `no table of '${path}' is synced: enable sync first with sqlite-sync init ` +
        `${shellWord(path)} --table <table>`,
    );
  }
  await assertWritable(file, "sync");
  let db: SyncDatabase;
  try {
    db = await SyncDatabase.open(path);
  } catch (err) {
    throw notDatabase(path, err) ?? notWritable(file, "sync", err) ?? err;
  }
  let result: SyncResult;
  try {
    try {
      db.network.init({
        databaseId,
        address: options.address,
        apiKey: credential.apiKey,
        token: credential.token,
      });
    } catch (err) {
      if (err instanceof TypeError) throw new UsageError(flagNames(err.message, fromEnv));
      throw err;
    }
    db.transaction(() => {
      db.set("network_connect_timeout", Math.min(10, options.timeoutS));
      db.set("network_request_timeout", options.timeoutS);
    });
    try {
      result = db.network.sync({ waitMs: options.waitMs, maxAttempts: options.maxAttempts });
    } catch (err) {
      if (err instanceof SqliteSyncError) {
        throw new CommandFailure(`sync failed (${err.kind}): ${err.message}`, err.kind);
      }
      throw err;
    }
  } finally {
    db.close();
  }
  // After closing: nothing can fail once the result is printed.
  if (options.json) printJson(result, out);
  else printLines(describeResult(path, result), out);
  return 0;
}

/** The library's option names in its message, as the user gave them (a flag or the variable). */
function flagNames(message: string, databaseIdFromEnv: boolean): string {
  return message
    .replace(
      /^Invalid databaseId/,
      `Invalid ${databaseIdFromEnv ? DATABASE_ID_ENV : "--database-id"}`,
    )
    .replace(/^Invalid address/, "Invalid --address");
}

/**
 * The result as text for people.
 *
 * @param path The database file.
 * @param r The result.
 * @returns Its lines.
 */
export function describeResult(path: string, r: SyncResult): string[] {
  const s = r.send;
  const v = r.receive;
  const tables = v.tables.length > 0 ? ` in ${v.tables.join(", ")}` : "";
  return [
    `synced ${path}: ${s.status}`,
    ...labelled([
      [
        "sent",
        `${s.chunks} chunk${s.chunks === 1 ? "" : "s"} (${formatBytes(s.bytes)}), ` +
        `local version ${s.localVersion}, server version ${s.serverVersion}`,
      ],
      [
        "received",
        `${v.rows} row${v.rows === 1 ? "" : "s"}${tables} (${v.chunks} chunk${
          v.chunks === 1 ? "" : "s"
        }, ${formatBytes(v.bytes)})${v.complete ? "" : ", more to receive"}`,
      ],
      ...(s.lastFailure?.message ? [["server failure", s.lastFailure.message] as const] : []),
      ...(v.error ? [["receive error", v.error] as const] : []),
    ]),
  ];
}
