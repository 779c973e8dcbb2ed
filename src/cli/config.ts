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
 *   "http": { "host": "127.0.0.1", "port": 8787, "tokenFile": "/etc/sqlite-sync/http-token" },
 *   "logLevel": "info",
 *   "stopGraceMs": 5000
 * }
 * ```
 *
 * @module
 */
import { readFileSync, statSync } from "node:fs";
import { basename, dirname, extname, resolve } from "node:path";
import process from "node:process";
import { parse as parseJsonc, type ParseError, printParseErrorCode } from "jsonc-parser";
import * as v from "valibot";
import { cronTrigger } from "../scheduler/cron.ts";
import { UsageError } from "./_usage.ts";
import { readSecretFile } from "./_secret_file.ts";

/** Log levels, least severe first. */
export const LOG_LEVELS = ["debug", "info", "warn", "error"] as const;
/** A log level. */
export type LogLevel = typeof LOG_LEVELS[number];

/** The environment variables read when a database names no credential. */
export const DEFAULT_API_KEY_ENV = "SQLITE_SYNC_API_KEY";
/** See {@linkcode DEFAULT_API_KEY_ENV}. */
export const DEFAULT_TOKEN_ENV = "SQLITE_SYNC_TOKEN";

/** Where a credential came from (for logs: a kind and a place, never the value). */
export interface CredentialSource {
  /** An API key or an access token. */
  kind: "apiKey" | "token";
  /** `file:<path>` or `env:<NAME>`. */
  from: string;
}

/** One database of a validated config. */
export interface DatabaseConfig {
  /** Unique name: log lines, /status, metric labels. */
  name: string;
  /** Absolute path of the database file. */
  path: string;
  databaseId: string;
  address?: string;
  /** Where the credential came from. */
  credentialSource: CredentialSource;
  /** The credential (memory only; never logged). */
  credential: string;
  tables: string[];
  cron?: string;
  timezone?: string;
  intervalMs?: number;
  requestTimeoutS?: number;
  connectTimeoutS?: number;
}

/** A validated config with its secrets loaded. */
export interface DaemonConfig {
  /** Absolute path of the config file. */
  file: string;
  databases: DatabaseConfig[];
  http: {
    host: string;
    port: number;
    /** Absolute path of the bearer-token file for POST /sync. */
    tokenFile?: string;
    /** Its content (memory only). */
    token?: string;
  };
  logLevel: LogLevel;
  stopGraceMs: number;
}

/** Default `http.host`. */
export const DEFAULT_HOST = "127.0.0.1";
/** Default `stopGraceMs`. */
export const DEFAULT_STOP_GRACE_MS = 5000;

// ---- schema --------------------------------------------------------------------------

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

const text = (what: string) =>
  v.pipe(v.string(`a string (${what})`), v.minLength(1, `a non-empty string (${what})`));
const int = (what: string, min: number, max: number) =>
  v.pipe(
    v.number(`an integer from ${min} to ${max} (${what})`),
    v.integer(`an integer from ${min} to ${max}`),
    v.minValue(min, `an integer from ${min} to ${max}`),
    v.maxValue(max, `an integer from ${min} to ${max}`),
  );
const envName = v.pipe(
  text("an environment variable name"),
  v.regex(ENV_NAME, "an environment variable name such as MY_API_KEY (letters, digits, _)"),
);

const DATABASE_KEYS = {
  name: v.optional(
    v.pipe(
      text("a name"),
      v.regex(NAME, "a name of letters, digits, '.', '_' or '-' (at most 64), such as \"sensors\""),
    ),
  ),
  path: text("the path of the database file"),
  databaseId: text("the SQLite Cloud managed database id"),
  address: v.optional(
    v.pipe(
      text("an http(s) URL"),
      v.check((s) => URL.canParse(s) && /^https?:$/.test(new URL(s).protocol), "an http(s) URL"),
    ),
  ),
  apiKeyFile: v.optional(text("a path to a file holding the API key")),
  tokenFile: v.optional(text("a path to a file holding the access token")),
  apiKeyEnv: v.optional(envName),
  tokenEnv: v.optional(envName),
  tables: v.optional(
    v.array(
      text("a table name"),
      'a list of table names such as ["readings"]',
    ),
  ),
  cron: v.optional(v.string('a cron expression such as "* * * * *"')),
  timezone: v.optional(v.string('an IANA time zone such as "Europe/Berlin"')),
  intervalMs: v.optional(int("milliseconds", 1000, 2 ** 31 - 1)),
  requestTimeoutS: v.optional(int("seconds", 1, 3600)),
  connectTimeoutS: v.optional(int("seconds", 1, 3600)),
};

const HTTP_KEYS = {
  host: v.optional(text('a host address such as "127.0.0.1"'), DEFAULT_HOST),
  port: v.optional(int("port", 0, 65535), 0),
  tokenFile: v.optional(text("a path to a file holding the bearer token")),
};

const CONFIG_KEYS = {
  $schema: v.optional(v.string()),
  databases: v.pipe(
    v.array(v.strictObject(DATABASE_KEYS, "an object { path, databaseId, … }"), "a list"),
    v.minLength(1, "a non-empty list of { path, databaseId, … }"),
  ),
  http: v.optional(v.strictObject(HTTP_KEYS, "an object { host, port, tokenFile? }"), {}),
  logLevel: v.optional(v.picklist(LOG_LEVELS, `one of ${LOG_LEVELS.join(", ")}`), "info"),
  stopGraceMs: v.optional(int("milliseconds", 0, 600_000), DEFAULT_STOP_GRACE_MS),
};

const SCHEMA = v.strictObject(CONFIG_KEYS, "an object { databases, http?, … }");

type RawConfig = v.InferOutput<typeof SCHEMA>;
type RawDatabase = RawConfig["databases"][number];

// ---- messages ------------------------------------------------------------------------

/** `databases[1].cron` from a valibot issue path. */
function keyPath(issue: v.BaseIssue<unknown>): string {
  let out = "";
  for (const item of issue.path ?? []) {
    const key = item.key;
    out += typeof key === "number" ? `[${key}]` : out === "" ? String(key) : `.${String(key)}`;
  }
  return out;
}

/** A short, one-line, safe rendering of a value from the config (no secrets live there). */
export function shown(value: unknown): string {
  if (value === undefined) return "nothing";
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "an object";
  const s = typeof value === "string" ? JSON.stringify(value) : String(value);
  // deno-lint-ignore no-control-regex
  const flat = s.replace(/[\u0000-\u001f\u007f]/g, "?");
  return flat.length > 48 ? `${flat.slice(0, 45)}…"` : flat;
}

