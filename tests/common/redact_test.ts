/**
 * The one redaction (common/redact.ts) and SqliteSyncError applying it by
 * construction: remembered secrets in any letter case and encoding (percent,
 * JSON, hex, base64 and base64url at each byte offset, alone or as
 * `Bearer <secret>`), generic credential shapes, whole cause chains, partial
 * results, toJSON(). The encoded forms are derived here independently (btoa
 * and byte arithmetic, tests/_canary.ts), and random base64 is left intact.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { inspect } from "node:util";
import {
  redact,
  redactError,
  redactValue,
  rememberSecret,
  rememberUrlCredentials,
  shapeOf,
} from "../../common/redact.ts";
import { SqliteSyncError } from "../../common/errors.ts";
import type { SyncResult } from "../../common/sync_result.ts";
import { canaryForms } from "../_canary.ts";

/** Distinct per test so the process-wide registry cannot make one test pass for another. */
const KEY = "RedactTestKEY-4f1c9aZq";

function assertNowhere(text: string, secret: string): void {
  assert.ok(!text.toLowerCase().includes(secret.toLowerCase()), `leaked: ${text}`);
}

describe("redact() of remembered secrets", () => {
  rememberSecret(KEY);

  it("redact() removes a remembered secret in its own, lower and upper case", () => {
    assert.equal(redact(`a ${KEY} b`), "a *** b");
    assert.equal(redact(`host ${KEY.toLowerCase()}.invalid`), "host ***.invalid");
    assert.equal(redact(`X${KEY.toUpperCase()}X`), "X***X");
  });

  it("redact() removes a remembered secret percent-encoded or JSON-escaped", () => {
    const odd = 'Pw:"q@r/s\\t-1234567';
    rememberSecret(odd);
    assert.equal(redact(`u=${encodeURIComponent(odd)}&`), "u=***&");
    assert.equal(redact(JSON.stringify({ m: `said ${odd}` })), '{"m":"said ***"}');
    assert.equal(redact(`raw ${odd} end`), "raw *** end");
  });

  it("redact() removes a short secret only as a whole word, so ordinary words survive", () => {
    rememberSecret("pw42");
    assert.equal(redact("pw42 and xpw42 and pw42x"), "*** and xpw42 and pw42x");
  });

  it("redact() ignores values under 4 characters and non-strings", () => {
    rememberSecret("ab");
    rememberSecret(12345 as unknown as string);
    assert.equal(redact("ab 12345 abc"), "ab 12345 abc");
    assert.equal(redact("short", ["sh"]), "short");
  });

  it("redact() removes the extra secrets it is given, for that text only", () => {
    assert.equal(redact("one-off-secret-99 here", ["one-off-secret-99"]), "*** here");
    assert.equal(redact("one-off-secret-99 here"), "one-off-secret-99 here");
  });

  it("rememberUrlCredentials() remembers the password, or the user name when it is alone", () => {
    rememberUrlCredentials("https://me:Url%40Pass-771@npm.example.com/");
    rememberUrlCredentials("https://TokenAsUser-9931@mirror.example.com/");
    rememberUrlCredentials("not a url");
    assert.equal(redact("echo Url@Pass-771 / url%40pass-771"), "echo *** / ***");
    assert.equal(redact("echo tokenasuser-9931"), "echo ***");
    assert.equal(redact("echo me"), "echo me");
  });
});

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

describe("redact() of generic credential shapes", () => {
  const cases: [string, string][] = [
    ["https://user:tok@registry.example.com/a/b?sig=1&x=2", "https://registry.example.com/a/b?…"],
    ["GET https://u:p@ss@h.example/x failed", "GET https://h.example/x failed"],
    ["registry me:s3cr3t@npm.corp.example/ down", "registry npm.corp.example/ down"],
    ["(url https://h/x?token=abc): refused", "(url https://h/x?…): refused"],
    ["authorization: Bearer abc\r\nhost: x", "authorization: ***\r\nhost: x"],
    ["Proxy-Authorization: Basic dXNlcjpwYXNz", "Proxy-Authorization: ***"],
    ["sent Bearer abc.def-ghi", "sent Bearer ***"],
    ["sent Basic dXNlcjpwYXNz", "sent Basic ***"],
    ["?apikey=abcdef&x=1", "?apikey=***&x=1"],
    ['{"password":"hunter22","n":1}', '{"password":"***","n":1}'],
    ["X-Api-Key: s3cr3tvalue", "X-Api-Key: ***"],
    ["jwt eyJhbGciOi.eyJzdWIiOiIx.c2lnbmF0dXJl end", "jwt *** end"],
  ];
  for (const [input, expected] of cases) {
    it(`redact() turns ${JSON.stringify(input)} into ${JSON.stringify(expected)}`, () => {
      assert.equal(redact(input), expected);
    });
  }

  it("redact() leaves ordinary text and URLs without credentials unchanged", () => {
    for (
      const text of [
        "http://127.0.0.1:9/x",
        "not a url",
        "Basic usage",
        "Invalid token: expected a non-empty string",
        "Failed to connect to 127.0.0.1 port 9 after 0 ms: Error",
        '{"errors":[{"status":"401","code":"unauthorized","title":"Unauthorized"}]}',
      ]
    ) {
      assert.equal(redact(text), text);
    }
  });
});

