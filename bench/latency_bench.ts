/**
 * How long the scheduler takes for what its tests check by order and cause
 * (tests/src/scheduler/service_*_test.ts, tests/src/cli/daemon_test.ts): the
 * wall-clock windows those tests used to assert, measured here instead, in
 * the runtime running this script. No assertions: it prints the median, min
 * and max of BENCH_RUNS runs next to the bound the tests once asserted.
 * Non-protocol fixtures only (a refused port, a listener that never answers,
 * a server answering every request with one fixed HTTP error).
 *
 *   deno run -A bench/latency_bench.ts
 *   bun bench/latency_bench.ts
 *
 * (a) retry:    refused port, retry { baseMs 100, capMs 400, maxAttempts 5 }: how far out
 *               each retry was scheduled from its failure (bound: min(cap, base·2^k)) and
 *               how late it started after its time (old bound: < 300 ms).
 * (b) timeout:  `syncNow()` against a listener that never answers, requestTimeoutS 1: time
 *               to the 'timeout' rejection (old bound: 1–5 s) and the longest main-thread
 *               gap meanwhile (old bound: < 200 ms).
 * (c) refresh:  a server answering 401, getToken: from the first sync's start to the retry
 *               after the token refresh (old bound: < 1 s, "at once").
 * (d) change:   another process commits a row → the sync with reason 'change' starts,
 *               changeDebounceMs 300, the service's default change detection (old bound,
 *               with a 100 ms data_version poll: debounce + poll + 600 ms, i.e. < 1000 ms).
 * (e) stop:     a script whose sync hangs (300 s request time-out) calls stop({ graceMs:
 *               200 }) once the listener holds the connection: from `stop()` resolving to
 *               the process' exit, per executor kind (old bound: < 1 s).
 * (f) daemon:   `sqlite-sync daemon` (stopGraceMs 1500) on SIGTERM, idle (start-up sync
 *               failed on a refused port) and with a sync blocked on a listener that
 *               never answers: from the signal to the exit (old bound: < grace + 1 s).
 *
 * Env: BENCH_RUNS (5), BENCH_ONLY (letters, e.g. "ade"), SQLITE_SYNC_TEST_EXTENSION.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { SyncDatabase } from "../src/database.ts";
import { SyncService, type SyncServiceOptions } from "../src/scheduler/service.ts";
import type { SyncServiceEvents } from "../src/scheduler/status.ts";
import {
  extensionPath,
  fmt,
  median,
  openDirty,
  ROOT,
  runtime,
  selfArgv,
  sleep,
  stall,
} from "./_util.ts";

const SELF = fileURLToPath(import.meta.url);
const MAIN = join(ROOT, "src", "cli", "main.ts");
const ERROR_SERVER = join(ROOT, "tests", "src", "_http_error_server.ts");
const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const ONLY = process.env.BENCH_ONLY ?? "abcdef";
const API_KEY = "sqa_LATENCYKEY_0123456789";

// ---- child modes -------------------------------------------------------------------------

if (process.argv[2] === "--commit") {
  // (d): another process commits one row, prints when.
  const db = await SyncDatabase.open(process.argv[3], { extensionPath });
  db.run("INSERT INTO notes (id, body) VALUES (?, ?)", db.uuid(), "from another process");
  console.log(`COMMITTED ${Date.now()}`);
  db.close();
  process.exit(0);
}

if (process.argv[2] === "--stop") {
  // (e): a sync hangs; stop() when stdin closes; then nothing more (the parent times the exit).
  const [path, port, kind] = process.argv.slice(3);
  const service = await SyncService.start(path, {
    ...serviceOptions(Number(port), { connectTimeoutS: 30, requestTimeoutS: 300 }),
    ...(kind === "worker" || kind === "process" ? { executor: kind } : {}),
  });
  const started = new Promise<void>((resolve) => service.on("started", () => resolve()));
  service.syncNow().catch(() => {});
  await started;
  console.log(`STARTED ${service.status().executor}`);
  await new Promise<void>((resolve) => {
    process.stdin.once("end", () => resolve());
    process.stdin.on("data", () => {});
    process.stdin.resume();
  });
  await service.stop({ graceMs: 200 });
  console.log("STOPPED");
}

// ---- fixtures and helpers ------------------------------------------------------------------

function serviceOptions(port: number, extra: Partial<SyncServiceOptions> = {}): SyncServiceOptions {
  return {
    databaseId: "latency-bench",
    address: `http://127.0.0.1:${port}`,
    apiKey: API_KEY,
    extensionPath,
    syncOnStart: false,
    polling: false,
    changeDebounceMs: false,
    connectTimeoutS: 2,
    requestTimeoutS: 2,
    ...extra,
  } as SyncServiceOptions;
}

async function refusedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const port = (server.address() as { port: number }).port;
  await new Promise((r) => server.close(r));
  return port;
}

/** A listener that never answers; `connected()` resolves at its next connection. */
async function listener(): Promise<
  { port: number; connected: () => Promise<void>; close: () => Promise<void> }
