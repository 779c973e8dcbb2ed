/**
 * The retry decision (retry.ts): the delay's exponential ceiling, cap and full
 * jitter, option validation, permanence, max attempts and dead letters, what
 * the queue records for a failure, and the daemon's start retry using it.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  deadLetterReason,
  failureDisposition,
  FailurePolicy,
  MAX_ATTEMPTS_EXCEEDED,
  nextRetry,
  receiveErrorOf,
  retryDelay,
} from "../../../src/scheduler/retry.ts";
import { DatabaseSlot, START_RETRY } from "../../../src/cli/_daemon_slot.ts";
import { Logger } from "../../../src/cli/_log.ts";
import type { SyncResult } from "../../../common/sync_result.ts";
import { seededRandom } from "./_seeded_random.ts";

const ALMOST_ONE = 1 - Number.EPSILON;

describe("retryDelay()", () => {
  it("retryDelay() never exceeds the cap and never goes below 0, for every attempt 0..30", () => {
    for (let attempt = 0; attempt <= 30; attempt++) {
      const ceiling = Math.min(300_000, 1000 * 2 ** attempt);
      assert.equal(retryDelay(attempt, { random: () => 0 }), 0, `attempt ${attempt}`);
      const top = retryDelay(attempt, { random: () => ALMOST_ONE });
      assert.ok(top <= ceiling && top <= 300_000, `attempt ${attempt}: ${top} > ${ceiling}`);
      assert.ok(top >= ceiling * 0.999, `attempt ${attempt}: ${top} far below ${ceiling}`);
    }
  });

  it("retryDelay() ceiling starts at baseMs and doubles per attempt until the cap", () => {
    const top = (attempt: number) => retryDelay(attempt, { random: () => 1 });
    assert.deepEqual(
      [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map(top),
      [1000, 2000, 4000, 8000, 16_000, 32_000, 64_000, 128_000, 256_000, 300_000, 300_000],
    );
  });

  it("retryDelay() honours baseMs, capMs and factor", () => {
    const opts = { baseMs: 500, capMs: 10_000, factor: 3, random: () => 1 };
    assert.deepEqual([0, 1, 2, 3, 4].map((a) => retryDelay(a, opts)), [
      500,
      1500,
      4500,
      10_000,
      10_000,
    ]);
    assert.equal(retryDelay(5, { baseMs: 250, capMs: 250, random: () => 1 }), 250);
    assert.equal(retryDelay(7, { factor: 1, random: () => 1 }), 1000);
  });

  it("retryDelay() with huge attempts gives the cap, never Infinity or NaN", () => {
    for (const attempt of [1024, 1_000_000, Number.MAX_SAFE_INTEGER]) {
      for (const factor of [1.5, 2, 1e10]) {
        const d = retryDelay(attempt, { factor, random: () => 1 });
        assert.equal(d, 300_000, `attempt ${attempt}, factor ${factor}`);
        assert.ok(Number.isFinite(retryDelay(attempt, { factor, random: () => 0.5 })));
      }
    }
  });

  it("retryDelay() spreads delays uniformly over [0, ceiling] (full jitter, seeded PRNG)", () => {
    const random = seededRandom(42);
    const n = 20_000;
    const ceiling = 8000; // attempt 3
    const buckets = new Array(10).fill(0);
    let sum = 0;
    let min = Infinity;
    let max = -Infinity;
    for (let i = 0; i < n; i++) {
      const d = retryDelay(3, { random });
      assert.ok(d >= 0 && d <= ceiling, String(d));
      sum += d;
      min = Math.min(min, d);
      max = Math.max(max, d);
      buckets[Math.min(9, Math.floor((d / ceiling) * 10))]++;
    }
    assert.ok(Math.abs(sum / n - ceiling / 2) < ceiling * 0.02, `mean ${sum / n}`);
    assert.ok(min < ceiling * 0.01 && max > ceiling * 0.99, `range ${min}..${max}`);
    for (const [i, count] of buckets.entries()) {
      assert.ok(Math.abs(count / n - 0.1) < 0.015, `decile ${i} holds ${count / n}`);
    }
  });

  it("retryDelay() rejects a bad attempt or option, naming it and its value", () => {
    const named = (name: string, value: string, type = RangeError) => (e: unknown) =>
      e instanceof type && e.message.includes(`'${name}'`) &&
      e.message.includes(`current value is ${value}`);
    assert.throws(() => retryDelay(-1), named("attempt", "-1"));
    assert.throws(() => retryDelay(1.5), named("attempt", "1.5"));
    assert.throws(() => retryDelay(NaN), named("attempt", "NaN"));
    assert.throws(() => retryDelay(0, { baseMs: 0 }), named("baseMs", "0"));
    assert.throws(() => retryDelay(0, { baseMs: Infinity }), named("baseMs", "Infinity"));
    assert.throws(() => retryDelay(0, { baseMs: 1000, capMs: 999 }), named("capMs", "999"));
    assert.throws(() => retryDelay(0, { factor: 0.5 }), named("factor", "0.5"));
    assert.throws(
      () => retryDelay(0, { random: 0.5 as unknown as () => number }),
      named("random", "0.5", TypeError),
    );
  });

  it("retryDelay() rejects a random() outside [0, 1]", () => {
    for (const r of [-0.1, 1.5, NaN]) {
      assert.throws(() => retryDelay(0, { random: () => r }), /'random\(\)' must return/);
    }
  });
});

function result(error?: string): SyncResult {
  return {
    send: { status: "synced", localVersion: 1, serverVersion: 1, chunks: 0, bytes: 0 },
    receive: { rows: 0, tables: [], chunks: 0, bytes: 0, complete: error === undefined, error },
  };
}

describe("FailurePolicy", () => {
  it("judge() retries transport failures: offline, timeout, http 503, busy", () => {
    const policy = new FailurePolicy();
    for (const kind of ["offline", "timeout", "http", "busy"] as const) {
      assert.deepEqual(
        policy.judge({ kind, message: "x", status: 503 }),
        { permanent: false },
        kind,
      );
    }
  });

  it("judge() makes auth permanent only when no token refresh is left", () => {
    const policy = new FailurePolicy();
    const failure = { kind: "auth" as const, message: "401", status: 401 };
    assert.deepEqual(policy.judge(failure, { canRefreshAuth: true }), { permanent: false });
    assert.deepEqual(policy.judge(failure, { canRefreshAuth: false }), {
      permanent: true,
      reason: "auth",
    });
  });

  it("judge() makes schema errors and an unknown schema hash permanent at once", () => {
    const policy = new FailurePolicy();
    assert.deepEqual(policy.judge({ kind: "schema", message: "pk" }), {
      permanent: true,
      reason: "schema",
    });
    assert.deepEqual(
      policy.judge({
        kind: "apply",
        message: "Cannot apply the received payload because the schema hash is unknown 42.",
      }),
      { permanent: true, reason: "unknown-schema-hash" },
    );
  });

  it("judgeResult() makes the same receive error on two consecutive syncs permanent", () => {
    const policy = new FailurePolicy();
    const error = "Error on cloudsync_payload_apply: UNIQUE constraint failed: t.email";
    assert.deepEqual(policy.judgeResult(result(error)), { permanent: false });
    assert.deepEqual(policy.judgeResult(result(error)), {
      permanent: true,
      reason: "receive-error-repeats",
    });
  });

  it("judgeResult() does not count a clean sync or a different error as a repeat", () => {
    const policy = new FailurePolicy();
    assert.deepEqual(policy.judgeResult(result("a")), { permanent: false });
    assert.deepEqual(policy.judgeResult(result()), { permanent: false });
    assert.deepEqual(policy.judgeResult(result("a")), { permanent: false });
    assert.deepEqual(policy.judgeResult(result("b")), { permanent: false });
    policy.reset();
    assert.deepEqual(policy.judgeResult(result("b")), { permanent: false });
  });

  it("judge() sees a repeating receive error inside a failure's partial result", () => {
    const policy = new FailurePolicy();
    const failure = { kind: "apply" as const, message: "m", partial: result("constraint") };
    assert.deepEqual(policy.judge(failure), { permanent: false });
    assert.deepEqual(policy.judge(failure), { permanent: true, reason: "receive-error-repeats" });
  });

  it("receiveErrorOf() ignores 1.1.4's transport marker 'receive failed'", () => {
    assert.equal(receiveErrorOf(result("receive failed")), undefined);
    assert.equal(receiveErrorOf(result("apply broke")), "apply broke");
  });
});

describe("nextRetry(), deadLetterReason() and failureDisposition()", () => {
  it("retryDelay() with jitter 'none' gives the ceiling itself and never calls random()", () => {
    const random = () => {
      throw new Error("random() called");
    };
    assert.deepEqual(
      [0, 1, 2, 10].map((a) => retryDelay(a, { jitter: "none", random })),
      [1000, 2000, 4000, 300_000],
    );
    assert.throws(
      () => retryDelay(0, { jitter: "some" as "none" }),
      (e: unknown) => e instanceof RangeError && e.message.includes("'jitter'"),
    );
  });

  it("nextRetry() waits up to baseMs after the first failure, rounded, and rejects failures < 1", () => {
    assert.equal(nextRetry(1, { random: () => 1 }), 1000);
    assert.equal(nextRetry(3, { random: () => 0.3333 }), 1333);
    assert.deepEqual(
      [1, 2, 3, 7, 8, 50].map((n) => nextRetry(n, { baseMs: 5000, jitter: "none" })),
      [5000, 10_000, 20_000, 300_000, 300_000, 300_000],
    );
    assert.throws(() => nextRetry(0), /'failures' must be a positive integer/);
  });

  it("deadLetterReason() dead-letters a job once its attempts reach maxAttempts, as max_attempts_exceeded", () => {
    assert.equal(MAX_ATTEMPTS_EXCEEDED, "max_attempts_exceeded");
    assert.equal(deadLetterReason(2, 3), undefined);
    assert.equal(deadLetterReason(3, 3), MAX_ATTEMPTS_EXCEEDED);
    assert.equal(deadLetterReason(4, 3), MAX_ATTEMPTS_EXCEEDED);
  });

  it("failureDisposition(): permanent → dead 'permanent:<reason>'; a refreshed token → now; else now + nextRetry(attempts)", () => {
    const policy = { baseMs: 1000, random: () => 0.5 };
    assert.deepEqual(
      failureDisposition({ permanent: true, reason: "unknown-schema-hash" }, {
        attempts: 1,
        now: 50,
        policy,
      }),
      { dead: "permanent:unknown-schema-hash" },
    );
    assert.deepEqual(
      failureDisposition({ permanent: false }, { attempts: 4, now: 50, refreshed: true, policy }),
      { retryAt: 50 },
    );
    assert.deepEqual(failureDisposition({ permanent: false }, { attempts: 3, now: 50, policy }), {
      retryAt: 50 + nextRetry(3, policy),
    });
    assert.deepEqual(failureDisposition({ permanent: false }, { attempts: 3, now: 50, policy }), {
      retryAt: 2050,
    });
  });
});

describe("the daemon's start retry", () => {
  it("a database whose service cannot start is retried after nextRetry(n, START_RETRY): 5 s, then 10 s", async () => {
    const lines: string[] = [];
    const slot = new DatabaseSlot({
      name: "broken",
      path: "/nonexistent/broken.db",
      databaseId: "", // refused by the service's option check, before anything is opened
      credentialSource: { kind: "apiKey", from: "file:/k" },
      credential: "secret",
      tables: [],
    }, { log: new Logger("info", (l) => lines.push(l)), stopGraceMs: 0 });
    try {
      await slot.started;
      // A syncNow() while the start failed starts it again at once (second failure).
      await slot.view.syncNow().catch(() => {});
      await slot.started;
      const failures = lines.map((l) => JSON.parse(l)).filter((l) =>
        l.event === "service.start-failed"
      );
      assert.deepEqual(failures.map((l) => [l.attempt, l.retryInMs]), [
        [1, nextRetry(1, START_RETRY)],
        [2, nextRetry(2, START_RETRY)],
      ]);
      assert.deepEqual(failures.map((l) => l.retryInMs), [5000, 10_000]);
      assert.deepEqual(START_RETRY, { baseMs: 5000, capMs: 300_000, jitter: "none" });
      assert.equal(slot.state, "start-failed");
    } finally {
      await slot.stop(0);
    }
  });
});
