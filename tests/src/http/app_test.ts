/**
 * createApp(): the routes with no token, a wrong token and the right one;
 * the one health model as /healthz, /status and /metrics show it; /healthz as
 * liveness; /status's shape; POST /sync; mounting.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Hono } from "hono";
import { SqliteSyncError } from "../../../common/errors.ts";
import { createApp, type StatusBody } from "../../../src/http/app.ts";
import type { SyncServiceStatus } from "../../../src/scheduler/status.ts";
import { attemptOf, authError, FakeService, NOW, resultOf, statusOf, TOKEN } from "./_fakes.ts";
import { parseMetrics, sampleOf } from "./_prom.ts";

const MIN = 60_000;
const HOUR = 3_600_000;
const fixed = () => NOW;
const OFFLINE = { kind: "offline" as const, message: "Failed to connect to 127.0.0.1 port 9" };
const REFUSED = { kind: "auth" as const, message: "The server refused the API key.", status: 401 };

/** `a`: ok (synced a minute ago); `b`: degraded (offline, last success 2 h ago). */
function twoServices() {
  const a = new FakeService(statusOf(), [attemptOf(1, "success", 99 * MIN, { rowsReceived: 2 })]);
  const b = new FakeService(statusOf({
    state: "offline",
    consecutiveErrors: 1,
    lastError: OFFLINE,
    lastSuccessAt: NOW - 2 * HOUR,
  }));
  return { a, b, services: [{ name: "a", service: a }, { name: "b", service: b }] };
}

