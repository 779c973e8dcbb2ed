/**
 * The token checks of the status app: `POST /sync` takes a bearer token; a
 * read, where reads need the token, also takes it as an HTTP Basic password
 * (what a browser prompts for). Both sides are hashed with SHA-256
 * (web crypto, the same in Deno, Bun and Node) and the two 32-byte digests are
 * compared in full, whatever byte differs first: the time taken tells nothing
 * about the token, not even its length.
 *
 * @module
 */

import type { MiddlewareHandler } from "hono";

/** How a request's credentials compare with the configured token. */
export type AuthVerdict = "ok" | "missing" | "invalid";

const BEARER = /^Bearer[ \t]+([^\s]+)[ \t]*$/i;
const BASIC = /^Basic[ \t]+([A-Za-z0-9+/]+={0,2})[ \t]*$/i;

async function sha256(text: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
}

/**
 * Checks `Authorization: Bearer <token>` values against one token.
 */
export class BearerCheck {
  #expected: Promise<Uint8Array>;

  /**
   * Remembers the token's digest (the token itself is not kept).
   *
   * @param token The configured token.
   */
  constructor(token: string) {
    this.#expected = sha256(token);
  }

  /**
   * Judges an `Authorization` header.
   *
   * @param header The header's value, if any.
   * @returns `missing` without a bearer credential, `invalid` for another token, else `ok`.
   */
  async check(header: string | undefined): Promise<AuthVerdict> {
    const match = header === undefined ? null : BEARER.exec(header);
    return match ? await this.#compare(match[1]) : "missing";
  }

  /**
   * Judges an `Authorization` header of a read: a bearer token, or HTTP Basic whose password
   * (after the first `:`; any user name) is the token.
   *
   * @param header The header's value, if any.
   * @returns `missing` without either credential, `invalid` for another token, else `ok`.
   */
  async checkRead(header: string | undefined): Promise<AuthVerdict> {
    if (header === undefined) return "missing";
    const basic = BASIC.exec(header);
    if (!basic) return await this.check(header);
    let decoded: string;
    try {
      decoded = new TextDecoder("utf-8", { fatal: true }).decode(
        Uint8Array.from(atob(basic[1]), (ch) => ch.charCodeAt(0)),
      );
    } catch {
      return "invalid";
    }
    const colon = decoded.indexOf(":");
    return colon < 0 ? "invalid" : await this.#compare(decoded.slice(colon + 1));
  }

  async #compare(token: string): Promise<AuthVerdict> {
    const [given, expected] = await Promise.all([sha256(token), this.#expected]);
    let diff = 0;
    for (let i = 0; i < expected.length; i++) diff |= given[i] ^ expected[i];
    return diff === 0 ? "ok" : "invalid";
  }
}

/**
 * The middleware that makes reads need the token: every GET and HEAD but
 * `healthzPath` (liveness probes stay open) answers 401 JSON without a valid
 * bearer token or Basic password, with a challenge for both, so a browser
 * prompts for it. Put it before the response cache: a cached answer is then
 * only ever served to a request that showed the token.
 *
 * @param auth The token check.
 * @param healthzPath The path of `/healthz` (under the app's base path).
 * @returns The middleware.
 */
export function readGuard(auth: BearerCheck, healthzPath: string): MiddlewareHandler {
  return async (c, next) => {
    const method = c.req.method;
    if ((method !== "GET" && method !== "HEAD") || c.req.path === healthzPath) return await next();
    const verdict = await auth.checkRead(c.req.header("Authorization"));
    if (verdict === "ok") return await next();
    c.header("WWW-Authenticate", 'Basic realm="sqlite-sync", charset="UTF-8"');
    c.header("WWW-Authenticate", 'Bearer realm="sqlite-sync"', { append: true });
    const error = verdict === "missing"
      ? "Reading this app needs the token: 'Authorization: Bearer <token>', or the token as the " +
        "password of HTTP Basic (any user name)."
      : "The token is not the configured one.";
    return c.json({ error }, 401);
  };
}
