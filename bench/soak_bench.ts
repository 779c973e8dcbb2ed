/**
 * The daemon's HTTP server under a long mixed load: `sqlite-sync daemon` with
 * one database (its address a refused 127.0.0.1 port: no network, no
 * protocol), in Deno and in Bun, answers 20,000 requests sent over 8
 * keep-alive connections, each connection one request at a time:
 * `GET /status`, `GET /`, `GET /metrics`, `POST /sync` without a token (401)
 * and with the right one (the sync fails against the refused port: 502), in a
 * fixed cycle of 20 (6 / 5 / 5 / 3 / 1).
 *
 *   deno run -A bench/soak_bench.ts                 (or: bun bench/soak_bench.ts)
 *   … --runtimes deno,bun --requests 20000 --concurrency 8 --settle-s 5 [--main <file>]
 *
 * `--main` runs another daemon entry (say an older checkout's src/cli/main.ts)
 * to compare; `--only status,page,metrics,healthz,sync-401,sync` sends only
 * those routes, in turn (to find which one costs memory); `--deno-v8-flags`
 * sets `DENO_V8_FLAGS` for a Deno daemon, by default the documented
 * `--max-semi-space-size=2` (docs/daemon.md: V8 otherwise grows the main
 * isolate's young generation past 50 MB under a request flood; `''` measures
 * that); `--prefill N` sends N authorised syncs before the idle reading, so
 * the history (at most 500 attempts listed) is full before the first
 * checkpoint and growth between the checkpoints is not data.
 *
 * Reports per runtime: requests answered, unanswered within 20 s (the
 * connection is then replaced) and closed by the server before an answer; the
 * answers by status; RSS of the daemon's process tree (`_proc_tree.ts`, VmRSS
 * summed) at idle (after the database started and a 5 s settle), at request
 * 5,000 and 20,000, and the peak (sampled every 250 ms); p50/p99 latency per
 * route and overall, measured by the client from the request's first byte
 * written to its response's last byte read; the attempts `/status` lists at
 * 5,000 and at the end (the page and `/status` grow with them, up to 500).
 *
 * Goals: every request answered; RSS(20,000) − RSS(5,000) ≤ 10 MB; peak ≤ idle
 * + 60 MB. A bench reports: it exits 0 whatever the numbers. Every child is
 * killed at the end, also on error or Ctrl-C, and the temp dir removed.
 *
 * @module
 */
import { type ChildProcess, spawn } from "node:child_process";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { NoAnswer, RawConnection } from "../tests/src/http/_raw_http.ts";
import { comm, killTree, rssKb, tree, treeRssMb } from "./_proc_tree.ts";
import {
  extensionPath,
  openDirty,
  ROOT,
  runPerRuntime,
  runtime,
  selfArgv,
  sleep,
} from "./_util.ts";

const SELF = fileURLToPath(import.meta.url);
const CHILD_ENV = "SOAK_BENCH_CHILD";

const { values: flags } = parseArgs({
  args: process.argv.slice(2),
  options: {
    runtimes: { type: "string", default: "deno,bun" },
    requests: { type: "string", default: "20000" },
    concurrency: { type: "string", default: "8" },
    "settle-s": { type: "string", default: "5" },
    "timeout-s": { type: "string", default: "20" },
    main: { type: "string", default: join(ROOT, "src", "cli", "main.ts") },
    only: { type: "string" },
    "deno-v8-flags": { type: "string", default: "--max-semi-space-size=2" },
    prefill: { type: "string", default: "0" },
  },
});
const REQUESTS = Number(flags.requests);
const CONCURRENCY = Number(flags.concurrency);
const SETTLE_S = Number(flags["settle-s"]);
const TIMEOUT_MS = Number(flags["timeout-s"]) * 1000;
const MAIN = resolve(flags.main!);
const CHECKPOINT = Math.min(5000, REQUESTS);
const PREFILL = Number(flags.prefill);
const GROWTH_GOAL_MB = 10;
const PEAK_GOAL_MB = 60;
const TOKEN = "soak-bench-token-0123456789";

type Route =
  | "GET /status"
  | "GET /"
  | "GET /metrics"
  | "GET /healthz"
  | "POST /sync 401"
  | "POST /sync (token)";
