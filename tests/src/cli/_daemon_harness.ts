/**
 * Runs `sqlite-sync daemon` in a child process of the current runtime (or
 * any argv, e.g. a compiled binary under qemu) and follows its JSON log.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { chmodSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { ROOT, runtimeArgv, SKIP_LOG_ENV } from "../../_helpers.ts";

/** The test entry: src/cli/main.ts when it exists, else the daemon command alone. */
export const DAEMON_MAIN = join(ROOT, "tests", "src", "cli", "_daemon_main.ts");

/** argv of `daemon --config <file>` in the current runtime. */
export function daemonArgv(config: string): string[] {
  return runtimeArgv(DAEMON_MAIN, ["daemon", "--config", config]);
}

/**
 * The environment of a test daemon: the test's extension binary, and none of the credential or
 * systemd variables the runner may have (a test that wants one passes it in `extra`).
 */
export function daemonEnv(
  extension: string,
  extra: Record<string, string | undefined> = {},
): Record<string, string | undefined> {
  return {
    SQLITE_SYNC_EXTENSION_PATH: extension,
    SQLITE_SYNC_API_KEY: undefined,
    SQLITE_SYNC_TOKEN: undefined,
    NOTIFY_SOCKET: undefined,
    WATCHDOG_USEC: undefined,
    ...extra,
  };
}

/** One parsed log line. */
export type LogLine = Record<string, unknown> & { event: string; level: string };

/** A running daemon child. */
export class DaemonChild {
  readonly child: ChildProcess;
  stdout = "";
  stderr = "";
  lines: LogLine[] = [];
  exited: Promise<{ code: number | null; signal: string | null; at: number }>;
  #waiters: (() => void)[] = [];

  constructor(argv: string[], env: Record<string, string | undefined> = {}, cwd = ROOT) {
    const full: Record<string, string | undefined> = {
      ...process.env,
      [SKIP_LOG_ENV]: undefined,
      ...env,
    };
    for (const [k, v] of Object.entries(full)) if (v === undefined) delete full[k];
    this.child = spawn(argv[0], argv.slice(1), {
      cwd,
      env: full as Record<string, string>,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let partial = "";
    this.child.stdout!.setEncoding("utf8");
    this.child.stdout!.on("data", (chunk: string) => {
      this.stdout += chunk;
      partial += chunk;
      let i;
      while ((i = partial.indexOf("\n")) >= 0) {
        const line = partial.slice(0, i);
        partial = partial.slice(i + 1);
        try {
          this.lines.push(JSON.parse(line));
        } catch {
          this.lines.push({ event: "unparsed", level: "?", text: line });
        }
      }
      this.#wake();
    });
    this.child.stderr!.setEncoding("utf8");
    this.child.stderr!.on("data", (chunk: string) => (this.stderr += chunk));
    this.exited = new Promise((resolve) => {
      this.child.on("close", (code, signal) => {
        resolve({ code, signal, at: performance.now() });
        this.#wake();
      });
    });
    this.exited.then(() => {});
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w();
  }

  /** Waits for a log line matching `match` (searching from index `from`). */
  async waitFor(
    match: (line: LogLine) => boolean,
    options: { timeoutMs?: number; from?: number } = {},
  ): Promise<LogLine> {
    const deadline = performance.now() + (options.timeoutMs ?? 30_000);
    let exited = false;
    this.exited.then(() => (exited = true));
    for (;;) {
      const found = this.lines.slice(options.from ?? 0).find(match);
      if (found) return found;
      if (exited) {
        throw new Error(
          `daemon exited before the line; stdout:\n${this.stdout}\nstderr:\n${this.stderr}`,
        );
      }
      const left = deadline - performance.now();
      if (left <= 0) {
        throw new Error(
          `no matching log line in time; stdout:\n${this.stdout}\nstderr:\n${this.stderr}`,
        );
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 200));
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** The bound port, from the `http.listening` line. */
  async port(timeoutMs = 30_000): Promise<number> {
    const line = await this.waitFor((l) => l.event === "http.listening", { timeoutMs });
    return line.port as number;
  }

  /** Sends `signal` and resolves with the exit and how long it took, in ms. */
  async signal(
    signal: NodeJS.Signals,
  ): Promise<{ code: number | null; signal: string | null; ms: number }> {
    const sent = performance.now();
    this.send(signal);
    const exit = await this.exited;
    return { code: exit.code, signal: exit.signal, ms: exit.at - sent };
  }

  /**
   * Sends a signal. Not `child.kill()`: Deno's node:child_process then reports the exit as
   * that signal even when the child handled it and exited 0 (Deno 2.9.6).
   */
  send(signal: NodeJS.Signals): void {
    process.kill(this.child.pid!, signal);
  }

  /** Kills it if still running. */
  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill("SIGKILL");
  }
}

/** Writes a secret file with mode 600. */
export function writeSecret(path: string, value: string, mode = 0o600): string {
  writeFileSync(path, value + "\n");
  chmodSync(path, mode);
  return path;
}

/** GETs `path` on the daemon. */
export async function get(port: number, path: string): Promise<{ status: number; text: string }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: res.status, text: await res.text() };
}

/**
 * `promise`, or a rejection naming `what` once `timeoutMs` passed first: a failure guard (the
 * test fails instead of hanging), never a claim about speed.
 */
export function guard<T>(promise: Promise<T>, what: string, timeoutMs = 30_000): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), timeoutMs);
  });
  return Promise.race([promise, expired]).finally(() => clearTimeout(timer));
}

/** Polls `fn` until it returns a truthy value (a condition, checked every 100 ms). */
export async function until<T>(
  fn: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 30_000,
  what = "condition",
): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await fn();
      if (value) return value;
    } catch (err) {
      last = err;
    }
    if (performance.now() > deadline) {
      throw new Error(`timed out waiting for ${what}${last ? `: ${last}` : ""}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Creates a SQLite database file with a table ready for sync (plain SQLite, no extension). */
export async function createTable(path: string, sql: string): Promise<void> {
  if ("Bun" in globalThis) {
    const spec = "bun:sqlite";
    const { Database } = await import(spec);
    const db = new Database(path);
    db.exec(sql);
    db.close();
  } else {
    const { DatabaseSync } = await import("node:sqlite");
    const db = new DatabaseSync(path);
    db.exec(sql);
    db.close();
  }
}
