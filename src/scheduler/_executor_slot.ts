/**
 * The executor pool's slots (Workers, through the channel), from start to
 * end: their start and `ready` handshake, the requests no caller waits for
 * (chores), retiring, and ending one the hard way. What a slot's end means
 * for its databases and their calls (supervision) is in `_executor_crash.ts`;
 * which database runs where is the pool's (`_executor_pool.ts`, with the
 * rules).
 *
 * @module
 */
import { SqliteSyncError } from "../../common/errors.ts";
import {
  HostProcess,
  type SlotExit,
  type SlotTransport,
  startWorkerSlot,
} from "./_executor_channel.ts";
import { report, settleExit, worstCaseMs } from "./_executor_crash.ts";
import {
  fromErrorData,
  type PoolConfig,
  PROTOCOL_VERSION,
  type Reply,
} from "./_executor_protocol.ts";
import type { Ending, Slot } from "./_executor_seat.ts";

/** An answer to a call. */
export type Answer = { ok: true; value: unknown } | { ok: false; error: Error };

/** What the pool hears of its slots. */
export interface SlotEvents {
  /** A slot became ready, answered a chore, retired or ended: calls may go on. */
  onFree(): void;
  /** A slot answered call `id`. */
  onAnswer(slot: Slot, id: number, answer: Answer): void;
  /** Another connection committed to a database of a slot. */
  onChange(slot: Slot, change: Extract<Reply, { t: "change" }>): void;
  /** Removes every database's credentials from a message (the host's stderr). */
  redact(text: string): string;
}

/** The pool's slots and, for the `"process"` kind, its host process. */
export class Slots {
  readonly #config: PoolConfig;
  readonly #events: SlotEvents;
  #slots = new Set<Slot>();
  #host: HostProcess | undefined;
  #nextSlot = 1;
  #nextId = 1;
  /** Slots that died by themselves (and were replaced). */
  restarts = 0;

  /** `config` is the pool's own object: a change to it applies here too. */
  constructor(config: PoolConfig, events: SlotEvents) {
    this.#config = config;
    this.#events = events;
  }

  /** The host process's pid, while one runs. */
  get hostPid(): number | undefined {
    return this.#host?.pid;
  }

  /** A request id: calls and chores share them, so a reply finds its request. */
  nextId(): number {
    return this.#nextId++;
  }

