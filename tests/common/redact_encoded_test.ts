/**
 * redact() of a remembered secret in its encoded forms: base64 and base64url
 * at each byte offset, alone or as `Bearer <secret>`, JSON- or
 * percent-escaped base64, percent-encoding in any case and JSON \u escapes,
 * hex, a 1,500-character token, while random base64 and hex are left intact.
 * The encoded forms are derived here independently (btoa and byte
 * arithmetic, tests/_canary.ts).
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { redact, rememberSecret } from "../../common/redact.ts";
import { canaryForms } from "../_canary.ts";

/** A seeded generator (mulberry32): the same "random" bytes every run. */
function seeded(seed: number): (n: number) => Uint8Array {
  return (n) =>
    Uint8Array.from({ length: n }, () => {
      seed = (seed + 0x6d2b79f5) | 0;
      let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) & 255;
    });
}

const utf8 = (text: string) => new TextEncoder().encode(text);
const concat = (...parts: Uint8Array[]) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) (out.set(p, at), at += p.length);
  return out;
};
const base64 = (bytes: Uint8Array) => {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
};
const toUrl = (b64: string) => b64.replace(/\+/g, "-").replace(/\//g, "_");
const hexOf = (bytes: Uint8Array) =>
  [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");

/**
 * `encoded` (the base64 of bytes holding `length` secret bytes from byte `offset` on) with the
 * characters that depend on those bytes alone replaced by `***`: what redact() must make of it.
 */
function masked(encoded: string, offset: number, length: number): string {
  return `${encoded.slice(0, Math.ceil((8 * offset) / 6))}***${
    encoded.slice(Math.floor((8 * (offset + length)) / 6))
  }`;
}

describe("redact() of encoded secrets", () => {
  const SECRET = "EncodedKEY-7c3e91Aa";
  rememberSecret(SECRET);
  const random = seeded(0xc0ffee);

  it("redact() removes a secret's base64 and base64url wherever it sits: 0, 1 or 2 bytes into the encoded data, 0 to 2 bytes before its end, padded or not", () => {
    const bytes = utf8(SECRET);
    for (const before of [0, 1, 2]) {
      for (const after of [0, 1, 2]) {
        const b64 = base64(concat(random(before), bytes, random(after)));
        const expected = masked(b64, before, bytes.length);
        for (
          const [encoded, want] of [
            [b64, expected],
            [b64.replace(/=+$/, ""), expected.replace(/=+$/, "")],
            [toUrl(b64).replace(/=+$/, ""), toUrl(expected).replace(/=+$/, "")],
          ]
        ) {
          assert.equal(redact(`x ${encoded} y`), `x ${want} y`, `${before} before, ${after} after`);
        }
      }
    }
  });

  it("redact() removes the base64 and base64url of 'Bearer <secret>' whole, at each byte offset", () => {
    const bytes = utf8(`Bearer ${SECRET}`);
    for (const before of [0, 1, 2]) {
      const b64 = base64(concat(random(before), bytes, random(2 - before)));
      const want = masked(b64, before, bytes.length);
      assert.equal(redact(`got ${b64}`), `got ${want}`);
      assert.equal(redact(`got ${toUrl(b64)}`), `got ${toUrl(want)}`);
    }
    // The header as a server would echo it: "Bearer " goes with the key (but for the last
    // character, whose low bits are padding).
    const header = base64(utf8(`Bearer ${SECRET}`));
    assert.ok(header.startsWith("QmVhcmVy"));
    assert.equal(redact(`got ${header}`), `got ${masked(header, 0, bytes.length)}`);
    assert.match(redact(`got ${header}`), /^got \*\*\*.=$/);
  });

  it("redact() removes base64 whose '/' is JSON-escaped as '\\/' or whose '+' and '/' are percent-encoded", () => {
    // A secret whose base64 holds both '+' and '/' (23 bytes: 30 characters, then 1 and '=').
    const secret = "Slash/Plus>?~KEY-" + "?>".repeat(3);
    const b64 = base64(utf8(secret));
    assert.match(b64.slice(0, 30), /\+.*\/|\/.*\+/);
    rememberSecret(secret);
    const json = JSON.stringify({ m: b64 }).replaceAll("/", "\\/");
    assert.match(redact(json), /^\{"m":"\*\*\*.="\}$/);
    const pct = b64.replaceAll("+", "%2B").replaceAll("/", "%2F");
    assert.match(redact(`q=${pct}`), /^q=\*\*\*.=$/);
  });

  it("redact() removes a secret fully percent-encoded in upper, lower or mixed case, in either letter case, with only some bytes encoded, or written with JSON \\u escapes", () => {
    const bytes = [...utf8(SECRET)];
    const pct = (b: number) => `%${b.toString(16).padStart(2, "0")}`;
    const forms = [
      bytes.map(pct).join("").toUpperCase(),
      bytes.map(pct).join(""),
      bytes.map(pct).join("").replace(/[a-f]/g, (d, i) => (i % 3 ? d : d.toUpperCase())),
      [...utf8(SECRET.toLowerCase())].map(pct).join(""),
      [...utf8(SECRET.toUpperCase())].map(pct).join(""),
      bytes.map((b, i) => (i % 2 ? pct(b) : String.fromCharCode(b))).join(""),
      bytes.map((b, i) => (i % 3 === 1 ? String.fromCharCode(b) : pct(b))).join(""),
      // JSON's \u escapes, and both escapes mixed.
      bytes.map((b) => `\\u${b.toString(16).padStart(4, "0")}`).join(""),
      bytes.map((b, i) => (i % 2 ? `\\u00${b.toString(16).toUpperCase()}` : pct(b))).join(""),
    ];
    for (const form of forms) assert.equal(redact(`a ${form} b`), "a *** b", form);
  });

  it("redact() removes a non-ASCII secret percent-encoded as UTF-8 or written with JSON \\u escapes", () => {
    const accented = "Clé-Secrète-0042";
    rememberSecret(accented);
    assert.equal(redact(`a ${encodeURIComponent(accented)} b`), "a *** b");
    assert.equal(redact(`a ${encodeURIComponent(accented).toLowerCase()} b`), "a *** b");
    assert.equal(redact('{"m":"Cl\\u00e9-Secr\\u00E8te-0042"}'), '{"m":"***"}');
    assert.equal(redact(`a ${accented.toUpperCase()} b`), "a *** b");
  });

  it("redact() removes a secret in hex, lower or upper case, and 'Bearer <secret>' in hex whole", () => {
    const hex = hexOf(utf8(SECRET));
    assert.equal(redact(`a ${hex} b`), "a *** b");
    assert.equal(redact(`a ${hex.toUpperCase()} b`), "a *** b");
    assert.equal(redact(`a 0x${hexOf(utf8(`Bearer ${SECRET}`))} b`), "a 0x*** b");
  });

  it("redact() matches a short secret's hex only as a whole hex run, so longer hex numbers survive", () => {
    rememberSecret("q7z!");
    const hex = hexOf(utf8("q7z!"));
    assert.equal(redact(`id ${hex} end`), "id *** end");
    assert.equal(redact(`id 0${hex}f end`), `id 0${hex}f end`);
  });

  it("redact() leaves 64 KB of random base64 and hex intact, and in 64 KB of base64 holding the secret masks only the secret's own characters", () => {
    const noise = random(49_152);
    const b64 = base64(noise);
    assert.equal(b64.length, 65_536);
    assert.equal(redact(b64), b64);
    assert.equal(redact(toUrl(b64)), toUrl(b64));
    const hex = hexOf(noise.subarray(0, 32_768));
    assert.equal(redact(hex), hex);
    const bytes = utf8(SECRET);
    for (const offset of [30_000, 30_001, 30_002]) {
      const data = concat(noise.subarray(0, offset), bytes, noise.subarray(offset));
      const encoded = base64(data);
      assert.equal(redact(encoded), masked(encoded, offset, bytes.length), `offset ${offset}`);
    }
  });

  it("redact() removes a 1,500-character token in every form (its text and hex matched in pieces)", () => {
    const token = base64(random(1125)).replace(/[+/=]/g, "x");
    assert.equal(token.length, 1500);
    rememberSecret(token);
    const bytes = utf8(token);
    const texts = [
      token,
      token.toLowerCase(),
      encodeURIComponent(token),
      [...bytes].map((b) => `%${b.toString(16)}`).join(""),
      hexOf(bytes),
      base64(concat(random(1), bytes, random(1))),
      toUrl(base64(concat(random(2), utf8(`Bearer ${token}`)))),
    ];
    for (const text of texts) {
      const out = redact(`[${text}]`);
      const lower = out.toLowerCase();
      for (const form of canaryForms(token)) {
        // No form is left, nor the first twentieth of one.
        const piece = form.toLowerCase().slice(0, Math.ceil(form.length / 20));
        assert.ok(!lower.includes(form.toLowerCase()) && !lower.includes(piece), out.slice(0, 200));
      }
    }
  });

  it("redact() follows the secret set: one remembered after an earlier call is matched at once, and extra secrets apply to their own call only", () => {
    // 20 characters: 'Bearer <later>' is 27 bytes, its base64 36 characters, all masked.
    const later = "LaterKEY-0d9e8f7a6b1";
    const encoded = base64(utf8(`Bearer ${later}`));
    assert.equal(redact(`x ${encoded}`), `x ${encoded}`);
    assert.equal(redact(`x ${encoded}`, [later]), "x ***");
    assert.equal(redact(`x ${encoded}`, ["OtherKEY-11aa22bb33"]), `x ${encoded}`);
    assert.equal(redact(`x ${encoded}`), `x ${encoded}`);
    rememberSecret(later);
    assert.equal(redact(`x ${encoded}`), "x ***");
  });
});
