/**
 * What executor_bench.ts and service_bench.ts share: the test extension, the
 * runtime's argv for a script, a dirty database (and one that syncs inline),
 * the main-thread stall probe, the interleaved overhead timing, /proc
 * readings, the two non-protocol fixtures and number formatting.
 * Private to bench/.
 *
 * @module
 */
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { createServer, type Socket } from "node:net";
import { dirname, join, resolve } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { SyncDatabase } from "../src/database.ts";
import { resolveExtension } from "../ffi/resolve.ts";
import { detectRuntime } from "../ffi/runtime.ts";

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
export const runtime = detectRuntime();

export const extensionPath = process.env.SQLITE_SYNC_TEST_EXTENSION ??
  (await resolveExtension({
    cacheDir: process.env.SQLITE_SYNC_TEST_CACHE ?? join(ROOT, ".cache", "test-extension"),
  })).path;

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
export const fmt = (ms: number) => `${ms.toFixed(1)} ms`;
export const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/** The argv that runs a script in this runtime. */
export function selfArgv(script: string, args: string[]): string[] {
  switch (runtime.name) {
    case "deno":
      return [process.execPath, "run", "-A", "--no-check", script, ...args];
    case "bun":
      return [process.execPath, script, ...args];
    case "node":
      return [process.execPath, "--disable-warning=ExperimentalWarning", script, ...args];
  }
}

/** A database file with one synced table and one unsent local change. */
export async function openDirty(path: string): Promise<SyncDatabase> {
  const db = await SyncDatabase.open(path, { extensionPath });
  db.exec("CREATE TABLE IF NOT EXISTS notes (id TEXT PRIMARY KEY NOT NULL, body TEXT)");
  db.init("notes");
  db.run("INSERT INTO notes (id, body) VALUES (?, ?)", db.uuid(), "local");
  return db;
}

/** openDirty(), with both network time-outs at `timeoutS` and the network initialised at `port`. */
export async function openInline(
  path: string,
  port: number,
  timeoutS: number,
): Promise<SyncDatabase> {
  const db = await openDirty(path);
  db.set("network_connect_timeout", timeoutS);
  db.set("network_request_timeout", timeoutS);
  db.network.init({ databaseId: "bench", address: `http://127.0.0.1:${port}` });
  return db;
}

/**
 * Times every case against the 503 server: 3 warm-up calls each, then `calls`
 * rounds, interleaved (every other round in reverse order); every call must fail 'http'.
 */
export async function timeCases(
  cases: Record<string, () => Promise<unknown>>,
  calls: number,
): Promise<Record<string, number[]>> {
  const times: Record<string, number[]> = {};
  for (const [name, run] of Object.entries(cases)) {
    times[name] = [];
    for (let i = 0; i < 3; i++) await run().catch(() => {}); // warm-up
  }
  for (let i = 0; i < calls; i++) {
    const names = Object.keys(cases);
    if (i % 2) names.reverse();
    for (const name of names) {
      const t0 = performance.now();
      const kind = await cases[name]().then(() => "ok", (e) => e?.kind);
      times[name].push(performance.now() - t0);
      if (kind !== "http") throw new Error(`${name}: expected an http error, got ${kind}`);
    }
  }
  return times;
}

/** Prints the median of each case of timeCases() and its overhead over the inline one. */
export function printOverhead(letter: string, calls: number, times: Record<string, number[]>) {
  const inline = median(times["inline network.sync()"]);
  console.log(`\n(${letter}) one sync against a 503 server, median of ${calls} (goal: ≤ +5 ms)`);
  for (const [name, xs] of Object.entries(times)) {
    const m = median(xs);
    const extra = name.startsWith("inline")
      ? ""
      : `   +${(m - inline).toFixed(2)} ms, ${(m / inline).toFixed(2)}× inline`;
    console.log(`  ${name.padEnd(24)} ${fmt(m).padStart(10)}${extra}`);
  }
}

