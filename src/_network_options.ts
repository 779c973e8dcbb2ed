/**
 * Validation of the options of `network.init()`. A rejected value is never
 * echoed, not even in part: it may be an API key pasted into the wrong field,
 * which nobody has registered for redaction yet, so messages describe its
 * shape only (see `shapeOf` in `common/redact.ts`).
 *
 * @module
 */
import { shapeOf } from "../common/redact.ts";

/** Hosts where plain http:// keeps credentials on this machine. */
const LOOPBACK = new Set(["127.0.0.1", "[::1]", "localhost"]);

const DATABASE_ID = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,255}$/;

/**
 * Validates an API key or token, never echoing it.
 *
 * @param value The credential.
 * @param what Its option name, for the message.
 * @returns The credential.
 * @throws {TypeError} for a non-string, an empty or huge value, or whitespace inside.
 *
 * @example Usage
 * ```ts
 * import { assertSecret } from "./_network_options.ts";
 * assertSecret("sqa_0123456789", "apiKey");
 * ```
 */
export function assertSecret(value: unknown, what: string): string {
  // Never echo the value: it is a credential.
  if (typeof value !== "string" || value.length === 0) {
    throw new TypeError(`Invalid ${what}: expected a non-empty string`);
  }
  if (value.length > 16_384) throw new TypeError(`Invalid ${what}: longer than 16384 characters`);
  // deno-lint-ignore no-control-regex
  if (/[\x00-\x20\x7f]/.test(value)) {
    throw new TypeError(`Invalid ${what}: it contains whitespace or control characters`);
  }
  return value;
}

/**
 * Validates the service address: https://, or http:// on loopback only; no
 * credentials, query or fragment. A rejected value is never echoed.
 *
 * @param value The value passed as `address`.
 * @returns The URL without a trailing slash.
 * @throws {TypeError} describing what is wrong, never the value.
 *
 * @example Usage
 * ```ts
 * import { assertAddress } from "./_network_options.ts";
 * console.log(assertAddress("https://example.sqlite.cloud/")); // "https://example.sqlite.cloud"
 * ```
 */
export function assertAddress(value: unknown): string {
  let url: URL;
  try {
    url = new URL(String(value));
  } catch {
    throw new TypeError(
      `Invalid address: ${
        shapeOf(value)
      } that is not a URL (the value is not shown, as it may be a credential); ` +
        `expected an https:// URL of a SQLite Cloud endpoint`,
    );
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    // Name the scheme only when the value plainly has one (`ftp://…`): in `user:key` what
    // parses as a scheme is the start of a credential.
    const scheme = /^([a-z][a-z0-9+.-]{0,15}:)\/\//i.exec(String(value))?.[1]?.toLowerCase();
    throw new TypeError(
      `Invalid address: ${
        scheme ? `protocol ${scheme}` : "its protocol"
      } is not http(s) (the value is not shown, as it may be a credential)`,
    );
  }
  if (url.protocol === "http:" && !LOOPBACK.has(url.hostname.toLowerCase())) {
    throw new TypeError(
      `Invalid address: plain http:// to a host that is not loopback would send the API key or ` +
        `token in cleartext; use https://, or http:// only for a loopback host (127.0.0.1, [::1], ` +
        `localhost)`,
    );
  }
  if (url.username || url.password) {
    throw new TypeError("Invalid address: credentials belong in apiKey or token, not in the URL");
  }
  if (url.search || url.hash) throw new TypeError("Invalid address: no query or fragment allowed");
  return url.href.replace(/\/$/, "");
}

/**
 * Validates a managed database id.
 *
 * @param databaseId The value passed as `databaseId`.
 * @throws {TypeError} naming its length and one bad character, never the value.
 *
 * @example Usage
 * ```ts
 * import { assertDatabaseId } from "./_network_options.ts";
 * assertDatabaseId("my-database-id");
 * ```
 */
export function assertDatabaseId(databaseId: unknown): asserts databaseId is string {
  if (typeof databaseId !== "string" || !DATABASE_ID.test(databaseId)) {
    // Never echoed: an API key pasted here must not be printed. One bad character is safe to name.
    const bad = typeof databaseId === "string"
      ? /[^A-Za-z0-9_.:-]/.exec(databaseId)?.[0]
      : undefined;
    const why = bad === undefined
      ? ""
      : bad.trim()
      ? ` (it contains '${bad}')`
      : " (it contains whitespace)";
    throw new TypeError(
      `Invalid databaseId: ${shapeOf(databaseId)} that is not a managed database id${why}; ` +
        `expected letters, digits, - _ . : (at most 256); the value is not shown, as it may be a credential`,
    );
  }
}
