/**
 * SyncService with real parts: the runtime's default executor, the real
 * extension, real files, against non-protocol failure fixtures only (a
 * refused port, a listener that never answers, a server answering every
 * request with one fixed HTTP error). Nothing here speaks CloudSync.
 */
import { afterEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { join } from "node:path";
import { SqliteSyncError } from "../../../common/errors.ts";
import { SyncDatabase } from "../../../src/database.ts";
import { SyncService, type SyncServiceOptions } from "../../../src/scheduler/service.ts";
import { queuePathFor, SyncQueue } from "../../../src/scheduler/queue.ts";
import type { SyncServiceEvents } from "../../../src/scheduler/status.ts";
import { refusedPort, ROOT, runtimeArgv, tempDir, testExtensionPath } from "../../_helpers.ts";
import { errorServer, silentListener } from "../_error_servers.ts";
import { SERVICE_EVENTS, timed } from "./_service_fake.ts";

const API_KEY = "sqa_SERVICENET_0123456789";
const PAUSED = '{"errors":[{"status":"503","code":"database_paused","title":"Database paused"}]}';
const UNAUTHORIZED = '{"errors":[{"status":"401","code":"unauthorized","title":"Unauthorized"}]}';
const CHILD = join(ROOT, "tests", "src", "scheduler", "_service_child.ts");

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(predicate: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!predicate() && Date.now() < deadline) await sleep(5);
  return predicate();
}

interface Recorded {
  type: keyof SyncServiceEvents;
  t: number;
  // deno-lint-ignore no-explicit-any
  e: any;
}

