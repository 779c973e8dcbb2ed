/**
 * The cron trigger on a fake clock: 5 and 6 fields, time zones, both
 * daylight-saving transitions of Europe/Berlin in 2026, sleeps, a wall clock
 * set back, stop, and errors that name the value.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { cronTrigger } from "../../../src/scheduler/cron.ts";
import { FakeClock } from "./_fake_clock.ts";

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/** A cron trigger on a fake clock that records when it fired, as ISO strings. */
function start(expression: string, timezone: string | undefined, at: string) {
  const clock = new FakeClock(at);
  const fired: string[] = [];
  const trigger = cronTrigger(expression, { timezone, clock }, (reason) => {
    assert.equal(reason, "cron");
    fired.push(iso(clock.now())!);
  });
  return { clock, fired, trigger };
}

describe("cronTrigger()", () => {
  it("cronTrigger() fires a 5-field expression at each match, exactly on time (UTC)", () => {
    const { clock, fired, trigger } = start("*/15 * * * *", "UTC", "2026-01-01T00:00:00Z");
    assert.equal(iso(trigger.nextRunAt()), "2026-01-01T00:15:00.000Z");
    clock.advance(15 * 60_000 - 1);
    assert.deepEqual(fired, []);
    clock.advanceTo("2026-01-01T01:00:00Z");
    assert.deepEqual(fired, [
      "2026-01-01T00:15:00.000Z",
      "2026-01-01T00:30:00.000Z",
      "2026-01-01T00:45:00.000Z",
      "2026-01-01T01:00:00.000Z",
    ]);
    assert.equal(iso(trigger.nextRunAt()), "2026-01-01T01:15:00.000Z");
    trigger.stop();
  });

  it("cronTrigger() fires a 6-field expression on its seconds", () => {
    const { clock, fired, trigger } = start("*/20 * * * * *", "UTC", "2026-01-01T00:00:00.500Z");
    clock.advanceTo("2026-01-01T00:01:00Z");
    assert.deepEqual(fired, [
      "2026-01-01T00:00:20.000Z",
      "2026-01-01T00:00:40.000Z",
      "2026-01-01T00:01:00.000Z",
    ]);
    trigger.stop();
  });

  it("cronTrigger() reads the expression in its time zone (America/New_York, Asia/Kolkata)", () => {
    const winter = start("0 9 * * *", "America/New_York", "2026-01-15T00:00:00Z");
    assert.equal(iso(winter.trigger.nextRunAt()), "2026-01-15T14:00:00.000Z");
    winter.trigger.stop();
    const summer = start("0 9 * * *", "America/New_York", "2026-07-15T00:00:00Z");
    summer.clock.advanceTo("2026-07-16T23:59:00Z");
    assert.deepEqual(summer.fired, ["2026-07-15T13:00:00.000Z", "2026-07-16T13:00:00.000Z"]);
    summer.trigger.stop();
    const india = start("30 9 * * *", "Asia/Kolkata", "2026-01-15T00:00:00Z");
    assert.equal(iso(india.trigger.nextRunAt()), "2026-01-15T04:00:00.000Z");
    india.trigger.stop();
  });

  it("cronTrigger() runs a skipped local time at the instant after the gap (Europe/Berlin, 2026-03-29 02:30)", () => {
    // 02:00 CET jumps to 03:00 CEST (01:00Z): 02:30 does not exist that night.
    const { clock, fired, trigger } = start("30 2 * * *", "Europe/Berlin", "2026-03-28T12:00:00Z");
    assert.equal(iso(trigger.nextRunAt()), "2026-03-29T01:00:00.000Z");
    clock.advanceTo("2026-03-29T00:59:59.999Z");
    assert.deepEqual(fired, []);
    clock.advanceTo("2026-03-30T12:00:00Z");
    assert.deepEqual(fired, [
      "2026-03-29T01:00:00.000Z", // 03:00 CEST, the instant after the gap
      "2026-03-30T00:30:00.000Z", // 02:30 CEST the next night
    ]);
    trigger.stop();
  });

  it("cronTrigger() runs a repeated local time once, at the earlier instant (Europe/Berlin, 2026-10-25 02:30)", () => {
    // 03:00 CEST falls back to 02:00 CET (01:00Z): 02:30 happens at 00:30Z and again at 01:30Z.
    const { clock, fired, trigger } = start("30 2 * * *", "Europe/Berlin", "2026-10-24T12:00:00Z");
    assert.equal(iso(trigger.nextRunAt()), "2026-10-25T00:30:00.000Z");
    clock.advanceTo("2026-10-25T00:30:00Z");
    assert.equal(iso(trigger.nextRunAt()), "2026-10-26T01:30:00.000Z");
    clock.advanceTo("2026-10-26T12:00:00Z");
    assert.deepEqual(fired, [
      "2026-10-25T00:30:00.000Z", // 02:30 CEST, the earlier one; nothing at 01:30Z
      "2026-10-26T01:30:00.000Z", // 02:30 CET the next night
    ]);
    trigger.stop();
  });

  it("cronTrigger() applies the daylight-saving rule to lists of fixed times too (30 2,14 * * *)", () => {
    const spring = start("30 2,14 * * *", "Europe/Berlin", "2026-03-28T23:00:00Z");
    spring.clock.advanceTo("2026-03-29T13:00:00Z");
    assert.deepEqual(spring.fired, ["2026-03-29T01:00:00.000Z", "2026-03-29T12:30:00.000Z"]);
    spring.trigger.stop();
    const fall = start("30 2,14 * * *", "Europe/Berlin", "2026-10-24T22:00:00Z");
    fall.clock.advanceTo("2026-10-25T14:00:00Z");
    assert.deepEqual(fall.fired, ["2026-10-25T00:30:00.000Z", "2026-10-25T13:30:00.000Z"]);
    fall.trigger.stop();
  });

  it("cronTrigger() keeps the real-time rhythm of a wildcard expression across both transitions", () => {
    const fall = start("*/30 * * * *", "Europe/Berlin", "2026-10-25T00:00:00Z");
    fall.clock.advanceTo("2026-10-25T02:00:00Z");
    // 02:30 CEST, 02:00 CET, 02:30 CET, 03:00 CET: the repeated hour runs in both passes.
    assert.deepEqual(fall.fired, [
      "2026-10-25T00:30:00.000Z",
      "2026-10-25T01:00:00.000Z",
      "2026-10-25T01:30:00.000Z",
      "2026-10-25T02:00:00.000Z",
    ]);
    fall.trigger.stop();
    const spring = start("0 * * * *", "Europe/Berlin", "2026-03-28T23:30:00Z");
    spring.clock.advanceTo("2026-03-29T02:00:00Z");
    // 01:00 CET, 03:00 CEST, 04:00 CEST: hourly in real time, nothing extra after the gap.
    assert.deepEqual(spring.fired, [
      "2026-03-29T00:00:00.000Z",
      "2026-03-29T01:00:00.000Z",
      "2026-03-29T02:00:00.000Z",
    ]);
    spring.trigger.stop();
  });

  it("cronTrigger() fires once after sleeping through several runs, then resumes at the next match", () => {
    const { clock, fired, trigger } = start("0 * * * *", "UTC", "2026-01-01T00:00:00Z");
    clock.setNow("2026-01-01T05:30:00Z");
    assert.deepEqual(fired, ["2026-01-01T05:30:00.000Z"]);
    assert.equal(iso(trigger.nextRunAt()), "2026-01-01T06:00:00.000Z");
    clock.advanceTo("2026-01-01T06:00:00Z");
    assert.equal(fired.length, 2);
    trigger.stop();
  });

  it("cronTrigger() waits for the instant when the clock calls back early (wall clock set back)", () => {
    const { clock, fired, trigger } = start("0 * * * *", "UTC", "2026-01-01T00:59:00Z");
    clock.setNow("2026-01-01T00:29:00Z"); // set back 30 min; the timer still fires after 60 s
    clock.advance(60_000);
    assert.deepEqual(fired, [], "fired 30 minutes before the match");
    clock.advanceTo("2026-01-01T01:00:00Z");
    assert.deepEqual(fired, ["2026-01-01T01:00:00.000Z"]);
    trigger.stop();
  });

  it("cronTrigger() stop() cancels the next run, clears nextRunAt and is idempotent", () => {
    const { clock, fired, trigger } = start("* * * * * *", "UTC", "2026-01-01T00:00:00Z");
    clock.advance(2000);
    trigger.stop();
    trigger.stop();
    assert.equal(trigger.nextRunAt(), null);
    assert.equal(clock.pending, 0);
    clock.advance(10_000);
    assert.equal(fired.length, 2);
  });

  it("cronTrigger() without a time zone uses the process's local zone", () => {
    const clock = new FakeClock("2026-01-15T00:00:00Z");
    const t = cronTrigger("0 12 * * *", { clock }, () => {});
    const expected = new Date("2026-01-15T00:00:00Z");
    expected.setHours(12, 0, 0, 0);
    if (expected.getTime() <= clock.now()) expected.setDate(expected.getDate() + 1);
    assert.equal(t.nextRunAt(), expected.getTime());
    t.stop();
  });
});

