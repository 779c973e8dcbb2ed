/**
 * The service's events as the scheduler tests record them (SERVICE_EVENTS,
 * each stamped with the time it was emitted), and the waits the
 * real-executor tests use instead of sleeps: on a service's events, or on
 * any promise, each with a failure guard only (a test fails instead of
 * hanging; never a claim about speed).
 */
import type { SyncService } from "../../../src/scheduler/service.ts";
import type { SyncServiceEvents } from "../../../src/scheduler/status.ts";

/** The service events the tests record. */
export const SERVICE_EVENTS = [
  "started",
  "succeeded",
  "failed",
  "retry-scheduled",
  "dead-lettered",
  "state-changed",
] as const;

/** A recorded event, with the fake time it was emitted at. */
export interface Recorded {
  type: keyof SyncServiceEvents;
  at: number;
  event: SyncServiceEvents[keyof SyncServiceEvents];
}

/** The default failure guard of the waits below: a test fails after it instead of hanging. */
export const GUARD_MS = 20_000;

/**
 * `promise`, or a rejection naming `what` once `guardMs` passed first. A failure guard (the
 * test fails instead of hanging), never a claim about speed: keep it generous.
 */
export function guard<T>(promise: Promise<T>, what: string, guardMs = GUARD_MS): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`gave up waiting for ${what} (failure guard ${guardMs} ms)`)),
      guardMs,
    );
  });
  return Promise.race([promise, expired]).finally(() => clearTimeout(timer));
}

/** A service's events as they are emitted, and waits on them. */
export interface EventLog {
  /** Every event so far; `at` is `now()` when it was emitted. */
  readonly events: Recorded[];
  /** Events of one type, each with `emittedAt`. */
  of<K extends keyof SyncServiceEvents>(
    type: K,
  ): (SyncServiceEvents[K] & { emittedAt: number })[];
  /** Resolves once `holds()` is true: checked at once and after every event. */
  until(holds: () => boolean, what: string, guardMs?: number): Promise<void>;
  /** The `n`-th event of `type` (from 1), once it was emitted. */
  nth<K extends keyof SyncServiceEvents>(
    type: K,
    n: number,
    guardMs?: number,
  ): Promise<SyncServiceEvents[K] & { emittedAt: number }>;
}

/** Records every event of `service` (see SERVICE_EVENTS), stamped with `now()`. */
export function logEvents(service: SyncService, now: () => number = Date.now): EventLog {
  const events: Recorded[] = [];
  let waiters: (() => void)[] = [];
  for (const type of SERVICE_EVENTS) {
    service.on(type, (event) => {
      events.push({ type, at: now(), event });
      const woken = waiters;
      waiters = [];
      for (const w of woken) w();
    });
  }
  const of = <K extends keyof SyncServiceEvents>(type: K) =>
    events.filter((e) => e.type === type).map((e) => ({
      ...(e.event as SyncServiceEvents[K]),
      emittedAt: e.at,
    }));
  const until = (holds: () => boolean, what: string, guardMs = GUARD_MS): Promise<void> => {
    const held = new Promise<void>((resolve) => {
      const check = () => (holds() ? resolve() : waiters.push(check));
      check();
    });
    return guard(held, what, guardMs).catch((err: Error) => {
      throw new Error(`${err.message}; events: ${events.map((e) => e.type).join(", ") || "none"}`);
    });
  };
  return {
    events,
    of,
    until,
    async nth<K extends keyof SyncServiceEvents>(type: K, n: number, guardMs = GUARD_MS) {
      await until(() => of(type).length >= n, `'${type}' event #${n}`, guardMs);
      return of(type)[n - 1];
    },
  };
}
