/**
 * The executor pool: a bounded set of Worker slots shared by every database
 * of a process. Each database (a {@linkcode Seat}) has a home slot where its
 * one connection stays open; its calls run there one at a time, in call
 * order, and a slot runs one call at a time. How a slot starts, takes
 * chores, retires and ends is in `_executor_slot.ts`.
 *
 * The rules, in one place:
 * - Start lazily; keep at most `size` slots that are not blocked.
 * - A slot running one call for longer than `blockedAfterMs` is blocked
 *   (most likely a server that does not answer). Databases waiting on a
 *   blocked home move to an idle slot, or to a new one while fewer than
 *   `size` slots are unblocked and fewer than `maxSize` exist. So up to
 *   `maxSize − size` hanging servers never starve the other databases.
 * - A slot above `size` that has been idle for `idleMs` retires; its
 *   databases reopen elsewhere.
 * - Supervision: a slot that exits (crash, kill, the host process gone) is
 *   heard at once from its exit event, idle or busy. Its call in flight
 *   rejects with `interrupted`; every database homed there reopens on a live
 *   slot at once (change detection included), and counts a restart.
 * - Ending a call the hard way (a deadline, `close()` past its grace): the
 *   `"worker"` kind terminates that Worker (its native call may still run:
 *   the database is quarantined for the call's worst case); the `"process"`
 *   kind kills the host process, which ends every native call at once.
 *
 * @module
 */
import { SqliteSyncError } from "../../common/errors.ts";
import process from "node:process";

import type { DatabaseRequest, PoolConfig, PoolSnapshot, Reply } from "./_executor_protocol.ts";
import { worstCaseMs } from "./_executor_crash.ts";
import { type Call, Seat, type SeatListener, type Slot } from "./_executor_seat.ts";
import { type Answer, Slots, unref } from "./_executor_slot.ts";

/** The process's executor pool of one kind; see the module comment for its rules. */
export class Pool {
  readonly config: PoolConfig;
  #slots: Slots;
  #seats = new Set<Seat>();
  #nextSeat = 1;
  #pending = 0;
  #keepAlive: ReturnType<typeof setInterval> | undefined;
  #wake: ReturnType<typeof setTimeout> | undefined;

