/**
 * GET /metrics: the text exposition format 0.0.4 read back with the real
 * parser from npm (parse-prometheus-text-format), values checked against the
 * fake statuses, label escaping, and no secret anywhere.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createApp } from "../../../src/http/app.ts";
import { METRICS_CONTENT_TYPE, OUTCOMES, STATES } from "../../../src/http/metrics.ts";
import type { SyncServiceStatus } from "../../../src/scheduler/status.ts";
import { attemptOf, FakeService, NOW, statusOf, TOKEN } from "./_fakes.ts";
import { parseMetrics, sampleOf } from "./_prom.ts";

const HOSTILE = 'weird "db" \\ path\nline two';

const FAMILIES: Record<string, "COUNTER" | "GAUGE"> = {
  sqlite_sync_health: "GAUGE",
  sqlite_sync_state: "GAUGE",
  sqlite_sync_attempts_total: "COUNTER",
  sqlite_sync_rows_received_total: "COUNTER",
  sqlite_sync_chunks_sent_total: "COUNTER",
  sqlite_sync_bytes_sent_total: "COUNTER",
  sqlite_sync_bytes_received_total: "COUNTER",
  sqlite_sync_last_success_timestamp_seconds: "GAUGE",
  sqlite_sync_consecutive_errors: "GAUGE",
  sqlite_sync_current_interval_seconds: "GAUGE",
  sqlite_sync_queue_depth: "GAUGE",
  sqlite_sync_oldest_job_age_seconds: "GAUGE",
  sqlite_sync_unsent_changes: "GAUGE",
};

const CLASSES = ["ok", "degraded", "failed", "stopped"];

const A = statusOf({
  state: "idle",
  lastSuccessAt: NOW - 1500,
  currentIntervalMs: 45_000,
  queueDepth: 2,
  oldestJobAt: NOW - 12_500,
  unsentChanges: 17,
  totals: {
    succeeded: 41,
    failed: 3,
    rowsReceived: 1234,
    chunksSent: 9,
    bytesSent: 65_536,
    bytesReceived: 98_765,
    attempts: { success: 30, empty: 11, retry: 2, "dead-letter": 0, interrupted: 1 },
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
    attempts: { success: 0, empty: 0, retry: 4, "dead-letter": 1, interrupted: 0 },
  },
});

async function scrape(
  entries: { name: string; status: SyncServiceStatus }[],
): Promise<{ res: Response; text: string }> {
  const services = entries.map(({ name, status }) => ({
    name,
    service: new FakeService(status, [
      attemptOf(1, "retry", 5000, { error: { kind: "http", message: CANARY } }),
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
    assert.equal(v("sqlite_sync_rows_received_total", "a"), 1234);
    assert.equal(v("sqlite_sync_chunks_sent_total", "a"), 9);
    assert.equal(v("sqlite_sync_bytes_sent_total", "a"), 65_536);
    assert.equal(v("sqlite_sync_bytes_received_total", "a"), 98_765);
    assert.equal(v("sqlite_sync_last_success_timestamp_seconds", "a"), (NOW - 1500) / 1000);
    assert.equal(v("sqlite_sync_consecutive_errors", "a"), 0);
    assert.equal(v("sqlite_sync_consecutive_errors", "b"), 5);
    assert.equal(v("sqlite_sync_current_interval_seconds", "a"), 45);
    assert.equal(v("sqlite_sync_queue_depth", "a"), 2);
    assert.equal(v("sqlite_sync_oldest_job_age_seconds", "a"), 12.5);
    assert.equal(v("sqlite_sync_oldest_job_age_seconds", "b"), 0);
    assert.equal(v("sqlite_sync_unsent_changes", "a"), 17);
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

  it("sqlite_sync_attempts_total counts every outcome of totals.attempts, running never", async () => {
    const families = parseMetrics(
      (await scrape([{ name: "a", status: A }, { name: "b", status: B }])).text,
    );
    for (const [database, status] of [["a", A], ["b", B]] as const) {
      assert.deepEqual(
        Object.fromEntries(
          OUTCOMES.map((outcome) => [
            outcome,
            sampleOf(families, "sqlite_sync_attempts_total", { database, outcome }),
          ]),
        ),
        status.totals.attempts,
      );
    }
    assert.deepEqual([...OUTCOMES].sort(), [
      "dead-letter",
      "empty",
      "interrupted",
      "retry",
      "success",
    ]);
    assert.equal(
      sampleOf(families, "sqlite_sync_attempts_total", { database: "a", outcome: "running" }),
      undefined,
    );
  });

  it("sqlite_sync_health is 1 for the database's class and 0 for the three others", async () => {
    const never = statusOf({
      state: "offline",
      consecutiveErrors: 2,
      lastError: { kind: "offline", message: "Failed to connect" },
      lastSuccessAt: null,
      lastResult: null,
    });
    const stopped = statusOf({ state: "stopped" });
    const families = parseMetrics(
      (await scrape([
        { name: "a", status: A },
        { name: "b", status: B },
        { name: "never", status: never },
        { name: "stopped", status: stopped },
      ])).text,
    );
    for (
      const [database, current] of [
        ["a", "ok"],
        ["b", "failed"],
        ["never", "degraded"],
        ["stopped", "stopped"],
      ]
    ) {
      assert.deepEqual(
        CLASSES.map((state) => sampleOf(families, "sqlite_sync_health", { database, state })),
        CLASSES.map((state) => state === current ? 1 : 0),
        database,
      );
    }
  });

  it("sqlite_sync_oldest_job_age_seconds is now − oldestJobAt, and 0 with an empty queue", async () => {
    const families = parseMetrics(
      (await scrape([
        { name: "waiting", status: statusOf({ oldestJobAt: NOW - 90_000, queueDepth: 1 }) },
        { name: "empty", status: statusOf({ oldestJobAt: null }) },
      ])).text,
    );
    const age = (database: string) =>
      sampleOf(families, "sqlite_sync_oldest_job_age_seconds", { database });
    assert.deepEqual([age("waiting"), age("empty")], [90, 0]);
  });

  it("has no sqlite_sync_up or sqlite_sync_runs_total (replaced by health and attempts_total)", async () => {
    const { text } = await scrape([{ name: "a", status: A }]);
    assert.doesNotMatch(text, /sqlite_sync_up\b|sqlite_sync_runs_total/);
  });

  it("escapes a database name with a quote, a backslash and a newline, and it parses back intact", async () => {
    const { text } = await scrape([{ name: HOSTILE, status: A }]);
    assert.ok(text.includes('database="weird \\"db\\" \\\\ path\\nline two"'));
    const families = parseMetrics(text);
    assert.equal(sampleOf(families, "sqlite_sync_queue_depth", { database: HOSTILE }), 2);
    assert.equal(
      sampleOf(families, "sqlite_sync_attempts_total", { database: HOSTILE, outcome: "success" }),
      30,
    );
    assert.equal(
      sampleOf(families, "sqlite_sync_health", { database: HOSTILE, state: "ok" }),
      1,
    );
  });

  it("a database whose status() throws has only sqlite_sync_health, failed 1", async () => {
    const broken = {
      status: (): SyncServiceStatus => {
        throw new Error("closed");
      },
      attempts: () => [],
      syncNow: () => Promise.reject(new Error("closed")),
    };
    const res = await createApp([{ name: "x", service: broken }]).request("/metrics");
    const families = parseMetrics(await res.text());
    const samples = families.flatMap((f) =>
      f.metrics.map((m) => [f.name, m.labels?.state, m.value])
    );
    assert.deepEqual(samples, [
      ["sqlite_sync_health", "ok", "0"],
      ["sqlite_sync_health", "degraded", "0"],
      ["sqlite_sync_health", "failed", "1"],
      ["sqlite_sync_health", "stopped", "0"],
    ]);
  });

  it("no error message, reason text or token reaches /metrics (labels are the name and fixed values)", async () => {
    const { text } = await scrape([{ name: "a", status: A }, { name: "b", status: B }]);
    assert.ok(!text.includes(CANARY));
    assert.ok(!text.includes("refused"));
    assert.ok(!text.includes("retries stopped"));
    assert.ok(!text.includes(TOKEN));
    const labels = new Set(
      parseMetrics(text).flatMap((f) => f.metrics.flatMap((m) => Object.keys(m.labels ?? {}))),
    );
    assert.deepEqual([...labels].sort(), ["database", "outcome", "state"]);
  });

  it("with no database, every family is still described (HELP and TYPE, no sample)", async () => {
    const text = await (await createApp([]).request("/metrics")).text();
    const families = parseMetrics(text);
    assert.deepEqual(families.map((f) => f.name).sort(), Object.keys(FAMILIES).sort());
    assert.equal(families.reduce((n, f) => n + f.metrics.length, 0), 0);
  });
});
