/**
 * The daemon's cost in the number of databases: `sqlite-sync daemon` idle and
 * offline with 1, 20 and 100 databases, in Deno and in Bun, side by side in
 * one run (the bench itself runs under either runtime and spawns both).
 *
 *   deno run -A bench/daemon_bench.ts                   (or: bun bench/daemon_bench.ts)
 *   … --runtimes deno,bun --counts 1,20,100 --window-s 20 --settle-s 5 [--cold]
 *
 * Every database is its own file in a temp dir with one synced table (`notes`,
 * one unsent row), its address a refused 127.0.0.1 port (no network, no
 * protocol), a yearly cron (`0 0 1 1 *`, so no adaptive polling) and
 * `syncOnStart: false` when the config schema has that key (probed with
 * `loadConfig()`; today it has not, so each database's start-up sync fails
 * against the refused port and retries on the jittered back-off: the table's
 * "syncs" column counts the `sync.started` log lines inside the window).
 *
 * Start-up is an event: the bench follows the daemon's JSON log (level info)
 * until every database logged `service.started`, then waits a fixed settle
 * (5 s), then measures over the window (20 s): CPU as utime+stime of every
 * process of the daemon's tree (/proc/<pid>/stat, CLK_TCK 100, the tree found
 * by walking the ppid of every /proc/<pid>/stat: this kernel has no
 * /proc/<pid>/task/<tid>/children) scaled to ms per minute; RSS (VmRSS) and
 * PSS (smaps_rollup: shared pages split between the processes) summed over the
 * same tree at the end of the window; processes and threads. A second CPU
 * column sums the threads' run time from /proc/<pid>/task/<tid>/schedstat (ns:
 * no 10 ms tick rounding per process) as a cross-check. Then the
 * per-database slope, the headline: (X(100) − X(1)) / 99 and
 * (X(20) − X(1)) / 19, for RSS and CPU, against the goals of issue 14.
 *
 * What a 5 s settle leaves in the window besides the steady state: the start-up
 * syncs' retries (above) and each runtime's own start-up tail (a bare Deno
 * 2.9.6 process burns about 35 ms once, 20–40 s after its start; a bare Bun
 * 1.4.5 process about 30 ms/min for its first 30 s). `--settle-s 300` measures
 * the quiet state instead (most retries over), at 5 minutes per configuration.
 *
 * `--cold` adds the former sections: cold start to the first `/healthz`
 * (Deno, Bun, the compiled x64 binary and, under qemu, the arm64 one) and the
 * compiled binaries' sizes (builds with scripts/build-daemon.sh).
 *
 * Every child is killed at the end, also on error or Ctrl-C, and the temp dir
 * removed. A bench reports: it exits 0 whatever the numbers.
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { statSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { parseArgs } from "node:util";
import { loadConfig } from "../src/cli/config.ts";
import { extensionPath, openDirty, ROOT, runtime, sleep } from "./_util.ts";

const { values: flags } = parseArgs({
  args: process.argv.slice(2),
  options: {
    runtimes: { type: "string", default: "deno,bun" },
    counts: { type: "string", default: "1,20,100" },
    "window-s": { type: "string", default: "20" },
    "settle-s": { type: "string", default: "5" },
    "startup-timeout-s": { type: "string", default: "300" },
    cold: { type: "boolean", default: false },
  },
});
const RUNTIMES = flags.runtimes!.split(",").map((s) => s.trim()).filter(Boolean) as RuntimeName[];
const COUNTS = flags.counts!.split(",").map(Number).filter((n) => n > 0).sort((a, b) => a - b);
const WINDOW_S = Number(flags["window-s"]);
const SETTLE_S = Number(flags["settle-s"]);
const STARTUP_TIMEOUT_S = Number(flags["startup-timeout-s"]);
const TICK = Number(spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).stdout?.trim()) || 100;
const RUNS = Number(process.env.BENCH_RUNS ?? 5); // cold starts

const DENO = join(ROOT, "node_modules", ".bin", "deno");
const BUN = join(ROOT, "node_modules", ".bin", "bun");
const MAIN = join(ROOT, "src", "cli", "main.ts");
type RuntimeName = "deno" | "bun";
const ARGV: Record<RuntimeName, string[]> = {
  deno: [DENO, "run", "-A", "--no-check", MAIN],
  bun: [BUN, MAIN],
};
for (const r of RUNTIMES) {
  if (!(r in ARGV)) throw new Error(`--runtimes: unknown runtime '${r}' (deno, bun)`);
}

/** Goals of issue 14, per runtime: RSS at a database count, MB. */
const RSS_GOAL: Record<RuntimeName, Record<number, number>> = {
  deno: { 20: 180, 100: 300 },
  bun: { 20: 220, 100: 350 },
};
const CPU_GOAL_20 = 150; // ms/min with 20 databases
const RSS_SLOPE_GOAL = 1.5; // MB per database
const CPU_SLOPE_GOAL = 2; // ms/min per database

