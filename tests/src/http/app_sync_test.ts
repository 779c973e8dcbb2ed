/**
 * createApp()'s POST /sync: the bearer token (none, a wrong one, near misses, the scheme in any
 * case, none configured), `?database=`, 502 with each failure's typed error, no CORS preflight
 * granted, 405 for the other methods.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { SqliteSyncError } from "../../../common/errors.ts";
import { createApp } from "../../../src/http/app.ts";
import { authError, FakeService, resultOf, statusOf, TOKEN } from "./_fakes.ts";
import { CREDENTIALS, twoServices } from "./_app_fixtures.ts";

describe("createApp() POST /sync", () => {
  it("POST /sync without a token answers 401 with WWW-Authenticate: Bearer and syncs nothing", async () => {
    const { a, b, services } = twoServices();
    const res = await createApp(services, { token: TOKEN }).request("/sync", { method: "POST" });
    assert.equal(res.status, 401);
    assert.equal(res.headers.get("www-authenticate"), 'Bearer realm="sqlite-sync"');
    assert.match((await res.json()).error, /Authorization: Bearer/);
    assert.equal(a.syncCalls + b.syncCalls, 0);
  });

  it('POST /sync with a wrong token answers 401 with error="invalid_token" and syncs nothing', async () => {
    const { a, b, services } = twoServices();
    const res = await createApp(services, { token: TOKEN }).request("/sync", {
      method: "POST",
      headers: CREDENTIALS["a wrong token"],
    });
    assert.equal(res.status, 401);
    assert.equal(
      res.headers.get("www-authenticate"),
      'Bearer realm="sqlite-sync", error="invalid_token"',
    );
    assert.equal(a.syncCalls + b.syncCalls, 0);
  });

  it("POST /sync refuses near misses: prefix, longer, other case, other scheme, extra words", async () => {
    const { a, b, services } = twoServices();
    const app = createApp(services, { token: TOKEN });
    const near = [
      `Bearer ${TOKEN.slice(0, -1)}`,
      `Bearer ${TOKEN}x`,
      `Bearer ${TOKEN.toUpperCase()}`,
      `Basic ${TOKEN}`,
      `Token ${TOKEN}`,
      TOKEN,
      `Bearer ${TOKEN} ${TOKEN}`,
      "Bearer",
      "",
    ];
    const statuses = [];
    for (const authorization of near) {
      const res = await app.request("/sync", { method: "POST", headers: { authorization } });
      statuses.push(res.status);
      assert.ok(res.headers.get("www-authenticate")!.startsWith("Bearer"));
    }
    assert.deepEqual(statuses, near.map(() => 401));
    assert.equal(a.syncCalls + b.syncCalls, 0);
  });

  it("POST /sync with the right token syncs every database and answers 200 with their results", async () => {
    const { a, b, services } = twoServices();
    const res = await createApp(services, { token: TOKEN }).request("/sync", {
      method: "POST",
      headers: CREDENTIALS["the right token"],
    });
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), {
      results: [
        { database: "a", ok: true, result: resultOf(2) },
        { database: "b", ok: true, result: resultOf(2) },
      ],
    });
    assert.deepEqual([a.syncCalls, b.syncCalls], [1, 1]);
  });

  it("POST /sync takes the scheme in any case ('bearer', RFC 7235)", async () => {
    const { a, services } = twoServices();
    const res = await createApp(services, { token: TOKEN }).request("/sync?database=a", {
      method: "POST",
      headers: { authorization: `bearer ${TOKEN}` },
    });
    assert.equal(res.status, 200);
    assert.equal(a.syncCalls, 1);
  });

  it("POST /sync without a configured token answers 403 whatever the request carries", async () => {
    const { a, b, services } = twoServices();
    const app = createApp(services);
    for (const headers of Object.values(CREDENTIALS)) {
      const res = await app.request("/sync", { method: "POST", headers });
      assert.equal(res.status, 403);
      assert.match((await res.json()).error, /disabled: no token is configured/);
    }
    assert.equal(a.syncCalls + b.syncCalls, 0);
  });

  it("POST /sync?database=<name> syncs only that database (a repeated name once)", async () => {
    const { a, b, services } = twoServices();
    const res = await createApp(services, { token: TOKEN }).request("/sync?database=b&database=b", {
      method: "POST",
      headers: CREDENTIALS["the right token"],
    });
    assert.equal(res.status, 200);
    assert.deepEqual((await res.json()).results.map((r: { database: string }) => r.database), [
      "b",
    ]);
    assert.deepEqual([a.syncCalls, b.syncCalls], [0, 1]);
  });

  it("POST /sync?database=<unknown> answers 404 naming the known databases and syncs nothing", async () => {
    const { a, b, services } = twoServices();
    const res = await createApp(services, { token: TOKEN }).request(
      "/sync?database=a&database=zz",
      {
        method: "POST",
        headers: CREDENTIALS["the right token"],
      },
    );
    assert.equal(res.status, 404);
    assert.deepEqual(await res.json(), {
      error: 'No database is named "zz".',
      databases: ["a", "b"],
    });
    assert.equal(a.syncCalls + b.syncCalls, 0);
  });

  it("POST /sync answers 502 when a sync fails, with its typed error (kind, message, status)", async () => {
    const a = new FakeService();
    const b = new FakeService(statusOf(), [], { error: authError() });
    const res = await createApp([{ name: "a", service: a }, { name: "b", service: b }], {
      token: TOKEN,
    }).request("/sync", { method: "POST", headers: CREDENTIALS["the right token"] });
    assert.equal(res.status, 502);
    assert.deepEqual(await res.json(), {
      results: [
        { database: "a", ok: true, result: resultOf(2) },
        {
          database: "b",
          ok: false,
          error: { kind: "auth", message: "The server refused the API key.", status: 401 },
        },
      ],
    });
  });

  it("POST /sync reports an untyped error as kind 'internal' with its message redacted", async () => {
    const boom = new Error("socket closed, Authorization: Bearer abcdefghijklmnop");
    const a = new FakeService(statusOf(), [], { error: boom });
    const res = await createApp([{ name: "a", service: a }], { token: TOKEN }).request("/sync", {
      method: "POST",
      headers: CREDENTIALS["the right token"],
    });
    assert.equal(res.status, 502);
    const [result] = (await res.json()).results;
    assert.equal(result.error.kind, "internal");
    assert.match(result.error.message, /^socket closed, Authorization: \*\*\*/);
    assert.ok(!result.error.message.includes("abcdefghijklmnop"));
  });

  it("POST /sync keeps an error's HTTP status out when it has none", async () => {
    const offline = new SqliteSyncError("offline", "Failed to connect to 127.0.0.1 port 9");
    const a = new FakeService(statusOf(), [], { error: offline });
    const res = await createApp([{ name: "a", service: a }], { token: TOKEN }).request("/sync", {
      method: "POST",
      headers: CREDENTIALS["the right token"],
    });
    assert.deepEqual((await res.json()).results[0].error, {
      kind: "offline",
      message: "Failed to connect to 127.0.0.1 port 9",
    });
  });

  it("a CORS preflight for POST /sync is not granted (no Access-Control-Allow-* header)", async () => {
    const { services } = twoServices();
    const res = await createApp(services, { token: TOKEN }).request("/sync", {
      method: "OPTIONS",
      headers: {
        Origin: "https://elsewhere.example",
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization",
      },
    });
    assert.ok(res.status >= 400, String(res.status));
    assert.deepEqual(
      [...res.headers.keys()].filter((k) => k.startsWith("access-control-")),
      [],
    );
  });

  it("GET, PUT and DELETE /sync answer 405 with Allow: POST and sync nothing", async () => {
    const { a, b, services } = twoServices();
    const app = createApp(services, { token: TOKEN });
    for (const method of ["GET", "PUT", "DELETE"]) {
      const res = await app.request("/sync", { method, headers: CREDENTIALS["the right token"] });
      assert.equal(res.status, 405, method);
      assert.equal(res.headers.get("allow"), "POST");
    }
    assert.equal(a.syncCalls + b.syncCalls, 0);
  });
});
