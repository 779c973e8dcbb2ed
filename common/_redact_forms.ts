/**
 * The forms a secret can take in a text, as regular-expression sources, for
 * `common/redact.ts` (private to it): the secret itself in any letter case;
 * its bytes in hex; and its base64 and base64url, and those of
 * `Bearer <secret>`, wherever it sits in a longer encoded text. (Its
 * percent-encoded and JSON-escaped forms are found by `_redact_escaped.ts`.)
 *
 * Base64 turns 3 bytes into 4 characters, so the characters that encode a
 * secret depend on its offset (modulo 3) in the encoded data and, at both
 * ends, on the unknown bytes next to it. For each offset 0, 1 and 2 the
 * source matches the characters that depend on the secret's bytes alone (the
 * stable core): any base64 text holding the secret holds one of the three
 * cores, padded or not. The character at each end that mixes 2 or 4 bits of
 * the secret with its neighbours' is left as it is (matching it as the class
 * of every character it can be made the patterns several times slower).
 * `+`/`-` and `/`/`_` are accepted alike (both alphabets), as are `%2B`,
 * `%2F` and the JSON escape `\/`.
 *
 * The forms come in families, each compiled apart (mixing them in one
 * alternation defeats the engines' literal optimisations): base64 is
 * case-sensitive; hex and literal are meant for case-insensitive expressions.
 *
 * @module
 */

/** Shorter secrets match as text only between non-alphanumerics (and as hex only between non-hex digits). */
export const BOUNDED_BELOW = 12;
/** A longer secret's text and hex forms are matched in pieces of at most this many characters. */
const PIECE = 512;
/** A base64 core shorter than this (36 bits) is too likely to occur by chance: not matched. */
const MIN_CORE = 6;
const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const encoder = new TextEncoder();
const BEARER = encoder.encode("Bearer ");

/** A regular-expression source matching `text` literally. */
function literal(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/-]/g, "\\$&");
}

/** Bytes as lower-case hex. */
function hexOf(bytes: Uint8Array): string {
  let out = "";
  for (const b of bytes) out += b.toString(16).padStart(2, "0");
  return out;
}

/** Between non-alphanumerics, for a short secret. */
function bounded(secret: string, body: string): string {
  return secret.length < BOUNDED_BELOW ? `(?<![A-Za-z0-9])${body}(?![A-Za-z0-9])` : body;
}

/** The secret's bytes in hex; with `Bearer ` before it when that was encoded too. */
function hexForms(bytes: Uint8Array, short: boolean): string[] {
  const hex = hexOf(bytes);
  const bearer = hexOf(BEARER);
  if (!short) return [`(?:${bearer})?${hex}`];
  return [`${bearer}${hex}`, `(?<![0-9a-f])${hex}(?![0-9a-f])`];
}

/** One base64 character (value 0–63) in either alphabet, or escaped. */
function b64Char(value: number): string {
  if (value === 62) return "(?:[+\\-]|%2[bB])";
  if (value === 63) return "(?:[/_]|\\\\\\/|%2[fF])";
  return B64[value];
}

/** The base64 of `payload` at offset `align` (0–2) of an encoded text, or nothing when too short. */
function b64Form(payload: Uint8Array, align: number): string | undefined {
  const bytes = new Uint8Array(align + payload.length);
  bytes.set(payload, align);
  const bits = 8 * bytes.length;
  const sextet = (i: number) => {
    let v = 0;
    for (let k = 6 * i; k < 6 * i + 6; k++) v = (v << 1) | ((bytes[k >> 3] >> (7 - (k & 7))) & 1);
    return v;
  };
  const first = Math.ceil((8 * align) / 6);
  const end = Math.floor(bits / 6);
  if (end - first < MIN_CORE) return undefined;
  let core = "";
  for (let i = first; i < end; i++) core += b64Char(sextet(i));
  return core;
}

/** The forms of one secret, by family. */
export interface Forms {
  /** Base64 and base64url cores (case-sensitive). */
  base64: string[];
  /** Hex, optionally after `Bearer ` in hex (case-insensitive). */
  hex: string[];
  /** The secret as it is (case-insensitive); escaped forms are `_redact_escaped.ts`'s. */
  literal: string[];
}

/**
 * Every form of `secret`, by family, as regular-expression sources to join
 * as alternatives (most specific first).
 *
 * @param secret The secret (4 characters or more).
 * @returns The sources.
 */
export function formsOf(secret: string): Forms {
  const bytes = encoder.encode(secret);
  const bearer = new Uint8Array(BEARER.length + bytes.length);
  bearer.set(BEARER);
  bearer.set(bytes, BEARER.length);
  const forms: Forms = { base64: [], hex: [], literal: [] };
  for (const payload of [bearer, bytes]) {
    for (const align of [0, 1, 2]) {
      const form = b64Form(payload, align);
      if (form) forms.base64.push(form);
    }
  }
  // A long secret's text and hex forms are matched in pieces of equal length (a short last
  // piece would match by chance), so no one source grows past what the engines optimise.
  const chars = [...secret];
  const size = Math.ceil(chars.length / Math.ceil(chars.length / PIECE));
  for (let i = 0; i < chars.length; i += size) {
    const piece = chars.slice(i, i + size).join("");
    forms.hex.push(...hexForms(encoder.encode(piece), piece.length < BOUNDED_BELOW));
    forms.literal.push(bounded(piece, literal(piece)));
  }
  return forms;
}