const dir = mkdtempSync(join(tmpdir(), "sqlite-sync-daemon-bench-"));
const env = {
  ...process.env,
  BENCH_KEY: "bench-key-not-secret",
  SQLITE_SYNC_EXTENSION_PATH: extensionPath,
};

// ---- children, and killing every one of them whatever happens ------------------------------

/** A process as /proc knows it: the start time tells a recycled pid apart. */
interface Proc {
  pid: number;
  ppid: number;
  start: string;
  ticks: number;
}

function readStat(pid: number): Proc | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // After the comm: state ppid … utime (f[11]) stime (f[12]) … starttime (f[19]).
    return { pid, ppid: Number(f[1]), start: f[19], ticks: Number(f[11]) + Number(f[12]) };
  } catch {
    return undefined; // gone
  }
}

/** Run time of every thread of `p` in ns (/proc/<pid>/task/<tid>/schedstat), by pid/start/tid. */
function threadNs(p: Proc, into: Map<string, number>): void {
  try {
    for (const tid of readdirSync(`/proc/${p.pid}/task`)) {
      try {
        const ns = Number(
          readFileSync(`/proc/${p.pid}/task/${tid}/schedstat`, "utf8").split(" ")[0],
        );
        into.set(`${p.pid}/${p.start}/${tid}`, ns);
      } catch { /* gone */ }
    }
  } catch { /* gone */ }
}

/** The process and its descendants (every /proc/<pid>/stat's ppid, walked from `root`). */
function tree(root: number): Proc[] {
  const byParent = new Map<number, Proc[]>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const p = readStat(Number(entry));
    if (p) byParent.set(p.ppid, [...(byParent.get(p.ppid) ?? []), p]);
  }
  const me = readStat(root);
  if (!me) return [];
  const out = [me];
  for (let i = 0; i < out.length; i++) out.push(...(byParent.get(out[i].pid) ?? []));
  return out;
}

/** Every process ever seen in a daemon's tree, killed at the end if still the same process. */
const seen = new Map<number, string>();
const daemons = new Set<ReturnType<typeof spawn>>();

function remember(procs: Proc[]): void {
  for (const p of procs) seen.set(p.pid, p.start);
}

function killAll(): void {
  for (const child of daemons) {
    if (child.pid !== undefined) remember(tree(child.pid));
  }
  for (const [pid, start] of seen) {
    if (readStat(pid)?.start === start) {
      try {
        process.kill(pid, "SIGKILL");
      } catch { /* gone */ }
    }
  }
  seen.clear();
}

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    killAll();
    rmSync(dir, { recursive: true, force: true });
    process.exit(130);
  });
}

