/**
 * A database's credential from the config: a file (`apiKeyFile`, `tokenFile`),
 * a named environment variable (`apiKeyEnv`, `tokenEnv`), or else
 * `SQLITE_SYNC_API_KEY`/`SQLITE_SYNC_TOKEN`. A file's path has its `${NAME}`
 * references expanded (systemd's `${CREDENTIALS_DIRECTORY}`); a file or a
 * variable holding something that is not one usable secret is refused, naming
 * the key, never the value.
 *
 * @module
 */
import type { RawDatabase } from "./_config_schema.ts";
import { configError } from "./_config_messages.ts";
import { configPath } from "./_config_paths.ts";
import { type CredentialSource, DEFAULT_API_KEY_ENV, DEFAULT_TOKEN_ENV } from "./_config_types.ts";
import { readSecretFile, secretProblem } from "./_secret_file.ts";

/** The keys that name a database's credential (at most one may be given). */
export const CREDENTIAL_KEYS = ["apiKeyFile", "tokenFile", "apiKeyEnv", "tokenEnv"] as const;

/**
 * Loads a database's credential.
 *
 * @param db The database entry.
 * @param at Its key path (`databases[0]`).
 * @param key The credential key it gives, or `undefined` for the default variables.
 * @param folder The config's folder (relative secret files are read from it).
 * @param file The config file's absolute path (for error messages).
 * @param env The environment.
 * @returns The credential and where it came from.
 * @throws {UsageError} For an unreadable or unusable secret file, an unset or unusable
 *   variable, or no (or two) defaults.
 */
export function loadCredential(
  db: RawDatabase,
  at: string,
  key: typeof CREDENTIAL_KEYS[number] | undefined,
  folder: string,
  file: string,
  env: Record<string, string | undefined>,
): { source: CredentialSource; credential: string } {
  const fail = (message: string) => configError(file, message);
  if (key === "apiKeyFile" || key === "tokenFile") {
    const path = configPath(db[key]!, `${at}.${key}`, folder, file, env);
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
    const problem = secretProblem(value);
    if (problem !== undefined) {
      throw fail(
        `'${at}.${key}' names ${name}, whose value ${problem}: set it to the secret alone`,
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
  const [name, value] = apiKey ? [DEFAULT_API_KEY_ENV, apiKey] : [DEFAULT_TOKEN_ENV, token!];
  const problem = secretProblem(value);
  if (problem !== undefined) {
    throw fail(`'${at}' uses ${name}, whose value ${problem}: set it to the secret alone`);
  }
  return apiKey
    ? { source: { kind: "apiKey", from: `env:${DEFAULT_API_KEY_ENV}` }, credential: apiKey }
    : { source: { kind: "token", from: `env:${DEFAULT_TOKEN_ENV}` }, credential: token! };
}