> {
  const sockets = new Set<Socket>();
  let waiters: (() => void)[] = [];
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on("error", () => {});
    const woken = waiters;
    waiters = [];
    for (const w of woken) w();
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  return {
    port: (server.address() as { port: number }).port,
    connected: () => new Promise<void>((resolve) => waiters.push(resolve)),
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise((r) => server.close(() => r()));
    },
  };
}

/** tests/src/_http_error_server.ts in a child process, answering every request with `status`. */
async function errorServer(status: number, body: string): Promise<{ port: number; stop(): void }> {
  const [cmd, ...args] = selfArgv(ERROR_SERVER, [String(status), "Error", body]);
  const child = spawn(cmd, args, { stdio: ["pipe", "pipe", "inherit"] });
  const port = await new Promise<number>((resolve, reject) => {
    let out = "";
    child.stdout!.on("data", (d) => {
      out += d;
      const m = /PORT (\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.once("exit", (code) => reject(new Error(`the ${status} server exited with ${code}`)));
  });
  return {
    port,
    stop: () => {
      child.stdin!.end();
      child.kill();
    },
  };
}

/** A child process read line by line, with the time each line arrived. */
function child(argv: string[], env: Record<string, string> = {}) {
  const proc = spawn(argv[0], argv.slice(1), {
    stdio: ["pipe", "pipe", "inherit"],
    env: { ...process.env, ...env },
  });
  const lines: { text: string; at: number }[] = [];
  let buffer = "";
  let waiters: (() => void)[] = [];
  const wake = () => {
    const woken = waiters;
    waiters = [];
    for (const w of woken) w();
  };
  proc.stdout!.setEncoding("utf8");
  proc.stdout!.on("data", (chunk: string) => {
    buffer += chunk;
    for (let i = buffer.indexOf("\n"); i >= 0; i = buffer.indexOf("\n")) {
      lines.push({ text: buffer.slice(0, i), at: performance.now() });
      buffer = buffer.slice(i + 1);
    }
    wake();
  });
  let exitedAt = NaN;
  const exited = new Promise<number | null>((resolve) =>
    proc.on("close", (code) => {
      exitedAt = performance.now();
      resolve(code);
      wake();
    })
  );
  return {
    proc,
    exited,
    get exitedAt() {
      return exitedAt;
    },
    /** The first line matching `match`, with its arrival time. */
    line(match: (text: string) => boolean): Promise<{ text: string; at: number }> {
      return new Promise((resolve, reject) => {
        const check = () => {
          const found = lines.find((l) => match(l.text));
          if (found) return resolve(found);
          if (!Number.isNaN(exitedAt)) return reject(new Error("the child exited first"));
          waiters.push(check);
        };
        check();
      });
    },
  };
}

/** Resolves at the next `type` event of `service` matching `match`. */
function next<K extends keyof SyncServiceEvents>(
  service: SyncService,
  type: K,
  match: (e: SyncServiceEvents[K]) => boolean = () => true,
): Promise<SyncServiceEvents[K] & { t: number }> {
  return new Promise((resolve) => {
    const off = service.on(type, (e) => {
      if (!match(e)) return;
      off();
      resolve({ ...e, t: Date.now() });
    });
  });
}

function row(name: string, xs: number[], bound: string): void {
  const ok = xs.filter((x) => Number.isFinite(x));
  const stats = ok.length === 0
    ? "no samples".padStart(44)
    : `median ${fmt(median(ok)).padStart(10)}   min ${fmt(Math.min(...ok)).padStart(10)}   max ${
      fmt(Math.max(...ok)).padStart(10)
    }`;
  console.log(`  ${name.padEnd(34)} ${stats}   (${bound}; n=${ok.length})`);
}

// ---- the run -------------------------------------------------------------------------------

if (process.argv[2] === undefined) await main();

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "latency-bench-"));
  console.log(`latency bench: ${runtime.name} ${runtime.version}; ${RUNS} runs each`);
  try {
    if (ONLY.includes("a")) {
      const scheduled: number[][] = [[], [], [], []];
      const late: number[] = [];
      const port = await refusedPort();
      for (let run = 0; run < RUNS; run++) {
        const path = join(dir, `retry-${run}.db`);
        (await openDirty(path)).close();
        const service = await SyncService.start(
          path,
          serviceOptions(port, { retry: { baseMs: 100, capMs: 400, maxAttempts: 5 } }),
        );
        const events: { type: string; t: number; at?: number }[] = [];
        for (const type of ["started", "failed", "retry-scheduled"] as const) {
          service.on(
            type,
            (e) => events.push({ type, t: Date.now(), at: (e as { at?: number }).at }),
          );
        }
        const dead = next(service, "dead-lettered");
        await service.syncNow().catch(() => {});
        await dead;
        await service.stop({ graceMs: 0 });
        const of = (type: string) => events.filter((e) => e.type === type);
        const [started, failed, retries] = [of("started"), of("failed"), of("retry-scheduled")];
        for (let k = 0; k < retries.length; k++) {
          scheduled[k].push(retries[k].at! - failed[k].t);
          late.push(started[k + 1].t - retries[k].at!);
        }
      }
      console.log(`\n(a) retries after a refused connection (base 100 ms, cap 400 ms)`);
      for (let k = 0; k < 4; k++) {
        row(
          `retry ${k + 1}: scheduled after failure`,
          scheduled[k],
          `≤ ${Math.min(400, 100 * 2 ** k)} ms`,
        );
      }
      row("retry start after its time", late, "old bound < 300 ms");
    }

    if (ONLY.includes("b")) {
      const silent = await listener();
      const ms: number[] = [];
      const gaps: number[] = [];
      for (let run = 0; run < RUNS; run++) {
        const path = join(dir, `timeout-${run}.db`);
        (await openDirty(path)).close();
        const service = await SyncService.start(
          path,
          serviceOptions(silent.port, {
            requestTimeoutS: 1,
            retry: { baseMs: 3_600_000, capMs: 3_600_000 },
          }),
        );
        const r = await stall(() => service.syncNow());
        ms.push(r.ms);
        gaps.push(r.gapMs);
        await service.stop({ graceMs: 0 });
      }
      await silent.close();
      console.log(`\n(b) syncNow() against a listener that never answers, requestTimeoutS 1`);
      row("until the 'timeout' rejection", ms, "old bound 1–5 s");
      row("longest main-thread gap", gaps, "old bound < 200 ms");
    }

    if (ONLY.includes("c")) {
      const server = await errorServer(
        401,
        '{"errors":[{"status":"401","code":"unauthorized","title":"Unauthorized"}]}',
      );
      const gaps: number[] = [];
      for (let run = 0; run < RUNS; run++) {
        const path = join(dir, `refresh-${run}.db`);
        (await openDirty(path)).close();
        let n = 0;
        const service = await SyncService.start(
          path,
          serviceOptions(server.port, { apiKey: undefined, getToken: () => `opaque-${++n}` }),
        );
        const starts: number[] = [];
        service.on("started", () => starts.push(Date.now()));
        const dead = next(service, "dead-lettered");
        await service.syncNow().catch(() => {});
        await dead;
        gaps.push(starts.length === 2 ? starts[1] - starts[0] : NaN);
        await service.stop({ graceMs: 0 });
      }
      server.stop();
      console.log(`\n(c) a 401 with getToken: first sync start → retry after the refresh`);
      row("first start → retry start", gaps, "old bound < 1000 ms");
    }

    if (ONLY.includes("d")) {
      const port = await refusedPort();
      const path = join(dir, "change.db");
      (await openDirty(path)).close();
      const service = await SyncService.start(
        path,
        serviceOptions(port, { changeDebounceMs: 300, retry: { maxAttempts: 1 } }),
      );
      const ms: number[] = [];
      for (let run = 0; run < RUNS; run++) {
        const started = next(service, "started", (e) => e.reasons.includes("change"));
        const c = child(selfArgv(SELF, ["--commit", path]));
        const committedAt = Number(
          (await c.line((l) => l.startsWith("COMMITTED "))).text.split(" ")[1],
        );
        await c.exited;
        ms.push((await started).t - committedAt);
        await next(service, "dead-lettered");
        await sleep(200); // the next commit is a change of its own, not part of this one's window
      }
      await service.stop();
      console.log(`\n(d) a commit by another process → its sync starts (changeDebounceMs 300)`);
      row(
        "commit → 'change' sync started",
        ms,
        "old bound < 1000 ms with a 100 ms poll; debounce 300 ms",
      );
    }

    if (ONLY.includes("e")) {
      const kinds = runtime.name === "deno" ? ["default", "process"] : ["default"];
      const silent = await listener();
      console.log(
        `\n(e) a script whose sync hangs (300 s request time-out) calls stop({ graceMs: 200 }): ` +
          `stop() resolved → process exit`,
      );
      for (const kind of kinds) {
        const ms: number[] = [];
        let executor = "";
        for (let run = 0; run < RUNS; run++) {
          const path = join(dir, `stop-${kind}-${run}.db`);
          (await openDirty(path)).close();
          const connected = silent.connected();
          const c = child(selfArgv(SELF, ["--stop", path, String(silent.port), kind]));
          executor = (await c.line((l) => l.startsWith("STARTED "))).text.split(" ")[1];
          await connected;
          c.proc.stdin!.end();
          const stopped = await c.line((l) => l === "STOPPED");
          await c.exited;
          ms.push(c.exitedAt - stopped.at);
        }
        row(`executor ${kind} (${executor})`, ms, "old bound < 1000 ms");
      }
      await silent.close();
    }

    if (ONLY.includes("f")) {
      const GRACE_MS = 1500;
      const keyFile = join(dir, "api-key");
      writeFileSync(keyFile, `${API_KEY}\n`, { mode: 0o600 });
      const refused = await refusedPort();
      const silent = await listener();
      console.log(`\n(f) sqlite-sync daemon, stopGraceMs ${GRACE_MS}: SIGTERM → exit`);
      for (const blocked of [false, true]) {
        const ms: number[] = [];
        for (let run = 0; run < RUNS; run++) {
          const name = `${blocked ? "blocked" : "idle"}-${run}`;
          (await openDirty(join(dir, `${name}.db`))).close();
          const file = join(dir, `${name}.jsonc`);
          writeFileSync(
            file,
            JSON.stringify({
              databases: [{
                name,
                path: `${name}.db`,
                databaseId: "latency-bench",
                address: `http://127.0.0.1:${blocked ? silent.port : refused}`,
                apiKeyFile: "api-key",
                tables: ["notes"],
                intervalMs: 3_600_000,
                requestTimeoutS: 300,
              }],
              stopGraceMs: GRACE_MS,
            }),
          );
          const connected = silent.connected();
          const d = child(selfArgv(MAIN, ["daemon", "--config", file]), {
            SQLITE_SYNC_EXTENSION_PATH: extensionPath,
          });
          const event = (text: string, name: string) => text.includes(`"event":"${name}"`);
          if (blocked) {
            await d.line((l) => event(l, "sync.started"));
            await connected;
          } else {
            await d.line((l) => event(l, "sync.failed"));
          }
          const sent = performance.now();
          d.proc.kill("SIGTERM");
          await d.exited;
          ms.push(d.exitedAt - sent);
        }
        row(
          blocked ? "a sync blocked in its request" : "idle (start-up sync failed)",
          ms,
          `old bound < ${GRACE_MS + 1000} ms`,
        );
      }
      await silent.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
