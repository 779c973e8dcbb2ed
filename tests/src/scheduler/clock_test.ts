/**
 * The system clock with a scripted host (no real waits): long delays split
 * into capped waits, sleeps and wall-clock changes, unref, cancellation; one
 * short real timer checks the wiring to the runtime; and the fake clock the
 * other scheduler tests rely on.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  createSystemClock,
  isClock,
  systemClock,
  type TimerHost,
} from "../../../src/scheduler/clock.ts";
import { FakeClock } from "./_fake_clock.ts";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const CLOCK_URL = new URL("../../../src/scheduler/clock.ts", import.meta.url).href;

/**
 * Runs a script in a fresh process of the current runtime. A script still running after 30 s
 * is killed (status null): a failure guard, below the 60 s timer the unref test leaves pending.
 */
function runScript(code: string): { status: number | null; out: string } {
  const args = "Deno" in globalThis ? ["eval", "--ext=ts", code] : ["--eval", code];
  const r = spawnSync(process.execPath, args, {
    encoding: "utf8",
    timeout: 30_000,
    cwd: fileURLToPath(new URL("../../..", import.meta.url)),
  });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

/** A host whose timers run only when the test calls `runNext()`. */
class ScriptedHost implements TimerHost {
  wall = 1_000_000;
  mono = 0;
  waits: number[] = [];
  unrefs = 0;
  cleared: unknown[] = [];
  #queue: { fn: () => void; ms: number; timer: object }[] = [];

  now(): number {
    return this.wall;
  }
  monotonic(): number {
    return this.mono;
  }
  setTimeout(fn: () => void, ms: number): unknown {
    this.waits.push(ms);
    const timer = { unref: () => this.unrefs++ };
    this.#queue.push({ fn, ms, timer });
    return timer;
  }
  clearTimeout(timer: unknown): void {
    this.cleared.push(timer);
    this.#queue = this.#queue.filter((t) => t.timer !== timer);
  }
  get armed(): number {
    return this.#queue.length;
  }
  /** Runs the next timer, both clocks moving by its delay. */
  runNext(): void {
    const t = this.#queue.shift();
    assert.ok(t, "no timer armed");
    this.wall += t.ms;
    this.mono += t.ms;
    t.fn();
  }
}

describe("createSystemClock()", () => {
  it("createSystemClock() splits a long wait into waits of at most maxWaitMs and fires once at the end", () => {
    const host = new ScriptedHost();
    const clock = createSystemClock({ host });
    let fired = 0;
    clock.setTimeout(() => fired++, 100_000);
    for (let i = 0; i < 3; i++) {
      host.runNext();
      assert.equal(fired, 0, `fired early, after wait ${i + 1}`);
    }
    host.runNext();
    assert.equal(fired, 1);
    assert.deepEqual(host.waits, [30_000, 30_000, 30_000, 10_000]);
    assert.equal(host.armed, 0);
  });

  it("createSystemClock() arms a delay beyond the runtimes' 24.8-day timer limit in capped steps", () => {
    const host = new ScriptedHost();
    const clock = createSystemClock({ host, maxWaitMs: 86_400_000 });
    let fired = 0;
    clock.setTimeout(() => fired++, 40 * 86_400_000);
    assert.ok(host.waits.every((ms) => ms <= 86_400_000));
    for (let i = 0; i < 39; i++) host.runNext();
    assert.equal(fired, 0);
    host.runNext();
    assert.equal(fired, 1);
  });

  it("createSystemClock() fires within maxWaitMs of waking when the machine slept (wall clock ahead)", () => {
    const host = new ScriptedHost();
    const clock = createSystemClock({ host });
    let fired = 0;
    clock.setTimeout(() => fired++, 3_600_000);
    host.runNext();
    host.wall += 2 * 3_600_000; // slept two hours: the monotonic clock stood still
    assert.equal(fired, 0);
    host.runNext();
    assert.equal(fired, 1, "still waiting for the monotonic hour after waking");
    assert.equal(host.waits.length, 2);
  });

  it("createSystemClock() does not stretch a wait when the wall clock is set back", () => {
    const host = new ScriptedHost();
    const clock = createSystemClock({ host });
    let fired = 0;
    clock.setTimeout(() => fired++, 60_000);
    host.wall -= 3_600_000;
    host.runNext();
    host.runNext();
    assert.equal(fired, 1, "waited for the wall clock to catch up an hour");
    assert.deepEqual(host.waits, [30_000, 30_000]);
  });

  it("createSystemClock() unrefs every runtime timer by default and none with unref: false", () => {
    const host = new ScriptedHost();
    createSystemClock({ host }).setTimeout(() => {}, 45_000);
    host.runNext();
    assert.equal(host.unrefs, 2);
    const kept = new ScriptedHost();
    createSystemClock({ host: kept, unref: false }).setTimeout(() => {}, 45_000);
    kept.runNext();
    assert.equal(kept.unrefs, 0);
  });

  it("clearTimeout() cancels a timer between its capped waits, and ignores fired or foreign handles", () => {
    const host = new ScriptedHost();
    const clock = createSystemClock({ host });
    let fired = 0;
    const handle = clock.setTimeout(() => fired++, 100_000);
    host.runNext();
    clock.clearTimeout(handle);
    assert.equal(host.armed, 0, "the re-armed runtime timer is still pending");
    assert.equal(fired, 0);
    const done = clock.setTimeout(() => fired++, 10);
    host.runNext();
    assert.equal(fired, 1);
    clock.clearTimeout(done);
    clock.clearTimeout({});
    assert.equal(host.cleared.length, 1);
  });

  it("setTimeout() treats a negative delay as 0 and rejects NaN, Infinity and a non-function", () => {
    const host = new ScriptedHost();
    const clock = createSystemClock({ host });
    let fired = 0;
    clock.setTimeout(() => fired++, -5);
    assert.deepEqual(host.waits, [0]);
    host.runNext();
    assert.equal(fired, 1);
    assert.throws(() => clock.setTimeout(() => {}, NaN), RangeError);
    assert.throws(() => clock.setTimeout(() => {}, Infinity), /'ms' must be a finite number/);
    assert.throws(() => clock.setTimeout(42 as unknown as () => void, 1), TypeError);
  });

  it("createSystemClock() rejects bad options, naming the option and value", () => {
    assert.throws(
      () => createSystemClock({ maxWaitMs: 0 }),
      (e) => e instanceof RangeError && /'maxWaitMs'.*current value is 0/.test(e.message),
    );
    assert.throws(
      () => createSystemClock({ unref: "yes" as unknown as boolean }),
      (e) => e instanceof TypeError && /'unref'.*current value is yes/.test(e.message),
    );
    const { monotonic: _, ...partial } = new ScriptedHost();
    assert.throws(
      () => createSystemClock({ host: { ...partial, now: () => 0 } as unknown as TimerHost }),
      (e) => e instanceof TypeError && /'host.monotonic'/.test(e.message),
    );
  });

  it("createSystemClock() with the runtime's own timers fires after the delay", async () => {
    const clock = createSystemClock({ unref: false });
    const start = performance.now();
    const at = clock.now();
    await new Promise<void>((resolve) => clock.setTimeout(resolve, 5));
    assert.ok(performance.now() - start >= 4, "fired before its delay");
    assert.ok(clock.now() >= at);
    let fired = false;
    const handle = systemClock.setTimeout(() => (fired = true), 1);
    systemClock.clearTimeout(handle);
    await new Promise<void>((resolve) => clock.setTimeout(resolve, 10));
    assert.equal(fired, false);
  });
});

describe("systemClock", () => {
  it("systemClock lets the process exit on its own (status 0, before the failure guard kills it) while a 60 s timer is pending (unref), a clock with unref: false does not", () => {
    const idle = runScript(
      `import { systemClock } from ${JSON.stringify(CLOCK_URL)};
       systemClock.setTimeout(() => console.log("fired"), 60_000);
       console.log("done");`,
    );
    assert.equal(idle.status, 0, idle.out);
    assert.match(idle.out, /done/);
    assert.doesNotMatch(idle.out, /fired/);
    const kept = runScript(
      `import { createSystemClock } from ${JSON.stringify(CLOCK_URL)};
       createSystemClock({ unref: false }).setTimeout(() => console.log("fired"), 300);`,
    );
    assert.equal(kept.status, 0, kept.out);
    assert.match(kept.out, /fired/, "the process exited before its ref'd timer fired");
  });
});

describe("isClock()", () => {
  it("isClock() accepts clocks and refuses objects missing a method", () => {
    assert.equal(isClock(systemClock), true);
    assert.equal(isClock(new FakeClock()), true);
    assert.equal(isClock({ now: Date.now, setTimeout }), false);
    assert.equal(isClock(null), false);
  });
});

describe("FakeClock", () => {
  it("FakeClock.advance() runs due timers in order of due time, each seeing its own now()", () => {
    const clock = new FakeClock(1000);
    const seen: string[] = [];
    clock.setTimeout(() => seen.push(`b@${clock.now()}`), 20);
    clock.setTimeout(() => seen.push(`a@${clock.now()}`), 10);
    clock.setTimeout(() => {
      seen.push(`c@${clock.now()}`);
      clock.setTimeout(() => seen.push(`d@${clock.now()}`), 5);
    }, 20);
    clock.setTimeout(() => seen.push("late"), 31);
    clock.advance(30);
    assert.deepEqual(seen, ["a@1010", "b@1020", "c@1020", "d@1025"]);
    assert.equal(clock.now(), 1030);
    assert.equal(clock.pending, 1);
  });

  it("FakeClock.setNow() runs overdue timers late when moved forward and moves timers back with it", () => {
    const clock = new FakeClock(0);
    const seen: number[] = [];
    clock.setTimeout(() => seen.push(clock.now()), 100);
    clock.setNow(500);
    assert.deepEqual(seen, [500]);
    clock.setTimeout(() => seen.push(clock.now()), 100);
    clock.setNow(0);
    clock.advance(99);
    assert.deepEqual(seen, [500]);
    clock.advance(1);
    assert.deepEqual(seen, [500, 100]);
  });
});
