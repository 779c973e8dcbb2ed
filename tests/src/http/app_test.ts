/**
 * createApp(): the routes with no token, a wrong token and the right one;
 * the health rule; /status as status() gives it; POST /sync; mounting.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Hono } from "hono";
import { SqliteSyncError } from "../../../common/errors.ts";
import { createApp, STATUS_HISTORY } from "../../../src/http/app.ts";
import { authError, FakeService, jobOf, NOW, resultOf, statusOf, TOKEN } from "./_fakes.ts";

const HOUR = 3_600_000;
const fixed = () => NOW;

function twoServices() {
  const a = new FakeService(statusOf(), [jobOf(1, [{ outcome: "succeeded", rows: 2 }])]);
  const b = new FakeService(statusOf({ state: "offline", consecutiveErrors: 1 }));
  return { a, b, services: [{ name: "a", service: a }, { name: "b", service: b }] };
}

const CREDENTIALS = {
  "no token": {},
  "a wrong token": { Authorization: "Bearer wrong-token-000000" },
  "the right token": { Authorization: `Bearer ${TOKEN}` },
} as const;

describe("createApp() GET routes need no token and answer the same with any", () => {
  for (
    const [path, type] of [
      ["/healthz", "text/plain"],
      ["/status", "application/json"],
      ["/metrics", "text/plain; version=0.0.4"],
      ["/", "text/html"],
    ] as const
  ) {
    it(`GET ${path} answers 200 (${type}) identically with no token, a wrong one and the right one`, async () => {
      const { services } = twoServices();
      const app = createApp(services, { token: TOKEN, now: fixed });
      const bodies: string[] = [];
      for (const headers of Object.values(CREDENTIALS)) {
        const res = await app.request(path, { headers });
        assert.equal(res.status, 200);
        assert.ok(
          res.headers.get("content-type")!.startsWith(type),
          res.headers.get("content-type")!,
        );
        assert.equal(res.headers.get("cache-control"), "no-store");
        bodies.push(await res.text());
      }
      assert.equal(bodies[1], bodies[0]);
      assert.equal(bodies[2], bodies[0]);
    });
  }

  it("HEAD /healthz answers GET's status with no body (probes that use HEAD work)", async () => {
    const stopped = new FakeService(statusOf({ state: "stopped" }));
    const app = createApp([{ name: "a", service: stopped }]);
    const res = await app.request("/healthz", { method: "HEAD" });
    assert.equal(res.status, 503);
    assert.equal(await res.text(), "");
  });

  it("no GET response contains the configured token", async () => {
    const { services } = twoServices();
    const app = createApp(services, { token: TOKEN, now: fixed });
    for (const path of ["/healthz", "/status", "/metrics", "/"]) {
      const res = await app.request(path, { headers: CREDENTIALS["the right token"] });
      const text = await res.text();
      assert.ok(!text.includes(TOKEN), `${path} echoed the token`);
      assert.ok(![...res.headers.values()].some((v) => v.includes(TOKEN)), `${path} header`);
    }
  });
});

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

describe("createApp() GET /healthz: the health rule", () => {
  const health = async (
    statuses: Record<string, Parameters<typeof statusOf>[0]>,
    options: { now?: () => number; staleAfterSeconds?: number } = {},
  ) => {
    const services = Object.entries(statuses).map(([name, s]) => ({
      name,
      service: new FakeService(statusOf(s)),
    }));
    const res = await createApp(services, { now: fixed, ...options }).request("/healthz");
    return { status: res.status, body: await res.text() };
  };

  it("answers 200 'ok' when every database is healthy", async () => {
    assert.deepEqual(await health({ a: {}, b: { state: "syncing" } }), {
      status: 200,
      body: "ok\n",
    });
  });

  it("answers 200 with zero databases (nothing is unhealthy)", async () => {
    const res = await createApp([]).request("/healthz");
    assert.deepEqual([res.status, await res.text()], [200, "ok\n"]);
  });

  it("answers 503 naming a failed database and its permanent reason", async () => {
    const r = await health({
      good: {},
      "orders.db": {
        state: "failed",
        permanentReason: "auth",
        consecutiveErrors: 2,
        lastError: { kind: "auth", message: "The server refused the API key.", status: 401 },
      },
    });
    assert.equal(r.status, 503);
    assert.equal(
      r.body,
      "unhealthy: 1 of 2\n" +
        '"orders.db": failed (auth): retries stopped until fixed; last error auth (HTTP 401): ' +
        "The server refused the API key.\n",
    );
  });

  it("answers 503 for a stopped service", async () => {
    assert.deepEqual(await health({ a: { state: "stopped" } }), {
      status: 503,
      body: 'unhealthy: 1 of 1\n"a": stopped\n',
    });
  });

  it("keeps offline and backing-off healthy (degraded) while the last success is recent", async () => {
    const r = await health({
      a: { state: "offline", consecutiveErrors: 4, lastSuccessAt: NOW - 50 * 60_000 },
      b: { state: "backing-off", consecutiveErrors: 9, lastSuccessAt: NOW - 59 * 60_000 },
    });
    assert.deepEqual(r, { status: 200, body: "ok\n" });
  });

  it("answers 503 when syncs fail and the last success is older than an hour", async () => {
    const r = await health({
      a: {
        state: "offline",
        consecutiveErrors: 12,
        lastSuccessAt: NOW - 2 * HOUR - 5 * 60_000,
        lastError: { kind: "offline", message: "Failed to connect" },
      },
    });
    assert.equal(r.status, 503);
    assert.equal(
      r.body,
      'unhealthy: 1 of 1\n"a": no successful sync for 2 h 5 min (12 failed in a row, offline); ' +
        "last error offline: Failed to connect\n",
    );
  });

  it("never calls a database stale whose syncs do not fail, however old its last success", async () => {
    assert.deepEqual(await health({ a: { lastSuccessAt: NOW - 72 * HOUR } }), {
      status: 200,
      body: "ok\n",
    });
  });

  it("counts from the app's start for a database that never succeeded", async () => {
    let now = NOW;
    const service = new FakeService(
      statusOf({ state: "backing-off", consecutiveErrors: 3, lastSuccessAt: null }),
    );
    const app = createApp([{ name: "a", service }], { now: () => now });
    now = NOW + HOUR - 1000;
    assert.equal((await app.request("/healthz")).status, 200);
    now = NOW + HOUR + 1000;
    const res = await app.request("/healthz");
    assert.equal(res.status, 503);
    assert.match(await res.text(), /"a": no successful sync since start for 1 h \(3 failed/);
  });

  it("takes the staleness limit from staleAfterSeconds", async () => {
    const statuses = {
      a: { state: "offline" as const, consecutiveErrors: 1, lastSuccessAt: NOW - 120_000 },
    };
    assert.equal((await health(statuses, { staleAfterSeconds: 60 })).status, 503);
    assert.equal((await health(statuses, { staleAfterSeconds: 180 })).status, 200);
  });

  it("answers 503 for a database whose status() throws, and the other routes still answer", async () => {
    const broken = {
      status: () => {
        throw new Error("queue closed");
      },
      history: () => [],
      syncNow: () => Promise.resolve(resultOf(0)),
    };
    const app = createApp([{ name: "ok", service: new FakeService() }, {
      name: "x",
      service: broken,
    }]);
    const res = await app.request("/healthz");
    assert.deepEqual([res.status, await res.text()], [
      503,
      'unhealthy: 1 of 2\n"x": status unavailable (status() threw)\n',
    ]);
    const status = await (await app.request("/status")).json();
    assert.equal(status.databases[1].status, null);
    assert.equal(status.databases[0].status.state, "idle");
    assert.equal((await app.request("/metrics")).status, 200);
    assert.equal((await app.request("/")).status, 200);
  });

  it("writes a hostile database name on one quoted line", async () => {
    const r = await health({ 'bad\nname "x"': { state: "stopped" } });
    assert.equal(r.body, 'unhealthy: 1 of 1\n"bad\\nname \\"x\\"": stopped\n');
  });
});

describe("createApp() GET /status", () => {
  it("GET /status is exactly each name, health, status() and history(10): nothing added (canary)", async () => {
    // Messages as the service stores them: already redacted upstream.
    const redacted = {
      kind: "http" as const,
      message: "POST https://cloud.example/v2/apply?… failed: Authorization: ***",
      status: 500,
    };
    const history = Array.from(
      { length: 15 },
      (_, i) =>
        jobOf(40 - i, [{ outcome: "retry", error: redacted }, { outcome: "succeeded", rows: i }]),
    );
    const a = new FakeService(
      statusOf({ state: "backing-off", lastError: redacted, consecutiveErrors: 1 }),
      history,
    );
    const b = new FakeService(statusOf({ lastSuccessAt: null, lastResult: null }));
    const app = createApp([{ name: "a", service: a }, { name: "b", service: b }], {
      token: TOKEN,
      now: fixed,
    });
    const res = await app.request("/status");
    assert.equal(res.status, 200);
    const body = await res.json();
    assert.deepEqual(body, {
      databases: [
        {
          name: "a",
          health: {
            healthy: true,
            reason: "backing-off, retrying; last error http (HTTP 500): " +
              redacted.message,
          },
          status: a.status(),
          history: history.slice(0, STATUS_HISTORY),
        },
        { name: "b", health: { healthy: true }, status: b.status(), history: [] },
      ],
    });
    assert.deepEqual(a.historyLimits, [STATUS_HISTORY]);
  });
});

describe("createApp() mounted in another hono app", () => {
  it("answers under the mount path, and the page links to the mounted routes", async () => {
    const { services } = twoServices();
    const parent = new Hono();
    parent.get("/", (c) => c.text("parent"));
    const ops = createApp(services, { token: TOKEN, now: fixed, basePath: "/ops" });
    parent.mount("/ops", ops.fetch, { replaceRequest: false });
    assert.equal(await (await parent.request("/")).text(), "parent");
    assert.equal(await (await parent.request("/ops/healthz")).text(), "ok\n");
    assert.equal((await parent.request("/ops/metrics")).status, 200);
    const sync = await parent.request("/ops/sync", {
      method: "POST",
      headers: CREDENTIALS["the right token"],
    });
    assert.equal(sync.status, 200);
    // hono routes the sub-app's "/" at "/ops" (strict routing leaves "/ops/" to the parent).
    const page = await (await parent.request("/ops")).text();
    assert.match(page, /<a href="\/ops\/status">status<\/a>/);
    assert.match(page, /<a href="\/ops\/metrics">metrics<\/a>/);
  });
});

describe("createApp() arguments", () => {
  const service = new FakeService();
  const cases: [string, () => unknown, RegExp][] = [
    ["services not an array", () => createApp({} as never), /'services' must be an array/],
    ["an empty name", () => createApp([{ name: "", service }]), /'services\[0\]\.name'/],
    [
      "a name used twice",
      () => createApp([{ name: "a", service }, { name: "a", service }]),
      /'services\[1\]\.name' must be unique: "a" is used twice/,
    ],
    [
      "a service without syncNow()",
      () =>
        createApp([{
          name: "a",
          service: { status: () => statusOf(), history: () => [] } as never,
        }]),
      /must have a syncNow\(\) method/,
    ],
    ["an empty token", () => createApp([], { token: "" }), /'token' must be a non-empty string/],
    [
      "refreshSeconds 0",
      () => createApp([], { refreshSeconds: 0 }),
      /'refreshSeconds'.*current value is 0/,
    ],
    ["staleAfterSeconds -1", () => createApp([], { staleAfterSeconds: -1 }), /'staleAfterSeconds'/],
    ["now not a function", () => createApp([], { now: 5 as never }), /'now' must be a function/],
  ];
  for (const [label, call, message] of cases) {
    it(`createApp() refuses ${label} with a TypeError`, () => {
      assert.throws(call, (err: unknown) => {
        assert.ok(err instanceof TypeError);
        assert.match(err.message, message);
        return true;
      });
    });
  }

  it("createApp() refuses a token with a newline without echoing it", () => {
    const secret = `${TOKEN}\n`;
    assert.throws(() => createApp([], { token: secret }), (err: unknown) => {
      assert.ok(err instanceof TypeError);
      assert.match(err.message, /without whitespace \(trim the token file\)/);
      assert.ok(!err.message.includes(TOKEN));
      return true;
    });
  });
});
