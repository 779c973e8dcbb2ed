/**
 * The valibot schema of the daemon's config file: every key, its type and
 * range, and its default. Each check's message says what is expected
 * (`an integer from 1 to 3600 (seconds)`), for the one-line errors of
 * `_config_messages.ts`.
 *
 * @module
 */
import { isIP } from "node:net";
import * as v from "valibot";
import { DEFAULT_HOST, DEFAULT_STOP_GRACE_MS, LOG_LEVELS } from "./_config_types.ts";

/** A database's name: letters, digits, `.`, `_` or `-`, at most 64. */
export const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

const text = (what: string) =>
  v.pipe(v.string(`a string (${what})`), v.minLength(1, `a non-empty string (${what})`));
/** The keys whose `${NAME}` references are expanded (see `_config_paths.ts`). */
export const EXPANDED_KEYS = "path, apiKeyFile, tokenFile and http.tokenFile";
/** A string that is used as written: a `${NAME}` in it would be taken literally, so it is refused. */
const literal = (what: string) =>
  v.pipe(
    text(what),
    v.check(
      (s) => !s.includes("${"),
      `a value without \${…} (variables are expanded only in ${EXPANDED_KEYS})`,
    ),
  );
/** A JSON object: valibot's objects take lists too (`"http": []` would pass as `{}`). */
const object = <const E extends v.ObjectEntries>(entries: E, message: string) =>
  v.pipe(
    v.custom<Record<string, unknown>>(
      (x) => typeof x === "object" && x !== null && !Array.isArray(x),
      message,
    ),
    v.strictObject(entries, message),
  );
/** A host name: labels of letters, digits and `-`, dot-separated. */
const HOST_NAME =
  /^(?=.{1,253}\.?$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,62})(?:\.[A-Za-z0-9][A-Za-z0-9-]{0,62})*\.?$/;
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

/** The keys of one `databases[i]` entry. */
export const DATABASE_KEYS = {
  name: v.optional(
    v.pipe(
      text("a name"),
      v.regex(NAME, "a name of letters, digits, '.', '_' or '-' (at most 64), such as \"sensors\""),
    ),
  ),
  path: text("the path of the database file"),
  databaseId: literal("the SQLite Cloud managed database id"),
  address: v.optional(
    v.pipe(
      literal("an http(s) URL"),
      v.check((s) => URL.canParse(s) && /^https?:$/.test(new URL(s).protocol), "an http(s) URL"),
    ),
  ),
  apiKeyFile: v.optional(text("a path to a file holding the API key")),
  tokenFile: v.optional(text("a path to a file holding the access token")),
  apiKeyEnv: v.optional(envName),
  tokenEnv: v.optional(envName),
  tables: v.optional(
    v.array(
      literal("a table name"),
      'a list of table names such as ["readings"]',
    ),
  ),
  cron: v.optional(v.string('a cron expression such as "* * * * *"')),
  timezone: v.optional(v.string('an IANA time zone such as "Europe/Berlin"')),
  intervalMs: v.optional(int("milliseconds", 1000, 2 ** 31 - 1)),
  syncOnStart: v.optional(v.boolean("true or false")),
  requestTimeoutS: v.optional(int("seconds", 1, 3600)),
  connectTimeoutS: v.optional(int("seconds", 1, 3600)),
};

/** The keys of `http`. */
export const HTTP_KEYS = {
  host: v.optional(
    v.pipe(
      text('a host address such as "127.0.0.1"'),
      v.check(
        (s) => isIP(s) !== 0 || HOST_NAME.test(s),
        'an IP address or a host name such as "127.0.0.1", "::1" or "localhost" ' +
          "(no brackets, no port: the port is 'http.port')",
      ),
    ),
    DEFAULT_HOST,
  ),
  port: v.optional(int("port", 0, 65535), 0),
  tokenFile: v.optional(text("a path to a file holding the bearer token")),
  public: v.optional(v.boolean("true or false"), false),
};

/** The keys of `executors` (the process's executor pool; see `configureExecutors()`). */
export const EXECUTORS_KEYS = {
  kind: v.optional(v.picklist(["worker", "process"], 'one of "worker", "process"')),
  size: v.optional(int("executors", 1, 64)),
  maxSize: v.optional(int("executors", 1, 64)),
  blockedAfterMs: v.optional(int("milliseconds", 1, 2 ** 31 - 1)),
};

/** The top-level keys. */
export const CONFIG_KEYS = {
  $schema: v.optional(v.string()),
  databases: v.pipe(
    v.array(object(DATABASE_KEYS, "an object { path, databaseId, … }"), "a list"),
    v.minLength(1, "a non-empty list of { path, databaseId, … }"),
  ),
  http: v.optional(object(HTTP_KEYS, "an object { host, port, tokenFile?, public? }"), {}),
  logLevel: v.optional(v.picklist(LOG_LEVELS, `one of ${LOG_LEVELS.join(", ")}`), "info"),
  stopGraceMs: v.optional(int("milliseconds", 0, 600_000), DEFAULT_STOP_GRACE_MS),
  executors: v.optional(
    v.pipe(
      object(EXECUTORS_KEYS, "an object { kind?, size?, maxSize?, blockedAfterMs? }"),
      v.check(
        (e) => e.maxSize === undefined || e.maxSize >= (e.size ?? 2),
        "'maxSize' at least 'size' (default 2)",
      ),
    ),
    {},
  ),
};

/** The whole config file (unknown keys are refused). */
export const SCHEMA = object(CONFIG_KEYS, "an object { databases, http?, … }");

type RawConfig = v.InferOutput<typeof SCHEMA>;
/** One `databases[i]` entry as the schema outputs it (paths and secrets not yet resolved). */
export type RawDatabase = RawConfig["databases"][number];