/** Runs `work` while a 5 ms interval measures the longest main-thread gap. */
export async function stall(work: () => unknown): Promise<{ gapMs: number; ms: number }> {
  let last = performance.now();
  let gapMs = 0;
  const tick = setInterval(() => {
    const now = performance.now();
    gapMs = Math.max(gapMs, now - last);
    last = now;
  }, 5);
  await sleep(50); // the interval is running
  const started = performance.now();
  try {
    await work();
  } catch {
    // The failure is the point.
  }
  const ms = performance.now() - started;
  await sleep(20); // let the interval see the end of a blocking call
  clearInterval(tick);
  return { gapMs, ms };
}

/** A `<field>: N kB` line of /proc/<pid>/<file>, in bytes (NaN off Linux). */
export function procKb(pid: number, file: string, field: string): number {
  const path = `/proc/${pid}/${file}`;
  if (!existsSync(path)) return NaN;
  const kb = new RegExp(`^${field}:\\s+(\\d+)\\s+kB`, "m").exec(readFileSync(path, "utf8"))?.[1];
  return kb === undefined ? NaN : Number(kb) * 1024;
}

/** A listener that accepts connections and never answers. */
export async function silentListener(): Promise<{ port: number; close: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on("error", () => {});
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise((r) => server.close(() => r()));
    },
  };
}

/** tests/src/_http_error_server.ts in a child process, answering every request with 503. */
export async function errorServer503(): Promise<{ port: number; stop: () => void }> {
  const script = join(ROOT, "tests", "src", "_http_error_server.ts");
  const [cmd, ...args] = selfArgv(script, [
    "503",
    "Service Unavailable",
    '{"errors":[{"status":"503","code":"database_paused","title":"Database paused"}]}',
  ]);
  const child = spawn(cmd, args, { stdio: ["pipe", "pipe", "inherit"] });
  const port = await new Promise<number>((resolvePromise, reject) => {
    let out = "";
    child.stdout!.on("data", (d) => {
      out += d;
      const m = /PORT (\d+)/.exec(out);
      if (m) resolvePromise(Number(m[1]));
    });
    child.once("exit", (code) => reject(new Error(`503 server exited with ${code}`)));
  });
  return {
    port,
    stop: () => {
      child.stdin!.end();
      child.kill();
    },
  };
}

/**
 * Runs `script` once per runtime (Deno, Bun) as a child, with this process's
 * arguments minus `--runtimes`, echoing its output; collects the JSON of each
 * child's `RESULT ` line. SIGINT/SIGTERM end the child and then this process.
 */
export async function runPerRuntime<R>(script: string, runtimes: string[]): Promise<R[]> {
  const argvs: Record<string, string[]> = {
    deno: [join(ROOT, "node_modules", ".bin", "deno"), "run", "-A", "--no-check"],
    bun: [join(ROOT, "node_modules", ".bin", "bun")],
  };
  const rest = process.argv.slice(2).filter((a, i, all) =>
    a !== "--runtimes" && all[i - 1] !== "--runtimes" && !a.startsWith("--runtimes=")
  );
  const results: R[] = [];
  for (const rt of runtimes) {
    if (!argvs[rt]) {
      console.log(`unknown runtime '${rt}' (deno, bun): skipped`);
      continue;
    }
    console.log(`\n===== ${rt} =====`);
    const child = spawn(argvs[rt][0], [...argvs[rt].slice(1), script, ...rest], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    let aborted = false;
    const onSignal = () => {
      aborted = true;
      child.kill("SIGINT");
    };
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
    let out = "";
    child.stdout!.setEncoding("utf8");
    child.stdout!.on("data", (d: string) => {
      out += d;
      process.stdout.write(d);
    });
    await new Promise((r) => child.on("close", r));
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    if (aborted) process.exit(130);
    const line = out.split("\n").find((l) => l.startsWith("RESULT "));
    if (line) results.push(JSON.parse(line.slice(7)));
  }
  return results;
}
