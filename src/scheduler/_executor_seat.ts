/**
 * The pool's record of one database (a {@linkcode Seat}): where its
 * connection lives, the calls waiting for it, its restarts and crashes, and
 * the `open` replayed wherever it moves. The slots it lives in are
 * `_executor_slot.ts`'s; which slot is the pool's (`_executor_pool.ts`).
 *
 * @module
 */
import type { CrashReport, DatabaseRequest, OpenRequest } from "./_executor_protocol.ts";
import type { SlotTransport } from "./_executor_channel.ts";

/** What a seat hears besides its calls' answers. */
export interface SeatListener {
  /** Another connection committed to a synced table. */
  onChange?(dbVersion: number, previous: number): void;
  /** Its call was ended by a crash or a deadline. */
  onCrash?(crash: CrashReport): void;
  /** Removes this database's credentials from a message. */
  redact(text: string): string;
}

/** One call waiting for, or running in, a slot. */
export interface Call {
  seat: Seat;
  request: DatabaseRequest;
  operation: string;
  resolve(value: unknown): void;
  reject(err: Error): void;
  jobId?: number;
  deadlineMs?: number;
  /** A reopen the pool issued itself (no caller waits). */
  internal?: boolean;
}

/** The pool's record of one database. */
export class Seat {
  readonly key: number;
  readonly listener: SeatListener;
  /** The last successful `open`, replayed wherever the database moves (kept in memory). */
  open: OpenRequest | undefined;
  home: Slot | undefined;
  opened = false;
  queue: Call[] = [];
  running: Call | undefined;
  restarts = 0;
  closed = false;
  /** No call runs before this time (a native call it abandoned may still be in a request). */
  notBefore = 0;
  /** When its executor crashed lately. */
  crashes: number[] = [];
  /** The database version its Worker last reported (open, change): the baseline of a reopen. */
  dbVersion: number | undefined;

  constructor(key: number, listener: SeatListener) {
    this.key = key;
    this.listener = listener;
  }

  /** Reopens the database on its next slot now, not at its next call (change detection). */
  reopenSoon(): void {
    // An empty queue with `open` set: #run issues the reopen before the next call; to run it now,
    // queue an internal no-op the reopen precedes.
    this.queue.push({
      seat: this,
      request: { t: "dbVersion" },
      operation: "dbVersion()",
      internal: true,
      resolve: () => {},
      reject: () => {},
    });
  }
}

/** One Worker of the pool. */
export interface Slot {
  id: number;
  transport: SlotTransport;
  /** Whether it ever said `ready`. */
  wasReady?: boolean;
  /** `ending`: the pool is ending it; no call goes there any more. */
  state: "starting" | "ready" | "ending" | "dead";
  seats: Set<Seat>;
  running?: { call: Call; id: number; since: number; deadline?: ReturnType<typeof setTimeout> };
  /** Replies the pool waits for that no caller does (detach, close). */
  chores: Map<number, () => void>;
  idleSince: number;
  startTimer?: ReturnType<typeof setTimeout>;
  /** Why the pool ended it; unset while it lives or when it crashed by itself. */
  ending?: Ending;
}

/**
 * Why the pool ended a slot: `quiet` (retired, shut down: its databases live
 * on elsewhere), `killed` (a call ended the hard way: its call, if still
 * running, rejects with `message`), `start` (it never became ready).
 */
export type Ending =
  | { kind: "quiet" }
  | { kind: "killed"; message: string }
  | { kind: "start"; message: string };
