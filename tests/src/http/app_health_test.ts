/**
 * createApp()'s health: GET /healthz as liveness (200 with the headline counts and one line per
 * database that is not ok; 503 only when a status cannot be read) and the one health model,
 * each database's class and reason the same on /healthz, /status and /metrics.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createApp, type StatusBody } from "../../../src/http/app.ts";
import type { SyncServiceStatus } from "../../../src/scheduler/status.ts";
import { FakeService, NOW, statusOf } from "./_fakes.ts";
import { parseMetrics, sampleOf } from "./_prom.ts";
import { fixed, HOUR, MIN, OFFLINE, REFUSED, twoServices, unreadable } from "./_app_fixtures.ts";

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