/** A service whose status() throws (a closed queue, a broken process). */
function unreadable() {
  return {
    status: (): SyncServiceStatus => {
      throw new Error("queue closed");
    },
    attempts: () => [],
    syncNow: () => Promise.resolve(resultOf(0)),
  };
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

  it("GET / and /status are gzipped for a client that accepts it, and identical once decompressed", async () => {
    const many = Array.from({ length: 30 }, (_, i) => attemptOf(i, "retry", (i + 1) * 60_000));
    const services = [{ name: "big", service: new FakeService(statusOf(), many) }];
    const app = createApp(services, { now: fixed });
    for (const path of ["/", "/status"]) {
      const plain = await app.request(path);
      assert.equal(plain.headers.get("content-encoding"), null);
      const text = await plain.text();
      const zipped = await app.request(path, { headers: { "Accept-Encoding": "gzip" } });
      assert.equal(zipped.headers.get("content-encoding"), "gzip", path);
      const bytes = new Uint8Array(await zipped.arrayBuffer());
      assert.ok(bytes.length < text.length / 3, `${path}: ${bytes.length} of ${text.length}`);
      const unzipped = new Response(
        new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip")),
      );
      assert.equal(await unzipped.text(), text, path);
    }
  });

  it("HEAD /healthz answers GET's status with no body (probes that use HEAD work)", async () => {
    const app = createApp([{ name: "a", service: unreadable() }]);
    const res = await app.request("/healthz", { method: "HEAD" });
    assert.equal(res.status, 503);
    assert.equal(await res.text(), "");
    const ok = await createApp([{ name: "a", service: new FakeService() }]).request("/healthz", {
      method: "HEAD",
    });
    assert.deepEqual([ok.status, await ok.text()], [200, ""]);
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

describe("createApp() GET /healthz: liveness", () => {
  const healthz = async (
    statuses: Record<string, Parameters<typeof statusOf>[0]>,
  ) => {
    const services = Object.entries(statuses).map(([name, s]) => ({
      name,
      service: new FakeService(statusOf(s)),
    }));
    const res = await createApp(services, { now: fixed }).request("/healthz");
    return { status: res.status, body: await res.text() };
  };

  it("answers 200 with the headline counts, then one line per database not ok, most severe first", async () => {
    const r = await healthz({
      good: {},
      old: { state: "stopped" },
      sensors: {
        state: "offline",
        consecutiveErrors: 3,
        lastError: OFFLINE,
        lastSuccessAt: null,
        lastResult: null,
      },
      "orders.db": {
        state: "failed",
        permanentReason: "auth",
        consecutiveErrors: 2,
        lastError: REFUSED,
        nextRunAt: null,
      },
    });
    assert.deepEqual(r, {
      status: 200,
      body: "1 ok · 1 degraded · 1 failed · 1 stopped\n" +
        '"orders.db": failed: retries stopped (auth); last error auth (HTTP 401): ' +
        "The server refused the API key.\n" +
        '"sensors": degraded: offline, retrying after 3 failures in a row; ' +
        "no successful sync yet; last error offline: Failed to connect to 127.0.0.1 port 9\n" +
        '"old": stopped: stopped\n',
    });
  });

  it("answers 200 with only the headline when every database is ok", async () => {
    assert.deepEqual(await healthz({ a: {}, b: { state: "syncing" } }), {
      status: 200,
      body: "2 ok\n",
    });
  });

  it("answers 200 'no databases' with zero databases", async () => {
    const res = await createApp([]).request("/healthz");
    assert.deepEqual([res.status, await res.text()], [200, "no databases\n"]);
  });

  it("a refused key or a long outage never fails liveness (a restart cannot fix them): still 200", async () => {
    const r = await healthz({
      key: { state: "failed", permanentReason: "auth", lastError: REFUSED },
      outage: {
        state: "offline",
        consecutiveErrors: 300,
        lastError: OFFLINE,
        lastSuccessAt: NOW - 72 * HOUR,
      },
    });
    assert.equal(r.status, 200);
    assert.match(r.body, /^1 degraded · 1 failed\n/);
  });

  it("answers 503 only when a status cannot be read, naming it; the other routes still answer", async () => {
    const app = createApp([{ name: "ok", service: new FakeService() }, {
      name: "x",
      service: unreadable(),
    }], { now: fixed });
    const res = await app.request("/healthz");
    assert.deepEqual([res.status, await res.text()], [
      503,
      '1 ok · 1 failed\n"x": failed: its status cannot be read (status() threw)\n',
    ]);
    const status: StatusBody = await (await app.request("/status")).json();
    assert.equal(status.databases[1].status, null);
    assert.equal(status.databases[1].health.state, "failed");
    assert.equal(status.databases[0].status!.state, "idle");
    assert.deepEqual(status.counts, { ok: 1, degraded: 0, failed: 1, stopped: 0 });
    assert.equal((await app.request("/metrics")).status, 200);
    assert.equal((await app.request("/")).status, 200);
  });

  it("writes a hostile database name on one quoted line", async () => {
    const r = await healthz({ 'bad\nname "x"': { state: "stopped" } });
    assert.equal(r.body, '1 stopped\n"bad\\nname \\"x\\"": stopped: stopped\n');
  });
});

describe("the health model: one class per database, the same on /healthz, /status and /metrics", () => {
  type Case = [
    label: string,
    overrides: Partial<SyncServiceStatus>,
    state: "ok" | "degraded" | "failed" | "stopped",
    reason: RegExp,
  ];
  const backingOff = (lastSuccessAgo: number, overrides: Partial<SyncServiceStatus> = {}) => ({
    state: "backing-off" as const,
    consecutiveErrors: 2,
    lastError: { kind: "http" as const, message: "Service Unavailable", status: 503 },
    lastSuccessAt: NOW - lastSuccessAgo,
    ...overrides,
  });
  const cases: Case[] = [
    ["the last sync succeeded", {}, "ok", /^last sync succeeded 1 min ago$/],
    [
      "a daily cron whose last sync succeeded 20 h ago (rare is not an outage)",
      {
        schedule: { kind: "cron", cron: "0 3 * * *", timezone: "UTC" },
        lastSuccessAt: NOW - 20 * HOUR,
      },
      "ok",
      /^last sync succeeded 20 h ago$/,
    ],
    [
      "failing, with a success within twice the period (30 s → 1 min)",
      backingOff(50_000),
      "ok",
      /^last success 50 s ago, within the expected 1 min; the last attempt failed$/,
    ],
    [
      "never synced and offline (the '1 database, all healthy' report)",
      {
        state: "offline",
        consecutiveErrors: 1,
        lastError: OFFLINE,
        lastSuccessAt: null,
        lastSyncAt: NOW - 5000,
        lastResult: null,
      },
      "degraded",
      /^offline, retrying after 1 failure; no successful sync yet$/,
    ],
    [
      "never synced and no failure yet, however young",
      { lastSuccessAt: null, lastSyncAt: null, lastResult: null },
      "degraded",
      /^waiting for its first sync; no successful sync yet$/,
    ],
    [
      "failing, with no success within twice the period",
      backingOff(61_000),
      "degraded",
      /^backing off after 2 failures in a row; last success 1 min ago$/,
    ],
    [
      "a cron every 5 min failing 9 min after its last success (expected: 2 × 5 min)",
      backingOff(9 * MIN, { schedule: { kind: "cron", cron: "*/5 * * * *", timezone: null } }),
      "ok",
      /within the expected 10 min/,
    ],
    [
      "a cron every 5 min failing 11 min after its last success",
      backingOff(11 * MIN, { schedule: { kind: "cron", cron: "*/5 * * * *", timezone: null } }),
      "degraded",
      /last success 11 min ago$/,
    ],
    [
      "an interval of 10 min failing 15 min after its last success (expected 20 min)",
      backingOff(15 * MIN, {
        schedule: { kind: "interval", intervalMs: 10 * MIN },
        currentIntervalMs: null,
      }),
      "ok",
      /within the expected 20 min/,
    ],
    [
      "a job running for 10 min with no success meanwhile (stuck)",
      { state: "syncing", lastSuccessAt: NOW - 12 * MIN, oldestJobAt: NOW - 10 * MIN },
      "degraded",
      /^a sync has been running for 10 min, longer than the expected 1 min; last success 12 min ago$/,
    ],
    [
      "a job pending for 10 min after a success 30 s ago (not stuck: it synced meanwhile)",
      { lastSuccessAt: NOW - 30_000, oldestJobAt: NOW - 10 * MIN },
      "ok",
      /^last sync succeeded 30 s ago$/,
    ],
    [
      "retries stopped on a refused key",
      { state: "failed", permanentReason: "auth", lastError: REFUSED, nextRunAt: null },
      "failed",
      /^retries stopped \(auth\)$/,
    ],
    ["stopped", { state: "stopped" }, "stopped", /^stopped$/],
  ];

  for (const [label, overrides, state, reason] of cases) {
    it(`${label}: ${state}`, async () => {
      const app = createApp([{ name: "db", service: new FakeService(statusOf(overrides)) }], {
        now: fixed,
      });
      const body: StatusBody = await (await app.request("/status")).json();
      const health = body.databases[0].health;
      assert.equal(health.state, state, health.reason);
      assert.match(health.reason, reason);
      assert.equal(body.counts[state], 1);
      const metrics = parseMetrics(await (await app.request("/metrics")).text());
      for (const c of ["ok", "degraded", "failed", "stopped"]) {
        assert.equal(
          sampleOf(metrics, "sqlite_sync_health", { database: "db", state: c }),
          c === state ? 1 : 0,
          c,
        );
      }
      const healthz = await app.request("/healthz");
      assert.equal(healthz.status, 200);
      const text = await healthz.text();
      assert.equal(text.split("\n")[0], `1 ${state}`);
      if (state !== "ok") assert.ok(text.includes(`"db": ${state}: ${health.reason}`), text);
    });
  }

  it("a failed database says what unblocks it: for a refused key, fix it then POST /sync", async () => {
    const service = new FakeService(
      statusOf({ state: "failed", permanentReason: "auth", lastError: REFUSED }),
    );
    const body: StatusBody = await (await createApp([{ name: "db", service }]).request("/status"))
      .json();
    assert.equal(
      body.databases[0].health.action,
      "fix the API key or token, then POST /sync (or send the daemon SIGHUP)",
    );
  });

  it("no database that is not failed carries an action", async () => {
    const { services } = twoServices();
    const body: StatusBody = await (await createApp(services, { now: fixed }).request("/status"))
      .json();
    assert.deepEqual(body.databases.map((d) => "action" in d.health), [false, false]);
  });
});

describe("createApp() GET /status", () => {
  it("GET /status is generatedAt, counts and per database name, health, status(), attempts, attemptsLastHour, oldestJobAgeMs: nothing else (canary)", async () => {
    // Messages as the service stores them: already redacted upstream.
    const redacted = {
      kind: "http" as const,
      message: "POST https://cloud.example/v2/apply?… failed: Authorization: ***",
      status: 500,
    };
    const attempts = [
      attemptOf(7, "retry", 2 * HOUR, { error: redacted }),
      attemptOf(7, "success", 2 * HOUR - 5000, { rowsReceived: 4, chunksSent: 1 }),
      attemptOf(8, "empty", 30 * MIN),
      attemptOf(9, "retry", 40_000, { error: redacted }),
    ];
    const a = new FakeService(
      statusOf({
        state: "backing-off",
        lastError: redacted,
        consecutiveErrors: 1,
        lastSuccessAt: NOW - 30 * MIN,
        oldestJobAt: NOW - 40_000,
        queueDepth: 1,
      }),
      attempts,
    );
    const b = new FakeService(statusOf({ lastSuccessAt: null, lastResult: null }));
    const app = createApp([{ name: "a", service: a }, { name: "b", service: b }], {
      token: TOKEN,
      now: fixed,
    });
    const res = await app.request("/status");
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), {
      generatedAt: NOW,
      counts: { ok: 0, degraded: 2, failed: 0, stopped: 0 },
      databases: [
        {
          name: "a",
          health: {
            state: "degraded",
            reason: "backing off after 1 failure; last success 30 min ago",
          },
          status: a.status(),
          attempts,
          attemptsLastHour: 2,
          oldestJobAgeMs: 40_000,
        },
        {
          name: "b",
          health: {
            state: "degraded",
            reason: "waiting for its first sync; no successful sync yet",
          },
          status: b.status(),
          attempts: [],
          attemptsLastHour: 0,
          oldestJobAgeMs: null,
        },
      ],
    });
  });

  it("GET /status reads the attempts of the last 24 h (at most 500) and lists them oldest first", async () => {
    const newestFirst = [
      attemptOf(3, "running", 1000),
      attemptOf(2, "success", 2 * HOUR, { rowsReceived: 1 }),
      attemptOf(1, "dead-letter", 3 * HOUR, { error: REFUSED }),
    ];
    const service = new FakeService(statusOf(), newestFirst);
    // A service may answer newest first; the app does not rely on its order.
    service.attempts = (options) => {
      service.attemptsCalls.push(options ?? {});
      return structuredClone(newestFirst);
    };
    const body: StatusBody = await (await createApp([{ name: "a", service }], { now: fixed })
      .request("/status")).json();
    assert.deepEqual(service.attemptsCalls, [{ since: NOW - 24 * HOUR, limit: 500 }]);
    assert.deepEqual(body.databases[0].attempts.map((x) => [x.jobId, x.outcome]), [
      [1, "dead-letter"],
      [2, "success"],
      [3, "running"],
    ]);
    assert.equal(body.databases[0].attemptsLastHour, 1);
    assert.deepEqual(body.databases[0].attempts[0].error, REFUSED);
  });

  it("GET /status keeps lastError's HTTP status (401 for a refused key)", async () => {
    const service = new FakeService(
      statusOf({ state: "failed", permanentReason: "auth", lastError: REFUSED }),
    );
    const body: StatusBody = await (await createApp([{ name: "a", service }]).request("/status"))
      .json();
    assert.deepEqual(body.databases[0].status!.lastError, REFUSED);
  });

  it("GET /status with an attempts() that throws lists no attempts; health and status still answer", async () => {
    const service = new FakeService(statusOf());
    service.attempts = () => {
      throw new Error("queue busy");
    };
    const res = await createApp([{ name: "a", service }], { now: fixed }).request("/status");
    assert.equal(res.status, 200);
    const body: StatusBody = await res.json();
    assert.deepEqual(
      [body.databases[0].attempts, body.databases[0].health.state, body.databases[0].status!.state],
      [[], "ok", "idle"],
    );
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
    const healthz = await parent.request("/ops/healthz");
    assert.equal(healthz.status, 200);
    assert.match(await healthz.text(), /^1 ok · 1 degraded\n"b": degraded: /);
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
          service: { status: () => statusOf(), attempts: () => [] } as never,
        }]),
      /must have the syncNow\(\) method/,
    ],
    [
      "a service without attempts() (a SyncService before attempts existed)",
      () =>
        createApp([{
          name: "a",
          service: { status: () => statusOf(), history: () => [], syncNow: () => {} } as never,
        }]),
      /must have the attempts\(\) method/,
    ],
    ["an empty token", () => createApp([], { token: "" }), /'token' must be a non-empty string/],
    [
      "refreshSeconds 0",
      () => createApp([], { refreshSeconds: 0 }),
      /'refreshSeconds'.*current value is 0/,
    ],
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
