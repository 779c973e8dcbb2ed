/**
 * A database's credential from the config: a file (`apiKeyFile`, `tokenFile`),
 * a named environment variable (`apiKeyEnv`, `tokenEnv`), or else
 * `SQLITE_SYNC_API_KEY`/`SQLITE_SYNC_TOKEN`; and the paths of secret files,
 * with systemd's `${CREDENTIALS_DIRECTORY}` expanded.
 *
 * @module
 */
import { resolve } from "node:path";
import type { RawDatabase } from "./_config_schema.ts";
import { configError } from "./_config_messages.ts";
import { type CredentialSource, DEFAULT_API_KEY_ENV, DEFAULT_TOKEN_ENV } from "./_config_types.ts";
import { readSecretFile } from "./_secret_file.ts";

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
 * @throws {UsageError} For an unreadable secret file, an unset variable, or no (or two) defaults.
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
 *
 * @param path The path as written in the config.
 * @param key Its key path (`http.tokenFile`).
 * @param folder The config's folder.
 * @param file The config file's absolute path (for error messages).
 * @param env The environment.
 * @returns The absolute path.
 * @throws {UsageError} When the path uses `${CREDENTIALS_DIRECTORY}` and it is not set.
 */
export function secretPath(
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