function kb(pid: number, file: string, field: string): number {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+)`, "m").exec(
      readFileSync(`/proc/${pid}/${file}`, "utf8"),
    );
    return Number(m?.[1] ?? 0);
  } catch {
    return 0;
  }
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as { port: number }).port;
  await new Promise((r) => server.close(r));
  return port;
}

/** A daemon child whose JSON log is followed. */
class Daemon {
  readonly child: ReturnType<typeof spawn>;
  readonly events = new Map<string, number>();
  readonly started = new Set<string>();
  readonly startFailed = new Set<string>();
  port: number | undefined;
  stderr = "";
  exited: Promise<number | null>;
  #wake: (() => void) | undefined;

  constructor(argv: string[], config: string) {
    this.child = spawn(argv[0], [...argv.slice(1), "daemon", "--config", config], {
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    daemons.add(this.child);
    let partial = "";
    this.child.stdout!.setEncoding("utf8");
    this.child.stdout!.on("data", (chunk: string) => {
      partial += chunk;
      for (let i = partial.indexOf("\n"); i >= 0; i = partial.indexOf("\n")) {
        const line = partial.slice(0, i);
        partial = partial.slice(i + 1);
        try {
          this.#line(JSON.parse(line));
        } catch { /* not JSON */ }
      }
      this.#wake?.();
    });
    this.child.stderr!.setEncoding("utf8");
    this.child.stderr!.on("data", (c: string) => (this.stderr = (this.stderr + c).slice(-4000)));
    this.exited = new Promise((r) =>
      this.child.on("close", (code) => {
        daemons.delete(this.child);
        r(code);
        this.#wake?.();
      })
    );
  }

  #line(l: { event?: string; database?: string; port?: number }): void {
    const event = String(l.event);
    this.events.set(event, (this.events.get(event) ?? 0) + 1);
    if (event === "http.listening") this.port = l.port;
    if (event === "service.started") this.started.add(String(l.database));
    if (event === "service.start-failed") this.startFailed.add(String(l.database));
  }

  /** Resolves once `done()` holds, checked on every log chunk (no polling); throws at the deadline. */
  async until(done: () => boolean, timeoutMs: number, what: string): Promise<void> {
    let exited = false;
    this.exited.then(() => (exited = true));
    const deadline = performance.now() + timeoutMs;
    while (!done()) {
      if (exited) throw new Error(`the daemon exited before ${what}: ${this.stderr.trim()}`);
      const left = deadline - performance.now();
      if (left <= 0) throw new Error(`no ${what} within ${timeoutMs / 1000} s`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.#wake = () => {
          clearTimeout(t);
          r();
        };
      });
    }
  }

  /** SIGTERM, then SIGKILL of the whole tree after 20 s; orphans of the tree are killed too. */
  async stop(): Promise<void> {
    const pid = this.child.pid!;
    remember(tree(pid));
    try {
      process.kill(pid, "SIGTERM");
    } catch { /* gone */ }
    const code = await Promise.race([this.exited, sleep(20_000).then(() => "timeout" as const)]);
    if (code === "timeout") console.log(`  (daemon ${pid} ignored SIGTERM for 20 s: killed)`);
    killAll();
    await this.exited;
  }
}

// ---- configs ---------------------------------------------------------------------------------

/** Whether the daemon's config schema takes `syncOnStart` per database (probed, not assumed). */
function configTakes(key: string): boolean {
  const file = join(dir, "probe.jsonc");
  writeFileSync(
    file,
    JSON.stringify({
      databases: [{
        path: "probe.db",
        databaseId: "db_probe",
        apiKeyEnv: "BENCH_KEY",
        [key]: false,
      }],
    }),
  );
  try {
    loadConfig(file, { env });
    return true;
  } catch {
    return false;
  }
}

const SYNC_ON_START_KEY = configTakes("syncOnStart");

async function writeConfig(
  name: string,
  count: number,
  httpPort = 0,
): Promise<{ file: string; dbDir: string }> {
  const dbDir = join(dir, name);
  mkdirSync(dbDir, { recursive: true });
  const databases = [];
  for (let i = 0; i < count; i++) {
    const path = join(dbDir, `db${i}.db`);
    (await openDirty(path)).close();
    databases.push({
      name: `db${i}`,
      path,
      databaseId: "db_bench",
      address: `http://127.0.0.1:${await freePort()}`, // refused: nothing listens
      apiKeyEnv: "BENCH_KEY",
      tables: ["notes"],
      cron: "0 0 1 1 *", // yearly: no adaptive polling
      ...(SYNC_ON_START_KEY ? { syncOnStart: false } : {}),
    });
  }
  const file = join(dbDir, "daemon.jsonc");
  writeFileSync(file, JSON.stringify({ databases, http: { port: httpPort }, logLevel: "info" }));
  return { file, dbDir };
}

// ---- the idle measurement -------------------------------------------------------------------

