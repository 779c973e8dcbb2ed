/**
 * Scheduler unit-test parts for `startSyncService()`: a fake executor
 * (only the sync call is faked: no network, no protocol, no database), a
 * FakeClock, seeded randomness, and helpers to settle promises between clock
 * steps. The queue is real (a sidecar file in a temp dir). Also what the
 * service unit tests share: `start()` (a harness stopped after each test by
 * `stopStarted()`) and shorthands for what a fake sync does.
 */
import process from "node:process";
import { join } from "node:path";
import { SqliteSyncError } from "../../../common/errors.ts";
import type { SyncResult } from "../../../common/sync_result.ts";
import type {
  ExecutorInitOptions,
  ExecutorOptions,
  ExecutorSyncOptions,
} from "../../../src/scheduler/_executor_options.ts";
import {
  startSyncService,
  type SyncService,
  type SyncServiceOptions,
} from "../../../src/scheduler/service.ts";
import type { SyncServiceEvents } from "../../../src/scheduler/status.ts";
import { queuePathFor } from "../../../src/scheduler/_queue_path.ts";
import { SyncQueue } from "../../../src/scheduler/queue.ts";
import { tempDir, testExtensionPath } from "../../_helpers.ts";
import { FakeClock } from "./_fake_clock.ts";
import { seededRandom } from "./_seeded_random.ts";
import { type Recorded, SERVICE_EVENTS } from "./_service_events.ts";

/** A successful result; `rows`/`chunks` say what it moved. */
export function result(
  options: { rows?: number; chunks?: number; receiveError?: string } = {},
): SyncResult {
  return {
    send: {
      status: "synced",
      localVersion: 1,
      serverVersion: 1,
      chunks: options.chunks ?? 0,
      bytes: 0,
    },
    receive: {
      rows: options.rows ?? 0,
      tables: [],
      chunks: 0,
      bytes: 0,
      complete: options.receiveError === undefined,
      ...(options.receiveError !== undefined ? { error: options.receiveError } : {}),
    },
  };
}

/** What one `sync()` call of the fake does. */
export type SyncBehaviour =
  | { ok: SyncResult }
  | { error: SqliteSyncError }
  /** Stays pending until the test settles it (`fake.release()`), or close() interrupts it. */
  | "hang";

/** One recorded `sync()` call. */
export interface SyncCall {
  at: number;
  options: ExecutorSyncOptions;
}

interface Hanging {
  resolve(r: SyncResult): void;
  reject(e: unknown): void;
}

/** A fake Executor: records calls; `sync()` follows `next` (a function of the call number). */
export class FakeExecutor {
  static created: FakeExecutor[] = [];
  options: ExecutorOptions;
  inits: ExecutorInitOptions[] = [];
  syncs: SyncCall[] = [];
  tokens: string[] = [];
  closes: { graceMs?: number }[] = [];
  /** Times the pool replaced the fake's Worker (tests set it). */
  restarts = 0;
  unsentCalls = 0;
  unsent = 0;
  hanging: Hanging[] = [];
  closed = false;
  readonly kind: "worker" | "process";
  #clock: FakeClock;
  #behave: (n: number, options: ExecutorSyncOptions) => SyncBehaviour;

  constructor(
    options: ExecutorOptions,
    clock: FakeClock,
    behave: (n: number, options: ExecutorSyncOptions) => SyncBehaviour,
  ) {
    this.options = options;
    this.kind = options.kind ?? "worker";
    this.#clock = clock;
    this.#behave = behave;
  }

  init(options: ExecutorInitOptions): Promise<unknown> {
    this.inits.push({ ...options });
    return Promise.resolve({ dbVersion: 0, tables: [] });
  }

