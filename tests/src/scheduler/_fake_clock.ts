/**
 * A clock for tests: time moves only when the test says so, and due timers
 * run in order, each seeing `now()` at its own due time.
 */
import type { Clock, TimerHandle } from "../../../src/scheduler/clock.ts";

interface FakeTimer {
  due: number;
  seq: number;
  fn: () => void;
}

/** A {@linkcode Clock} driven by `advance()` and `setNow()`. */
export class FakeClock implements Clock {
  #now: number;
  #seq = 0;
  #timers = new Map<TimerHandle, FakeTimer>();
  /** How many timers were ever set, for tests that count them. */
  timersCreated = 0;

  /** @param start The initial time: ms since the epoch, or an ISO string / Date. */
  constructor(start: number | string | Date = 0) {
    this.#now = toMs(start);
  }

  now(): number {
    return this.#now;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const handle: TimerHandle = {};
    this.timersCreated++;
    this.#timers.set(handle, { due: this.#now + Math.max(0, ms), seq: this.#seq++, fn });
    return handle;
  }

  clearTimeout(handle: TimerHandle): void {
    this.#timers.delete(handle);
  }

  /** Timers not yet fired or cleared. */
  get pending(): number {
    return this.#timers.size;
  }

  /**
   * Moves time forward by `ms`, running every timer that comes due on the way (also those set
   * by the timers themselves), in order of due time then creation, with `now()` at its due time.
   */
  advance(ms: number): void {
    if (!(ms >= 0)) throw new RangeError(`advance(${ms}): time only moves forward`);
    const target = this.#now + ms;
    for (let runs = 0;; runs++) {
      if (runs > 1_000_000) throw new Error("FakeClock.advance(): a timer loop never ends");
      const next = this.#next(target);
      if (next === null) break;
      this.#timers.delete(next[0]);
      this.#now = Math.max(this.#now, next[1].due);
      next[1].fn();
    }
    this.#now = target;
  }

  /** Advances to an absolute time (ms since the epoch, ISO string or Date). */
  advanceTo(time: number | string | Date): void {
    this.advance(toMs(time) - this.#now);
  }

  /**
   * Sets the wall clock, as a system clock sees it:
   * - forward (a machine that slept): timers that came due run late, all seeing the new time;
   * - backward (the clock was set back): pending timers keep their elapsed-time promise, so
   *   they move back with the clock and fire early by the wall clock.
   */
  setNow(time: number | string | Date): void {
    const t = toMs(time);
    if (t < this.#now) {
      const delta = this.#now - t;
      for (const timer of this.#timers.values()) timer.due -= delta;
      this.#now = t;
      return;
    }
    this.#now = t;
    this.advance(0);
  }

  #next(limit: number): [TimerHandle, FakeTimer] | null {
    let best: [TimerHandle, FakeTimer] | null = null;
    for (const entry of this.#timers) {
      const t = entry[1];
      if (t.due > limit) continue;
      if (best === null || t.due < best[1].due || (t.due === best[1].due && t.seq < best[1].seq)) {
        best = entry;
      }
    }
    return best;
  }
}

function toMs(time: number | string | Date): number {
  return typeof time === "number" ? time : new Date(time).getTime();
}