interface Idle {
  runtime: RuntimeName;
  count: number;
  startupS: number;
  processes: number;
  threads: number;
  rssMb: number;
  pssMb: number;
  cpuMsPerMin: number;
  /** The same from the threads' schedstat run time (ns, not 10 ms ticks): a cross-check. */
  cpuNsMsPerMin: number;
  syncsInWindow: number;
  load: string;
  error?: string;
}

async function idle(rt: RuntimeName, count: number): Promise<Idle> {
  const { file, dbDir } = await writeConfig(`${rt}-${count}`, count);
  const load = readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
  const t0 = performance.now();
  const daemon = new Daemon(ARGV[rt], file);
  const base = { runtime: rt, count, load };
  try {
    await daemon.until(
      () => daemon.started.size === count,
      STARTUP_TIMEOUT_S * 1000,
      `'service.started' for all ${count} databases`,
    );
    const startupS = (performance.now() - t0) / 1000;
    await sleep(SETTLE_S * 1000);
    const pid = daemon.child.pid!;
    const before = tree(pid);
    const ns0 = new Map<string, number>();
    for (const p of before) threadNs(p, ns0);
    remember(before);
    const syncs0 = daemon.events.get("sync.started") ?? 0;
    const w0 = performance.now();
    await sleep(WINDOW_S * 1000);
    const after = tree(pid);
    const ns1 = new Map<string, number>();
    for (const p of after) threadNs(p, ns1);
    const seconds = (performance.now() - w0) / 1000;
    remember(after);
    const startTicks = new Map(before.map((p) => [`${p.pid}/${p.start}`, p.ticks]));
    const ticks = after.reduce(
      (n, p) => n + p.ticks - (startTicks.get(`${p.pid}/${p.start}`) ?? 0),
      0,
    );
    const result: Idle = {
      ...base,
      startupS,
      processes: after.length,
      threads: after.reduce((n, p) => n + kb(p.pid, "status", "Threads"), 0),
      rssMb: after.reduce((n, p) => n + kb(p.pid, "status", "VmRSS"), 0) / 1024,
      pssMb: after.reduce((n, p) => n + kb(p.pid, "smaps_rollup", "Pss"), 0) / 1024,
      cpuMsPerMin: ((ticks * 1000) / TICK / seconds) * 60,
      cpuNsMsPerMin: ([...ns1].reduce((n, [k, v]) =>
        n + v - (ns0.get(k) ?? 0), 0) / 1e6 / seconds) *
        60,
      syncsInWindow: (daemon.events.get("sync.started") ?? 0) - syncs0,
    };
    if (daemon.startFailed.size > 0) {
      result.error = `${daemon.startFailed.size} start failure(s) before all started`;
    }
    return result;
  } catch (err) {
    return {
      ...base,
      startupS: NaN,
      processes: NaN,
      threads: NaN,
      rssMb: NaN,
      pssMb: NaN,
      cpuMsPerMin: NaN,
      cpuNsMsPerMin: NaN,
      syncsInWindow: NaN,
      error: (err as Error).message.split("\n")[0].slice(0, 200),
    };
  } finally {
    await daemon.stop();
    rmSync(dbDir, { recursive: true, force: true });
  }
}

// ---- cold start (--cold) ----------------------------------------------------------------------

async function waitHealthz(port: number, deadline: number): Promise<void> {
  for (;;) {
    try {
      await (await fetch(`http://127.0.0.1:${port}/healthz`)).text();
      return;
    } catch {
      if (performance.now() > deadline) throw new Error("no /healthz answer");
      await sleep(5);
    }
  }
}