interface Real {
  dir: string;
  path: string;
  service: SyncService;
  events: Recorded[];
  of(type: keyof SyncServiceEvents): Recorded[];
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A database with a synced `notes` table (one local row), and a service on it. */
async function startReal(port: number, options: Partial<SyncServiceOptions> = {}): Promise<Real> {
  const dir = tempDir("service-net-");
  cleanups.push(() => dir.cleanup());
  const path = join(dir.path, "app.db");
  const extensionPath = await testExtensionPath();
  const db = await SyncDatabase.open(path, { extensionPath });
  db.exec("CREATE TABLE notes (id TEXT PRIMARY KEY NOT NULL, body TEXT)");
  db.init("notes");
  db.run("INSERT INTO notes (id, body) VALUES (?, ?)", db.uuid(), "local");
  db.close();
  const events: Recorded[] = [];
  const service = await SyncService.start(path, {
    databaseId: "service-net",
    address: `http://127.0.0.1:${port}`,
    apiKey: API_KEY,
    extensionPath,
    connectTimeoutS: 2,
    requestTimeoutS: 2,
    syncOnStart: false,
    polling: false,
    changeDebounceMs: false,
    ...options,
  } as SyncServiceOptions);
  cleanups.push(() => service.stop({ graceMs: 0 }));
  for (const type of SERVICE_EVENTS) {
    service.on(type, (e) => events.push({ type, t: Date.now(), e }));
  }
  return {
    dir: dir.path,
    path,
    service,
    events,
    of: (type) => events.filter((r) => r.type === type),
  };
}

function assertKind(err: unknown, kind: string): SqliteSyncError {
  assert.ok(err instanceof SqliteSyncError, `expected a SqliteSyncError, got ${String(err)}`);
  assert.equal(err.kind, kind, err.message);
  return err;
}

describe("SyncService (real executor and extension) against failure fixtures", () => {
  it("refused port: syncNow() rejects 'offline', the state is 'offline', and retries run on the jittered schedule (each within [failure, failure + min(cap, base·2^k)] + 300 ms slack) until dead-lettered", async () => {
    const r = await startReal(await refusedPort(), {
      retry: { baseMs: 100, capMs: 400, maxAttempts: 5 },
    });
    const err = await r.service.syncNow().then(() => undefined, (e: unknown) => e);
    assertKind(err, "offline");
    assert.match((err as Error).message, /Failed to connect to 127\.0\.0\.1/);
    assert.ok(await until(() => r.of("dead-lettered").length === 1, 10_000), "never dead-lettered");
    assert.equal(r.service.status().state, "offline");
    assert.equal(r.service.status().lastError?.kind, "offline");
    const failed = r.of("failed");
    const retries = r.of("retry-scheduled");
    const started = r.of("started");
    assert.equal(started.length, 5);
    assert.equal(failed.length, 5);
    assert.equal(retries.length, 4);
    for (let k = 0; k < 4; k++) {
      const ceiling = Math.min(400, 100 * 2 ** k);
      const wait = retries[k].e.at - failed[k].t;
      assert.ok(wait >= -5 && wait <= ceiling + 5, `retry ${k}: scheduled ${wait} ms out`);
      const late = started[k + 1].t - retries[k].e.at;
      assert.ok(late >= -5 && late < 300, `retry ${k} ran ${late} ms after its time`);
    }
    assert.equal(r.of("dead-lettered")[0].e.reason, "max_attempts_exceeded");
    assert.equal(r.service.status().consecutiveErrors, 5);
    assert.equal(r.service.status().queueDepth, 0);
  });

  it("a listener that never answers, with requestTimeoutS 1: syncNow() rejects 'timeout' within 1–5 s, state 'offline', a retry scheduled, while the main thread keeps running (longest gap < 200 ms)", async () => {
    const listener = await silentListener();
    cleanups.push(() => listener.close());
    const r = await startReal(listener.port, {
      requestTimeoutS: 1,
      retry: { baseMs: 60_000 },
    });
    const t = await timed(() => r.service.syncNow());
    assertKind(t.error, "timeout");
    assert.ok(t.ms >= 900 && t.ms < 5000, `took ${t.ms.toFixed(0)} ms`);
    assert.ok(t.gapMs < 200, `the main thread stalled for ${t.gapMs.toFixed(0)} ms`);
    assert.equal(r.service.status().state, "offline");
    assert.equal(r.of("retry-scheduled").length, 1);
  });

  it("a server answering 503: 'http' with status 503, state 'backing-off', retried on schedule", async () => {
    const server = await errorServer(503, "Service Unavailable", PAUSED);
    cleanups.push(() => server.stop());
    const r = await startReal(server.port, { retry: { baseMs: 100, capMs: 100, maxAttempts: 3 } });
    const err = assertKind(
      await r.service.syncNow().then(() => undefined, (e: unknown) => e),
      "http",
    );
    assert.equal(err.status, 503);
    assert.equal(r.service.status().state, "backing-off");
    assert.deepEqual(
      { kind: r.service.status().lastError?.kind, status: r.service.status().lastError?.status },
      { kind: "http", status: 503 },
    );
    assert.ok(await until(() => r.of("dead-lettered").length === 1, 10_000));
    assert.equal(r.of("started").length, 3);
    assert.equal(r.of("retry-scheduled").length, 2);
  });

  it("a server answering 401 with an API key: 'auth', permanent at once (state 'failed', dead-lettered permanent:auth), no retry within 3 s although an interval runs", async () => {
    const server = await errorServer(401, "Unauthorized", UNAUTHORIZED);
    cleanups.push(() => server.stop());
    const r = await startReal(server.port, { intervalMs: 1000 });
    const err = assertKind(
      await r.service.syncNow().then(() => undefined, (e: unknown) => e),
      "auth",
    );
    assert.equal(err.status, 401);
    await sleep(3000);
    assert.equal(r.service.status().state, "failed");
    assert.equal(r.service.status().permanentReason, "auth");
    assert.equal(r.of("started").length, 1);
    assert.equal(r.of("retry-scheduled").length, 0);
    assert.deepEqual(r.of("dead-lettered").map((d) => d.e.reason), ["permanent:auth"]);
  });

  it("a server answering 401 with getToken: one refresh (getToken called at start and once after the 401), the retry at once, then permanent", async () => {
    const server = await errorServer(401, "Unauthorized", UNAUTHORIZED);
    cleanups.push(() => server.stop());
    let calls = 0;
    const r = await startReal(server.port, {
      apiKey: undefined,
      getToken: () => `opaque-token-${++calls}`,
      intervalMs: 1000,
    });
    assert.equal(calls, 1);
    await r.service.syncNow().catch(() => {});
    assert.ok(await until(() => r.service.status().state === "failed", 5000), "never failed");
    await sleep(2000);
    assert.equal(calls, 2);
    const started = r.of("started");
    assert.equal(started.length, 2);
    assert.ok(
      started[1].t - started[0].t < 1000,
      "the retry after the refresh did not run at once",
    );
    assert.equal(r.service.status().permanentReason, "auth");
  });
});

describe("SyncService change trigger from another process", () => {
  it("a commit by a child process to a synced table starts a sync with reason 'change' within debounce (300 ms) + poll (100 ms) + 600 ms", async () => {
    const r = await startReal(await refusedPort(), {
      changeDebounceMs: 300,
      changePollMs: 100,
      retry: { baseMs: 60_000 },
    });
    await sleep(300);
    const [cmd, ...args] = runtimeArgv(CHILD, [
      "write",
      r.path,
      await testExtensionPath(),
      "1",
      "0",
    ]);
    const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout!.on("data", (d) => (out += d));
    const code = await new Promise((resolve) => child.on("close", resolve));
    assert.equal(code, 0, out);
    const committedAt = Number(/^COMMITTED \S+ (\d+)/m.exec(out)![1]);
    assert.ok(
      await until(() => r.of("started").length > 0, 3000),
      "no sync started after the child's commit",
    );
    const started = r.of("started")[0];
    assert.deepEqual(started.e.reasons, ["change"]);
    const ms = started.t - committedAt;
    assert.ok(ms >= 250 && ms < 1000, `the sync started ${ms} ms after the commit`);
    assert.ok(await until(() => r.of("failed").length > 0, 3000));
    assert.equal(r.of("failed")[0].e.error.kind, "offline");
  });
});

describe("SyncService restart picks up the queue", () => {
  it("a job cut short by stop() (released to pending) runs at the next start, with syncOnStart false and no trigger", async () => {
    const listener = await silentListener();
    cleanups.push(() => listener.close());
    const r = await startReal(listener.port, { requestTimeoutS: 30 });
    const cut = r.service.syncNow().then(() => undefined, (e: unknown) => e);
    assert.ok(await until(() => r.of("started").length === 1, 3000));
    const jobId = r.of("started")[0].e.jobId;
    await sleep(200);
    await r.service.stop({ graceMs: 0 });
    assertKind(await cut, "interrupted");
    const q = await SyncQueue.open(queuePathFor(r.path));
    assert.equal(q.current().pending?.id, jobId);
    assert.deepEqual(q.runs(jobId).map((run) => run.outcome), ["released"]);
    q.close();
    const again = await SyncService.start(r.path, {
      databaseId: "service-net",
      address: `http://127.0.0.1:${await refusedPort()}`,
      apiKey: API_KEY,
      extensionPath: await testExtensionPath(),
      syncOnStart: false,
      polling: false,
      changeDebounceMs: false,
      retry: { baseMs: 60_000 },
    });
    cleanups.push(() => again.stop({ graceMs: 0 }));
    const reader = await SyncQueue.open(queuePathFor(r.path));
    cleanups.push(() => reader.close());
    assert.ok(
      await until(() => reader.runs(jobId).at(-1)?.outcome === "retry", 3000),
      "the released job did not run again",
    );
    assert.deepEqual(reader.runs(jobId).map((run) => run.outcome), ["released", "retry"]);
    assert.equal(again.status().lastError?.kind, "offline");
  });
});
