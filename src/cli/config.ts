/**
 * The daemon's config file: JSON with comments, validated with valibot, and
 * its secrets loaded from files or environment variables. Every error is a
 * {@linkcode UsageError}: one line naming the key path (`databases[1].cron`),
 * what was expected and how to fix it, never a secret's content.
 *
 * ```jsonc
 * {
 *   "databases": [
 *     {
 *       "name": "sensors",                    // default: the file name without extension
 *       "path": "sensors.db",                 // relative to this file's folder
 *       "databaseId": "db_xxxxxxxx",
 *       "address": "https://…",               // default: SQLite Cloud's
 *       "apiKeyFile": "/etc/sqlite-sync/key", // or tokenFile, apiKeyEnv, tokenEnv
 *       "tables": ["readings"],
 *       "cron": "* * * * *", "timezone": "UTC" // or intervalMs; default: adaptive polling
 *     }
 *   ],
 *   // host: 127.0.0.1 by default; a non-loopback one needs tokenFile, or "public": true
 *   "http": { "host": "127.0.0.1", "port": 8787, "tokenFile": "/etc/sqlite-sync/http-token" },
 *   "logLevel": "info",
 *   "stopGraceMs": 5000,
 *   "executors": { "size": 2, "maxSize": 8 }
 * }
 * ```
 *
 * @module
 */
import { readFileSync, statSync } from "node:fs";
import { dirname, resolve } from "node:path";
import process from "node:process";
import {
  createScanner,
  parse as parseJsonc,
  type ParseError,
  printParseErrorCode,
  type SyntaxKind,
} from "jsonc-parser";
import * as v from "valibot";
import { checkUnique, databaseConfig } from "./_config_database.ts";
import { httpConfig } from "./_config_http.ts";
import { configError, issueMessage, shown } from "./_config_messages.ts";
import { SCHEMA } from "./_config_schema.ts";
import { type DaemonConfig, MAX_DEPTH } from "./_config_types.ts";
import { UsageError } from "./_usage.ts";

export {
  DEFAULT_API_KEY_ENV,
  DEFAULT_HOST,
  DEFAULT_STOP_GRACE_MS,
  DEFAULT_TOKEN_ENV,
  LOG_LEVELS,
  MAX_DEPTH,
} from "./_config_types.ts";

/** Where the config's paths and secrets are read from (the environment, for tests). */
export interface LoadOptions {
  /**
   * Environment variables (credentials from `apiKeyEnv`/`tokenEnv`, the defaults,
   * `CREDENTIALS_DIRECTORY`).
   * @default process.env
   */
  env?: Record<string, string | undefined>;
}

/**
 * Reads the config file: parses JSON with comments, then {@linkcode parseConfig}.
 *
 * @param file The config file (relative to the working directory).
 * @param options The environment.
 * @returns The validated config with its secrets.
 * @throws {UsageError} For a missing, unreadable or malformed file, and for any bad key.
 *
 * @example Usage
 * ```ts ignore
 * import { loadConfig } from "./config.ts";
 * const config = loadConfig("/etc/sqlite-sync/sqlite-sync.jsonc");
 * console.log(config.databases.map((d) => d.name));
 * ```
 */
