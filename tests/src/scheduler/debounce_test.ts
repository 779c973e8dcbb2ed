/**
 * The change trigger on a fake clock: latency of a single change, a storm of
 * 10,000 notifications, maxWaitMs for continuous storms, quiet windows,
 * notifications during a fire, flush, stop, a wall clock set back, and
 * validation.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { debounce } from "../../../src/scheduler/debounce.ts";
import { FakeClock } from "./_fake_clock.ts";

function recorder(clock: FakeClock): { times: number[]; onFire: (r: "change") => void } {
  const times: number[] = [];
  return {
    times,
    onFire: (reason) => {
      assert.equal(reason, "change");
      times.push(clock.now());
    },
  };
}

describe("debounce()", () => {
  it("debounce() fires a single change at exactly windowMs", () => {
    const clock = new FakeClock(5000);
    const fired = recorder(clock);
    const d = debounce(1000, { clock }, fired.onFire);
    d.notify();
    assert.equal(d.pending, true);
    assert.equal(d.nextRunAt(), 6000);
    clock.advance(999);
    assert.deepEqual(fired.times, []);
    clock.advance(1);
    assert.deepEqual(fired.times, [6000]);
    assert.equal(d.pending, false);
    assert.equal(d.nextRunAt(), null);
    clock.advance(10_000);
    assert.equal(fired.times.length, 1);
    d.stop();
  });

  it("debounce() turns a storm of 10,000 notifications in 1 s into at most 2 fires, on one timer", () => {
    for (const maxWaitMs of [undefined, 2000, 5000]) {
      const clock = new FakeClock(0);
      const fired = recorder(clock);
      const d = debounce(1000, { clock, maxWaitMs }, fired.onFire);
      for (let i = 0; i < 10_000; i++) {
        d.notify();
        clock.advance(0.1);
      }
      clock.advance(10_000);
      assert.ok(fired.times.length >= 1 && fired.times.length <= 2, `${maxWaitMs}: ${fired.times}`);
      assert.ok(clock.timersCreated <= 4, `${maxWaitMs}: ${clock.timersCreated} timers`);
      d.stop();
    }
  });

  it("debounce() by default fires every notification within windowMs, even in a storm", () => {
    const clock = new FakeClock(0);
    const fired = recorder(clock);
    const d = debounce(1000, { clock }, fired.onFire);
    d.notify();
    clock.advance(400);
    d.notify();
    clock.advance(400);
    d.notify();
    clock.advance(200);
    assert.deepEqual(fired.times, [1000], "the first notification waited longer than windowMs");
    d.stop();
  });

  it("debounce() with maxWaitMs waits for a quiet window, but no longer than maxWaitMs", () => {
    const clock = new FakeClock(0);
    const fired = recorder(clock);
    const d = debounce(1000, { clock, maxWaitMs: 5000 }, fired.onFire);
    d.notify();
    clock.advance(500);
    d.notify();
    clock.advance(400);
    d.notify(); // at 900: quiet until 1900
    clock.advance(999);
    assert.deepEqual(fired.times, []);
    clock.advance(1);
    assert.deepEqual(fired.times, [1900]);
    d.stop();
  });

  it("debounce() with maxWaitMs still fires during a continuous storm, every maxWaitMs", () => {
    const storm = (maxWaitMs: number): number[] => {
      const clock = new FakeClock(0);
      const fired = recorder(clock);
      const d = debounce(1000, { clock, maxWaitMs }, fired.onFire);
      for (let t = 0; t < 10_000; t += 100) {
        d.notify();
        clock.advance(100);
      }
      d.stop();
      return fired.times;
    };
    assert.deepEqual(storm(3000), [3000, 6000, 9000]);
    assert.deepEqual(storm(1e12), [], "a pure debounce would starve during the storm");
  });

  it("debounce() starts a new window for a notification made during onFire", () => {
    const clock = new FakeClock(0);
    const times: number[] = [];
    const d = debounce(1000, { clock }, () => {
      times.push(clock.now());
      if (times.length === 1) d.notify();
    });
    d.notify();
    clock.advance(5000);
    assert.deepEqual(times, [1000, 2000]);
    d.stop();
  });

  it("debounce() flush() fires a pending change at once and does nothing when idle", () => {
    const clock = new FakeClock(0);
    const fired = recorder(clock);
    const d = debounce(1000, { clock }, fired.onFire);
    d.flush();
    assert.deepEqual(fired.times, []);
    d.notify();
    clock.advance(10);
    d.flush();
    assert.deepEqual(fired.times, [10]);
    assert.equal(clock.pending, 0);
    clock.advance(5000);
    assert.deepEqual(fired.times, [10]);
    d.stop();
  });

  it("debounce() stop() drops a pending change and ignores later notifications", () => {
    const clock = new FakeClock(0);
    const fired = recorder(clock);
    const d = debounce(1000, { clock }, fired.onFire);
    d.notify();
    d.stop();
    d.stop();
    d.notify();
    d.flush();
    clock.advance(5000);
    assert.deepEqual(fired.times, []);
    assert.equal(d.pending, false);
    assert.equal(clock.pending, 0);
  });

  it("debounce() does not hold a pending change when the wall clock is set back", () => {
    const clock = new FakeClock(3_600_000);
    const fired = recorder(clock);
    const d = debounce(1000, { clock }, fired.onFire);
    d.notify();
    clock.setNow(0);
    clock.advance(1000);
    assert.deepEqual(fired.times, [1000]);
    d.stop();
  });

  it("debounce() with windowMs 0 fires on the next clock turn", () => {
    const clock = new FakeClock(0);
    const fired = recorder(clock);
    const d = debounce(0, { clock }, fired.onFire);
    d.notify();
    d.notify();
    assert.deepEqual(fired.times, []);
    clock.advance(0);
    assert.deepEqual(fired.times, [0]);
    d.stop();
  });

  it("debounce() rejects a bad window, maxWaitMs, clock or callback, naming the value", () => {
    const clock = new FakeClock();
    for (const windowMs of [-1, NaN, Infinity]) {
      assert.throws(
        () => debounce(windowMs, { clock }, () => {}),
        (e) =>
          e instanceof RangeError && e.message.includes("'windowMs'") &&
          e.message.includes(String(windowMs)),
      );
    }
    assert.throws(
      () => debounce(1000, { clock, maxWaitMs: 999 }, () => {}),
      (e) =>
        e instanceof RangeError &&
        /'maxWaitMs' must be .*≥ 'windowMs' \(1000\): current value is 999/.test(e.message),
    );
    assert.throws(() => debounce(1000, { clock: {} as FakeClock }, () => {}), /'clock'/);
    assert.throws(() => debounce(1000, { clock }, 1 as unknown as () => void), /'onFire'/);
  });
});
