/**
 * Supervision: what a slot's end means for the databases it served and
 * their calls. The call in flight rejects with `interrupted`; after a crash
 * every database hears of it through `onCrash` and counts a restart; a slot
 * that never started fails its databases' next calls with the reason; a
 * database watching for changes reopens at once unless it keeps crashing.
 * Also the quarantine of a call ended the hard way ({@linkcode worstCaseMs}).
 * Starting and ending slots is `_executor_slot.ts`'s.
 *
 * @module
 */
import { SqliteSyncError } from "../../common/errors.ts";
import type { SlotExit } from "./_executor_channel.ts";
import type { CrashReport, DatabaseRequest, WorkerKind } from "./_executor_protocol.ts";
import type { Call, Ending, Seat } from "./_executor_seat.ts";

/** How many crashes of its executor within {@linkcode CRASH_WINDOW_MS} stop a database's eager reopen. */
const CRASH_LIMIT = 3;
const CRASH_WINDOW_MS = 60_000;

/** A slot that exited, as {@linkcode settleExit} takes it. */
export interface SlotEnd {
  /** The pool's kind. */
  kind: WorkerKind;
  /** How it exited. */
  exit: SlotExit;
  /** Why the pool ended it; unset when it died by itself. */
  ending: Ending | undefined;
  /** Whether it exited before it said `ready`. */
  wasStarting: boolean;
  /** Whether it died by itself after it was ready (a restart). */
  crashed: boolean;
  /** The call it was running, if any. */
  call: Call | undefined;
  /** The databases it served, already taken off it. */
  seats: Seat[];
}

/**
 * Tells a slot's databases of its exit: rejects the call it was running,
 * counts their crashes and reports them, fails the next call of a database
 * whose slot never started, and reopens the watching ones elsewhere now.
 *
 * @param end The exit and what the slot held.
 */
export function settleExit(end: SlotEnd): void {
  const { kind, exit, ending, wasStarting, crashed, call, seats } = end;
  const how = `${
    exit.signal ? `(signal ${exit.signal})` : exit.code !== null ? `(exit code ${exit.code})` : ""
  }${exit.error ? `: ${exit.error}` : ""}`;
  if (crashed) {
    const now = Date.now();
    for (const seat of seats) {
      if (seat.closed) continue;
      seat.restarts++;
      seat.crashes = [...seat.crashes.filter((t) => now - t < CRASH_WINDOW_MS), now];
    }
  }
  if (call) {
    call.seat.running = undefined;
    const message = ending?.kind === "killed"
      ? ending.message
      : wasStarting
      ? startFailure(kind, ending, how)
      : `executor exited during ${call.operation} ${how}; the pool started another`;
    const error = new SqliteSyncError("interrupted", call.seat.listener.redact(message));
    if (call.internal) call.seat.queue.shift()?.reject(error);
    else call.reject(error);
  }
  if (crashed) {
    // Idle or busy, every database it served hears of it at once.
    for (const seat of seats) {
      if (seat.closed) continue;
      const mine = call?.seat === seat && !call.internal;
      report(seat, {
        reason: "exited",
        code: exit.code,
        signal: exit.signal,
        ...(mine && call.jobId !== undefined ? { jobId: call.jobId } : {}),
        message: seat.listener.redact(
          `executor (${kind}) exited unexpectedly ${how}; the pool started another`,
        ),
      });
    }
  }
  if (wasStarting) {
    // A slot that cannot start: its databases' next calls say why, instead of a retry loop.
    const message = startFailure(kind, ending, how);
    for (const seat of seats) {
      if (seat.running) continue;
      seat.queue.shift()?.reject(
        new SqliteSyncError("interrupted", seat.listener.redact(message)),
      );
    }
  }
  for (const seat of seats) {
    // Change detection lives with the connection: reopen now, unless it keeps crashing.
    if (
      !seat.closed && seat.open?.watch && seat.queue.length === 0 && !seat.running &&
      seat.crashes.length < CRASH_LIMIT
    ) seat.reopenSoon();
  }
}

/**
 * The longest a sync's native call can take, in ms (0 for anything else):
 * every request it may make (status, upload, each receive attempt, the
 * diagnosis) at its connect plus request time-out. A terminated Worker's
 * native call may run this long.
 *
 * @param request The call.
 * @returns The bound, in ms.
 */
export function worstCaseMs(request: DatabaseRequest): number {
  if (request.t !== "sync") return 0;
  const o = request.options;
  return (o.maxAttempts + 3) * (o.connectTimeoutS + o.requestTimeoutS) * 1000;
}

function startFailure(kind: WorkerKind, ending: Ending | undefined, how: string): string {
  if (ending?.kind === "start") return `${ending.message} ${how}`.trim();
  return `executor (${kind}) exited before it was ready ${how}`;
}

/**
 * Tells a database its executor crashed; an exception of its listener is
 * rethrown asynchronously, so the other databases still hear of it.
 *
 * @param seat The database.
 * @param crash What happened.
 */
export function report(seat: Seat, crash: CrashReport): void {
  try {
    seat.listener.onCrash?.(crash);
  } catch (err) {
    queueMicrotask(() => {
      throw err;
    });
  }
}
