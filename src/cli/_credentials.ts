/**
 * Where the CLI takes secrets from: environment variables or files, never
 * the command line (it is visible to other users in `ps` and kept in shell
 * history). A secret's value is never printed, not even when it is refused.
 *
 * @module
 */
import { resolve } from "node:path";
import { rememberSecret } from "../../common/redact.ts";
import { readSecretFile } from "./_secret_file.ts";
import { UsageError } from "./_usage.ts";

/** The environment variable holding an API key. */
export const API_KEY_ENV = "SQLITE_SYNC_API_KEY";
/** The environment variable holding an access token. */
export const TOKEN_ENV = "SQLITE_SYNC_TOKEN";

/** One credential and where it came from (the place, never the value, may be shown). */
export interface Credential {
  /** An API key, or `undefined`. */
  apiKey?: string;
  /** An access token, or `undefined`. */
  token?: string;
  /** Where it came from: `--api-key-file <path>`, `SQLITE_SYNC_TOKEN`…, or `none`. */
  from: string;
}

/**
 * Reads the credential: `--api-key-file`/`--token-file` when given, else
 * `SQLITE_SYNC_API_KEY`/`SQLITE_SYNC_TOKEN`. A file holds the secret on one line and is
 * readable by its owner only (the daemon's rules, see `_secret_file.ts`).
 *
 * @param files The file flags' values.
 * @param env The environment.
 * @returns The credential (neither field set when there is none).
 * @throws {UsageError} for both files, both variables, or a missing, unreadable, empty,
 *   multi-line or world-readable file.
 *
 * @example Usage
 * ```ts
 * import { readCredential } from "./_credentials.ts";
 * console.log(readCredential({}, { SQLITE_SYNC_TOKEN: "t" }).from); // "SQLITE_SYNC_TOKEN"
 * ```
 */
export function readCredential(
  files: { apiKeyFile?: string; tokenFile?: string },
  env: Record<string, string | undefined>,
): Credential {
  if (files.apiKeyFile !== undefined && files.tokenFile !== undefined) {
    throw new UsageError(
      "--api-key-file and --token-file are both given: pass one (an API key or a token, not both)",
    );
  }
  if (files.apiKeyFile !== undefined) {
    return { apiKey: secretFile("--api-key-file", files.apiKeyFile), from: "--api-key-file" };
  }
  if (files.tokenFile !== undefined) {
    return { token: secretFile("--token-file", files.tokenFile), from: "--token-file" };
  }
  const apiKey = env[API_KEY_ENV] || undefined;
  const token = env[TOKEN_ENV] || undefined;
  if (apiKey !== undefined && token !== undefined) {
    throw new UsageError(
      `${API_KEY_ENV} and ${TOKEN_ENV} are both set: unset one (an API key or a token, not both)`,
    );
  }
  if (apiKey !== undefined) return { apiKey: remembered(apiKey.trim()), from: API_KEY_ENV };
  if (token !== undefined) return { token: remembered(token.trim()), from: TOKEN_ENV };
  return { from: "none" };
}

function secretFile(flag: string, path: string): string {
  return remembered(readSecretFile(resolve(path), flag, (message) => new UsageError(message)));
}

/** Registers the secret for redaction, so no later message can show it. */
function remembered(secret: string): string {
  rememberSecret(secret);
  return secret;
}

/**
 * Refuses a URL flag that carries credentials (`https://user:pass@host`),
 * naming the environment variable to use instead. The value is not shown.
 *
 * @param flag The flag, e.g. `--registry`.
 * @param value Its value.
 * @param instead Where such a URL belongs, e.g. `the SQLITE_SYNC_NPM_REGISTRY environment variable`.
 * @throws {UsageError} when the value has a user name or password.
 *
 * @example Usage
 * ```ts
 * import { refuseUrlCredentials } from "./_credentials.ts";
 * refuseUrlCredentials("--registry", "https://registry.npmjs.org", "SQLITE_SYNC_NPM_REGISTRY");
 * ```
 */
export function refuseUrlCredentials(flag: string, value: string, instead: string): void {
  // Also `user:pass@host` without a scheme, which no URL parser reads as credentials.
  if (/^([a-z][a-z0-9+.-]*:\/\/)?[^/?#\s]*@/i.test(value)) {
    throw new UsageError(
      `${flag} must not carry credentials (user:password@…; the value is not shown): the command ` +
        `line is visible to other users and kept in shell history; use ${instead} instead`,
    );
  }
}
