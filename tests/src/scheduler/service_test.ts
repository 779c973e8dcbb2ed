/**
 * SyncService, scheduler unit tests: a fake executor (only its sync call is
 * faked) and a FakeClock drive the real service, runner, triggers and durable
 * queue file. Success-driven behaviour (adaptive polling, coalescing, cron,
 * backoff schedules, syncNow() results, events) can only be tested this way:
 * nothing here speaks the CloudSync protocol.
 */
import { afterEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { SqliteSyncError } from "../../../common/errors.ts";
import { startSyncService, type SyncServiceOptions } from "../../../src/scheduler/service.ts";
import { tempDir, testExtensionPath } from "../../_helpers.ts";
import { FakeClock } from "./_fake_clock.ts";
import { seededRandom } from "./_seeded_random.ts";
import {
  advance,
  type Harness,
  result,
  settle,
  startFake,
  type SyncBehaviour,
  UNIT_START,
} from "./_service_fake.ts";

const CANARY = "CANARY_3f9a1c_SECRET";
const offline = () => new SqliteSyncError("offline", "Failed to connect to 127.0.0.1 port 9");
const ok = (o: Parameters<typeof result>[0] = {}): SyncBehaviour => ({ ok: result(o) });
const fail = (e: SqliteSyncError): SyncBehaviour => ({ error: e });

let open: Harness[] = [];
afterEach(async () => {
  for (const h of open) await h.cleanup();
  open = [];
});

async function start(...args: Parameters<typeof startFake>): Promise<Harness> {
  const h = await startFake(...args);
  open.push(h);
  return h;
}

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

// ---- backoff -----------------------------------------------------------------------

describe("SyncService retries: exponential backoff with full jitter and a cap", () => {
  it("with random() = 1 the k-th retry waits exactly min(cap, base·2^k): 1000, 2000, 4000, 8000, then the 8000 cap", async () => {
    const h = await start(
      { polling: false, retry: { baseMs: 1000, capMs: 8000, maxAttempts: 20 } },
      () => fail(offline()),
      { random: () => 1 },
    );
    h.service.syncNow().catch(() => {});
    await settle();
    for (let k = 0; k < 6; k++) {
      const retries = h.of("retry-scheduled");
      assert.equal(retries.length, k + 1);
      await advance(h.clock, retries[k].at - h.clock.now(), 250);
    }
    const retries = h.of("retry-scheduled");
    const failures = h.of("failed");
    assert.deepEqual(
      retries.slice(0, 6).map((r, k) => r.at - failures[k].emittedAt),
      [1000, 2000, 4000, 8000, 8000, 8000],
    );
    // The retries ran when due, not earlier and not later.
    assert.deepEqual(
      h.fake.syncs.slice(1, 7).map((s) => s.at),
      retries.slice(0, 6).map((r) => r.at),
    );
  });

  it("with seeded randomness every retry is scheduled within [now, now + min(cap, base·2^k)], spread over the window, and runs when due", async () => {
    const h = await start(
      { polling: false, retry: { baseMs: 500, capMs: 20_000, maxAttempts: 40 } },
      () => fail(offline()),
      { random: seededRandom(42) },
    );
    h.service.syncNow().catch(() => {});
    await settle();
    for (let k = 0; k < 30; k++) {
      const retries = h.of("retry-scheduled");
      await advance(h.clock, retries[k].at - h.clock.now() + 1, 1000);
    }
    const retries = h.of("retry-scheduled");
    const failures = h.of("failed");
    assert.ok(retries.length >= 30);
    const fractions: number[] = [];
    for (let k = 0; k < 30; k++) {
      const ceiling = Math.min(20_000, 500 * 2 ** k);
      const wait = retries[k].at - failures[k].emittedAt;
      assert.ok(wait >= 0 && wait <= ceiling, `retry ${k}: waited ${wait}, ceiling ${ceiling}`);
      fractions.push(wait / ceiling);
      assert.equal(h.fake.syncs[k + 1].at, retries[k].at);
    }
    const capped = fractions.slice(6);
    assert.ok(Math.min(...capped) < 0.25 && Math.max(...capped) > 0.75, fractions.join(", "));
  });
});

// ---- cron ----------------------------------------------------------------------------

describe("SyncService cron trigger feeds the queue", () => {
  const syncAt = (h: Harness) => h.fake.syncs.map((s) => new Date(s.at).toISOString());

  it("'30 2 * * *' in Europe/Berlin across the spring-forward night: 01:30Z, then 01:00Z (02:30 does not exist, runs at 03:00 CEST), then 00:30Z; each a job with reason 'cron'", async () => {
    const clock = new FakeClock("2026-03-27T12:00:00Z");
    const h = await start({ cron: "30 2 * * *", timezone: "Europe/Berlin" }, () => ok(), {
      clock,
    });
    assert.equal(h.service.status().nextRunAt, Date.parse("2026-03-28T01:30:00Z"));
    await advance(clock, 3 * 86_400_000, 15 * 60_000);
    assert.deepEqual(syncAt(h), [
      "2026-03-28T01:30:00.000Z",
      "2026-03-29T01:00:00.000Z",
      "2026-03-30T00:30:00.000Z",
    ]);
    assert.deepEqual(h.of("started").map((e) => e.reasons), [["cron"], ["cron"], ["cron"]]);
    const history = await h.withQueue((q) => q.history(10));
    assert.deepEqual(history.map((j) => [j.state, j.reasons]), [
      ["succeeded", ["cron"]],
      ["succeeded", ["cron"]],
      ["succeeded", ["cron"]],
    ]);
  });

  it("'30 2 * * *' in Europe/Berlin across the fall-back night runs once at the earlier 02:30 (00:30Z), then 01:30Z", async () => {
    const clock = new FakeClock("2026-10-24T12:00:00Z");
    const h = await start({ cron: "30 2 * * *", timezone: "Europe/Berlin" }, () => ok(), {
      clock,
    });
    await advance(clock, 2 * 86_400_000, 15 * 60_000);
    assert.deepEqual(syncAt(h), ["2026-10-25T00:30:00.000Z", "2026-10-26T01:30:00.000Z"]);
  });

  it("a 6-field cron every 10 s with a sync lasting 25 s coalesces the runs it overlaps into one follow-up job (never two syncs at once)", async () => {
    const h = await start({ cron: "*/10 * * * * *", polling: false }, () => "hang");
    await advance(h.clock, 10_000, 1000);
    assert.equal(h.fake.syncs.length, 1);
    await advance(h.clock, 25_000, 1000); // cron fires at 20, 30: merge into one pending job
    assert.equal(h.fake.syncs.length, 1);
    assert.equal(h.service.status().queueDepth, 2);
    h.fake.release({ ok: result() });
    await settle();
    assert.equal(h.fake.syncs.length, 2);
    const pending = await h.withQueue((q) => q.current());
    assert.equal(pending.running?.requests, 2);
  });
});

// ---- adaptive polling and coalescing ----------------------------------------------------

describe("SyncService adaptive polling", () => {
  it("polls at the 5 s base (full jitter: each delay in [0, interval]), slows ×1.5 after 5 empty syncs up to the max, and resets to the base when rows are received", async () => {
    let rows = 0;
    const h = await start({}, () => ok({ rows }), { random: seededRandom(3) });
    h.service.syncNow();
    await settle();
    const intervals: number[] = [];
    for (let i = 0; i < 12; i++) {
      intervals.push(h.service.status().currentIntervalMs!);
      const before = h.fake.syncs.length;
      const at = h.service.status().nextRunAt!;
      assert.ok(
        at - h.clock.now() <= intervals[i],
        `delay ${at - h.clock.now()} > ${intervals[i]}`,
      );
      await advance(h.clock, at - h.clock.now(), 1000);
      assert.equal(h.fake.syncs.length, before + 1, `poll ${i} did not sync`);
    }
    assert.deepEqual(intervals.slice(0, 8), [5000, 5000, 5000, 5000, 7500, 11250, 16875, 25312.5]);
    assert.deepEqual(h.of("started").slice(1).map((e) => e.reasons), Array(12).fill(["adaptive"]));
    rows = 3;
    await advance(h.clock, h.service.status().nextRunAt! - h.clock.now(), 1000);
    assert.equal(h.service.status().currentIntervalMs, 5000);
    assert.equal(h.service.status().consecutiveEmptySyncs, 0);
  });

  it("caps at maxIntervalMs and doubles per error in a row", async () => {
    const h = await start(
      { polling: { maxIntervalMs: 60_000 }, retry: { baseMs: 1, capMs: 1, maxAttempts: 1000 } },
      (n) => (n <= 20 ? ok() : fail(offline())),
    );
    h.service.syncNow();
    await settle();
    for (let i = 0; i < 19; i++) {
      await advance(h.clock, h.service.status().nextRunAt! - h.clock.now(), 5000);
    }
    assert.equal(h.fake.syncs.length, 20);
    assert.equal(h.service.status().currentIntervalMs, 60_000);
    h.service.syncNow().catch(() => {});
    await settle();
    assert.equal(h.service.status().consecutiveErrors, 1);
    assert.equal(h.service.status().currentIntervalMs, 10_000);
  });

  it("a local change (another connection's commit) resets the interval to the base", async () => {
    const h = await start({ changeDebounceMs: 1000 }, () => ok());
    h.service.syncNow();
    await settle();
    for (let i = 0; i < 8; i++) {
      await advance(h.clock, h.service.status().nextRunAt! - h.clock.now(), 1000);
    }
    assert.ok(h.service.status().currentIntervalMs! > 5000);
    h.fake.commitElsewhere();
    assert.equal(h.service.status().currentIntervalMs, 5000);
  });
});

describe("SyncService change trigger and coalescing", () => {
  it("a local change starts a sync with reason 'change' exactly the debounce window after it", async () => {
    const h = await start({ changeDebounceMs: 1000, polling: false }, () => ok());
    await advance(h.clock, 300);
    const at = h.clock.now();
    h.fake.commitElsewhere();
    await advance(h.clock, 999, 1);
    assert.equal(h.fake.syncs.length, 0);
    await advance(h.clock, 1, 1);
    assert.deepEqual(h.fake.syncs.map((s) => s.at), [at + 1000]);
    assert.deepEqual(h.of("started")[0].reasons, ["change"]);
  });

  it("10,000 local changes in 1 s (a sync of 300 ms running meanwhile) make at most 2 syncs, the last starting after the last change, and the queue file stays under 1 MB", async () => {
    const h = await start({ changeDebounceMs: 1000, polling: false }, () => "hang");
    const changedAt: number[] = [];
    for (let i = 0; i < 10_000; i++) {
      h.fake.commitElsewhere();
      changedAt.push(h.clock.now());
      h.clock.advance(0.1);
      if (h.fake.hanging.length > 0 && h.clock.now() - h.fake.syncs.at(-1)!.at >= 300) {
        h.fake.release({ ok: result({ chunks: 1 }) });
      }
      if (i % 500 === 0) await settle(1);
    }
    for (let i = 0; i < 200; i++) {
      if (h.fake.hanging.length > 0) h.fake.release({ ok: result({ chunks: 1 }) });
      await advance(h.clock, 100, 100);
    }
    const syncs = h.fake.syncs.map((s) => s.at);
    assert.ok(syncs.length >= 1 && syncs.length <= 2, `${syncs.length} syncs`);
    assert.ok(syncs.at(-1)! > changedAt.at(-1)!, "the last change has no sync after it");
    const files = [h.queuePath, `${h.queuePath}-wal`].filter(existsSync);
    const bytes = files.reduce((n, f) => n + statSync(f).size, 0);
    assert.ok(bytes < 1_000_000, `queue files take ${bytes} bytes`);
  });

  it("triggers that arrive while a sync runs merge into one follow-up job; syncNow() joins the running job and resolves with its result", async () => {
    const h = await start({ intervalMs: 1000, changeDebounceMs: 0 }, () => "hang");
    const first = h.service.syncNow();
    await settle();
    const joined = h.service.syncNow();
    await advance(h.clock, 5000, 1000); // 5 interval runs while the first sync hangs
    h.fake.commitElsewhere();
    await advance(h.clock, 10, 10);
    assert.equal(h.fake.syncs.length, 1);
    const queue = await h.withQueue((q) => q.current());
    assert.deepEqual(queue.running?.reasons, ["manual"]);
    assert.deepEqual(queue.pending?.reasons, ["change", "interval"]);
    assert.equal(queue.pending?.requests, 6);
    const r = result({ rows: 2 });
    h.fake.release({ ok: r });
    assert.equal(await first, r);
    assert.equal(await joined, r);
    await settle();
    assert.equal(h.fake.syncs.length, 2);
  });

  it("syncNow() joins a pending job (merging into it) and returns that job's typed error when it fails", async () => {
    const h = await start(
      { polling: false, retry: { baseMs: 60_000 } },
      (n) =>
        n === 1
          ? fail(offline())
          : fail(new SqliteSyncError("http", "Bad Gateway", { status: 502 })),
    );
    h.service.syncNow().catch(() => {});
    await settle();
    const pending = await h.withQueue((q) => q.current().pending);
    const err = await h.service.syncNow().then(() => undefined, (e: unknown) => e);
    assert.ok(err instanceof SqliteSyncError, String(err));
    assert.equal(err.kind, "http");
    assert.equal(err.status, 502);
    assert.equal(h.fake.syncs.length, 2, "syncNow() did not skip the 60 s backoff");
    const history = await h.withQueue((q) => q.current().pending);
    assert.equal(history?.id, pending?.id, "a second job was created");
  });
});

// ---- permanent errors ----------------------------------------------------------------

describe("SyncService permanent errors stop retrying", () => {
  const authError = () => new SqliteSyncError("auth", "Unauthorized", { status: 401 });

  async function assertPermanent(h: Harness, reason: string): Promise<void> {
    const s = h.service.status();
    assert.equal(s.state, "failed");
    assert.equal(s.permanentReason, reason);
    const failed = h.of("failed").at(-1)!;
    assert.equal(failed.permanent, reason);
    assert.equal(h.of("dead-lettered").at(-1)!.reason, `permanent:${reason}`);
    const letters = await h.withQueue((q) => q.deadLetters(1));
    assert.equal(letters[0].deadReason, `permanent:${reason}`);
    assert.equal(s.queueDepth, 0);
  }

  it("auth with an API key: permanent at the first 401, no retry scheduled; local changes and intervals no longer sync", async () => {
    const h = await start(
      { intervalMs: 1000, changeDebounceMs: 100, polling: false },
      () => fail(authError()),
    );
    await h.service.syncNow().catch(() => {});
    await settle();
    await assertPermanent(h, "auth");
    assert.equal(h.of("retry-scheduled").length, 0);
    h.fake.commitElsewhere();
    await advance(h.clock, 60_000, 1000);
    assert.equal(h.fake.syncs.length, 1);
  });

  it("a follow-up requested while the failing sync ran waits for the probe: no second request right after a permanent error", async () => {
    const h = await start({ intervalMs: 1000, polling: false }, () => "hang");
    h.service.syncNow().catch(() => {});
    await advance(h.clock, 3000, 500); // interval requests while the sync hangs: a follow-up job
    assert.equal(h.service.status().queueDepth, 2);
    h.fake.release({ error: authError() });
    await advance(h.clock, 60_000, 1000);
    assert.equal(h.fake.syncs.length, 1);
    assert.equal(h.service.status().state, "failed");
    await advance(h.clock, 300_000, 10_000); // the probe runs the waiting job
    assert.equal(h.fake.syncs.length, 2);
    assert.deepEqual(h.of("started")[1].reasons, ["interval", "probe"]);
  });

  it("auth with getToken: getToken is called before the first sync, once after the first 401 (the retry runs at once with the new token), and the second 401 is permanent", async () => {
    let calls = 0;
    const h = await start(
      { apiKey: undefined, getToken: () => `opaque-token-${++calls}` },
      () => fail(authError()),
    );
    assert.equal(calls, 1, "getToken was not called before the first sync");
    assert.equal(h.fake.inits[0].token, "opaque-token-1");
    const t0 = h.clock.now();
    await h.service.syncNow().catch(() => {});
    await advance(h.clock, 0);
    assert.equal(calls, 2);
    assert.deepEqual(h.fake.syncs.map((s) => [s.at, s.options.token]), [
      [t0, undefined],
      [t0, "opaque-token-2"],
    ]);
    await assertPermanent(h, "auth");
    await advance(h.clock, 60_000, 5000);
    assert.equal(calls, 2);
    assert.equal(h.fake.syncs.length, 2);
  });

  it("getToken with a JWT is called again before its exp (60 s margin), not before; the next sync carries the new token", async () => {
    const jwt = (expMs: number, n: number) =>
      `e30.${btoa(JSON.stringify({ exp: expMs / 1000, n })).replaceAll("=", "")}.sig`;
    const tokens: string[] = [];
    const h = await start({
      apiKey: undefined,
      getToken: () => {
        const t = jwt(UNIT_START + (tokens.length + 1) * 600_000, tokens.length);
        tokens.push(t);
        return t;
      },
      intervalMs: 60_000,
      polling: false,
    }, () => ok());
    assert.equal(tokens.length, 1);
    await advance(h.clock, 8 * 60_000, 10_000);
    assert.equal(tokens.length, 1, "refreshed too early");
    assert.ok(h.fake.syncs.every((s) => s.options.token === undefined));
    await advance(h.clock, 60_000, 10_000); // the sync at 9:00 is within 60 s of exp 10:00
    assert.equal(tokens.length, 2);
    assert.equal(h.fake.syncs.at(-1)!.at, UNIT_START + 9 * 60_000);
    assert.equal(h.fake.syncs.at(-1)!.options.token, tokens[1]);
  });

  it("schema: permanent at once", async () => {
    const h = await start(
      { polling: false },
      () => fail(new SqliteSyncError("schema", "table notes has no primary key")),
    );
    await h.service.syncNow().catch(() => {});
    await settle();
    await assertPermanent(h, "schema");
    assert.equal(h.of("retry-scheduled").length, 0);
  });

  it("an unknown schema hash in the receive phase: permanent at once", async () => {
    const h = await start(
      { polling: false },
      () => ok({ receiveError: "cloudsync_payload_apply: schema hash is unknown (0x1234)" }),
    );
    const err = await h.service.syncNow().then(() => undefined, (e: unknown) => e);
    assert.ok(err instanceof SqliteSyncError && err.kind === "apply", String(err));
    await settle();
    await assertPermanent(h, "unknown-schema-hash");
  });

  it("the same receive.error on two syncs in a row: the first is retried, the second is permanent; a different error in between is not", async () => {
    const errors = [
      "UNIQUE constraint failed: notes.x",
      "NOT NULL constraint failed",
      "NOT NULL constraint failed",
    ];
    const h = await start(
      { polling: false, retry: { baseMs: 10, capMs: 10 } },
      (n) => ok({ receiveError: errors[Math.min(n, 3) - 1] }),
    );
    h.service.syncNow().catch(() => {});
    await advance(h.clock, 100, 5);
    assert.equal(h.fake.syncs.length, 3);
    assert.equal(h.of("retry-scheduled").length, 2);
    await assertPermanent(h, "receive-error-repeats");
  });

  it("while failed: at most one probe per maximum polling interval (300 s), and syncNow() retries at once and resolves with the result", async () => {
    let healthy = false;
    const h = await start({ intervalMs: 1000 }, () => (healthy ? ok() : fail(authError())));
    await h.service.syncNow().catch(() => {});
    await settle();
    const failedAt = h.clock.now();
    await advance(h.clock, 3 * 300_000 + 1000, 10_000);
    assert.deepEqual(
      h.fake.syncs.slice(1).map((s) => s.at - failedAt),
      [300_000, 600_000, 900_000],
    );
    assert.deepEqual(h.of("started").slice(1).map((e) => e.reasons), [["probe"], ["probe"], [
      "probe",
    ]]);
    healthy = true;
    const before = h.fake.syncs.length;
    const at = h.clock.now();
    const r = await h.service.syncNow();
    assert.deepEqual(r, result());
    assert.equal(h.fake.syncs.length, before + 1);
    assert.equal(h.fake.syncs.at(-1)!.at, at);
    assert.equal(h.service.status().state, "idle");
    assert.equal(h.service.status().permanentReason, null);
  });

  it("setCredentials() with a new API key after a permanent auth error starts a fresh executor with it and retries at once", async () => {
    const h = await start({ polling: false }, () => fail(authError()));
    await h.service.syncNow().catch(() => {});
    await settle();
    assert.equal(h.service.status().state, "failed");
    const first = h.fake;
    const at = h.clock.now();
    await h.service.setCredentials({ apiKey: "sqa_NEWKEY_0123456789" });
    await settle();
    assert.equal(h.executors.length, 2);
    assert.equal(first.closes.length, 1);
    assert.equal(h.fake.inits[0].apiKey, "sqa_NEWKEY_0123456789");
    assert.deepEqual(h.fake.syncs.map((s) => s.at), [at]);
  });

  it("setCredentials() with a new token (token auth) sets it on the executor and retries at once", async () => {
    const h = await start(
      { apiKey: undefined, token: "tok-1", polling: false },
      (n) => n === 1 ? fail(authError()) : ok(),
    );
    await h.service.syncNow().catch(() => {});
    await settle();
    assert.equal(h.service.status().state, "failed");
    await h.service.setCredentials({ token: "tok-2" });
    await settle();
    assert.deepEqual(h.fake.tokens, ["tok-2"]);
    assert.equal(h.fake.syncs.length, 2);
    assert.equal(h.service.status().state, "idle");
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

// ---- what status() says about the service, the queue and the attempts ---------------------

describe("SyncService status(): identity, schedule and backlog", () => {
  it("status() reports the databaseId, the address (the option, else the extension's https://cloudsync.sqlite.ai) and the schedule as resolved: cron with its time zone (null: the host's), interval, adaptive base and max, or none", async () => {
    const cases: [Partial<SyncServiceOptions>, unknown, string][] = [
      [{}, { kind: "adaptive", baseMs: 5000, maxMs: 300_000 }, "https://cloudsync.sqlite.ai"],
      [
        { polling: { baseIntervalMs: 2000, maxIntervalMs: 60_000 } },
        { kind: "adaptive", baseMs: 2000, maxMs: 60_000 },
        "https://cloudsync.sqlite.ai",
      ],
      [
        { cron: "0 * * * *", timezone: "Europe/Berlin", address: "https://db.example.com" },
        { kind: "cron", cron: "0 * * * *", timezone: "Europe/Berlin" },
        "https://db.example.com",
      ],
      [{ cron: "*/5 * * * *" }, { kind: "cron", cron: "*/5 * * * *", timezone: null }, ""],
      [{ intervalMs: 60_000 }, { kind: "interval", intervalMs: 60_000 }, ""],
      [{ polling: false }, { kind: "none" }, ""],
    ];
    for (const [options, schedule, address] of cases) {
      const h = await start(options, () => ok());
      const s = h.service.status();
      assert.equal(s.databaseId, "unit-db");
      assert.deepEqual(s.schedule, schedule, JSON.stringify(options));
      if (address) assert.equal(s.address, address);
      await h.cleanup();
    }
  });

  it("status().oldestJobAt is when the oldest pending or running job was first requested: null when idle, the running job's request time while a follow-up waits, then the follow-up's, then null", async () => {
    const h = await start({ polling: false }, () => "hang");
    assert.equal(h.service.status().oldestJobAt, null);
    const first = h.service.syncNow();
    await settle();
    const firstAt = h.clock.now();
    await advance(h.clock, 5000, 1000);
    const second = h.service.syncNow().catch(() => {}); // joins the running job
    h.fake.commitElsewhere(); // no change trigger: nothing queued
    assert.equal(h.service.status().oldestJobAt, firstAt);
    h.fake.release({ ok: result() });
    await first;
    await second;
    assert.equal(h.service.status().oldestJobAt, null);
    // A follow-up requested while a sync runs: its own request time once the first is done.
    const third = h.service.syncNow();
    await settle();
    await advance(h.clock, 2000, 1000);
    const followUpAt = h.clock.now();
    await h.withQueue((q) => q.request("cron", { now: followUpAt }));
    assert.equal(h.service.status().oldestJobAt, followUpAt - 2000);
    assert.equal(h.service.status().queueDepth, 2);
    h.fake.release({ ok: result() });
    await third;
    await settle();
    assert.equal(h.service.status().oldestJobAt, followUpAt);
    h.fake.release({ ok: result() });
    await settle();
    assert.equal(h.service.status().oldestJobAt, null);
  });
});

describe("SyncService attempts() and totals.attempts", () => {
  const http503 = () => new SqliteSyncError("http", "server answered 503 paused", { status: 503 });
  const auth401 = () =>
    new SqliteSyncError("auth", "server answered 401 unauthorized", { status: 401 });
  const crashed = () => new SqliteSyncError("interrupted", "the executor's Worker died");

  it("every run becomes an attempt, oldest first: success (rows moved), empty, retry with its error and status, interrupted (executor died; the job ran again at once), running; then dead-letter (a permanent 401); totals.attempts counts the finished ones of this service", async () => {
    const plan: SyncBehaviour[] = [
      ok({ rows: 2 }),
      ok(),
      fail(http503()),
      fail(crashed()),
      "hang",
    ];
    const h = await start(
      { polling: false, retry: { baseMs: 100, capMs: 100 } },
      (n) => plan[n - 1],
      { random: () => 1 },
    );
    const t0 = h.clock.now();
    await h.service.syncNow();
    await advance(h.clock, 1000, 1000);
    await h.service.syncNow();
    await advance(h.clock, 1000, 1000);
    h.service.syncNow().catch(() => {});
    await settle();
    const retryAt = h.of("retry-scheduled")[0].at;
    await advance(h.clock, retryAt - h.clock.now(), 100); // the retry: its executor dies, it runs again
    await settle();
    assert.equal(h.fake.syncs.length, 5);
    let attempts = h.service.attempts();
    assert.deepEqual(attempts.map((a) => [a.jobId, a.startedAt - t0, a.outcome]), [
      [1, 0, "success"],
      [2, 1000, "empty"],
      [3, 2000, "retry"],
      [3, retryAt - t0, "interrupted"],
      [3, retryAt - t0, "running"],
    ]);
    assert.deepEqual(
      attempts.map((a) => [a.finishedAt === null ? null : a.finishedAt - t0, a.rowsReceived]),
      [[0, 2], [1000, 0], [2000, 0], [retryAt - t0, 0], [null, 0]],
    );
    assert.deepEqual(attempts.map((a) => a.chunksSent), [0, 0, 0, 0, 0]);
    assert.deepEqual(attempts.map((a) => a.error), [
      null,
      null,
      { kind: "http", message: "server answered 503 paused", status: 503 },
      { kind: "interrupted", message: "the executor's Worker died" },
      null,
    ]);
    h.fake.release({ error: auth401() });
    await settle();
    attempts = h.service.attempts();
    assert.deepEqual(attempts.at(-1), {
      jobId: 3,
      startedAt: retryAt,
      finishedAt: retryAt,
      outcome: "dead-letter",
      chunksSent: 0,
      rowsReceived: 0,
      error: { kind: "auth", message: "server answered 401 unauthorized", status: 401 },
    });
    assert.deepEqual(h.service.status().totals.attempts, {
      success: 1,
      empty: 1,
      retry: 1,
      "dead-letter": 1,
      interrupted: 1,
    });
  });

  it("a sync that only sent changes (chunks, no rows received) is a success, not empty", async () => {
    const h = await start({ polling: false }, () => ok({ chunks: 1 }));
    await h.service.syncNow();
    assert.deepEqual(h.service.attempts().map((a) => a.outcome), ["success"]);
    assert.equal(h.service.status().totals.attempts.success, 1);
  });

  it("a sync cut short by stop() is counted interrupted, and its run records why", async () => {
    const h = await start({ polling: false }, () => "hang");
    const cut = h.service.syncNow().catch(() => {});
    await settle();
    await h.service.stop({ graceMs: 0 });
    await cut;
    assert.equal(h.service.status().totals.attempts.interrupted, 1);
    assert.deepEqual(h.service.attempts(), [], "empty after stop()");
    const runs = await h.withQueue((q) => q.runs(1));
    assert.deepEqual(runs.map((r) => [r.outcome, r.error?.kind]), [["released", "interrupted"]]);
  });

  it("attempts() reads since 24 h before the service's clock by default, keeps the newest `limit`, and refuses a bad since or limit with a RangeError naming it and its value", async () => {
    const h = await start({ polling: false }, () => ok());
    const t0 = h.clock.now();
    await h.service.syncNow();
    await advance(h.clock, 2 * 3_600_000, 3_600_000);
    await h.service.syncNow();
    await advance(h.clock, 23 * 3_600_000, 3_600_000);
    await h.service.syncNow();
    const starts = (o?: Parameters<typeof h.service.attempts>[0]) =>
      h.service.attempts(o).map((a) => (a.startedAt - t0) / 3_600_000);
    assert.deepEqual(starts(), [2, 25]);
    assert.deepEqual(starts({ since: t0 }), [0, 2, 25]);
    assert.deepEqual(starts({ since: t0, limit: 2 }), [2, 25]);
    assert.deepEqual(starts({ since: t0 + 25 * 3_600_000 + 1 }), []);
    for (
      const [options, pattern] of [
        [{ limit: 0 }, /'limit' must be an integer from 1 to 5000: current value is 0/],
        [{ limit: 5001 }, /'limit'.*5001/],
        [{ limit: 1.5 }, /'limit'.*1\.5/],
        [{ limit: "10" }, /'limit'.*10/],
        [{ since: NaN }, /'since' must be a time.*NaN/],
        [{ since: "yesterday" }, /'since'.*yesterday/],
      ] as const
    ) {
      assert.throws(
        () => h.service.attempts(options as never),
        (e) => e instanceof RangeError && pattern.test(e.message),
        JSON.stringify(options),
      );
    }
    assert.equal(h.service.attempts({ limit: 5000 }).length, 2);
  });

  it("status().lastError and the failed event keep the whole redacted message (5,000 characters, once), the attempt's error its first 1,000", async () => {
    const long = `server answered 503 ${"paused ".repeat(700)}end`;
    const h = await start(
      { polling: false, retry: { baseMs: 60_000 } },
      () => fail(new SqliteSyncError("http", long, { status: 503 })),
    );
    const err = await h.service.syncNow().then(() => undefined, (e: unknown) => e);
    assert.ok(err instanceof SqliteSyncError);
    assert.ok(long.length > 4900);
    assert.deepEqual(h.service.status().lastError, { kind: "http", message: long, status: 503 });
    assert.equal(h.of("failed")[0].error.message, long);
    assert.equal(err.message, long);
    const [attempt] = h.service.attempts();
    assert.equal(attempt.error?.message, long.slice(0, 1000));
    assert.equal(attempt.error?.status, 503);
  });
});

describe("SyncService status().nextRunAt is when the next sync really starts", () => {
  const authError = () => new SqliteSyncError("auth", "Unauthorized", { status: 401 });

  it("while failed (a permanent 401) with an interval every second and a change trigger, nextRunAt is the probe's time (300 s on), not the interval's: nothing starts before it, the probe starts exactly at it, and the next nextRunAt is again the next probe", async () => {
    const h = await start(
      { intervalMs: 1000, changeDebounceMs: 100, polling: false },
      () => fail(authError()),
    );
    await h.service.syncNow().catch(() => {});
    await settle();
    const failedAt = h.clock.now();
    assert.equal(h.service.status().state, "failed");
    const next = h.service.status().nextRunAt!;
    assert.equal(next, failedAt + 300_000);
    h.fake.commitElsewhere();
    await advance(h.clock, next - 1 - h.clock.now(), 10_000);
    assert.equal(h.fake.syncs.length, 1, "a sync started before nextRunAt");
    assert.equal(h.service.status().nextRunAt, next);
    await advance(h.clock, 1, 1);
    assert.deepEqual(h.fake.syncs.map((s) => s.at), [failedAt, next]);
    assert.deepEqual(h.of("started")[1].reasons, ["probe"]);
    assert.equal(h.service.status().nextRunAt, next + 300_000);
  });

  it("listeners of the failing sync's events (state-changed, failed, dead-lettered) already see the probe as nextRunAt", async () => {
    const h = await start({ polling: false }, () => fail(authError()));
    const seen: [string, number | null][] = [];
    for (const type of ["state-changed", "failed", "dead-lettered"] as const) {
      h.service.on(type, () => seen.push([type, h.service.status().nextRunAt]));
    }
    const at = h.clock.now();
    await h.service.syncNow().catch(() => {});
    assert.deepEqual(seen, [
      ["state-changed", null], // idle → syncing: nothing else is scheduled
      ["state-changed", at + 300_000],
      ["failed", at + 300_000],
      ["dead-lettered", at + 300_000],
    ]);
  });

  it("while backing off, nextRunAt is the retry's time even though the interval fires sooner: triggers merge into the waiting job, which starts at the retry time; then the interval's next tick", async () => {
    const h = await start(
      { intervalMs: 1000, polling: false, retry: { baseMs: 20_500, capMs: 20_500 } },
      (n) => (n === 1 ? fail(offline()) : ok()),
      { random: () => 1 },
    );
    const t0 = h.clock.now();
    await h.service.syncNow().catch(() => {});
    await settle();
    const retry = h.of("retry-scheduled")[0];
    assert.equal(retry.at, t0 + 20_500);
    assert.equal(h.service.status().nextRunAt, retry.at);
    await advance(h.clock, retry.at - 1 - h.clock.now(), 1000);
    assert.equal(h.fake.syncs.length, 1, "the interval started a sync during the back-off");
    assert.equal(h.service.status().nextRunAt, retry.at);
    await advance(h.clock, 1, 1);
    assert.deepEqual(h.fake.syncs.map((s) => s.at), [t0, retry.at]);
    assert.equal(h.service.status().state, "idle");
    assert.equal(h.service.status().nextRunAt, t0 + 21_000);
    await advance(h.clock, 500, 100);
    assert.deepEqual(h.fake.syncs.map((s) => s.at), [t0, retry.at, t0 + 21_000]);
  });
});
