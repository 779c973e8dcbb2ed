/**
 * GET /metrics: the text exposition format 0.0.4 read back with the real
 * parser from npm (parse-prometheus-text-format), values checked against the
 * fake statuses, label escaping, and no secret anywhere.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createApp } from "../../../src/http/app.ts";
import { METRICS_CONTENT_TYPE, STATES } from "../../../src/http/metrics.ts";
import type { SyncServiceStatus } from "../../../src/scheduler/status.ts";
import { FakeService, jobOf, NOW, statusOf, TOKEN } from "./_fakes.ts";
import { parseMetrics, sampleOf } from "./_prom.ts";

const HOSTILE = 'weird "db" \\ path\nline two';

const FAMILIES: Record<string, "COUNTER" | "GAUGE"> = {
  sqlite_sync_up: "GAUGE",
  sqlite_sync_state: "GAUGE",
  sqlite_sync_runs_total: "COUNTER",
  sqlite_sync_rows_received_total: "COUNTER",
  sqlite_sync_chunks_sent_total: "COUNTER",
  sqlite_sync_bytes_sent_total: "COUNTER",
  sqlite_sync_bytes_received_total: "COUNTER",
  sqlite_sync_last_success_timestamp_seconds: "GAUGE",
  sqlite_sync_consecutive_errors: "GAUGE",
  sqlite_sync_current_interval_seconds: "GAUGE",
  sqlite_sync_queue_depth: "GAUGE",
  sqlite_sync_unsent_changes: "GAUGE",
};

const A = statusOf({
  state: "idle",
  lastSuccessAt: NOW - 1500,
  currentIntervalMs: 45_000,
  queueDepth: 2,
  unsentChanges: 17,
  totals: {
    succeeded: 41,
    failed: 3,
    rowsReceived: 1234,
    chunksSent: 9,
    bytesSent: 65_536,
    bytesReceived: 98_765,
  },
});
const CANARY = "CanaryKEY9f2dQx7LmZ";
const B = statusOf({
  state: "failed",
  permanentReason: "auth",
  lastSuccessAt: null,
  lastResult: null,
  currentIntervalMs: null,
  consecutiveErrors: 5,
  // A message that would have been redacted upstream; it must not reach /metrics anyway.
  lastError: { kind: "auth", message: `refused key ${CANARY}`, status: 401 },
  totals: {
    succeeded: 0,
    failed: 5,
    rowsReceived: 0,
    chunksSent: 0,
    bytesSent: 0,
    bytesReceived: 0,
  },
});

async function scrape(
  entries: { name: string; status: SyncServiceStatus }[],
): Promise<{ res: Response; text: string }> {
  const services = entries.map(({ name, status }) => ({
    name,
    service: new FakeService(status, [
      jobOf(1, [{ outcome: "retry", error: { kind: "http", message: CANARY } }]),
    ]),
  }));
  const res = await createApp(services, { token: TOKEN, now: () => NOW }).request("/metrics");
  return { res, text: await res.text() };
}

describe("GET /metrics", () => {
  it("GET /metrics answers 200 with Content-Type text/plain; version=0.0.4", async () => {
    const { res } = await scrape([{ name: "a", status: A }]);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), METRICS_CONTENT_TYPE);
    assert.match(METRICS_CONTENT_TYPE, /^text\/plain; version=0\.0\.4/);
  });

  it("every family parses with its HELP text and TYPE", async () => {
    const { text } = await scrape([{ name: "a", status: A }, { name: "b", status: B }]);
    const families = parseMetrics(text);
    assert.deepEqual(
      Object.fromEntries(families.map((f) => [f.name, f.type])),
      FAMILIES,
    );
    for (const f of families) assert.ok(f.help.length > 10, `${f.name} has no HELP text`);
    const lines = text.trimEnd().split("\n");
    assert.equal(lines.filter((l) => l.startsWith("# HELP ")).length, Object.keys(FAMILIES).length);
    assert.equal(lines.filter((l) => l.startsWith("# TYPE ")).length, Object.keys(FAMILIES).length);
    // Every sample line reached the parser: nothing was silently dropped.
    const samples = lines.filter((l) => !l.startsWith("#"));
    assert.equal(samples.length, families.reduce((n, f) => n + f.metrics.length, 0));
    for (const line of samples) {
      assert.match(
        line,
        /^sqlite_sync_[a-z_]+\{database="(?:[^"\\\n]|\\["\\n])*"(?:,[a-z]+="[a-z-]+")?\} \S+$/,
      );
    }
    assert.ok(text.endsWith("\n"));
  });

  it("values match the fake statuses, database by database", async () => {
    const families = parseMetrics(
      (await scrape([{ name: "a", status: A }, { name: "b", status: B }])).text,
    );
    const v = (name: string, database: string, extra: Record<string, string> = {}) =>
      sampleOf(families, name, { database, ...extra });
    assert.equal(v("sqlite_sync_runs_total", "a", { result: "succeeded" }), 41);
    assert.equal(v("sqlite_sync_runs_total", "a", { result: "failed" }), 3);
    assert.equal(v("sqlite_sync_runs_total", "b", { result: "succeeded" }), 0);
    assert.equal(v("sqlite_sync_runs_total", "b", { result: "failed" }), 5);
    assert.equal(v("sqlite_sync_rows_received_total", "a"), 1234);
    assert.equal(v("sqlite_sync_chunks_sent_total", "a"), 9);
    assert.equal(v("sqlite_sync_bytes_sent_total", "a"), 65_536);
    assert.equal(v("sqlite_sync_bytes_received_total", "a"), 98_765);
    assert.equal(v("sqlite_sync_last_success_timestamp_seconds", "a"), (NOW - 1500) / 1000);
    assert.equal(v("sqlite_sync_consecutive_errors", "a"), 0);
    assert.equal(v("sqlite_sync_consecutive_errors", "b"), 5);
    assert.equal(v("sqlite_sync_current_interval_seconds", "a"), 45);
    assert.equal(v("sqlite_sync_queue_depth", "a"), 2);
    assert.equal(v("sqlite_sync_unsent_changes", "a"), 17);
    assert.equal(v("sqlite_sync_up", "a"), 1);
    assert.equal(v("sqlite_sync_up", "b"), 0);
  });

  it("has no sample for a value that does not exist yet (no success, no polling)", async () => {
    const families = parseMetrics((await scrape([{ name: "b", status: B }])).text);
    assert.equal(
      sampleOf(families, "sqlite_sync_last_success_timestamp_seconds", { database: "b" }),
      undefined,
    );
    assert.equal(
      sampleOf(families, "sqlite_sync_current_interval_seconds", { database: "b" }),
      undefined,
    );
    assert.equal(sampleOf(families, "sqlite_sync_queue_depth", { database: "b" }), 0);
  });

  it("sqlite_sync_state is 1 for the current state and 0 for the five others", async () => {
    const families = parseMetrics(
      (await scrape([{ name: "a", status: A }, { name: "b", status: B }])).text,
    );
    for (const [database, current] of [["a", "idle"], ["b", "failed"]]) {
      const values = Object.fromEntries(
        STATES.map((
          state,
        ) => [state, sampleOf(families, "sqlite_sync_state", { database, state })]),
      );
      assert.deepEqual(
        values,
        Object.fromEntries(STATES.map((state) => [state, state === current ? 1 : 0])),
      );
    }
  });

  it("sqlite_sync_up follows the /healthz rule (offline 2 h with failures is down)", async () => {
    const stale = statusOf({
      state: "offline",
      consecutiveErrors: 30,
      lastSuccessAt: NOW - 7_200_000,
    });
    const degraded = statusOf({
      state: "offline",
      consecutiveErrors: 2,
      lastSuccessAt: NOW - 60_000,
    });
    const families = parseMetrics(
      (await scrape([{ name: "stale", status: stale }, { name: "degraded", status: degraded }]))
        .text,
    );
    assert.equal(sampleOf(families, "sqlite_sync_up", { database: "stale" }), 0);
    assert.equal(sampleOf(families, "sqlite_sync_up", { database: "degraded" }), 1);
  });

  it("escapes a database name with a quote, a backslash and a newline, and it parses back intact", async () => {
    const { text } = await scrape([{ name: HOSTILE, status: A }]);
    assert.ok(text.includes('database="weird \\"db\\" \\\\ path\\nline two"'));
    const families = parseMetrics(text);
    assert.equal(sampleOf(families, "sqlite_sync_queue_depth", { database: HOSTILE }), 2);
    assert.equal(
      sampleOf(families, "sqlite_sync_runs_total", { database: HOSTILE, result: "succeeded" }),
      41,
    );
  });

  it("a database whose status() throws has only sqlite_sync_up 0", async () => {
    const broken = {
      status: (): SyncServiceStatus => {
        throw new Error("closed");
      },
      history: () => [],
      syncNow: () => Promise.reject(new Error("closed")),
    };
    const res = await createApp([{ name: "x", service: broken }]).request("/metrics");
    const families = parseMetrics(await res.text());
    const samples = families.flatMap((f) => f.metrics.map((m) => [f.name, m.value]));
    assert.deepEqual(samples, [["sqlite_sync_up", "0"]]);
  });

  it("no error message, reason text or token reaches /metrics (labels are the name and fixed values)", async () => {
    const { text } = await scrape([{ name: "a", status: A }, { name: "b", status: B }]);
    assert.ok(!text.includes(CANARY));
    assert.ok(!text.includes("refused"));
    assert.ok(!text.includes(TOKEN));
    const labels = new Set(
      parseMetrics(text).flatMap((f) => f.metrics.flatMap((m) => Object.keys(m.labels ?? {}))),
    );
    assert.deepEqual([...labels].sort(), ["database", "result", "state"]);
  });

  it("with no database, every family is still described (HELP and TYPE, no sample)", async () => {
    const text = await (await createApp([]).request("/metrics")).text();
    const families = parseMetrics(text);
    assert.deepEqual(families.map((f) => f.name).sort(), Object.keys(FAMILIES).sort());
    assert.equal(families.reduce((n, f) => n + f.metrics.length, 0), 0);
  });
});