async function coldStart(label: string, argv: string[], extension: string, runs: number) {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const port = await freePort();
    const { file, dbDir } = await writeConfig(`cold-${label.replace(/\W+/g, "-")}-${i}`, 1, port);
    const t0 = performance.now();
    const child = spawn(argv[0], [...argv.slice(1), "daemon", "--config", file], {
      env: extension ? env : {
        ...env,
        SQLITE_SYNC_EXTENSION_PATH: "",
        SQLITE_SYNC_OFFLINE: "1",
        SQLITE_SYNC_CACHE_DIR: join(dir, "empty-cache"),
      },
      stdio: "ignore",
    });
    daemons.add(child);
    const closed = new Promise((r) => child.on("close", r));
    try {
      await waitHealthz(port, t0 + 120_000);
      times.push(performance.now() - t0);
    } finally {
      remember(tree(child.pid!));
      process.kill(child.pid!, "SIGTERM");
      await Promise.race([closed, sleep(20_000)]);
      killAll();
      daemons.delete(child);
      rmSync(dbDir, { recursive: true, force: true });
    }
  }
  times.sort((a, b) => a - b);
  return {
    label,
    medianMs: times[Math.floor(times.length / 2)],
    minMs: times[0],
    maxMs: times.at(-1)!,
    runs,
  };
}

function build(out: string, target?: string): void {
  const r = spawnSync("bash", [
    join(ROOT, "scripts", "build-daemon.sh"),
    out,
    ...(target ? [target] : []),
  ], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`build failed: ${r.stderr}`);
}

async function cold(): Promise<void> {
  const qemu = ["/usr/bin/qemu-aarch64-static", "/usr/local/bin/qemu-aarch64-static"].find(
    existsSync,
  );
  const x64 = join(dir, "sqlite-sync-x64");
  const arm64 = join(dir, "sqlite-sync-arm64");
  build(x64);
  build(arm64, "bun-linux-arm64");
  const colds = [
    await coldStart("deno run src/cli/main.ts", ARGV.deno, extensionPath, RUNS),
    await coldStart("bun src/cli/main.ts", ARGV.bun, extensionPath, RUNS),
    await coldStart("compiled x64 (bun build --compile)", [x64], extensionPath, RUNS),
  ];
  if (qemu) {
    // No arm64 extension here: /healthz answers while the database fails to start (reported).
    colds.push(
      await coldStart(
        "compiled arm64 under qemu-aarch64-static",
        [qemu, arm64],
        "",
        Math.min(RUNS, 3),
      ),
    );
  }
  console.log(
    "\n| cold start to first /healthz | median ms | min | max | runs |\n|---|---|---|---|---|",
  );
  for (const c of colds) {
    console.log(
      `| ${c.label} | ${c.medianMs.toFixed(0)} | ${c.minMs.toFixed(0)} | ${
        c.maxMs.toFixed(0)
      } | ${c.runs} |`,
    );
  }
  console.log("\n| compiled binary | bytes | MB |\n|---|---|---|");
  for (const [label, path] of [["linux-x64", x64], ["linux-arm64", arm64]]) {
    const size = statSync(path).size;
    console.log(`| ${label} | ${size} | ${(size / 1e6).toFixed(1)} |`);
  }
}

// ---- report -------------------------------------------------------------------------------------

const f0 = (x: number) => (Number.isFinite(x) ? x.toFixed(0) : "–");
const f1 = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : "–");
const signed = (x: number, d: number) =>
  Number.isFinite(x) ? `${x >= 0 ? "+" : ""}${x.toFixed(d)}` : "–";
const verdict = (x: number, goal: number) => (!Number.isFinite(x) ? "–" : x <= goal ? "✓" : "✗");