const ONLY: Record<string, Route> = {
  status: "GET /status",
  page: "GET /",
  metrics: "GET /metrics",
  healthz: "GET /healthz",
  "sync-401": "POST /sync 401",
  sync: "POST /sync (token)",
};
/** The cycle of 20: 6 /status, 5 /, 5 /metrics, 3 unauthorised and 1 authorised POST /sync. */
const MIX: Route[] =
  "status page metrics status sync-401 page metrics status page metrics sync-401 status page metrics status sync-401 page metrics status sync"
    .split(" ").map((name) => ONLY[name]);
const CYCLE: Route[] = flags.only === undefined ? MIX : flags.only.split(",").map((name) => {
  if (!(name in ONLY)) throw new Error(`--only: unknown route '${name}' (${Object.keys(ONLY)})`);
  return ONLY[name];
});

interface Result {
  runtime: string;
  main: string;
  requests: number;
  answered: number;
  unanswered: number;
  closedBeforeAnswer: number;
  statuses: Record<string, number>;
  rssIdleMb: number;
  rss5kMb: number;
  rssEndMb: number;
  rssPeakMb: number;
  processes: number;
  /** Each process of the tree at the end: its name and RSS. */
  perProcess: string[];
  p50Ms: number;
  p99Ms: number;
  perRoute: Record<string, { n: number; p50Ms: number; p99Ms: number }>;
  seconds: number;
  /** Attempts `GET /status` listed at request 5,000 and at the end (the page grows with them). */
  attempts: [number, number];
  error?: string;
}

function percentile(xs: number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as { port: number }).port;
  await new Promise((r) => server.close(r));
  return port;
}

/** How many attempts `GET /status` lists (over its own connection). */
async function attemptsListed(port: number): Promise<number> {
  const conn = await RawConnection.open(port);
  try {
    // An Accept-Encoding of its own: the daemon's 1 s cache keys on it, so this is read afresh.
    const res = await conn.request("GET", "/status", {
      headers: { "accept-encoding": `identity, x-soak-probe-${performance.now()}` },
      timeoutMs: TIMEOUT_MS,
    });
    const body = JSON.parse(res.body.toString()) as { databases: { attempts: unknown[] }[] };
    return body.databases.reduce((n, d) => n + d.attempts.length, 0);
  } catch {
    return NaN;
  } finally {
    conn.close();
  }
}

/** `--prefill N`: N authorised syncs before the idle reading, so the history is full from the start. */
async function prefill(port: number): Promise<void> {
  if (PREFILL <= 0) return;
  const conn = await RawConnection.open(port);
  try {
    for (let i = 0; i < PREFILL; i++) {
      await conn.request("POST", "/sync", {
        headers: { authorization: `Bearer ${TOKEN}`, "content-length": "0" },
        timeoutMs: TIMEOUT_MS,
      });
    }
  } finally {
    conn.close();
  }
}

// ---- one runtime --------------------------------------------------------------------------------