  constructor(config: PoolConfig) {
    this.config = config;
    this.#slots = new Slots(config, {
      onFree: () => this.#pump(),
      onAnswer: (slot, id, answer) => this.#finish(slot, id, answer),
      onChange: (slot, change) => this.#onChange(slot, change),
      redact: (text) => this.#redactAll(text),
    });
  }

  /** Adds a database; its calls go through {@linkcode Pool.call}. */
  attach(listener: SeatListener): Seat {
    const seat = new Seat(this.#nextSeat++, listener);
    this.#seats.add(seat);
    return seat;
  }

  /** Queues a call for a database and resolves with its answer. */
  call<T>(
    seat: Seat,
    request: DatabaseRequest,
    operation: string,
    meta: { jobId?: number; deadlineMs?: number } = {},
  ): Promise<T> {
    if (seat.closed) {
      return Promise.reject(new SqliteSyncError("state", `${operation}: the executor is closed.`));
    }
    return new Promise<T>((resolve, reject) => {
      this.#hold(1);
      const settle = <A>(fn: (a: A) => void) => (a: A) => {
        this.#hold(-1);
        fn(a);
      };
      seat.queue.push({
        seat,
        request,
        operation,
        resolve: settle(resolve as (v: unknown) => void),
        reject: settle(reject),
        ...meta,
      });
      this.#pump();
    });
  }

  /** Keeps the process alive while `work` runs (closing, waiting for a grace period). */
  async pinned<T>(work: () => Promise<T>): Promise<T> {
    this.#hold(1);
    try {
      return await work();
    } finally {
      this.#hold(-1);
    }
  }

  /**
   * Removes a database: rejects its queued calls, waits up to `graceMs` for
   * the one running, then closes its connection; a call still running then
   * is ended the hard way.
   *
   * @returns `abandonedUntil`: when the `"worker"` kind had to leave a native
   *   call running, the time until which it may still be in a request.
   */
  detach(seat: Seat, graceMs: number, why: string): Promise<number> {
    return this.pinned(async () => {
      seat.closed = true;
      for (const call of seat.queue.splice(0)) {
        call.reject(new SqliteSyncError("interrupted", `${call.operation} ${why}`));
      }
      let abandonedUntil = 0;
      if (seat.running) {
        const finished = await waitFor(() => seat.running === undefined, graceMs);
        const slot = seat.home;
        if (!finished && slot && slot.running?.call.seat === seat) {
          const call = slot.running.call;
          if (this.config.kind === "worker") {
            abandonedUntil = slot.running.since + worstCaseMs(call.request);
          }
          this.#slots.endHard(slot, { kind: "killed", message: `${call.operation} ${why}` });
          await waitFor(() => slot.state === "dead", 1000);
        }
      }
      const home = seat.home;
      if (home && home.state !== "dead" && seat.opened) {
        await this.#slots.chore(home, { t: "detach", db: seat.key }, 1000);
      }
      home?.seats.delete(seat);
      seat.home = undefined;
      seat.open = undefined;
      this.#seats.delete(seat);
      if (this.#seats.size === 0) await this.#slots.shutdown();
      else this.#pump();
      return abandonedUntil;
    });
  }

  /** A snapshot of the pool. */
  snapshot(): PoolSnapshot {
    const slots = this.#slots.all();
    return {
      kind: this.config.kind,
      size: this.config.size,
      maxSize: this.config.maxSize,
      executors: slots.length,
      busy: slots.filter((s) => s.running).length,
      blocked: slots.filter((s) => this.#blocked(s)).length,
      databases: this.#seats.size,
      restarts: this.#slots.restarts,
      pid: this.config.kind === "process"
        ? this.#slots.hostPid
        : slots.length
        ? process.pid
        : undefined,
    };
  }

  /** The process a database's calls run in (its home's). */
  pidOf(seat: Seat): number | undefined {
    return seat.home?.transport.pid ??
      (this.config.kind === "worker" ? process.pid : this.#slots.hostPid);
  }

  #pump(): void {
    const now = Date.now();
    let wakeAt = Infinity;
    for (const seat of this.#seats) {
      if (seat.running || seat.queue.length === 0) continue;
      if (seat.notBefore > now && seat.queue[0].request.t === "sync") {
        wakeAt = Math.min(wakeAt, seat.notBefore);
        continue;
      }
      let home = seat.home;
      if (home && (home.state === "dead" || home.state === "ending")) {
        home.seats.delete(seat);
        seat.home = home = undefined;
        seat.opened = false;
      }
      if (!home) home = this.#place(seat);
      if (!home) continue;
      if (home.running && this.#blocked(home)) home = this.#move(seat, home) ?? home;
      if (home.state !== "ready" || home.running) continue;
      this.#run(home, seat);
    }
    if (this.#wake !== undefined) clearTimeout(this.#wake);
    this.#wake = undefined;
    if (wakeAt !== Infinity) {
      this.#wake = setTimeout(() => this.#pump(), Math.min(wakeAt - now, 30_000));
      unref(this.#wake);
    }
  }

  /** A home for a database without one. */
  #place(seat: Seat): Slot | undefined {
    const live = this.#slots.live();
    const idle = live.filter((s) => s.state === "ready" && !s.running);
    let home = leastSeated(idle);
    if (!home && this.#mayGrow(live)) home = this.#slots.start();
    home ??= leastSeated(live.filter((s) => !this.#blocked(s))) ?? leastSeated(live);
    if (!home) home = this.#slots.start();
    seat.home = home;
    seat.opened = false;
    home.seats.add(seat);
    return home;
  }

  /** Moves a database off a blocked home, when there is (or may be) a free slot. */
  #move(seat: Seat, from: Slot): Slot | undefined {
    const live = this.#slots.live();
    let to = leastSeated(live.filter((s) => s !== from && s.state === "ready" && !s.running));
    if (!to && this.#mayGrow(live)) to = this.#slots.start();
    if (!to) return undefined;
    if (seat.opened) this.#slots.chore(from, { t: "detach", db: seat.key }, Infinity);
    from.seats.delete(seat);
    seat.home = to;
    seat.opened = false;
    to.seats.add(seat);
    return to;
  }

  /** Fewer than `size` unblocked slots, and fewer than `maxSize` in all. */
  #mayGrow(live: Slot[]): boolean {
    const unblocked = live.filter((s) => !this.#blocked(s)).length;
    return unblocked < this.config.size && live.length < this.config.maxSize;
  }

  #blocked(slot: Slot): boolean {
    return slot.running !== undefined &&
      Date.now() - slot.running.since >= this.config.blockedAfterMs;
  }

  #run(slot: Slot, seat: Seat): void {
    // A database that moved or restarted reopens first, with what it was last opened with.
    const reopen = !seat.opened && seat.open !== undefined && seat.queue[0].request.t !== "open";
    const call: Call = reopen
      ? {
        seat,
        request: { t: "open", options: { ...seat.open!, knownDbVersion: seat.dbVersion } },
        operation: "init()",
        internal: true,
        resolve: () => {},
        reject: () => {},
      }
      : seat.queue.shift()!;
    const id = this.#slots.nextId();
    seat.running = call;
    slot.running = { call, id, since: Date.now() };
    if (call.deadlineMs !== undefined) {
      slot.running.deadline = setTimeout(() => this.#slots.deadline(slot, id), call.deadlineMs);
    }
    // Re-evaluate once the slot counts as blocked: waiting databases may move then.
    unref(setTimeout(() => this.#pump(), this.config.blockedAfterMs + 1));
    slot.transport.send({ ...call.request, id, db: seat.key });
  }

  #finish(slot: Slot, id: number, reply: Answer) {
    const running = slot.running;
    if (!running || running.id !== id) return;
    if (running.deadline !== undefined) clearTimeout(running.deadline);
    slot.running = undefined;
    slot.idleSince = Date.now();
    const { call } = running;
    const seat = call.seat;
    seat.running = undefined;
    if (call.request.t === "open") {
      if (reply.ok) {
        seat.opened = true;
        const { knownDbVersion: _, ...options } = call.request.options;
        seat.open = options;
        const reported = (reply.value as { dbVersion?: unknown } | null)?.dbVersion;
        if (typeof reported === "number") {
          seat.dbVersion = Math.max(seat.dbVersion ?? -1, reported);
        }
      } else if (call.internal) {
        // The database cannot be reopened (moved file, bad credentials): its next call says why.
        const next = seat.queue.shift();
        next?.reject(reply.error);
      }
    }
    if (!call.internal) reply.ok ? call.resolve(reply.value) : call.reject(reply.error);
    this.#slots.retireLater(slot);
    this.#pump();
  }

  #onChange(slot: Slot, message: Extract<Reply, { t: "change" }>): void {
    const seat = [...slot.seats].find((s) => s.key === message.db);
    if (!seat || seat.closed) return;
    seat.dbVersion = Math.max(seat.dbVersion ?? -1, message.dbVersion);
    try {
      seat.listener.onChange?.(message.dbVersion, message.previous);
    } catch (err) {
      queueMicrotask(() => {
        throw err;
      });
    }
  }

  #redactAll(text: string): string {
    let out = text;
    for (const seat of this.#seats) out = seat.listener.redact(out);
    return out;
  }

  #hold(delta: number): void {
    this.#pending += delta;
    if (this.#pending > 0) this.#keepAlive ??= setInterval(() => {}, 2 ** 30);
    else if (this.#keepAlive !== undefined) {
      clearInterval(this.#keepAlive);
      this.#keepAlive = undefined;
    }
  }
}

function leastSeated(slots: Slot[]): Slot | undefined {
  let best: Slot | undefined;
  for (const s of slots) if (!best || s.seats.size < best.seats.size) best = s;
  return best;
}

/** Resolves `true` when `done()` holds (checked every 10 ms), `false` after `ms`. */
function waitFor(done: () => boolean, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    if (done()) return resolve(true);
    const started = Date.now();
    const timer = setInterval(() => {
      if (done()) {
        clearInterval(timer);
        resolve(true);
      } else if (Date.now() - started >= ms) {
        clearInterval(timer);
        resolve(false);
      }
    }, 10);
  });
}