  sync(options: ExecutorSyncOptions = {}): Promise<SyncResult> {
    if (this.closed) {
      return Promise.reject(new SqliteSyncError("state", "sync(): the executor is closed."));
    }
    this.syncs.push({ at: this.#clock.now(), options: { ...options } });
    const b = this.#behave(this.syncs.length, options);
    if (b === "hang") {
      return new Promise((resolve, reject) => this.hanging.push({ resolve, reject }));
    }
    return "ok" in b ? Promise.resolve(b.ok) : Promise.reject(b.error);
  }

  /** Settles the oldest hanging sync. */
  release(outcome: { ok: SyncResult } | { error: unknown }): void {
    const h = this.hanging.shift();
    if (!h) throw new Error("no sync is hanging");
    if ("ok" in outcome) h.resolve(outcome.ok);
    else h.reject(outcome.error);
  }

  setToken(token: string): Promise<void> {
    this.tokens.push(token);
    return Promise.resolve();
  }

  unsentChanges(): Promise<number> {
    this.unsentCalls++;
    return Promise.resolve(this.unsent);
  }

  close(options: { graceMs?: number } = {}): Promise<void> {
    this.closes.push(options);
    this.closed = true;
    for (const h of this.hanging.splice(0)) {
      h.reject(new SqliteSyncError("interrupted", "sync() closed while it was in flight"));
    }
    return Promise.resolve();
  }

  closeAndTell(options: { graceMs?: number } = {}): Promise<number> {
    return this.close(options).then(() => 0);
  }

  /** The process syncs run in (a fake runs in this one). */
  get pid(): number {
    return process.pid;
  }

  /** What the real executor does when another connection commits to a synced table. */
  commitElsewhere(): void {
    this.options.onDataVersionChange?.({ dbVersion: 1, previous: 0 });
  }
}

/** Lets every promise chain the service started run to its end (real macrotask turns). */
export async function settle(turns = 3): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise((resolve) => setTimeout(resolve, 0));
}

/** Advances the fake clock in steps, settling promises after each (a sync may end in between). */
export async function advance(clock: FakeClock, ms: number, stepMs = 50): Promise<void> {
  let left = ms;
  await settle();
  while (left > 0) {
    const step = Math.min(stepMs, left);
    clock.advance(step);
    left -= step;
    await settle();
  }
}

export interface Harness {
  service: SyncService;
  clock: FakeClock;
  /** The executors the service created, in order (a new one per setCredentials with a key). */
  executors: FakeExecutor[];
  /** The current executor. */
  readonly fake: FakeExecutor;
  events: Recorded[];
  path: string;
  queuePath: string;
  /** Events of one type. */
  of<K extends keyof SyncServiceEvents>(
    type: K,
  ): (SyncServiceEvents[K] & { emittedAt: number })[];
  /** Opens the queue file read-side (a second connection), runs fn, closes it. */
  withQueue<T>(fn: (q: SyncQueue) => T): Promise<T>;
  cleanup(): Promise<void>;
}

export const UNIT_START = Date.parse("2026-06-01T00:00:00Z");

/**
 * Starts a service on a fake executor and clock (the queue and its file are real).
 * Defaults: API key auth, `syncOnStart: false`, no change trigger unless asked.
 */
export async function startFake(
  options: Partial<SyncServiceOptions> = {},
  behave: (n: number, options: ExecutorSyncOptions) => SyncBehaviour = () => ({ ok: result() }),
  parts: { clock?: FakeClock; random?: () => number } = {},
): Promise<Harness> {
  const dir = tempDir("service-unit-");
  const path = join(dir.path, "app.db");
  const clock = parts.clock ?? new FakeClock(UNIT_START);
  const executors: FakeExecutor[] = [];
  const events: Recorded[] = [];
  let service: SyncService;
  const base: SyncServiceOptions = {
    databaseId: "unit-db",
    apiKey: "sqa_UNITKEY_0123456789",
    extensionPath: await testExtensionPath(),
    syncOnStart: false,
    changeDebounceMs: false,
  };
  try {
    service = await startSyncService(path, { ...base, ...options } as SyncServiceOptions, {
      clock,
      random: parts.random ?? seededRandom(7),
      createExecutor: (o: ExecutorOptions) => {
        const fake = new FakeExecutor(o, clock, behave);
        executors.push(fake);
        return Promise.resolve(fake as never);
      },
    });
  } catch (err) {
    dir.cleanup();
    throw err;
  }
  for (const type of SERVICE_EVENTS) {
    service.on(type, (event) => events.push({ type, at: clock.now(), event }));
  }
  const queuePath = queuePathFor(path);
  return {
    service,
    clock,
    executors,
    get fake() {
      return executors[executors.length - 1];
    },
    events,
    path,
    queuePath,
    of<K extends keyof SyncServiceEvents>(type: K) {
      return events.filter((e) => e.type === type).map((e) => ({
        ...(e.event as SyncServiceEvents[K]),
        emittedAt: e.at,
      }));
    },
    async withQueue<T>(fn: (q: SyncQueue) => T): Promise<T> {
      const q = await SyncQueue.open(queuePath);
      try {
        return fn(q);
      } finally {
        q.close();
      }
    },
    async cleanup() {
      await service.stop({ graceMs: 0 }).catch(() => {});
      dir.cleanup();
    },
  };
}

// ---- what the service unit tests (service_*_test.ts) share --------------------------------

/** A sync that succeeds with `result(o)`. */
export const ok = (o: Parameters<typeof result>[0] = {}): SyncBehaviour => ({ ok: result(o) });
/** A sync that fails with `e`. */
export const fail = (e: SqliteSyncError): SyncBehaviour => ({ error: e });
/** The error of a refused connection. */
export const offline = () =>
  new SqliteSyncError("offline", "Failed to connect to 127.0.0.1 port 9");

/** The harnesses `start()` started that `stopStarted()` did not stop yet. */
export const open: Harness[] = [];

/** `startFake()`, the harness then stopped by `stopStarted()` (each file's afterEach). */
export async function start(...args: Parameters<typeof startFake>): Promise<Harness> {
  const h = await startFake(...args);
  open.push(h);
  return h;
}

/** Stops and forgets every harness `start()` started. */
export async function stopStarted(): Promise<void> {
  for (const h of open.splice(0)) await h.cleanup();
}
