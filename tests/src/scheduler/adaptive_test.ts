/**
 * Adaptive polling: upstream's sequences (idle ×1.5 after 5 empty syncs,
 * errors ×2 and winning, cap), resets on rows received, local changes sent
 * and local changes reported, jitter bounds per kind, and validation.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { AdaptivePolling } from "../../../src/scheduler/adaptive.ts";
import { seededRandom } from "./_seeded_random.ts";

const EMPTY = { rowsReceived: 0, localChanges: 0 };

describe("AdaptivePolling", () => {
  it("AdaptivePolling starts at upstream's 5000 ms base with no counts", () => {
    const p = new AdaptivePolling({ jitter: "none" });
    assert.equal(p.interval, 5000);
    assert.equal(p.nextDelay(), 5000);
    assert.equal(p.consecutiveEmpty, 0);
    assert.equal(p.consecutiveErrors, 0);
  });

  it("AdaptivePolling stays at the base for 4 empty syncs, reaches 7500 ms at the 5th, then ×1.5 each", () => {
    const p = new AdaptivePolling();
    const seen: number[] = [];
    for (let i = 0; i < 8; i++) {
      p.recordSuccess(EMPTY);
      seen.push(p.interval);
    }
    assert.deepEqual(seen, [5000, 5000, 5000, 5000, 7500, 11_250, 16_875, 25_312.5]);
    assert.equal(p.consecutiveEmpty, 8);
  });

  it("AdaptivePolling caps idle backoff at 300000 ms", () => {
    const p = new AdaptivePolling();
    for (let i = 0; i < 14; i++) p.recordSuccess(EMPTY); // 5000 × 1.5^10 ≈ 288325
    assert.ok(p.interval < 300_000 && p.interval > 288_000, String(p.interval));
    p.recordSuccess(EMPTY);
    assert.equal(p.interval, 300_000);
    for (let i = 0; i < 100_000; i++) p.recordSuccess(EMPTY);
    assert.equal(p.interval, 300_000);
  });

  it("AdaptivePolling doubles per error and caps 8 errors at 300000 ms", () => {
    const p = new AdaptivePolling();
    const seen: number[] = [];
    for (let i = 0; i < 8; i++) {
      p.recordError();
      seen.push(p.interval);
    }
    assert.deepEqual(seen, [10_000, 20_000, 40_000, 80_000, 160_000, 300_000, 300_000, 300_000]);
    assert.equal(p.consecutiveErrors, 8);
    for (let i = 0; i < 100_000; i++) p.recordError();
    assert.equal(p.interval, 300_000, "a huge error count overflowed");
  });

  it("AdaptivePolling lets errors win over empty syncs, and a success clears the errors", () => {
    const p = new AdaptivePolling();
    for (let i = 0; i < 6; i++) p.recordSuccess(EMPTY); // idle: 11250
    p.recordError();
    assert.equal(p.interval, 10_000);
    assert.equal(p.consecutiveEmpty, 6);
    p.recordSuccess(EMPTY);
    assert.equal(p.consecutiveErrors, 0);
    assert.equal(p.consecutiveEmpty, 7);
    assert.equal(p.interval, 16_875);
  });

  it("recordSuccess() with rows received resets to the base interval", () => {
    const p = new AdaptivePolling();
    for (let i = 0; i < 10; i++) p.recordSuccess(EMPTY);
    assert.ok(p.interval > 5000);
    p.recordSuccess({ rowsReceived: 1, localChanges: 0 });
    assert.equal(p.interval, 5000);
    assert.equal(p.consecutiveEmpty, 0);
  });

  it("recordSuccess() with local changes sent resets to the base interval, and clears errors", () => {
    const p = new AdaptivePolling();
    for (let i = 0; i < 10; i++) p.recordSuccess(EMPTY);
    p.recordError();
    p.recordSuccess({ localChanges: 3 });
    assert.equal(p.interval, 5000);
    assert.equal(p.consecutiveEmpty, 0);
    assert.equal(p.consecutiveErrors, 0);
  });

  it("recordSuccess() with no argument counts an empty sync", () => {
    const p = new AdaptivePolling();
    for (let i = 0; i < 5; i++) p.recordSuccess();
    assert.equal(p.interval, 7500);
  });

  it("recordLocalChange() resets idle backoff to the base interval", () => {
    const p = new AdaptivePolling();
    for (let i = 0; i < 10; i++) p.recordSuccess(EMPTY);
    p.recordLocalChange();
    assert.equal(p.interval, 5000);
    assert.equal(p.consecutiveEmpty, 0);
  });

  it("recordLocalChange() keeps the error backoff: a local write does not heal the server", () => {
    const p = new AdaptivePolling();
    p.recordError();
    p.recordError();
    p.recordLocalChange();
    assert.equal(p.interval, 20_000);
    assert.equal(p.consecutiveErrors, 2);
  });

  it("reset() clears empty syncs and errors", () => {
    const p = new AdaptivePolling();
    for (let i = 0; i < 7; i++) p.recordSuccess(EMPTY);
    p.recordError();
    p.reset();
    assert.equal(p.interval, 5000);
    assert.equal(p.consecutiveEmpty, 0);
    assert.equal(p.consecutiveErrors, 0);
  });

  it("AdaptivePolling honours custom base, cap, threshold and multipliers", () => {
    const p = new AdaptivePolling({
      baseIntervalMs: 1000,
      maxIntervalMs: 5000,
      emptyThreshold: 2,
      idleBackoffMultiplier: 2,
      errorBackoffMultiplier: 3,
    });
    p.recordSuccess(EMPTY);
    assert.equal(p.interval, 1000);
    p.recordSuccess(EMPTY);
    assert.equal(p.interval, 2000);
    p.recordSuccess(EMPTY);
    assert.equal(p.interval, 4000);
    p.recordSuccess(EMPTY);
    assert.equal(p.interval, 5000);
    p.recordError();
    assert.equal(p.interval, 3000);
  });
});

describe("AdaptivePolling.nextDelay()", () => {
  const states: [string, (p: AdaptivePolling) => void][] = [
    ["base", () => {}],
    ["idle", (p) => Array.from({ length: 7 }, () => p.recordSuccess(EMPTY))],
    ["errors", (p) => Array.from({ length: 3 }, () => p.recordError())],
    ["capped", (p) => Array.from({ length: 9 }, () => p.recordError())],
  ];

  it("nextDelay() with equal jitter (the default) stays in [interval / 2, interval]", () => {
    for (const [name, setup] of states) {
      const low = new AdaptivePolling({ random: () => 0 });
      const high = new AdaptivePolling({ random: () => 1 });
      setup(low);
      setup(high);
      assert.equal(low.nextDelay(), low.interval / 2, name);
      assert.equal(high.nextDelay(), high.interval, name);
      const seeded = new AdaptivePolling({ random: seededRandom(7) });
      setup(seeded);
      let sum = 0;
      for (let i = 0; i < 5000; i++) {
        const d = seeded.nextDelay();
        assert.ok(d >= seeded.interval / 2 && d <= seeded.interval, `${name}: ${d}`);
        sum += d;
      }
      const mean = sum / 5000;
      assert.ok(Math.abs(mean / seeded.interval - 0.75) < 0.01, `${name}: mean ${mean}`);
    }
  });

  it("nextDelay() with full jitter stays in [0, interval] and averages half of it", () => {
    for (const [name, setup] of states) {
      const low = new AdaptivePolling({ jitter: "full", random: () => 0 });
      const high = new AdaptivePolling({ jitter: "full", random: () => 1 });
      setup(low);
      setup(high);
      assert.equal(low.nextDelay(), 0, name);
      assert.equal(high.nextDelay(), high.interval, name);
      const seeded = new AdaptivePolling({ jitter: "full", random: seededRandom(11) });
      setup(seeded);
      let sum = 0;
      for (let i = 0; i < 5000; i++) {
        const d = seeded.nextDelay();
        assert.ok(d >= 0 && d <= seeded.interval, `${name}: ${d}`);
        sum += d;
      }
      assert.ok(Math.abs(sum / 5000 / seeded.interval - 0.5) < 0.02, name);
    }
  });

  it("nextDelay() with jitter none returns the interval without calling random()", () => {
    for (const [name, setup] of states) {
      const p = new AdaptivePolling({
        jitter: "none",
        random: () => assert.fail("random() called"),
      });
      setup(p);
      assert.equal(p.nextDelay(), p.interval, name);
    }
  });

  it("nextDelay() rejects a random() outside [0, 1]", () => {
    assert.throws(() => new AdaptivePolling({ random: () => 2 }).nextDelay(), RangeError);
  });
});

describe("AdaptivePolling validation", () => {
  it("AdaptivePolling rejects bad options, naming the option and value", () => {
    const cases: [Record<string, unknown>, string, string, ErrorConstructor][] = [
      [{ baseIntervalMs: 0 }, "baseIntervalMs", "0", RangeError],
      [{ baseIntervalMs: NaN }, "baseIntervalMs", "NaN", RangeError],
      [{ maxIntervalMs: 4999 }, "maxIntervalMs", "4999", RangeError],
      [{ emptyThreshold: 0 }, "emptyThreshold", "0", RangeError],
      [{ emptyThreshold: 2.5 }, "emptyThreshold", "2.5", RangeError],
      [{ idleBackoffMultiplier: 0.9 }, "idleBackoffMultiplier", "0.9", RangeError],
      [{ errorBackoffMultiplier: Infinity }, "errorBackoffMultiplier", "Infinity", RangeError],
      [{ jitter: "half" }, "jitter", "half", TypeError],
      [{ random: 1 }, "random", "1", TypeError],
    ];
    for (const [options, name, value, type] of cases) {
      assert.throws(
        () => new AdaptivePolling(options),
        (e) =>
          e instanceof type && e.message.includes(`'${name}'`) &&
          e.message.includes(`current value is ${value}`),
        name,
      );
    }
  });

  it("recordSuccess() rejects negative or fractional counts and leaves the state alone", () => {
    const p = new AdaptivePolling();
    for (let i = 0; i < 6; i++) p.recordSuccess(EMPTY);
    assert.throws(() => p.recordSuccess({ rowsReceived: -1 }), /'rowsReceived'.*-1/);
    assert.throws(() => p.recordSuccess({ localChanges: 0.5 }), /'localChanges'.*0\.5/);
    assert.equal(p.consecutiveEmpty, 6);
  });
});