  /** The slots not dead yet (ending ones included). */
  all(): Slot[] {
    return [...this.#slots].filter((s) => s.state !== "dead");
  }

  /** The slots a call may go to: neither dead nor ending. */
  live(): Slot[] {
    return [...this.#slots].filter((s) => s.state !== "dead" && s.state !== "ending");
  }

  /** Starts a slot; it takes calls once it said `ready`, or ends after `startTimeoutMs`. */
  start(): Slot {
    const slot: Slot = {
      id: this.#nextSlot++,
      transport: undefined as unknown as SlotTransport,
      state: "starting",
      seats: new Set(),
      chores: new Map(),
      idleSince: Date.now(),
    };
    this.#slots.add(slot);
    const handlers = {
      onMessage: (m: Reply) => this.#onMessage(slot, m),
      onExit: (exit: SlotExit) => this.#onExit(slot, exit),
    };
    // Deno's `new Worker()` blocks its caller for 30–50 ms: there a host Worker starts them.
    const inProcess = this.#config.kind === "worker" && this.#config.runtime === "deno";
    if (this.#config.kind === "worker" && !inProcess) {
      slot.transport = startWorkerSlot(this.#config.entry, handlers);
    } else {
      if (!this.#host || this.#host.exited) {
        this.#host = new HostProcess({
          hostEntry: this.#config.hostEntry,
          runtime: this.#config.runtime,
          runtimeArgs: this.#config.runtimeArgs,
          redact: (text) => this.#events.redact(text),
          inProcess,
        });
      }
      slot.transport = this.#host.startSlot(this.#config.entry, handlers);
    }
    slot.startTimer = setTimeout(() => {
      if (slot.state !== "starting") return;
      this.endHard(slot, {
        kind: "start",
        message:
          `executor (${this.#config.kind}) did not start within ${this.#config.startTimeoutMs} ms`,
      });
    }, this.#config.startTimeoutMs);
    unref(slot.startTimer);
    return slot;
  }

  /** Sends a request no caller waits for; resolves on its answer, the slot's exit, or `timeoutMs`. */
  chore(
    slot: Slot,
    request: { t: "detach"; db: number } | { t: "close" },
    timeoutMs: number,
  ): Promise<void> {
    return new Promise((resolve) => {
      const id = this.nextId();
      let timer: ReturnType<typeof setTimeout> | undefined;
      const done = () => {
        if (timer !== undefined) clearTimeout(timer);
        slot.chores.delete(id);
        resolve();
      };
      slot.chores.set(id, done);
      if (timeoutMs !== Infinity) timer = setTimeout(done, timeoutMs);
      slot.transport.send({ ...request, id });
    });
  }

  /**
   * Ends a slot at once. `"worker"`: `terminate()` (a native call in it may
   * go on; the caller quarantines its database). `"process"`: SIGKILL of the
   * host, which ends every native call in it, and so every slot of it.
   */
  endHard(slot: Slot, ending: Ending): void {
    slot.ending = ending;
    slot.state = "ending";
    // A Worker that never became ready is in no native call: ending it alone is enough.
    if (this.#config.kind === "worker" || ending.kind === "start") return slot.transport.kill();
    for (const other of this.live()) {
      other.state = "ending";
      other.ending ??= {
        kind: "killed",
        message: "was interrupted: the executor host was restarted to end another " +
          "database's call; it will be retried",
      };
    }
    this.#host?.kill();
    this.#host = undefined; // The next slot starts a fresh host, not one on the dying host.
  }

  /** Retires a slot above `size` once it has been idle for `idleMs`. */
  retireLater(slot: Slot): void {
    if (this.live().length <= this.#config.size) return;
    const timer = setTimeout(() => {
      if (slot.state !== "ready" || slot.running || slot.chores.size > 0) return;
      if (Date.now() - slot.idleSince < this.#config.idleMs) return;
      if (this.live().length <= this.#config.size) return;
      slot.ending = { kind: "quiet" };
      for (const seat of slot.seats) {
        seat.home = undefined;
        seat.opened = false;
        // Its change detection must go on elsewhere: reopen now, not at its next call.
        if (seat.open?.watch && !seat.closed && seat.queue.length === 0) seat.reopenSoon();
      }
      slot.seats.clear();
      void this.chore(slot, { t: "close" }, 2000).then(() => slot.transport.kill());
      this.#events.onFree();
    }, this.#config.idleMs + 1);
    unref(timer);
  }

  /** Closes and ends every slot, and the host. */
  async shutdown(): Promise<void> {
    // Out of the pool at once: a database attached meanwhile starts fresh Workers (and host).
    const slots = this.live();
    const host = this.#host;
    this.#host = undefined;
    for (const slot of slots) {
      slot.ending = { kind: "quiet" };
      this.#slots.delete(slot);
    }
    await Promise.all(
      slots.map((slot) => slot.state === "ready" ? this.chore(slot, { t: "close" }, 1000) : null),
    );
    for (const slot of slots) slot.transport.kill();
    host?.kill();
  }

  /** Ends a call that passed its `deadlineMs` (call `id` of `slot`), and its slot. */
  deadline(slot: Slot, id: number): void {
    const running = slot.running;
    if (!running || running.id !== id || slot.state === "dead") return;
    const { call } = running;
    const deadlineMs = call.deadlineMs!;
    slot.running = undefined;
    call.seat.running = undefined;
    call.reject(
      new SqliteSyncError(
        "timeout",
        `sync()${call.jobId === undefined ? "" : ` (job ${call.jobId})`} did not return ` +
          `within its deadline of ${deadlineMs} ms; its executor was ended and the pool ` +
          `started another`,
      ),
    );
    if (this.#config.kind === "worker") {
      call.seat.notBefore = running.since + worstCaseMs(call.request);
    }
    report(call.seat, {
      reason: "deadline",
      code: null,
      signal: null,
      jobId: call.jobId,
      message: `executor (${this.#config.kind}) ended: a sync passed its ${deadlineMs} ms deadline`,
    });
    this.endHard(slot, {
      kind: "killed",
      message: "was interrupted: its executor was ended after a deadline",
    });
  }

  #onMessage(slot: Slot, message: Reply): void {
    if (slot.state === "dead") return;
    switch (message.t) {
      case "ready":
        if (message.protocol !== PROTOCOL_VERSION) {
          this.endHard(slot, {
            kind: "start",
            message: `executor entry speaks protocol ${message.protocol}, expected ` +
              `${PROTOCOL_VERSION} (an entry from another version of the library: check the ` +
              `'entry' option)`,
          });
          return;
        }
        clearTimeout(slot.startTimer);
        slot.state = "ready";
        slot.wasReady = true;
        this.#events.onFree();
        return;
      case "ok":
      case "err": {
        const chore = slot.chores.get(message.id);
        if (chore) {
          slot.chores.delete(message.id);
          chore();
          this.#events.onFree();
          return;
        }
        this.#events.onAnswer(
          slot,
          message.id,
          message.t === "ok"
            ? { ok: true, value: message.value }
            : { ok: false, error: fromErrorData(message.error) },
        );
        return;
      }
      case "change":
        this.#events.onChange(slot, message);
        return;
    }
  }

  #onExit(slot: Slot, exit: SlotExit): void {
    if (slot.state === "dead") return;
    const wasStarting = !slot.wasReady;
    slot.state = "dead";
    clearTimeout(slot.startTimer);
    this.#slots.delete(slot);
    for (const chore of slot.chores.values()) chore();
    slot.chores.clear();
    const running = slot.running;
    slot.running = undefined;
    if (running?.deadline !== undefined) clearTimeout(running.deadline);
    const ending = slot.ending;
    const crashed = ending === undefined && !wasStarting;
    const seats = [...slot.seats];
    slot.seats.clear();
    for (const seat of seats) {
      seat.home = undefined;
      seat.opened = false;
    }
    if (crashed) this.restarts++;
    settleExit({
      kind: this.#config.kind,
      exit,
      ending,
      wasStarting,
      crashed,
      call: running?.call,
      seats,
    });
    this.#events.onFree();
  }
}

/** Lets the process exit while `timer` is pending. */
export function unref(timer: ReturnType<typeof setTimeout>): void {
  (timer as unknown as { unref?: () => void }).unref?.();
}
