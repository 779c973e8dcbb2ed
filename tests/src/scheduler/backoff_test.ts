/**
 * Retry delays: the exponential ceiling and its cap, full jitter's bounds and
 * spread, huge attempts, and option validation.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { retryDelay } from "../../../src/scheduler/backoff.ts";
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
