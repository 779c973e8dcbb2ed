/**
 * The one redaction (common/redact.ts) and SqliteSyncError applying it by
 * construction: remembered secrets in any letter case and encoding, generic
 * credential shapes, whole cause chains, partial results, toJSON().
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
