/**
 * What the scheduler tests of a real executor share: a database file with
 * one unsent change, a main-thread stall probe, and the waits they use
 * instead of sleeps: on a listener's connections, on a child process' lines,
 * on a child's exit timed from a line it printed; each with a failure guard
 * only. Also a SyncService on the real executor (`startReal()`) with the
 * clean-ups its tests register.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createServer, type Socket } from "node:net";
import { join } from "node:path";
import { SqliteSyncError } from "../../../common/errors.ts";
import { SyncDatabase } from "../../../src/database.ts";
import {
  startSyncService,
  type SyncService,
  type SyncServiceOptions,
} from "../../../src/scheduler/service.ts";
import { listen, tempDir, testExtensionPath } from "../../_helpers.ts";
import type { FakeClock } from "./_fake_clock.ts";
import { seededRandom } from "./_seeded_random.ts";
import { type EventLog, guard, GUARD_MS, logEvents } from "./_service_events.ts";

/** Writes `path`: a database with a synced `notes` table holding one unsent local row. */
export async function writeDirtyNotes(path: string, extensionPath: string): Promise<void> {
  const db = await SyncDatabase.open(path, { extensionPath });
  db.exec("CREATE TABLE notes (id TEXT PRIMARY KEY NOT NULL, body TEXT)");
  db.init("notes");
  db.run("INSERT INTO notes (id, body) VALUES (?, ?)", db.uuid(), "local");
  db.close();
}

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

/**
 * Runs `args` (killed after `killAfterMs`) and times its exit after the line
 * starting with `word` it printed; asserts that it printed one. Its stdin is
 * empty, or, given `endInput`, a pipe closed once `endInput` resolves (the
 * child is killed if it rejects).
 */
export async function exitAfterLine(
  args: string[],
  word: string,
  killAfterMs: number,
  endInput?: Promise<unknown>,
): Promise<{ code: number | null; out: string; err: string; exitAfterLineMs: number }> {
  const child = spawn(args[0], args.slice(1), {
    stdio: [endInput ? "pipe" : "ignore", "pipe", "pipe"],
  });
  if (endInput) {
    child.stdin!.on("error", () => {});
    endInput.then(() => child.stdin!.end(), () => child.kill("SIGKILL"));
  }
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

// ---- a SyncService on the real executor (service_network_test.ts, service_restart_test.ts) ----

/** The API key `startReal()` gives its service. */
export const API_KEY = "sqa_SERVICENET_0123456789";

/** What `startReal()` started. */
export interface Real {
  dir: string;
  path: string;
  service: SyncService;
  log: EventLog;
}

/** Clean-ups of the running test, run last first by `runCleanups()` (the files' afterEach). */
export const cleanups: (() => Promise<void> | void)[] = [];

/** Runs and forgets every clean-up registered so far, the last registered first. */
export async function runCleanups(): Promise<void> {
  for (const c of cleanups.splice(0).reverse()) await c();
}

/**
 * A database with a synced `notes` table (one local row, unless `fresh`), and a service on it with the real
 * executor; on `clock` when given (its timers, retries and triggers then move only with it).
 */
export async function startReal(
  port: number,
  options: Partial<SyncServiceOptions> = {},
  clock?: FakeClock,
  database: { fresh?: boolean } = {},
): Promise<Real> {
  const dir = tempDir("service-net-");
  cleanups.push(() => dir.cleanup());
  const path = join(dir.path, "app.db");
  const extensionPath = await testExtensionPath();
  const db = await SyncDatabase.open(path, { extensionPath });
  db.exec("CREATE TABLE notes (id TEXT PRIMARY KEY NOT NULL, body TEXT)");
  db.init("notes");
  // Fresh (no local change): the send phase has nothing to upload, and 1.1.4 raises its result.
  if (!database.fresh) db.run("INSERT INTO notes (id, body) VALUES (?, ?)", db.uuid(), "local");
  db.close();
  const service = await startSyncService(
    path,
    {
      databaseId: "service-net",
      address: `http://127.0.0.1:${port}`,
      apiKey: API_KEY,
      extensionPath,
      connectTimeoutS: 2,
      requestTimeoutS: 2,
      syncOnStart: false,
      polling: false,
      changeDebounceMs: false,
      ...options,
    } as SyncServiceOptions,
    clock ? { clock, random: seededRandom(7) } : {},
  );
  cleanups.push(() => service.stop({ graceMs: 0 }));
  const log = logEvents(service, clock ? () => clock.now() : Date.now);
  return { dir: dir.path, path, service, log };
}

/** The error is a SqliteSyncError of `kind`. */
export function assertKind(err: unknown, kind: string): SqliteSyncError {
  assert.ok(err instanceof SqliteSyncError, `expected a SqliteSyncError, got ${String(err)}`);
  assert.equal(err.kind, kind, err.message);
  return err;
}
