/**
 * SyncService, scheduler unit tests of what status() and attempts() say about
 * the service, its queue and its attempts: identity, schedule, backlog, every
 * run as an attempt, and the totals. A fake executor (only its sync call is
 * faked) and a FakeClock drive the real service, runner, triggers and durable
 * queue file.
 */
import { afterEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { SqliteSyncError } from "../../../common/errors.ts";
import type { SyncServiceOptions } from "../../../src/scheduler/service.ts";
import {
  advance,
  fail,
  ok,
  result,
  settle,
  start,
  stopStarted,
  type SyncBehaviour,
} from "./_service_fake.ts";

afterEach(stopStarted);

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
