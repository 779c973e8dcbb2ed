/**
 * createApp() over a real SyncService (its queue file real, only the
 * executor's sync call faked, a FakeClock): what the routes show is what the
 * service itself reports, before and after POST /sync.
 */
import { afterEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { SqliteSyncError } from "../../../common/errors.ts";
import { createApp } from "../../../src/http/app.ts";
import { type Harness, result, settle, startFake } from "../scheduler/_service_fake.ts";
import { TOKEN } from "./_fakes.ts";
import { parseMetrics, sampleOf } from "./_prom.ts";

const AUTH = { Authorization: `Bearer ${TOKEN}` };

describe("createApp() over a real SyncService", () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.cleanup();
    h = undefined;
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
    const status = await (await app.request("/status")).json();
    assert.deepEqual(status.databases[0].status, JSON.parse(JSON.stringify(h.service.status())));
    assert.deepEqual(
      status.databases[0].history.map((j: { state: string; rowsReceived: number }) => [
        j.state,
        j.rowsReceived,
      ]),
      [["succeeded", 5]],
    );
    let metrics = parseMetrics(await (await app.request("/metrics")).text());
    const v = (name: string, labels: Record<string, string> = {}) =>
      sampleOf(metrics, name, { database: "app.db", ...labels });
    assert.equal(v("sqlite_sync_runs_total", { result: "succeeded" }), 1);
    assert.equal(v("sqlite_sync_rows_received_total"), 5);
    assert.equal(v("sqlite_sync_chunks_sent_total"), 2);
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
    assert.equal(v("sqlite_sync_runs_total", { result: "failed" }), 1);
    assert.equal(v("sqlite_sync_consecutive_errors"), 1);
    assert.equal(v("sqlite_sync_state", { state: "backing-off" }), 1);
    // Degraded, still healthy: one failure a moment after a success.
    const health = await app.request("/healthz");
    assert.deepEqual([health.status, await health.text()], [200, "ok\n"]);
    const page = await (await app.request("/")).text();
    assert.match(page, /<span class="name">app\.db<\/span><span class="state backing-off">/);
    assert.match(page, /<code>http \(HTTP 503\): Service Unavailable<\/code>/);
    assert.match(
      page,
      /<li class="run ok succeeded l1" title="[^"]+ · 5 rows received, 0 sent · job 1">/,
    );
  });
});
