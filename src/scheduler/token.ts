/**
 * Fresh credentials for a long-running service: `getToken` is called before
 * the first sync, ahead of a JWT's `exp`, and once after an `auth` error.
 *
 * @module
 */
import { rememberSecret } from "../../common/redact.ts";

/** A function returning a fresh access token (SQLite Cloud access token or a JWT). */
export type GetToken = () => string | Promise<string>;

/** How early, before a JWT's `exp`, a new token is fetched. */
const DEFAULT_REFRESH_MARGIN_MS = 60_000;

function base64UrlDecode(text: string): string | null {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) return null;
  const padded = text.replaceAll("-", "+").replaceAll("_", "/") +
    "=".repeat((4 - (text.length % 4)) % 4);
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(
      Uint8Array.from(atob(padded), (c) => c.charCodeAt(0)),
    );
  } catch {
    return null;
  }
}

/**
 * Reads the expiry of a JWT without verifying it (the server verifies; the
 * client only needs to know when to ask for a new one).
 *
 * @param token A token; opaque tokens (no three dot-separated parts) have no expiry.
 * @returns `exp` in milliseconds since the epoch, or `null` when the token is not a JWT with
 *   a numeric `exp`.
 *
 * @example Usage
 * ```ts
 * import { jwtExpiry } from "./token.ts";
 * const payload = btoa(JSON.stringify({ exp: 2_000_000_000 })).replaceAll("=", "");
 * console.log(jwtExpiry(`e30.${payload}.sig`)); // 2000000000000
 * console.log(jwtExpiry("sqa_opaque")); // null
 * ```
 */
export function jwtExpiry(token: string): number | null {
  const parts = token.split(".");
  if (parts.length !== 3) return null;
  const json = base64UrlDecode(parts[1]);
  if (json === null) return null;
  try {
    const payload = JSON.parse(json);
    const exp = payload?.exp;
    return typeof exp === "number" && Number.isFinite(exp) ? exp * 1000 : null;
  } catch {
    return null;
  }
}

/** Options of {@linkcode TokenSource}. */
export interface TokenSourceOptions {
  /**
   * How long before a JWT's `exp` a new token is fetched, in milliseconds.
   * @default {60000}
   */
  refreshMarginMs?: number;
}

/**
 * Holds the current token and decides when to call `getToken` again.
 *
 * @example Usage
 * ```ts
 * import { TokenSource } from "./token.ts";
 * const source = new TokenSource(() => "opaque-token");
 * console.log(await source.current(Date.now())); // "opaque-token"
 * ```
 */
export class TokenSource {
  #getToken: GetToken;
  #marginMs: number;
  #token: string | null = null;
  #expiresAt: number | null = null;
  #refreshedAfterAuth = false;

  /**
   * Creates a source over the caller's `getToken`.
   *
   * @param getToken Returns a fresh token.
   * @param options The refresh margin.
   * @throws {TypeError} When `getToken` is not a function.
   * @throws {RangeError} For a negative or non-finite margin.
   */
  constructor(getToken: GetToken, options: TokenSourceOptions = {}) {
    if (typeof getToken !== "function") {
      throw new TypeError(
        `Cannot use 'getToken' as it must be a function returning a token: current value is a ${typeof getToken}`,
      );
    }
    const { refreshMarginMs = DEFAULT_REFRESH_MARGIN_MS } = options;
    if (!Number.isFinite(refreshMarginMs) || refreshMarginMs < 0) {
      throw new RangeError(
        `Cannot use 'refreshMarginMs' as it must be a finite number ≥ 0: current value is ${refreshMarginMs}`,
      );
    }
    this.#getToken = getToken;
    this.#marginMs = refreshMarginMs;
  }

  /** When the current token expires (ms since the epoch), or `null` when unknown or opaque. */
  get expiresAt(): number | null {
    return this.#expiresAt;
  }

  /**
   * The token to use for a sync at `now`: fetched on first use and when a
   * JWT is within the refresh margin of its expiry.
   *
   * @param now The current time in milliseconds.
   * @returns The token (compare with the previous one to know whether it changed).
   * @throws {TypeError} When `getToken` returns anything but a non-empty string.
   */
  async current(now: number): Promise<string> {
    const stale = this.#token === null ||
      (this.#expiresAt !== null && now >= this.#expiresAt - this.#marginMs);
    if (stale) await this.#fetch();
    return this.#token!;
  }

  /**
   * After an `auth` error: fetches a new token once. A second `auth` error
   * without a successful sync in between is permanent.
   *
   * @returns `true` when a new token was fetched, `false` when one was already tried.
   */
  async refreshAfterAuthError(): Promise<boolean> {
    if (this.#refreshedAfterAuth) return false;
    this.#refreshedAfterAuth = true;
    await this.#fetch();
    return true;
  }

  /** A sync succeeded with the current token: the next `auth` error may refresh again. */
  succeeded(): void {
    this.#refreshedAfterAuth = false;
  }

  /** Forgets the refresh-after-error mark (new credentials were supplied by the user). */
  reset(): void {
    this.#refreshedAfterAuth = false;
  }

  async #fetch(): Promise<void> {
    const token = await this.#getToken();
    if (typeof token !== "string" || token.length === 0) {
      // Never echo what came back: it may be a secret in the wrong shape.
      throw new TypeError(
        `'getToken' must return a non-empty string: it returned ${
          typeof token === "string" ? "an empty string" : `a value of type ${typeof token}`
        }`,
      );
    }
    rememberSecret(token);
    this.#token = token;
    this.#expiresAt = jwtExpiry(token);
  }
}
