import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { jwtExpiry, TokenSource } from "../../../src/scheduler/token.ts";

function jwt(payload: object): string {
  const b64 = (s: string) => btoa(s).replaceAll("=", "").replaceAll("+", "-").replaceAll("/", "_");
  return `${b64('{"alg":"HS256"}')}.${b64(JSON.stringify(payload))}.c2ln`;
}

describe("jwtExpiry()", () => {
  it("jwtExpiry() reads exp in milliseconds from a JWT", () => {
    assert.equal(jwtExpiry(jwt({ exp: 1_900_000_000, role: "x" })), 1_900_000_000_000);
  });

  it("jwtExpiry() is null for opaque tokens, malformed payloads and a missing exp", () => {
    for (const t of ["sqa_abc", "a.b", "a.!!.c", `a.${btoa("not json")}.c`, jwt({ role: "x" })]) {
      assert.equal(jwtExpiry(t), null, t);
    }
  });
});

describe("TokenSource", () => {
  it("current() calls getToken before the first sync and reuses an opaque token", async () => {
    let calls = 0;
    const source = new TokenSource(() => `t${++calls}`);
    assert.equal(await source.current(0), "t1");
    assert.equal(await source.current(10_000_000), "t1");
    assert.equal(calls, 1);
  });

  it("current() fetches a new JWT within the refresh margin of exp, not before", async () => {
    let n = 0;
    const exp = 1_000_000;
    const source = new TokenSource(() => jwt({ exp: exp + n++ * 1000 }), {
      refreshMarginMs: 60_000,
    });
    const first = await source.current(0);
    assert.equal(await source.current(exp * 1000 - 60_001), first);
    const second = await source.current(exp * 1000 - 60_000);
    assert.notEqual(second, first);
    assert.equal(source.expiresAt, (exp + 1000) * 1000);
  });

  it("refreshAfterAuthError() refreshes once until a sync succeeds", async () => {
    let calls = 0;
    const source = new TokenSource(() => `t${++calls}`);
    await source.current(0);
    assert.equal(await source.refreshAfterAuthError(), true);
    assert.equal(await source.current(0), "t2");
    assert.equal(await source.refreshAfterAuthError(), false);
    assert.equal(calls, 2);
    source.succeeded();
    assert.equal(await source.refreshAfterAuthError(), true);
    assert.equal(calls, 3);
  });

  it("current() refuses an empty or non-string token without echoing it", async () => {
    const source = new TokenSource(() => "" as string);
    await assert.rejects(source.current(0), /returned an empty string/);
    const numeric = new TokenSource(() => 42 as unknown as string);
    await assert.rejects(numeric.current(0), (err: Error) => {
      assert.match(err.message, /type number/);
      assert.doesNotMatch(err.message, /42/);
      return true;
    });
  });

  it("new TokenSource() rejects a getToken that is not a function", () => {
    assert.throws(() => new TokenSource("secret" as unknown as () => string), TypeError);
  });
});
