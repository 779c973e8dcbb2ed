/**
 * How the echoing fixtures encode what they echo (tests/src/_http_error_server.ts
 * and the resolution canary's registry): a value in every encoding a server
 * could send it back in, and the credential of an Authorization header value.
 * Pure functions, no I/O.
 */

const hex = (bytes: Uint8Array) => [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
const base64 = (bytes: Uint8Array) => btoa(String.fromCharCode(...bytes));
const percent = (bytes: Uint8Array, every = 1) =>
  [...bytes].map((b, i) =>
    i % every === 0 ? `%${b.toString(16).padStart(2, "0")}` : String.fromCharCode(b)
  ).join("");

/**
 * `value` in every encoding, one `[label …] text` each: as is; base64 (padded) and base64url
 * (unpadded) with 0, 1 and 2 random bytes before it and 2, 1 and 0 after it (so it sits at
 * each offset of the 3-byte groups); percent-encoded in upper and lower case, and every
 * other byte only; hex in lower and upper case.
 *
 * @param label Names the value in each line, e.g. `auth`.
 * @param value The value.
 * @returns The lines.
 */
export function encodings(label: string, value: string): string[] {
  const bytes = new TextEncoder().encode(value);
  const lines = [`[${label}] ${value}`];
  for (const before of [0, 1, 2]) {
    const padded = new Uint8Array(bytes.length + 2);
    crypto.getRandomValues(padded);
    padded.set(bytes, before);
    const b64 = base64(padded);
    const url = b64.replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
    lines.push(`[${label} base64 @${before}] ${b64}`, `[${label} base64url @${before}] ${url}`);
  }
  lines.push(`[${label} percent] ${percent(bytes).toUpperCase()}`);
  lines.push(`[${label} percent lower] ${percent(bytes)}`);
  lines.push(`[${label} percent mixed] ${percent(bytes, 2)}`);
  lines.push(`[${label} hex] ${hex(bytes)}`, `[${label} HEX] ${hex(bytes).toUpperCase()}`);
  return lines;
}

/**
 * The credential of an Authorization header value: what follows the scheme (`Bearer <key>`
 * → `<key>`), or for `Basic` the decoded `user:password`.
 *
 * @param authorization The header's value.
 * @returns The credential.
 */
export function credentialOf(authorization: string): string {
  const [, scheme = "", rest = authorization] = /^([A-Za-z]+)[ \t]+(.*)$/.exec(authorization) ??
    [];
  if (scheme.toLowerCase() !== "basic") return rest;
  try {
    return new TextDecoder().decode(Uint8Array.from(atob(rest), (c) => c.charCodeAt(0)));
  } catch {
    return rest;
  }
}

/**
 * An Authorization value and its credential alone, in every encoding
 * ({@linkcode encodings}, labelled `auth` and `credential`).
 *
 * @param authorization The header's value.
 * @param credentialOnly Leave out the `auth` lines.
 * @returns The lines.
 */
export function authorizationEncodings(authorization: string, credentialOnly = false): string[] {
  return [
    ...(credentialOnly ? [] : encodings("auth", authorization)),
    ...encodings("credential", credentialOf(authorization)),
  ];
}
