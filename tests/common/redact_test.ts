/**
 * The one redaction (common/redact.ts): remembered secrets in any letter case,
 * percent-encoded or JSON-escaped, short ones only as whole words, one-off
 * extra secrets, credentials taken from URLs; generic credential shapes; and
 * shapeOf(). Encoded forms of secrets are in redact_encoded_test.ts, errors
 * and SqliteSyncError in redact_errors_test.ts.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { redact, rememberSecret, rememberUrlCredentials, shapeOf } from "../../common/redact.ts";

/** Distinct per test so the process-wide registry cannot make one test pass for another. */
const KEY = "RedactTestKEY-4f1c9aZq";

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