const REQUIRED: Record<string, string> = {
  databases: 'a non-empty list of { "path", "databaseId", … }',
  path: "the database file, relative to the config's folder",
  databaseId: "the SQLite Cloud managed database id",
};

function knownKeys(path: string): string {
  const keys = /^databases\[\d+\]$/.test(path)
    ? Object.keys(DATABASE_KEYS)
    : path === "http"
    ? Object.keys(HTTP_KEYS)
    : Object.keys(CONFIG_KEYS).filter((k) => k !== "$schema");
  return keys.join(", ");
}

function issueMessage(issue: v.BaseIssue<unknown>): string {
  const path = keyPath(issue);
  if (issue.type === "strict_object" && issue.expected === "never") {
    const parent = path.replace(/(\.[^.[\]]+|\[\d+\])$/, "") || "";
    const key = issue.path?.at(-1)?.key;
    const secretHint = /^(apiKey|token|password|secret)$/i.test(String(key))
      ? ": secrets go in a file (apiKeyFile, tokenFile) or an environment variable (apiKeyEnv, tokenEnv)"
      : `: known keys are ${knownKeys(parent)}`;
    return `unknown key '${path}'${secretHint}`;
  }
  const where = path === "" ? "the config" : `'${path}'`;
  const missing = issue.received === "undefined";
  const key = String(issue.path?.at(-1)?.key);
  if (missing && key in REQUIRED) return `${where} is missing: add it (${REQUIRED[key]})`;
  // Our messages say what is expected; valibot's default ones start with "Invalid".
  const expected = issue.message.startsWith("Invalid") ? issue.expected ?? "" : issue.message;
  return missing
    ? `${where} is missing: expected ${expected}`
    : `${where} must be ${expected}: got ${shown(issue.input)}`;
}

