/**
 * Runs `sqlite-sync daemon` in a child process of the current runtime (or
 * any argv, e.g. a compiled binary under qemu) and follows its JSON log.
 * Every wait is on an event (a log line, the exit), never on a timer.
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

/**
 * Wakes whoever waits each time something happens (a line on a child's output, a message it
 * receives), so a test re-checks its condition then and never on a timer. A time-out is only
 * a failure guard (the test fails instead of hanging), never a claim about speed.
 */
export class Wakeups {
  #waiters: (() => void)[] = [];
  #ended: string | undefined;

  /** Something happened: every wait re-checks its condition. */
  notify(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w();
  }

  /** Nothing more will happen (`why`: the child exited): a wait not met by now fails. */
  end(why: string): void {
    this.#ended ??= why;
    this.notify();
  }

  /**
   * `probe()`'s first truthy value: tried now, then after each `notify()` (a probe that throws
   * counts as not yet; its error is shown on failure). Rejects naming `what` once ended, or
   * after `timeoutMs`.
   */
  async until<T>(
    probe: () => Promise<T | undefined | false> | T | undefined | false,
    timeoutMs = 30_000,
    what = "condition",
  ): Promise<T> {
    const deadline = performance.now() + timeoutMs;
    let last: unknown;
    for (;;) {
      // Armed before the probe runs: whatever happens while an async probe waits wakes the next.
      const next = new Promise<void>((resolve) => this.#waiters.push(resolve));
      try {
        const value = await probe();
        if (value) return value;
      } catch (err) {
        last = err;
      }
      const shown = `${what}${last ? ` (last error: ${last})` : ""}`;
      if (this.#ended !== undefined) throw new Error(`${this.#ended} before ${shown}`);
      await guard(next, shown, Math.max(0, deadline - performance.now()));
    }
  }
}

/** A running daemon child. */
export class DaemonChild {
  readonly child: ChildProcess;
  stdout = "";
  stderr = "";
  lines: LogLine[] = [];
  exited: Promise<{ code: number | null; signal: string | null; at: number }>;
  readonly #events = new Wakeups();

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
      this.#events.notify();
    });
    this.child.stderr!.setEncoding("utf8");
    this.child.stderr!.on("data", (chunk: string) => (this.stderr += chunk));
    this.exited = new Promise((resolve) => {
      this.child.on("close", (code, signal) => {
        resolve({ code, signal, at: performance.now() });
        this.#events.end("the daemon exited");
      });
    });
    this.exited.then(() => {});
  }

  /** Waits for a log line matching `match` (searching from index `from`). */
  waitFor(
    match: (line: LogLine) => boolean,
    options: { timeoutMs?: number; from?: number } = {},
  ): Promise<LogLine> {
    const from = options.from ?? 0;
    return this.until(() => this.lines.slice(from).find(match), options.timeoutMs, "the log line");
  }

  /**
   * `probe()`'s first truthy value, for a condition on what the daemon serves (its `/status`):
   * tried now, then again after each line it logs (its state changes as it does what it logs),
   * never on a timer. Fails when the daemon exits first or after `timeoutMs`, with its output.
   */
  async until<T>(
    probe: () => Promise<T | undefined | false> | T | undefined | false,
    timeoutMs = 30_000,
    what = "condition",
  ): Promise<T> {
    try {
      return await this.#events.until(probe, timeoutMs, what);
    } catch (err) {
      throw new Error(
        `${(err as Error).message}; stdout:\n${this.stdout}\nstderr:\n${this.stderr}`,
      );
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