/** The daemon child, its JSON log followed until the port and the service's start. */
function startDaemon(config: string): {
  child: ChildProcess;
  ready: Promise<number>;
  stderr: () => string;
} {
  const [cmd, ...args] = selfArgv(MAIN, ["daemon", "--config", config]);
  const child = spawn(cmd, args, {
    env: {
      ...process.env,
      SOAK_KEY: "soak-key-not-secret",
      SQLITE_SYNC_EXTENSION_PATH: extensionPath,
      ...(flags["deno-v8-flags"] ? { DENO_V8_FLAGS: flags["deno-v8-flags"] } : {}),
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr!.setEncoding("utf8");
  child.stderr!.on("data", (c: string) => (stderr = (stderr + c).slice(-4000)));
  const ready = new Promise<number>((resolvePort, reject) => {
    let port = 0;
    let partial = "";
    child.stdout!.setEncoding("utf8");
    child.stdout!.on("data", (chunk: string) => {
      partial += chunk;
      for (let i = partial.indexOf("\n"); i >= 0; i = partial.indexOf("\n")) {
        const line = partial.slice(0, i);
        partial = partial.slice(i + 1);
        try {
          const l = JSON.parse(line);
          if (l.event === "http.listening") port = l.port;
          if (l.event === "service.started") resolvePort(port);
          if (l.event === "service.start-failed") reject(new Error(line));
        } catch { /* not JSON */ }
      }
    });
    child.on("close", (code) => reject(new Error(`daemon exited ${code}: ${stderr.trim()}`)));
  });
  ready.catch(() => {});
  return { child, ready, stderr: () => stderr };
}

async function soak(): Promise<Result> {
  const dir = mkdtempSync(join(tmpdir(), "sqlite-sync-soak-"));
  const db = join(dir, "soak.db");
  (await openDirty(db)).close();
  const tokenFile = join(dir, "http-token");
  writeFileSync(tokenFile, `${TOKEN}\n`);
  chmodSync(tokenFile, 0o600);
  const config = join(dir, "daemon.json");
  writeFileSync(
    config,
    JSON.stringify({
      databases: [{
        name: "soak",
        path: db,
        databaseId: "db_soak",
        address: `http://127.0.0.1:${await freePort()}`, // refused: nothing listens
        apiKeyEnv: "SOAK_KEY",
        tables: ["notes"],
        cron: "0 0 1 1 *",
      }],
      http: { host: "127.0.0.1", port: 0, tokenFile },
      logLevel: "info", // http.listening and service.started are info lines
    }),
  );
  const started = performance.now();
  const daemon = startDaemon(config);
  const onSignal = () => {
    killTree(daemon.child.pid);
    rmSync(dir, { recursive: true, force: true });
    process.exit(130);
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  const r: Result = {
    runtime: `${runtime.name} ${runtime.version}${
      runtime.name === "deno" && flags["deno-v8-flags"] ? ` (${flags["deno-v8-flags"]})` : ""
    }${PREFILL > 0 ? `, prefill ${PREFILL}` : ""}`,
    main: MAIN,
    requests: REQUESTS,
    answered: 0,
    unanswered: 0,
    closedBeforeAnswer: 0,
    statuses: {},
    rssIdleMb: NaN,
    rss5kMb: NaN,
    rssEndMb: NaN,
    rssPeakMb: NaN,
    processes: 0,
    perProcess: [],
    p50Ms: NaN,
    p99Ms: NaN,
    perRoute: {},
    seconds: NaN,
    attempts: [NaN, NaN],
  };
  const latencies: Record<string, number[]> = {};
  let sampler: ReturnType<typeof setInterval> | undefined;
  try {
    const port = await daemon.ready;
    await prefill(port);
    await sleep(SETTLE_S * 1000);
    const pid = daemon.child.pid!;
    r.rssIdleMb = r.rssPeakMb = treeRssMb(pid);
    sampler = setInterval(() => (r.rssPeakMb = Math.max(r.rssPeakMb, treeRssMb(pid))), 250);
    let next = 0;
    let done = 0;
    const t0 = performance.now();
    const worker = async () => {
      let conn = await RawConnection.open(port);
      for (let i = next++; i < REQUESTS; i = next++) {
        const route = CYCLE[i % CYCLE.length];
        const [method, path] = route.startsWith("POST") ? ["POST", "/sync"] : route.split(" ");
        const headers: Record<string, string> = route === "POST /sync (token)"
          ? { authorization: `Bearer ${TOKEN}`, "content-length": "0" }
          : method === "POST"
          ? { "content-length": "0" }
          : {};
        const sent = performance.now();
        try {
          if (conn.closed !== undefined) conn = await RawConnection.open(port);
          const res = await conn.request(method, path, { headers, timeoutMs: TIMEOUT_MS });
          (latencies[route] ??= []).push(performance.now() - sent);
          const key = `${route} → ${res.status}`;
          r.statuses[key] = (r.statuses[key] ?? 0) + 1;
          r.answered++;
        } catch (err) {
          if (err instanceof NoAnswer) r.unanswered++;
          else r.closedBeforeAnswer++; // ConnectionClosed, or the reconnect failed
          conn.close();
          conn = await RawConnection.open(port);
        }
        done++;
        if (done === CHECKPOINT) {
          r.rss5kMb = treeRssMb(pid);
          r.attempts[0] = await attemptsListed(port);
        }
        if (done % 2000 === 0) {
          console.log(
            `  ${done} requests, RSS ${treeRssMb(pid).toFixed(1)} MB, ` +
              `${((performance.now() - t0) / 1000).toFixed(0)} s`,
          );
        }
      }
      conn.close();
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    r.seconds = (performance.now() - t0) / 1000;
    r.rssEndMb = treeRssMb(pid);
    r.rssPeakMb = Math.max(r.rssPeakMb, r.rssEndMb);
    r.processes = tree(pid).length;
    r.perProcess = tree(pid).map((p) => `${comm(p)} ${(rssKb(p) / 1024).toFixed(1)} MB`);
    const all = Object.values(latencies).flat();
    r.p50Ms = percentile(all, 50);
    r.p99Ms = percentile(all, 99);
    for (const [route, xs] of Object.entries(latencies)) {
      r.perRoute[route] = { n: xs.length, p50Ms: percentile(xs, 50), p99Ms: percentile(xs, 99) };
    }
    r.attempts[1] = await attemptsListed(port);
  } catch (err) {
    r.seconds = (performance.now() - started) / 1000;
    r.error = `${(err as Error).message} ${daemon.stderr().trim()}`;
  } finally {
    if (sampler) clearInterval(sampler);
    if (daemon.child.exitCode === null && daemon.child.signalCode === null) {
      daemon.child.kill("SIGTERM");
      await Promise.race([new Promise((done) => daemon.child.once("close", done)), sleep(20_000)]);
    }
    killTree(daemon.child.pid);
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    rmSync(dir, { recursive: true, force: true });
  }
  return r;
}

// ---- report ---------------------------------------------------------------------------------------

const f1 = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : "–");
const mark = (ok: boolean) => (ok ? "✓" : "✗");

function report(results: Result[]): void {
  console.log(
    `\n| runtime | answered | unanswered (20 s) | closed before answer | RSS idle | at ${CHECKPOINT} | ` +
      `at ${REQUESTS} | growth ${CHECKPOINT}→${REQUESTS} (≤ ${GROWTH_GOAL_MB} MB) | peak ` +
      `(≤ idle + ${PEAK_GOAL_MB} MB) | p50 | p99 | seconds | attempts listed at ${CHECKPOINT} → end |\n` +
      `|---|---|---|---|---|---|---|---|---|---|---|---|---|`,
  );
  for (const r of results) {
    const growth = r.rssEndMb - r.rss5kMb;
    console.log(
      `| ${r.runtime} | ${r.answered} of ${r.requests} ${
        mark(r.answered === r.requests)
      } | ${r.unanswered} | ${r.closedBeforeAnswer} | ${f1(r.rssIdleMb)} MB | ${
        f1(r.rss5kMb)
      } MB | ${f1(r.rssEndMb)} MB | ${f1(growth)} MB ${mark(growth <= GROWTH_GOAL_MB)} | ${
        f1(r.rssPeakMb)
      } MB (+${f1(r.rssPeakMb - r.rssIdleMb)}) ${
        mark(r.rssPeakMb - r.rssIdleMb <= PEAK_GOAL_MB)
      } | ${f1(r.p50Ms)} ms | ${f1(r.p99Ms)} ms | ${f1(r.seconds)} | ${r.attempts[0]} → ${
        r.attempts[1]
      } |` +
        (r.error ? ` ${r.error}` : ""),
    );
  }
  for (const r of results) {
    console.log(`\n${r.runtime}: processes at the end: ${r.perProcess.join(", ")}`);
    console.log(`${r.runtime}: latency and answers per route`);
    console.log("| route | requests | p50 ms | p99 ms |\n|---|---|---|---|");
    for (const [route, x] of Object.entries(r.perRoute)) {
      console.log(`| ${route} | ${x.n} | ${f1(x.p50Ms)} | ${f1(x.p99Ms)} |`);
    }
    console.log(
      Object.entries(r.statuses).sort().map(([k, n]) => `  ${k}: ${n}`).join("\n"),
    );
  }
}

// ---- the run ------------------------------------------------------------------------------------

if (process.env[CHILD_ENV] === "1") {
  console.log(
    `soak (${runtime.name} ${runtime.version}): ${REQUESTS} requests over ${CONCURRENCY} ` +
      `keep-alive connections; daemon ${MAIN}; load ${
        loadavg().map((x) => x.toFixed(2)).join(" ")
      }`,
  );
  const result = await soak();
  report([result]);
  console.log(`RESULT ${JSON.stringify(result)}`);
  process.exit(0);
} else {
  process.env[CHILD_ENV] = "1"; // inherited by runPerRuntime's children
  const runtimes = flags.runtimes!.split(",").map((s) => s.trim()).filter(Boolean);
  const results = await runPerRuntime<Result>(SELF, runtimes);
  console.log("\n===== side by side =====");
  report(results);
  process.exit(0);
}
