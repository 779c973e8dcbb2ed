/**
 * Redaction of errors and values (common/redact.ts) and SqliteSyncError
 * applying it by construction: whole cause chains, AggregateError, string
 * properties, partial results and toJSON(), with names, codes and shapes kept.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { inspect } from "node:util";
import { redactError, redactValue, rememberSecret } from "../../common/redact.ts";
import { SqliteSyncError } from "../../common/errors.ts";
import type { SyncResult } from "../../common/sync_result.ts";

function assertNowhere(text: string, secret: string): void {
  assert.ok(!text.toLowerCase().includes(secret.toLowerCase()), `leaked: ${text}`);
}

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