function configError(file: string, message: string): UsageError {
  return new UsageError(`config ${file}: ${message}`);
}

// ---- loading -------------------------------------------------------------------------

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
  if (source.trim() === "") {
    throw configError(
      file,
      'is empty: it needs at least { "databases": [{ "path", "databaseId" }] }',
    );
  }
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
  const tokenFile = raw.http.tokenFile === undefined
    ? undefined
    : secretPath(raw.http.tokenFile, "http.tokenFile", folder, file, env);
  return {
    file,
    databases,
    http: {
      host: raw.http.host,
      port: raw.http.port,
      tokenFile,
      token: tokenFile === undefined
        ? undefined
        : readSecretFile(tokenFile, "http.tokenFile", (m) => configError(file, m)),
    },
    logLevel: raw.logLevel,
    stopGraceMs: raw.stopGraceMs,
  };
}

/** `CommaExpected` → `comma expected`. */
function words(code: string): string {
  return code.replace(/([a-z])([A-Z])/g, "$1 $2").toLowerCase();
}

function lineColumn(source: string, offset: number): { line: number; column: number } {
  const before = source.slice(0, offset).split("\n");
  return { line: before.length, column: before.at(-1)!.length + 1 };
}

const CREDENTIAL_KEYS = ["apiKeyFile", "tokenFile", "apiKeyEnv", "tokenEnv"] as const;

function databaseConfig(
  db: RawDatabase,
  i: number,
  folder: string,
  file: string,
  env: Record<string, string | undefined>,
): DatabaseConfig {
  const at = `databases[${i}]`;
  const fail = (message: string) => configError(file, message);
  const path = resolve(folder, db.path);
  const name = db.name ?? basename(path, extname(path));
  if (!NAME.test(name)) {
    throw fail(
      `'${at}.name' is missing and the file name ${shown(basename(path))} is not a usable name: ` +
        "add \"name\" (letters, digits, '.', '_' or '-')",
    );
  }
  if (db.cron !== undefined) {
    try {
      cronTrigger(db.cron, { timezone: db.timezone }, () => {}).stop();
    } catch {
      const zone = db.timezone === undefined ? false : !isTimeZone(db.timezone);
      throw fail(
        zone
          ? `'${at}.timezone' must be an IANA time zone such as "Europe/Berlin": got ${
            shown(db.timezone)
          }`
          : `'${at}.cron' must be a 5- or 6-field cron expression such as "* * * * *" ` +
            `(every minute): got ${shown(db.cron)}`,
      );
    }
  } else if (db.timezone !== undefined) {
    throw fail(
      `'${at}.timezone' applies to 'cron', which is not set: add '${at}.cron' or remove it`,
    );
  }
  const given = CREDENTIAL_KEYS.filter((k) => db[k] !== undefined);
  if (given.length > 1) {
    throw fail(
      `'${at}' names ${given.length} credentials (${given.join(", ")}): keep exactly one of ` +
        CREDENTIAL_KEYS.join(", "),
    );
  }
  const { source, credential } = loadCredential(db, at, given[0], folder, file, env);
  return {
    name,
    path,
    databaseId: db.databaseId,
    address: db.address,
    credentialSource: source,
    credential,
    tables: db.tables ?? [],
    cron: db.cron,
    timezone: db.timezone,
    intervalMs: db.intervalMs,
    requestTimeoutS: db.requestTimeoutS,
    connectTimeoutS: db.connectTimeoutS,
  };
}