describe("cronTrigger() errors", () => {
  const clock = new FakeClock("2026-01-01T00:00:00Z");

  it("cronTrigger() rejects an invalid expression with a TypeError naming it and giving examples", () => {
    for (const bad of ["61 * * * *", "* * *", "hello", "0 0 0 1 1 * 2030", ""]) {
      assert.throws(
        () => cronTrigger(bad, { clock }, () => {}),
        (e) =>
          e instanceof TypeError && e.message.includes(JSON.stringify(bad)) &&
          e.message.includes("'expression'") && e.message.includes('"*/15 * * * *"') &&
          e.cause instanceof Error,
        bad,
      );
    }
    assert.throws(
      () => cronTrigger(42 as unknown as string, { clock }, () => {}),
      /'expression' must be a string: current value is 42/,
    );
    assert.equal(clock.pending, 0);
  });

  it("cronTrigger() rejects an expression that never matches", () => {
    assert.throws(
      () => cronTrigger("0 0 30 2 *", { clock }, () => {}),
      (e) =>
        e instanceof TypeError && /never matches/.test(e.message) &&
        /"0 0 30 2 \*"/.test(e.message),
    );
  });

  it("cronTrigger() rejects an unknown time zone with a TypeError naming it and giving examples", () => {
    for (const zone of ["Mars/Base", "", "Europe/Berlinn"]) {
      assert.throws(
        () => cronTrigger("0 3 * * *", { timezone: zone, clock }, () => {}),
        (e) =>
          e instanceof TypeError && e.message.includes(`'timezone'`) &&
          e.message.includes(JSON.stringify(zone)) && e.message.includes('"Europe/Berlin"'),
        zone,
      );
    }
    assert.throws(
      () => cronTrigger("0 3 * * *", { timezone: 1 as unknown as string, clock }, () => {}),
      /'timezone'.*current value is 1/,
    );
  });

  it("cronTrigger() rejects a bad clock or callback", () => {
    assert.throws(
      () => cronTrigger("0 3 * * *", { clock: { now: () => 0 } as unknown as FakeClock }, () => {}),
      (e) => e instanceof TypeError && /'clock'/.test(e.message),
    );
    assert.throws(
      () => cronTrigger("0 3 * * *", { clock }, null as unknown as () => void),
      (e) => e instanceof TypeError && /'onFire'/.test(e.message),
    );
  });
});
