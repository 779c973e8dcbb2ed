/**
 * Scheduler unit-test parts for `startSyncService()`: a fake executor
 * (only the sync call is faked: no network, no protocol, no database), a
 * FakeClock, seeded randomness, and helpers to settle promises between clock
 * steps. The queue is real (a sidecar file in a temp dir). Also what the
 * real-executor tests share: the service's event types, a main-thread stall
 * probe, a database file with one unsent change, and a child process timed
 * from a line it prints to its exit; and the waits they use instead of sleeps:
 * on a service's events, on a listener's connections, on a child's lines,
 * each with a failure guard only.
 */
import assert from "node:assert/strict";
import process from "node:process";
import { spawn } from "node:child_process";
import { createServer, type Socket } from "node:net";
import { join } from "node:path";
import { SyncDatabase } from "../../../src/database.ts";
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
import { listen, tempDir, testExtensionPath } from "../../_helpers.ts";
import { FakeClock } from "./_fake_clock.ts";
import { seededRandom } from "./_seeded_random.ts";

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

/** The service events the tests record. */
export const SERVICE_EVENTS = [
  "started",
  "succeeded",
  "failed",
  "retry-scheduled",
  "dead-lettered",
  "state-changed",
] as const;

/** Settles `work` while a 5 ms interval measures the longest gap of the main thread. */
export async function timed<T>(
  work: () => Promise<T>,
): Promise<{ value?: T; error?: unknown; ms: number; gapMs: number }> {
  let last = performance.now();
  let gapMs = 0;
  const tick = setInterval(() => {
    const now = performance.now();
    gapMs = Math.max(gapMs, now - last);
    last = now;
  }, 5);
  const started = performance.now();
  try {
    const value = await work();
    return { value, ms: performance.now() - started, gapMs };
  } catch (error) {
    return { error, ms: performance.now() - started, gapMs };
  } finally {
    clearInterval(tick);
  }
}

/** Writes `path`: a database with a synced `notes` table holding one unsent local row. */
export async function writeDirtyNotes(path: string, extensionPath: string): Promise<void> {
  const db = await SyncDatabase.open(path, { extensionPath });
  db.exec("CREATE TABLE notes (id TEXT PRIMARY KEY NOT NULL, body TEXT)");
  db.init("notes");
  db.run("INSERT INTO notes (id, body) VALUES (?, ?)", db.uuid(), "local");
  db.close();
}

/**
 * Runs `args` (killed after `killAfterMs`) and times its exit after the line
 * starting with `word` it printed; asserts that it printed one.
 */
export async function exitAfterLine(
  args: string[],
  word: string,
  killAfterMs: number,
): Promise<{ code: number | null; out: string; err: string; exitAfterLineMs: number }> {
  const child = spawn(args[0], args.slice(1), { stdio: ["ignore", "pipe", "pipe"] });
  const line = new RegExp(`^${word} `, "m");
  let out = "";
  let err = "";
  let printedAt: number | undefined;
  child.stdout!.on("data", (d) => {
    out += d;
    if (printedAt === undefined && line.test(out)) printedAt = performance.now();
  });
  child.stderr!.on("data", (d) => (err += d));
  const killer = setTimeout(() => child.kill("SIGKILL"), killAfterMs);
  const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
  clearTimeout(killer);
  const exitedAt = performance.now();
  assert.ok(printedAt !== undefined, `the child never printed ${word}:\n${out}\n${err}`);
  return { code, out, err, exitAfterLineMs: exitedAt - printedAt };
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

/** A recorded event, with the fake time it was emitted at. */
export interface Recorded {
  type: keyof SyncServiceEvents;
  at: number;
  event: SyncServiceEvents[keyof SyncServiceEvents];
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

// ---- event and causal waits for the real-executor tests --------------------------------

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

/** A listener that accepts connections and never answers, and tells when one arrives. */
export interface WatchedListener {
  port: number;
  /** Connections accepted so far. */
  readonly connections: number;
  /** Resolves once `n` connections were accepted (counted from the start). */
  connected(n?: number, guardMs?: number): Promise<void>;
  close(): Promise<void>;
}

/**
 * Like silentListener() of ../_error_servers.ts, in this process: the kernel accepts, nobody
 * reads. Its connection callback runs on this process' main thread, so a connection seen here
 * while a sync is pending also proves the main thread was free during that request.
 */
export async function watchedListener(): Promise<WatchedListener> {
  const sockets = new Set<Socket>();
  let connections = 0;
  let waiters: (() => void)[] = [];
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on("error", () => {});
    connections++;
    const woken = waiters;
    waiters = [];
    for (const w of woken) w();
  });
  const port = await listen(server);
  return {
    port,
    get connections() {
      return connections;
    },
    connected(n = 1, guardMs = GUARD_MS) {
      const seen = new Promise<void>((resolve) => {
        const check = () => (connections >= n ? resolve() : waiters.push(check));
        check();
      });
      return guard(seen, `connection #${n} on the listener`, guardMs);
    },
    close() {
      for (const s of sockets) s.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/** A child process whose stdout is read line by line. */
export interface LineChild {
  /** Lines printed so far. */
  readonly lines: string[];
  /**
   * The first line from index `from` (default 0) matching `pattern`, once printed; rejects when
   * the child exits first, or after the failure guard (none with `guardMs: Infinity`).
   */
  line(pattern: RegExp, options?: { from?: number; guardMs?: number }): Promise<RegExpExecArray>;
  /** Closes the child's stdin: the children of _service_child.ts take that as "stop now". */
  endInput(): void;
  /** Its end: exit code, or the signal that killed it. */
  readonly exited: Promise<{ code: number | null; signal: string | null }>;
  /** SIGKILL, if still running. */
  kill(): void;
  stderr(): string;
}

/** Spawns `argv` with piped stdio and follows its stdout line by line. */
export function spawnLines(argv: string[]): LineChild {
  const child = spawn(argv[0], argv.slice(1), { stdio: ["pipe", "pipe", "pipe"] });
  const lines: string[] = [];
  let buffer = "";
  let err = "";
  let ended = false;
  let waiters: (() => void)[] = [];
  const wake = () => {
    const woken = waiters;
    waiters = [];
    for (const w of woken) w();
  };
  child.stdin!.on("error", () => {});
  child.stdout!.setEncoding("utf8");
  child.stdout!.on("data", (chunk: string) => {
    buffer += chunk;
    for (let i = buffer.indexOf("\n"); i >= 0; i = buffer.indexOf("\n")) {
      lines.push(buffer.slice(0, i));
      buffer = buffer.slice(i + 1);
    }
    wake();
  });
  child.stderr!.on("data", (d) => (err += d));
  const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) =>
    child.on("close", (code, signal) => {
      ended = true;
      resolve({ code, signal });
      wake();
    })
  );
  return {
    lines,
    line(pattern, options = {}) {
      const found = new Promise<RegExpExecArray>((resolve, reject) => {
        const check = () => {
          for (const l of lines.slice(options.from ?? 0)) {
            const m = pattern.exec(l);
            if (m) return resolve(m);
          }
          if (ended) {
            return reject(
              new Error(
                `the child exited before printing ${pattern}:\n${lines.join("\n")}\n${err}`,
              ),
            );
          }
          waiters.push(check);
        };
        check();
      });
      return options.guardMs === Infinity
        ? found
        : guard(found, `a line ${pattern} from the child`, options.guardMs);
    },
    endInput: () => child.stdin!.end(),
    exited,
    kill: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    },
    stderr: () => err,
  };
}