function report(results: Idle[]): void {
  console.log(
    `\n| runtime | databases | processes | threads | RSS MB | PSS MB | CPU ms/min | ` +
      `CPU ms/min (schedstat) | syncs in window | start-up s | load (1/5/15 min) |\n` +
      `|---|---|---|---|---|---|---|---|---|---|---|`,
  );
  for (const r of results) {
    console.log(
      `| ${r.runtime} | ${r.count} | ${f0(r.processes)} | ${f0(r.threads)} | ${f1(r.rssMb)} | ${
        f1(r.pssMb)
      } | ${f0(r.cpuMsPerMin)} | ${f0(r.cpuNsMsPerMin)} | ${f0(r.syncsInWindow)} | ${
        f1(r.startupS)
      } | ${r.load} |` +
        (r.error ? ` ${r.error}` : ""),
    );
  }
  const at = (rt: RuntimeName, n: number) => results.find((r) => r.runtime === rt && r.count === n);
  const lo = COUNTS[0];
  console.log(
    `\nHEADLINE: cost per added database, slope (X(n) − X(${lo})) / (n − ${lo}); ` +
      `goal ≤ +${RSS_SLOPE_GOAL} MB RSS and ≤ +${CPU_SLOPE_GOAL} ms CPU/min per database`,
  );
  console.log(
    `| runtime | from → to | RSS MB/db | goal | PSS MB/db | CPU ms/min per db | goal | ` +
      `CPU (schedstat) per db |\n|---|---|---|---|---|---|---|---|`,
  );
  for (const rt of RUNTIMES) {
    const a = at(rt, lo);
    for (const n of COUNTS.slice(1).reverse()) {
      const b = at(rt, n);
      if (!a || !b) continue;
      const rss = (b.rssMb - a.rssMb) / (n - lo);
      const pss = (b.pssMb - a.pssMb) / (n - lo);
      const cpu = (b.cpuMsPerMin - a.cpuMsPerMin) / (n - lo);
      const cpuNs = (b.cpuNsMsPerMin - a.cpuNsMsPerMin) / (n - lo);
      console.log(
        `| ${rt} | ${lo} → ${n} | ${signed(rss, 2)} | ${verdict(rss, RSS_SLOPE_GOAL)} | ${
          signed(pss, 2)
        } | ${signed(cpu, 1)} | ${verdict(cpu, CPU_SLOPE_GOAL)} | ${signed(cpuNs, 1)} |`,
      );
    }
  }
  console.log(
    `\n| goal (issue 14) | ${RUNTIMES.join(" | ")} |\n|---|${"---|".repeat(RUNTIMES.length)}`,
  );
  const row = (label: string, cell: (rt: RuntimeName) => string) =>
    console.log(`| ${label} | ${RUNTIMES.map(cell).join(" | ")} |`);
  for (const n of [20, 100]) {
    if (!COUNTS.includes(n)) continue;
    row(`${n} databases: RSS ≤ ${RUNTIMES.map((rt) => RSS_GOAL[rt][n]).join(" / ")} MB`, (rt) => {
      const x = at(rt, n)?.rssMb ?? NaN;
      return `${f0(x)} MB ${verdict(x, RSS_GOAL[rt][n])}`;
    });
  }
  if (COUNTS.includes(20)) {
    row(`20 databases: CPU ≤ ${CPU_GOAL_20} ms/min`, (rt) => {
      const x = at(rt, 20)?.cpuMsPerMin ?? NaN;
      return `${f0(x)} ms/min ${verdict(x, CPU_GOAL_20)}`;
    });
  }
}

// ---- the run ------------------------------------------------------------------------------------

try {
  console.log(
    `daemon bench (run by ${runtime.name} ${runtime.version}): runtimes ${RUNTIMES.join(", ")}; ` +
      `databases ${COUNTS.join(", ")}; settle ${SETTLE_S} s; window ${WINDOW_S} s; ` +
      `CLK_TCK ${TICK}; ${cpus().length} cores; load ${
        loadavg().map((x) => x.toFixed(2)).join(" ")
      }`,
  );
  console.log(
    SYNC_ON_START_KEY
      ? "config: syncOnStart false (the schema takes it), yearly cron, refused ports"
      : "config: the schema has no syncOnStart key, so each database's start-up sync fails " +
        "against its refused port and retries on the back-off (counted as 'syncs in window'); " +
        "yearly cron, refused ports",
  );
  const results: Idle[] = [];
  for (const n of COUNTS) {
    for (const rt of RUNTIMES) {
      console.log(`  ${rt} × ${n}: starting…`);
      const r = await idle(rt, n);
      results.push(r);
      console.log(
        `  ${rt} × ${n}: ${f0(r.processes)} process(es), RSS ${f1(r.rssMb)} MB, CPU ${
          f0(r.cpuMsPerMin)
        } ms/min, started in ${f1(r.startupS)} s${r.error ? ` (${r.error})` : ""}`,
      );
    }
  }
  report(results);
  console.log(`\nload at the end: ${loadavg().map((x) => x.toFixed(2)).join(" ")}`);
  if (flags.cold) await cold();
} catch (err) {
  console.log(`bench error: ${(err as Error).stack ?? err}`);
} finally {
  killAll();
  rmSync(dir, { recursive: true, force: true });
}
process.exit(0);
