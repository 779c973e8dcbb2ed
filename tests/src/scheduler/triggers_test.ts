/**
 * The interval trigger on a fake clock: its grid, late and early timers,
 * sleeps, stop, a throwing callback, and validation.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { intervalTrigger, type TriggerReason } from "../../../src/scheduler/triggers.ts";
import { FakeClock } from "./_fake_clock.ts";

function record(
  clock: FakeClock,
): { times: number[]; reasons: TriggerReason[]; onFire: (r: TriggerReason) => void } {
  const times: number[] = [];
  const reasons: TriggerReason[] = [];
  return { times, reasons, onFire: (r) => (times.push(clock.now()), reasons.push(r)) };
}

describe("intervalTrigger()", () => {
  it("intervalTrigger() fires every ms, the first time ms after the call", () => {
    const clock = new FakeClock(10_000);
    const fired = record(clock);
    const t = intervalTrigger(1000, { clock }, fired.onFire);
    assert.equal(t.nextRunAt(), 11_000);
    clock.advance(999);
    assert.deepEqual(fired.times, []);
    clock.advance(3001);
    assert.deepEqual(fired.times, [11_000, 12_000, 13_000, 14_000]);
    assert.deepEqual(fired.reasons, ["interval", "interval", "interval", "interval"]);
    assert.equal(t.nextRunAt(), 15_000);
    t.stop();
  });

  it("intervalTrigger() keeps its grid when a run is late by less than an interval", () => {
    const clock = new FakeClock(0);
    const fired = record(clock);
    const t = intervalTrigger(1000, { clock }, fired.onFire);
    clock.setNow(1300); // the timer fired 300 ms late
    assert.deepEqual(fired.times, [1300]);
    assert.equal(t.nextRunAt(), 2000);
    clock.advance(700);
    assert.deepEqual(fired.times, [1300, 2000]);
    t.stop();
  });

  it("intervalTrigger() fires once after a sleep through many intervals, then a full interval later", () => {
    const clock = new FakeClock(0);
    const fired = record(clock);
    const t = intervalTrigger(1000, { clock }, fired.onFire);
    clock.setNow(10_500);
    assert.deepEqual(fired.times, [10_500]);
    assert.equal(t.nextRunAt(), 11_500);
    t.stop();
  });

  it("intervalTrigger() is not held back when the wall clock is set back", () => {
    const clock = new FakeClock(3_600_000);
    const fired = record(clock);
    const t = intervalTrigger(1000, { clock }, fired.onFire);
    clock.setNow(0);
    clock.advance(1000);
    assert.deepEqual(fired.times, [1000]);
    assert.equal(t.nextRunAt(), 2000);
    t.stop();
  });

  it("intervalTrigger() stop() ends the schedule, also from inside onFire, and is idempotent", () => {
    const clock = new FakeClock(0);
    let fired = 0;
    const t = intervalTrigger(100, { clock }, () => {
      if (++fired === 2) t.stop();
    });
    clock.advance(1000);
    assert.equal(fired, 2);
    assert.equal(t.nextRunAt(), null);
    assert.equal(clock.pending, 0);
    t.stop();
    const u = intervalTrigger(100, { clock }, () => fired++);
    u.stop();
    clock.advance(1000);
    assert.equal(fired, 2);
  });

  it("intervalTrigger() keeps its schedule when onFire throws", () => {
    const clock = new FakeClock(0);
    let calls = 0;
    const t = intervalTrigger(100, { clock }, () => {
      calls++;
      throw new Error("boom");
    });
    assert.throws(() => clock.advance(100), /boom/);
    assert.equal(t.nextRunAt(), 200);
    assert.throws(() => clock.advance(100), /boom/);
    assert.equal(calls, 2);
    t.stop();
  });

  it("intervalTrigger() rejects a bad interval, clock or callback, naming the value", () => {
    const clock = new FakeClock();
    for (const ms of [0, -1, NaN, Infinity]) {
      assert.throws(
        () => intervalTrigger(ms, { clock }, () => {}),
        (e) =>
          e instanceof RangeError && e.message.includes(`'ms'`) && e.message.includes(String(ms)),
      );
    }
    assert.throws(
      () => intervalTrigger(1000, { clock: {} as FakeClock }, () => {}),
      (e) => e instanceof TypeError && /'clock'/.test(e.message),
    );
    assert.throws(
      () => intervalTrigger(1000, { clock }, "x" as unknown as () => void),
      (e) => e instanceof TypeError && /'onFire'/.test(e.message),
    );
    assert.equal(clock.pending, 0);
  });
});