export function loadConfig(file: string, options: LoadOptions = {}): DaemonConfig {
  const path = resolve(file);
  let source: string;
  try {
    if (statSync(path).isDirectory()) {
      throw configError(
        path,
        "is a directory: pass --config <file> with a JSON (comments allowed) file",
      );
    }
    source = readFileSync(path, "utf8");
  } catch (err) {
    if (err instanceof UsageError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    throw code === "ENOENT"
      ? configError(path, "not found: pass --config <file> with an existing file")
      : configError(path, `cannot be read (${code ?? "error"}): check its permissions`);
  }
  return parseConfig(source, path, options);
}

/**
 * Parses and validates a config's text (JSON with comments and trailing commas).
 *
 * @param source The file's text.
 * @param file Its absolute path: relative paths in it are resolved against its folder.
 * @param options The environment.
 * @returns The validated config with its secrets.
 * @throws {UsageError} For malformed JSON and for any bad key (one line, naming the key path).
 *
 * @example Usage
 * ```ts
 * import { parseConfig } from "./config.ts";
 * const config = parseConfig(
 *   `{ "databases": [{ "path": "a.db", "databaseId": "db1" }] } // comments are fine`,
 *   "/etc/sqlite-sync/config.jsonc",
 *   { env: { SQLITE_SYNC_API_KEY: "key" } },
 * );
 * console.log(config.databases[0].path); // "/etc/sqlite-sync/a.db"
 * ```
 */
export function parseConfig(source: string, file: string, options: LoadOptions = {}): DaemonConfig {
  const env = options.env ?? process.env;
  // Editors on Windows save UTF-8 with a byte order mark; readFileSync keeps it.
  if (source.startsWith("\uFEFF")) source = source.slice(1);
  if (source.trim() === "") {
    throw configError(
      file,
      'is empty: it needs at least { "databases": [{ "path", "databaseId" }] }',
    );
  }
  checkDepth(source, file);
  const errors: ParseError[] = [];
  const json: unknown = parseJsonc(source, errors, { allowTrailingComma: true });
  if (errors.length > 0) {
    const { line, column } = lineColumn(source, errors[0].offset);
    throw configError(
      file,
      `line ${line}, column ${column}: ${words(printParseErrorCode(errors[0].error))} ` +
        "(JSON with comments expected: check quotes, commas and brackets)",
    );
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    throw configError(
      file,
      `the config must be an object { databases, http?, … }: got ${shown(json)}`,
    );
  }
  const parsed = v.safeParse(SCHEMA, json);
  if (!parsed.success) throw configError(file, issueMessage(parsed.issues[0]));
  const raw = parsed.output;
  const folder = dirname(file);
  const databases = raw.databases.map((db, i) => databaseConfig(db, i, folder, file, env));
  checkUnique(databases, file);
  return {
    file,
    databases,
    http: httpConfig(raw.http, folder, file, env),
    logLevel: raw.logLevel,
    stopGraceMs: raw.stopGraceMs,
    executors: { ...raw.executors },
  };
}

// jsonc-parser's SyntaxKind is an ambient const enum, unusable under isolatedModules: its values.
const OPEN_BRACE = 1 as SyntaxKind;
const CLOSE_BRACE = 2 as SyntaxKind;
const OPEN_BRACKET = 3 as SyntaxKind;
const CLOSE_BRACKET = 4 as SyntaxKind;
const EOF = 17 as SyntaxKind;

/**
 * Refuses brackets nested deeper than {@linkcode MAX_DEPTH} before the (recursive) parser
 * sees them: a linear scan with jsonc-parser's scanner, so strings and comments do not count.
 */
function checkDepth(source: string, file: string): void {
  const scanner = createScanner(source, true);
  let depth = 0;
  for (let token = scanner.scan(); token !== EOF; token = scanner.scan()) {
    if (token === OPEN_BRACE || token === OPEN_BRACKET) {
      if (++depth > MAX_DEPTH) {
        const { line, column } = lineColumn(source, scanner.getTokenOffset());
        throw configError(
          file,
          `line ${line}, column ${column}: brackets nested deeper than ${MAX_DEPTH} levels ` +
            "(a valid config has at most 4): check the brackets",
        );
      }
    } else if (token === CLOSE_BRACE || token === CLOSE_BRACKET) {
      depth = Math.max(0, depth - 1);
    }
  }
}

/** `CommaExpected` → `comma expected`. */
function words(code: string): string {
  return code.replace(/([a-z])([A-Z])/g, "$1 $2").toLowerCase();
}

function lineColumn(source: string, offset: number): { line: number; column: number } {
  const before = source.slice(0, offset).split("\n");
  return { line: before.length, column: before.at(-1)!.length + 1 };
}