function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: zone });
    return zone !== "";
  } catch {
    return false;
  }
}

function loadCredential(
  db: RawDatabase,
  at: string,
  key: typeof CREDENTIAL_KEYS[number] | undefined,
  folder: string,
  file: string,
  env: Record<string, string | undefined>,
): { source: CredentialSource; credential: string } {
  const fail = (message: string) => configError(file, message);
  if (key === "apiKeyFile" || key === "tokenFile") {
    const path = secretPath(db[key]!, `${at}.${key}`, folder, file, env);
    return {
      source: { kind: key === "apiKeyFile" ? "apiKey" : "token", from: `file:${path}` },
      credential: readSecretFile(path, `${at}.${key}`, fail),
    };
  }
  if (key === "apiKeyEnv" || key === "tokenEnv") {
    const name = db[key]!;
    const value = env[name]?.trim();
    if (!value) {
      throw fail(
        `'${at}.${key}' names ${name}, which is not set or empty: export it, or use a file`,
      );
    }
    return {
      source: { kind: key === "apiKeyEnv" ? "apiKey" : "token", from: `env:${name}` },
      credential: value,
    };
  }
  const apiKey = env[DEFAULT_API_KEY_ENV]?.trim();
  const token = env[DEFAULT_TOKEN_ENV]?.trim();
  if (apiKey && token) {
    throw fail(
      `'${at}' names no credential and both ${DEFAULT_API_KEY_ENV} and ${DEFAULT_TOKEN_ENV} are ` +
        "set: unset one, or name one with apiKeyFile, tokenFile, apiKeyEnv or tokenEnv",
    );
  }
  if (!apiKey && !token) {
    throw fail(
      `'${at}' has no credential: add apiKeyFile or tokenFile (or apiKeyEnv/tokenEnv), or set ` +
        `${DEFAULT_API_KEY_ENV} or ${DEFAULT_TOKEN_ENV}`,
    );
  }
  return apiKey
    ? { source: { kind: "apiKey", from: `env:${DEFAULT_API_KEY_ENV}` }, credential: apiKey }
    : { source: { kind: "token", from: `env:${DEFAULT_TOKEN_ENV}` }, credential: token! };
}

/**
 * A secret file's absolute path: `${CREDENTIALS_DIRECTORY}` (systemd's `LoadCredential=`)
 * is expanded; a relative path is read from the config's folder.
 */
function secretPath(
  path: string,
  key: string,
  folder: string,
  file: string,
  env: Record<string, string | undefined>,
): string {
  const VAR = "${CREDENTIALS_DIRECTORY}";
  if (path.includes(VAR)) {
    const dir = env.CREDENTIALS_DIRECTORY;
    if (!dir) {
      throw configError(
        file,
        `'${key}' uses ${VAR}, which is not set: run under systemd with LoadCredential=, or give a plain path`,
      );
    }
    path = path.replaceAll(VAR, dir);
  }
  return resolve(folder, path);
}

function checkUnique(databases: DatabaseConfig[], file: string): void {
  const names = new Map<string, number>();
  const paths = new Map<string, number>();
  databases.forEach((db, i) => {
    const sameName = names.get(db.name);
    if (sameName !== undefined) {
      throw configError(
        file,
        `'databases[${i}].name' ${shown(db.name)} is also the name of databases[${sameName}]: ` +
          'give each database its own "name"',
      );
    }
    const samePath = paths.get(db.path);
    if (samePath !== undefined) {
      throw configError(
        file,
        `'databases[${i}].path' is the same file as databases[${samePath}].path: list each database once`,
      );
    }
    names.set(db.name, i);
    paths.set(db.path, i);
  });
}
