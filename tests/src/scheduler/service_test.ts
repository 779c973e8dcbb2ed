/**
 * SyncService, scheduler unit tests: a fake executor (only its sync call is
 * faked) and a FakeClock drive the real service, runner, triggers and durable
 * queue file. Here: every bad option refused, the events and status() of a
 * sync that succeeds or fails, and stop(). The schedule is in
 * service_schedule_test.ts, permanent errors in service_permanent_test.ts,
 * status() and attempts() in service_status_test.ts; nothing here speaks the
 * CloudSync protocol.
 */
import { afterEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { SqliteSyncError } from "../../../common/errors.ts";
import { startSyncService, type SyncServiceOptions } from "../../../src/scheduler/service.ts";
import { tempDir, testExtensionPath } from "../../_helpers.ts";
import {
  advance,
  fail,
  offline,
  ok,
  open,
  result,
  settle,
  start,
  startFake,
  stopStarted,
  UNIT_START,
} from "./_service_fake.ts";

const CANARY = "CANARY_3f9a1c_SECRET";

afterEach(stopStarted);

// ---- options ----------------------------------------------------------------------

describe("SyncService options: every bad option is refused before any work, named, never echoing a credential", () => {
  const cases: [string, Record<string, unknown>, typeof TypeError | typeof RangeError, RegExp][] = [
    ["no options object", { __replace: null }, TypeError, /'options'/],
    ["an unknown option", { intervall: 5000 }, TypeError, /unknown option 'intervall'/],
    ["databaseId missing", { databaseId: undefined }, TypeError, /'databaseId'/],
    ["databaseId empty", { databaseId: "" }, TypeError, /'databaseId'/],
    ["address not a string", { address: 8080 }, TypeError, /'address'/],
    ["apiKey empty", { apiKey: "" }, TypeError, /'apiKey'/],
    ["apiKey a number", { apiKey: 12345 }, TypeError, /'apiKey'/],
    ["token an object", { apiKey: undefined, token: { t: CANARY } }, TypeError, /'token'/],
    ["apiKey and token", { token: CANARY }, TypeError, /'apiKey', 'token'/],
    ["apiKey and getToken", { getToken: () => CANARY }, TypeError, /'getToken'/],
    ["no credential", { apiKey: undefined }, TypeError, /'apiKey', 'token' or 'getToken'/],
    ["getToken not a function", { apiKey: undefined, getToken: CANARY }, TypeError, /'getToken'/],
    ["tables not an array", { tables: "notes" }, TypeError, /'tables'/],
    ["a table without a name", { tables: [""] }, TypeError, /'tables'/],
    ["cron empty", { cron: " " }, TypeError, /'cron'/],
    ["cron not an expression", { cron: "every five minutes" }, TypeError, /'cron'/],
    ["cron with 7 fields", { cron: "0 0 0 * * * *" }, TypeError, /'cron'/],
    ["timezone without cron", { timezone: "UTC" }, TypeError, /'timezone'/],
    ["timezone unknown", { cron: "0 3 * * *", timezone: "Mars/Olympus" }, TypeError, /'timezone'/],
    ["intervalMs 0", { intervalMs: 0 }, RangeError, /'intervalMs'/],
    ["intervalMs a string", { intervalMs: "5000" }, RangeError, /'intervalMs'/],
    ["polling a number", { polling: 5 }, TypeError, /'polling'/],
    [
      "polling base ≤ 0",
      { polling: { baseIntervalMs: 0 } },
      RangeError,
      /'polling\.baseIntervalMs'/,
    ],
    [
      "polling max < base",
      { polling: { baseIntervalMs: 10_000, maxIntervalMs: 5000 } },
      RangeError,
      /'polling\.maxIntervalMs'/,
    ],
    ["polling jitter unknown", { polling: { jitter: "some" } }, TypeError, /'polling\.jitter'/],
    ["changeDebounceMs negative", { changeDebounceMs: -1 }, RangeError, /'changeDebounceMs'/],
    ["syncOnStart a string", { syncOnStart: "yes" }, TypeError, /'syncOnStart'/],
    ["retry null", { retry: null }, TypeError, /'retry'/],
    ["retry.baseMs 0", { retry: { baseMs: 0 } }, RangeError, /'retry\.baseMs'/],
    ["retry.capMs < baseMs", { retry: { baseMs: 5000, capMs: 10 } }, RangeError, /'retry\.capMs'/],
    ["retry.maxAttempts 1.5", { retry: { maxAttempts: 1.5 } }, RangeError, /'retry\.maxAttempts'/],
    ["executor unknown", { executor: "thread" }, TypeError, /'executor'/],
    ["connectTimeoutS 0", { connectTimeoutS: 0 }, RangeError, /'connectTimeoutS'/],
    ["requestTimeoutS too large", { requestTimeoutS: 99_999 }, RangeError, /'requestTimeoutS'/],
    ["leaseMs 10", { leaseMs: 10 }, RangeError, /'leaseMs'/],
    ["stopGraceMs negative", { stopGraceMs: -1 }, RangeError, /'stopGraceMs'/],
    ["extensionPath a number", { extensionPath: 7 }, TypeError, /'extensionPath'/],
  ];

  for (const [name, patch, ErrorClass, pattern] of cases) {
    it(`${name}: ${ErrorClass.name} matching ${pattern}, nothing started, the credential not echoed`, async () => {
      const dir = tempDir("service-options-");
      try {
        const path = join(dir.path, "app.db");
        let created = 0;
        const options = "__replace" in patch ? patch.__replace : {
          databaseId: "unit-db",
          apiKey: CANARY,
          extensionPath: await testExtensionPath(),
          ...patch,
        };
        const err = await startSyncService(path, options as SyncServiceOptions, {
          createExecutor: () => {
            created++;
            throw new Error("must not be reached");
          },
        }).then(() => undefined, (e: unknown) => e);
        assert.ok(err instanceof ErrorClass, `expected ${ErrorClass.name}, got ${String(err)}`);
        assert.equal((err as Error).constructor, ErrorClass);
        assert.match((err as Error).message, pattern);
        for (const text of [String(err), (err as Error).stack ?? "", JSON.stringify(err)]) {
          assert.ok(!text.includes(CANARY), `the credential was echoed: ${text}`);
        }
        assert.equal(created, 0, "an executor was created");
        assert.deepEqual(readdirSync(dir.path), [], "a file was created (the queue)");
      } finally {
        dir.cleanup();
      }
    });
  }

  it("getToken returning a non-string (a secret in the wrong shape) fails start() with a TypeError naming getToken, without echoing it", async () => {
    const err = await startFake({ apiKey: undefined, getToken: () => ({ t: CANARY }) as never })
      .then((h) => {
        open.push(h);
        return undefined;
      }, (e: unknown) => e);
    assert.ok(err instanceof TypeError, String(err));
    assert.match(err.message, /'getToken' must return a non-empty string/);
    assert.ok(!String(err).includes(CANARY) && !(err.stack ?? "").includes(CANARY));
  });
});

// ---- events and status -----------------------------------------------------------------

describe("SyncService events and status()", () => {
  it("a successful sync emits state-changed idle→syncing, started, state-changed syncing→idle, succeeded, and status() reports its times, result, counters, interval, next run, queue depth, unsent changes and executor kind", async () => {
    const h = await start({ executor: "process" }, () => ok());
    h.fake.unsent = 7;
    const r = await h.service.syncNow();
    await settle();
    assert.deepEqual(r, result());
    assert.deepEqual(h.events.map((e) => e.type), [
      "state-changed",
      "started",
      "state-changed",
      "succeeded",
    ]);
    const [started] = h.of("started");
    assert.deepEqual(started.reasons, ["manual"]);
    const [succeeded] = h.of("succeeded");
    assert.equal(succeeded.jobId, started.jobId);
    assert.deepEqual(succeeded.result, result());
    assert.equal(succeeded.durationMs, 0);
    assert.deepEqual(h.of("state-changed").map((e) => `${e.from}>${e.to}`), [
      "idle>syncing",
      "syncing>idle",
    ]);
    const s = h.service.status();
    assert.equal(s.state, "idle");
    assert.equal(s.executor, "process");
    assert.equal(s.lastSyncAt, UNIT_START);
    assert.equal(s.lastSuccessAt, UNIT_START);
    assert.deepEqual(s.lastResult, result());
    assert.equal(s.lastError, null);
    assert.equal(s.permanentReason, null);
    assert.equal(s.consecutiveErrors, 0);
    assert.equal(s.consecutiveEmptySyncs, 1);
    assert.equal(s.currentIntervalMs, 5000);
    assert.ok(s.nextRunAt! > UNIT_START && s.nextRunAt! <= UNIT_START + 5000, String(s.nextRunAt));
    assert.equal(s.queueDepth, 0);
    assert.equal(s.unsentChanges, 7);
  });

  it("a failed sync emits failed and retry-scheduled, the state goes offline (offline/timeout) or backing-off (others), and status() reports the error, counters, queue depth and the retry as next run", async () => {
    const h = await start(
      { polling: false, retry: { baseMs: 1000 } },
      (n) =>
        n === 1
          ? fail(offline())
          : fail(new SqliteSyncError("http", "Service Unavailable", { status: 503 })),
    );
    const err = await h.service.syncNow().then(() => undefined, (e: unknown) => e);
    assert.ok(err instanceof SqliteSyncError && err.kind === "offline", String(err));
    await settle();
    assert.deepEqual(h.events.map((e) => e.type), [
      "state-changed",
      "started",
      "state-changed",
      "failed",
      "retry-scheduled",
    ]);
    const [failed] = h.of("failed");
    assert.deepEqual(failed.error, { kind: "offline", message: offline().message });
    assert.equal(failed.permanent, null);
    const [retry] = h.of("retry-scheduled");
    assert.equal(retry.jobId, failed.jobId);
    assert.equal(retry.attempt, 2);
    let s = h.service.status();
    assert.equal(s.state, "offline");
    assert.deepEqual(s.lastError, { kind: "offline", message: offline().message });
    assert.equal(s.lastSyncAt, UNIT_START);
    assert.equal(s.lastSuccessAt, null);
    assert.equal(s.lastResult, null);
    assert.equal(s.consecutiveErrors, 1);
    assert.equal(s.queueDepth, 1);
    assert.equal(s.nextRunAt, retry.at);
    await advance(h.clock, retry.at - h.clock.now());
    s = h.service.status();
    assert.equal(h.fake.syncs.length, 2);
    assert.equal(s.state, "backing-off");
    assert.deepEqual(s.lastError, { kind: "http", message: "Service Unavailable", status: 503 });
    assert.equal(s.consecutiveErrors, 2);
  });

  it("a job that fails maxAttempts times is dead-lettered (max_attempts_exceeded) and leaves the queue", async () => {
    const h = await start(
      { polling: false, retry: { baseMs: 100, maxAttempts: 3 } },
      () => fail(offline()),
    );
    h.service.syncNow().catch(() => {});
    await advance(h.clock, 2000);
    assert.equal(h.fake.syncs.length, 3);
    assert.equal(h.of("retry-scheduled").length, 2);
    const dead = h.of("dead-lettered");
    assert.equal(dead.length, 1);
    assert.equal(dead[0].reason, "max_attempts_exceeded");
    assert.equal(h.service.status().queueDepth, 0);
    const letters = await h.withQueue((q) => q.deadLetters(10));
    assert.deepEqual(letters.map((j) => [j.id, j.deadReason, j.attempts]), [[
      dead[0].jobId,
      "max_attempts_exceeded",
      3,
    ]]);
  });

  it("stop() ends in state 'stopped' (state-changed emitted), closes the executor, and later syncNow() rejects with kind 'state'", async () => {
    const h = await start({}, () => ok());
    await h.service.stop();
    assert.equal(h.service.status().state, "stopped");
    assert.equal(h.service.status().nextRunAt, null);
    assert.deepEqual(h.of("state-changed").map((e) => e.to), ["stopped"]);
    assert.equal(h.fake.closes.length, 1);
    await assert.rejects(
      h.service.syncNow(),
      (e) => e instanceof SqliteSyncError && e.kind === "state",
    );
  });
});

describe("SyncService stop() with a sync in flight", () => {
  it("the cut-short job goes back to pending (release, not an attempt) and syncNow() rejects with 'interrupted'", async () => {
    const h = await start({ polling: false }, () => "hang");
    const p = h.service.syncNow().then(() => undefined, (e: unknown) => e);
    await settle();
    await h.service.stop({ graceMs: 10 });
    const err = await p;
    assert.ok(err instanceof SqliteSyncError && err.kind === "interrupted", String(err));
    const q = await h.withQueue((q) => ({ current: q.current(), runs: q.runs(1) }));
    assert.equal(q.current.pending?.id, 1);
    assert.equal(q.current.pending?.attempts, 0);
    assert.deepEqual(q.runs.map((r) => r.outcome), ["released"]);
    assert.equal(h.of("failed").length, 0);
  });
});
