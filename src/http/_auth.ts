/**
 * The bearer token check of `POST /sync`. Both sides are hashed with SHA-256
 * (web crypto, the same in Deno, Bun and Node) and the two 32-byte digests are
 * compared in full, whatever byte differs first: the time taken tells nothing
 * about the token, not even its length.
 *
 * @module
 */

/** How a request's credentials compare with the configured token. */
export type AuthVerdict = "ok" | "missing" | "invalid";

const BEARER = /^Bearer[ \t]+([^\s]+)[ \t]*$/i;

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
    if (!match) return "missing";
    const [given, expected] = await Promise.all([sha256(match[1]), this.#expected]);
    let diff = 0;
    for (let i = 0; i < expected.length; i++) diff |= given[i] ^ expected[i];
    return diff === 0 ? "ok" : "invalid";
  }
}
