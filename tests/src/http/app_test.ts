/**
 * createApp(): the GET routes with no token, a wrong token and the right one (gzip, HEAD, no
 * token echoed); /status's shape; mounting in another hono app; the arguments it refuses.
 * POST /sync is app_sync_test.ts's part, /healthz and the one health model app_health_test.ts's.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Hono } from "hono";
import { createApp, type StatusBody } from "../../../src/http/app.ts";
import { attemptOf, FakeService, NOW, statusOf, TOKEN } from "./_fakes.ts";
import {
  CREDENTIALS,
  fixed,
  HOUR,
  MIN,
  REFUSED,
  twoServices,
  unreadable,
} from "./_app_fixtures.ts";

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