describe("redactError() and redactValue()", () => {
  const SECRET = "ChainSecret-0a9b8c7d";
  rememberSecret(SECRET);

  it("redactError() returns the error itself when nothing in its chain needs redaction", () => {
    const err = new Error("outer", { cause: new Error("inner") });
    assert.equal(redactError(err), err);
  });

  it("redactError() copies the whole chain (causes and AggregateError.errors) with messages, stacks and string properties redacted, names and codes kept", () => {
    const inner = Object.assign(new Error(`inner ${SECRET}`), { code: "EX", detail: SECRET });
    const agg = new AggregateError([inner], "all failed");
    const outer = new TypeError("outer", { cause: agg });
    const copy = redactError(outer) as Error;
    assert.notEqual(copy, outer);
    assert.equal(copy.name, "TypeError");
    const aggCopy = copy.cause as AggregateError;
    assert.ok(aggCopy instanceof AggregateError);
    const innerCopy = aggCopy.errors[0] as Error & { code?: string; detail?: string };
    assert.equal(innerCopy.message, "inner ***");
    assert.equal(innerCopy.code, "EX");
    assert.equal(innerCopy.detail, "***");
    assertNowhere(innerCopy.stack ?? "", SECRET);
    assertNowhere(inspect(copy, { depth: 10 }), SECRET);
    // The original is untouched.
    assert.equal(inner.message, `inner ${SECRET}`);
  });

  it("redactValue() redacts every string of a plain object and returns unchanged values as they are", () => {
    const clean = { a: ["x"], b: 1 };
    assert.equal(redactValue(clean), clean);
    assert.deepEqual(redactValue({ a: [`k ${SECRET}`], b: { c: SECRET } }), {
      a: ["k ***"],
      b: { c: "***" },
    });
  });
});

describe("SqliteSyncError redacts by construction", () => {
  const SECRET = "CtorSecret-77e1F0b2";
  rememberSecret(SECRET);
  const partial: SyncResult = {
    send: { status: "synced", localVersion: 1, serverVersion: 1, chunks: 0, bytes: 0 },
    receive: {
      rows: 0,
      tables: [],
      chunks: 0,
      bytes: 0,
      complete: false,
      error: `receive failed for ${SECRET.toLowerCase()}`,
    },
  };

  function build(): SqliteSyncError {
    const cause = new Error(`curl said ${SECRET}`, {
      cause: new Error(`deeper https://me:${SECRET}@h.example/`),
    });
    return new SqliteSyncError("http", `server answered ${SECRET.toUpperCase()}`, {
      cause,
      partial,
      code: `code-${SECRET}`,
      status: 500,
    });
  }

  it("new SqliteSyncError() leaves no secret in String(), stack, JSON, util.inspect, causes or partial", () => {
    const err = build();
    const seen = [
      String(err),
      err.stack ?? "",
      JSON.stringify(err),
      inspect(err, { depth: 10 }),
      JSON.stringify(err.partial),
      String(err.code),
    ];
    for (let e: unknown = err.cause; e instanceof Error; e = e.cause) {
      seen.push(e.message, e.stack ?? "");
    }
    for (const text of seen) assertNowhere(text, SECRET);
  });

  it("new SqliteSyncError() keeps kind, status, the partial result's shape and the cause chain's shape", () => {
    const err = build();
    assert.equal(err.kind, "http");
    assert.equal(err.status, 500);
    assert.equal(err.message, "server answered ***");
    assert.equal(err.partial?.receive.error, "receive failed for ***");
    assert.equal(err.partial?.send.status, "synced");
    assert.equal((err.cause as Error).message, "curl said ***");
    assert.equal(((err.cause as Error).cause as Error).message, "deeper https://h.example/");
  });

  it("JSON.stringify(SqliteSyncError) shows only name, kind, message, code, status, partial and the causes' messages", () => {
    const json = JSON.parse(JSON.stringify(build()));
    assert.deepEqual(Object.keys(json).sort(), [
      "cause",
      "code",
      "kind",
      "message",
      "name",
      "partial",
      "status",
    ]);
    assert.deepEqual(json.cause, [
      { name: "Error", message: "curl said ***" },
      { name: "Error", message: "deeper https://h.example/" },
    ]);
    const bare = JSON.parse(JSON.stringify(new SqliteSyncError("state", "closed")));
    assert.deepEqual(bare, { name: "SqliteSyncError", kind: "state", message: "closed" });
  });

  it("new SqliteSyncError() keeps a clean cause as the very same object", () => {
    const cause = new Error("nothing secret");
    assert.equal(new SqliteSyncError("sql", "x", { cause }).cause, cause);
  });
});

describe("shapeOf()", () => {
  it("shapeOf() describes a value by type and length, never by content", () => {
    assert.equal(shapeOf("x".repeat(41)), "a 41-character string");
    assert.equal(shapeOf(""), "an empty string");
    assert.equal(shapeOf(3), "a number");
    assert.equal(shapeOf(undefined), "undefined");
    assert.equal(shapeOf(null), "null");
    assert.equal(shapeOf({ apiKey: KEY }), "an object");
    assert.equal(shapeOf([KEY]), "an array");
  });
});
