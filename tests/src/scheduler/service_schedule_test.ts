/**
 * SyncService, scheduler unit tests of when syncs run: retries (exponential
 * backoff with full jitter and a cap), the cron trigger, adaptive polling, the
 * change trigger and coalescing, and status().nextRunAt. A fake executor (only
 * its sync call is faked) and a FakeClock drive the real service, runner,
 * triggers and durable queue file.
 */
import { afterEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync, statSync } from "node:fs";
import { SqliteSyncError } from "../../../common/errors.ts";
import { FakeClock } from "./_fake_clock.ts";
import { seededRandom } from "./_seeded_random.ts";
import {
  advance,
  fail,
  type Harness,
  offline,
  ok,
  result,
  settle,
  start,
  stopStarted,
} from "./_service_fake.ts";

afterEach(stopStarted);

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
