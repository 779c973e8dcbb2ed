/**
 * createApp() over a real SyncService: what the routes show is what the service itself reports.
 * First with its queue file real and only the executor's sync call faked (a FakeClock); then
 * with every part real (executor, extension, network) against a server answering every request
 * with one fixed 401 (tests/src/_http_error_server.ts: it never speaks CloudSync), where the
 * app must show the HTTP status and no secret.
 */
import { afterEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { SqliteSyncError } from "../../../common/errors.ts";
import { createApp, type StatusBody } from "../../../src/http/app.ts";
import { SyncDatabase } from "../../../src/database.ts";
import { SyncService } from "../../../src/scheduler/service.ts";
import { tempDir, testExtensionPath } from "../../_helpers.ts";
import { errorServer } from "../_error_servers.ts";
import { logEvents } from "../scheduler/_service_events.ts";
import { type Harness, result, settle, startFake } from "../scheduler/_service_fake.ts";
import { TOKEN } from "./_fakes.ts";
import { parseMetrics, sampleOf } from "./_prom.ts";

const AUTH = { Authorization: `Bearer ${TOKEN}` };

describe("createApp() over a real SyncService", () => {
  let h: Harness | undefined;
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    await h?.cleanup();
    h = undefined;
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  it("POST /sync runs a real sync; /status, /metrics, /healthz and / then show it", async () => {
    h = await startFake(
      {},
      (n) =>
        n === 1
          ? { ok: result({ rows: 5, chunks: 2 }) }
          : { error: new SqliteSyncError("http", "Service Unavailable", { status: 503 }) },
    );
    const harness = h;
    const app = createApp([{ name: "app.db", service: harness.service }], {
      token: TOKEN,
      now: () => harness.clock.now(),
    });

    const first = await app.request("/sync", { method: "POST", headers: AUTH });
    await settle();
    assert.equal(first.status, 200);
    assert.deepEqual(await first.json(), {
      results: [{ database: "app.db", ok: true, result: result({ rows: 5, chunks: 2 }) }],
    });
    let status: StatusBody = await (await app.request("/status")).json();
    assert.deepEqual(status.databases[0].status, JSON.parse(JSON.stringify(h.service.status())));
    assert.deepEqual(
      status.databases[0].attempts.map((a) => [a.outcome, a.rowsReceived]),
      [["success", 5]],
    );
    assert.equal(status.databases[0].health.state, "ok");
    let metrics = parseMetrics(await (await app.request("/metrics")).text());
    const v = (name: string, labels: Record<string, string> = {}) =>
      sampleOf(metrics, name, { database: "app.db", ...labels });
    assert.equal(v("sqlite_sync_attempts_total", { outcome: "success" }), 1);
    assert.equal(v("sqlite_sync_rows_received_total"), 5);
    assert.equal(v("sqlite_sync_chunks_sent_total"), 2);
    assert.equal(v("sqlite_sync_health", { state: "ok" }), 1);
    assert.equal(
      v("sqlite_sync_last_success_timestamp_seconds"),
      h.service.status().lastSuccessAt! / 1000,
    );

    const second = await app.request("/sync", { method: "POST", headers: AUTH });
    await settle();
    assert.equal(second.status, 502);
    assert.deepEqual((await second.json()).results[0].error, {
      kind: "http",
      message: "Service Unavailable",
      status: 503,
    });
    metrics = parseMetrics(await (await app.request("/metrics")).text());
    assert.equal(v("sqlite_sync_attempts_total", { outcome: "retry" }), 1);
    assert.equal(v("sqlite_sync_consecutive_errors"), 1);
    assert.equal(v("sqlite_sync_state", { state: "backing-off" }), 1);
    status = await (await app.request("/status")).json();
    assert.deepEqual(status.databases[0].status!.lastError, {
      kind: "http",
      message: "Service Unavailable",
      status: 503,
    });
    assert.deepEqual(status.databases[0].attempts.map((a) => a.outcome), ["success", "retry"]);
    // One failure a moment after a success: still ok, and liveness is 200 either way.
    assert.equal(status.databases[0].health.state, "ok");
    const health = await app.request("/healthz");
    assert.deepEqual([health.status, await health.text()], [200, "1 ok\n"]);
    const page = await (await app.request("/")).text();
    assert.match(page, /http \(HTTP 503\): Service Unavailable/);
  });

  it("a real service refused with a fixed 401: /status, /healthz, /metrics and / show HTTP 401, failed, and no secret", async () => {
    const apiKey = "sqa_APPSECRET_7f3c9a1e5b2d4068";
    // The body echoes nothing of the request: any secret in the answers came from the app.
    const server = await errorServer(
      401,
      "Unauthorized",
      '{"errors":[{"status":"401","code":"unauthorized","title":"Unauthorized"}]}',
    );
    cleanups.push(() => server.stop());
    const dir = tempDir("app-401-");
    cleanups.push(() => dir.cleanup());
    const path = join(dir.path, "app.db");
    const extensionPath = await testExtensionPath();
    const db = await SyncDatabase.open(path, { extensionPath });
    db.exec("CREATE TABLE notes (id TEXT PRIMARY KEY NOT NULL, body TEXT)");
    db.init("notes");
    db.run("INSERT INTO notes (id, body) VALUES (?, ?)", db.uuid(), "local");
    db.close();
    const service = await SyncService.start(path, {
      databaseId: "app-401",
      address: `http://127.0.0.1:${server.port}`,
      apiKey,
      extensionPath,
      connectTimeoutS: 2,
      requestTimeoutS: 2,
      syncOnStart: false,
      polling: false,
      changeDebounceMs: false,
    });
    cleanups.push(() => service.stop({ graceMs: 0 }));
    const log = logEvents(service);
    const app = createApp([{ name: "app.db", service }], { token: TOKEN });

    const sync = await app.request("/sync", { method: "POST", headers: AUTH });
    assert.equal(sync.status, 502);
    const [outcome] = (await sync.json()).results;
    assert.equal(outcome.error.kind, "auth");
    assert.equal(outcome.error.status, 401);
    await log.until(() => service.status().state === "failed", "state 'failed'");

    const status: StatusBody = await (await app.request("/status")).json();
    const db0 = status.databases[0];
    assert.equal(db0.status!.lastError!.kind, "auth");
    assert.equal(db0.status!.lastError!.status, 401);
    assert.deepEqual(
      [db0.health.state, db0.health.reason, db0.health.action],
      [
        "failed",
        "retries stopped (auth)",
        "fix the API key or token, then POST /sync (or send the daemon SIGHUP)",
      ],
    );
    assert.deepEqual(status.counts, { ok: 0, degraded: 0, failed: 1, stopped: 0 });
    assert.equal(db0.attempts.at(-1)!.outcome, "dead-letter");
    assert.equal(db0.attempts.at(-1)!.error!.status, 401);

    const healthz = await app.request("/healthz");
    const healthzText = await healthz.text();
    assert.equal(healthz.status, 200, "a refused key never fails liveness");
    assert.match(
      healthzText,
      /^1 failed\n"app\.db": failed: retries stopped \(auth\); last error auth \(HTTP 401\): /,
    );
    const metrics = parseMetrics(await (await app.request("/metrics")).text());
    assert.equal(
      sampleOf(metrics, "sqlite_sync_health", { database: "app.db", state: "failed" }),
      1,
    );
    assert.equal(
      sampleOf(metrics, "sqlite_sync_attempts_total", {
        database: "app.db",
        outcome: "dead-letter",
      }),
      1,
    );
    const page = await (await app.request("/")).text();
    assert.match(page, /HTTP 401/);

    for (const path of ["/healthz", "/status", "/metrics", "/"]) {
      const res = await app.request(path, { headers: AUTH });
      const text = await res.text();
      const headers = [...res.headers.values()].join("\n");
      for (const secret of [apiKey, TOKEN]) {
        assert.ok(!text.includes(secret), `${path} shows a secret`);
        assert.ok(!headers.includes(secret), `${path} has a secret in a header`);
      }
    }
  });
});
