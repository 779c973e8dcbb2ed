/**
 * The config's error messages: one line, `config <file>: <message>`, naming
 * the key path (`databases[1].cron`), what was expected and how to fix it,
 * never a secret's content.
 *
 * @module
 */
import type * as v from "valibot";
import { CONFIG_KEYS, DATABASE_KEYS, HTTP_KEYS } from "./_config_schema.ts";
import { UsageError } from "./_usage.ts";

/** `databases[1].cron` from a valibot issue path. */
function keyPath(issue: v.BaseIssue<unknown>): string {
  let out = "";
  for (const item of issue.path ?? []) {
    const key = item.key;
    out += typeof key === "number" ? `[${key}]` : out === "" ? String(key) : `.${String(key)}`;
  }
  return out;
}

/**
 * A short, one-line, safe rendering of a value from the config (no secrets live there).
 *
 * @param value A value from the parsed config.
 * @returns `nothing`, `null`, `a list`, `an object`, or the value (JSON for a string),
 *   control characters replaced and cut to 48 characters.
 */
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

/**
 * The message for a schema issue: an unknown key (with the known ones, or where
 * secrets go), a missing key, or a value of the wrong kind.
 *
 * @param issue The first issue valibot reported.
 * @returns One line naming the key path.
 */
export function issueMessage(issue: v.BaseIssue<unknown>): string {
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

/**
 * The error for a bad config.
 *
 * @param file The config file's absolute path.
 * @param message What is wrong and how to fix it.
 * @returns `config <file>: <message>`.
 */
export function configError(file: string, message: string): UsageError {
  return new UsageError(`config ${file}: ${message}`);
}
