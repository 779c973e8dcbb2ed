/**
 * SyncService vs the same work inline, side by side in one run of the current
 * runtime, against non-protocol fixtures only (a listener that never answers,
 * a refused port, a server answering every request with 503). No assertions:
 * it prints numbers and ratios.
 *
 *   deno run -A bench/service_bench.ts
 *   bun bench/service_bench.ts
 *
 * (a) stall:     longest gap of a 5 ms main-thread interval while one sync hangs on a
 *                listener that never answers (request time-out BENCH_HANG_S): service
 *                `syncNow()` (worker and process executors) vs inline `db.network.sync()`.
 *                Goal: service ≤ 20 ms vs the whole time-out.
 * (b) write:     the longest main-thread single-row write while a second connection holds
 *                the write lock applying BENCH_APPLY_ROWS rows in one transaction (a
 *                stand-in for the executor applying a large first sync), and what bounds
 *                it: the main connection's busy_timeout and the apply transaction's length.
 * (c) overhead:  `syncNow()` vs inline `db.network.sync()` against a 503 server,
 *                interleaved, median of BENCH_CALLS each. Goal: ≤ +5 ms.
 * (d) idle:      an idle service (no network, change detection on) for BENCH_IDLE_S: CPU
 *                (process.cpuUsage, plus the executor child's /proc CPU) and memory (RSS,
 *                PSS, child included) over a bare opened database, worker vs process.
 *                Goal: CPU ≤ 50 ms, memory ≤ +15 MB with a Worker. The three configurations
 *                run at once, each in a fresh process.
 * (e) latency:   from a local commit to the start of its sync (the `started` event): a commit
 *                of this process's own connection (the service sees it through data_version:
 *                no direct notify from a SyncDatabase exists) and of another process.
 *                Goal: ≤ debounce + poll interval (defaults 1000 + 250 ms).
 * (f) storm:     10,000 local commits in about 1 s: syncs started and queue file size.
 *                Goal: ≤ 2 syncs, < 1 MB.
 *
 * Env: BENCH_HANG_S (3), BENCH_APPLY_ROWS (1000000), BENCH_CALLS (30), BENCH_IDLE_S (60),
 * BENCH_LATENCY_RUNS (5), BENCH_ONLY (letters, e.g. "ace"), SQLITE_SYNC_TEST_EXTENSION.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { SyncDatabase } from "../src/database.ts";
import { SyncService, type SyncServiceOptions } from "../src/scheduler/service.ts";
import { queuePathFor } from "../src/scheduler/_queue_path.ts";
import type { ExecutorKind } from "../src/scheduler/executor.ts";
import {
  errorServer503,
  extensionPath,
  fmt,
  mb,
  median,
  openDirty,
  openInline,
  printOverhead,
  procKb,
  runtime,
  selfArgv,
  silentListener,
  sleep,
  stall,
  timeCases,
} from "./_util.ts";

const SELF = fileURLToPath(import.meta.url);
const HANG_S = Number(process.env.BENCH_HANG_S ?? 3);
const APPLY_ROWS = Number(process.env.BENCH_APPLY_ROWS ?? 1_000_000);
const CALLS = Number(process.env.BENCH_CALLS ?? 30);
const IDLE_S = Number(process.env.BENCH_IDLE_S ?? 60);
const LATENCY_RUNS = Number(process.env.BENCH_LATENCY_RUNS ?? 5);
const ONLY = process.env.BENCH_ONLY ?? "abcdef";
const KINDS: ExecutorKind[] = ["worker", "process"];

function serviceOptions(port: number, extra: Partial<SyncServiceOptions> = {}): SyncServiceOptions {
  return {
    databaseId: "bench",
    address: `http://127.0.0.1:${port}`,
    apiKey: "sqa_BENCHKEY_0123456789",
    extensionPath,
    syncOnStart: false,
    polling: false,
    ...extra,
  };
}

/** utime + stime of a process from /proc/<pid>/stat, in ms (assumes 100 ticks/s). */
function procCpuMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return NaN;
  }
}

/** Child processes of this process (Linux). */
function children(): number[] {
  const out: number[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid === process.pid) out.push(Number(name));
    } catch {
      // Gone meanwhile.
    }
  }
  return out;
}

function queueBytes(path: string): number {
  const q = queuePathFor(path);
  return [q, `${q}-wal`].filter(existsSync).reduce((n, f) => n + statSync(f).size, 0);
}

// ---- child modes -----------------------------------------------------------------------

if (process.argv[2] === "--idle") {
  // (d): one configuration in a fresh process; prints JSON.
  const kind = process.argv[3] as ExecutorKind | "none";
  const dir = mkdtempSync(join(tmpdir(), "service-bench-idle-"));
  const path = join(dir, "idle.db");
  const db = await openDirty(path);
  let service: SyncService | undefined;
  if (kind !== "none") {
    service = await SyncService.start(path, serviceOptions(9, { executor: kind }));
  }
  await sleep(2000); // settled
  const child = children()[0];
  const cpu0 = process.cpuUsage();
  const childCpu0 = child === undefined ? 0 : procCpuMs(child);
  await sleep(IDLE_S * 1000);
  const cpu = process.cpuUsage(cpu0);
  const childCpu = child === undefined ? 0 : procCpuMs(child) - childCpu0;
  (globalThis as { gc?: () => void }).gc?.();
  console.log(JSON.stringify({
    cpuMs: (cpu.user + cpu.system) / 1000 + childCpu,
    childCpuMs: childCpu,
    rss: process.memoryUsage().rss + (child === undefined ? 0 : procKb(child, "status", "VmRSS")),
    pss: procKb(process.pid, "smaps_rollup", "Pss") +
      (child === undefined ? 0 : procKb(child, "smaps_rollup", "Pss")),
  }));
  await service?.stop();
  db.close();
  rmSync(dir, { recursive: true, force: true });
  process.exit(0);
}

if (process.argv[2] === "--apply") {
  // (b): the stand-in for a large apply: one transaction of N rows on a second connection.
  const db = await SyncDatabase.open(process.argv[3], { extensionPath });
  const rows = Number(process.argv[4]);
  const insert = db.driver.prepare("INSERT INTO notes (id, body) VALUES (?, ?)");
  console.log(`BEGIN ${Date.now()}`);
  db.driver.exec("BEGIN IMMEDIATE");
  console.log(`LOCKED ${Date.now()}`);
  for (let i = 0; i < rows; i++) insert.run(`apply-${i}`, "payload row");
  db.driver.exec("COMMIT");
  console.log(`COMMITTED ${Date.now()}`);
  db.close();
  process.exit(0);
}

if (process.argv[2] === "--commit") {
  // (e): another process commits one row, prints when.
  const db = await SyncDatabase.open(process.argv[3], { extensionPath });
  db.run("INSERT INTO notes (id, body) VALUES (?, ?)", db.uuid(), "from another process");
  console.log(`COMMITTED ${Date.now()}`);
  db.close();
  process.exit(0);
}

// ---- fixtures ----------------------------------------------------------------------------

async function refusedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const port = (server.address() as { port: number }).port;
  await new Promise((r) => server.close(r));
  return port;
}

function runChild(args: string[], onLine?: (line: string) => void): Promise<string> {
  const [cmd, ...rest] = selfArgv(SELF, args);
  return new Promise((resolvePromise) => {
    const child = spawn(cmd, rest, { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    let buffer = "";
    child.stdout!.on("data", (d) => {
      out += d;
      buffer += d;
      for (let i = buffer.indexOf("\n"); i >= 0; i = buffer.indexOf("\n")) {
        onLine?.(buffer.slice(0, i));
        buffer = buffer.slice(i + 1);
      }
    });
    child.on("close", () => resolvePromise(out));
  });
}

// ---- the run -------------------------------------------------------------------------------

const dir = mkdtempSync(join(tmpdir(), "service-bench-"));
console.log(
  `service bench: ${runtime.name} ${runtime.version}; hang time-out ${HANG_S} s, ` +
    `${APPLY_ROWS} apply rows, ${CALLS} calls, idle ${IDLE_S} s`,
);

try {
  if (ONLY.includes("a")) {
    const listener = await silentListener();
    const results: Record<string, { gapMs: number; ms: number }> = {};
    for (const kind of KINDS) {
      const path = join(dir, `hang-${kind}.db`);
      (await openDirty(path)).close();
      const service = await SyncService.start(
        path,
        serviceOptions(listener.port, {
          executor: kind,
          connectTimeoutS: HANG_S,
          requestTimeoutS: HANG_S,
          changeDebounceMs: false,
          retry: { baseMs: 3_600_000, capMs: 3_600_000 },
        }),
      );
      results[`service (${kind})`] = await stall(() => service.syncNow());
      await service.stop({ graceMs: 0 });
    }
    {
      const db = await openInline(join(dir, "hang-inline.db"), listener.port, HANG_S);
      results["inline network.sync()"] = await stall(() => db.network.sync());
      db.close();
    }
    await listener.close();
    const inline = results["inline network.sync()"].gapMs;
    console.log(
      `\n(a) longest main-thread stall while one sync hangs (goal: service ≤ 20 ms vs the time-out)`,
    );
    for (const [name, r] of Object.entries(results)) {
      const ratio = name.startsWith("inline")
        ? ""
        : `   inline/service ${(inline / r.gapMs).toFixed(0)}×`;
      console.log(
        `  ${name.padEnd(24)} stall ${fmt(r.gapMs).padStart(10)}   call ${
          fmt(r.ms).padStart(10)
        }${ratio}`,
      );
    }
  }

  if (ONLY.includes("b")) {
    const path = join(dir, "apply.db");
    const db = await openDirty(path);
    const busy = Number(db.driver.prepare("PRAGMA busy_timeout").get()!.timeout);
    const stamps: Record<string, number> = {};
    const writes: { at: number; ms: number; error?: string }[] = []; // at: when it started
    let applying = true;
    const apply = runChild(["--apply", path, String(APPLY_ROWS)], (line) => {
      const [what, at] = line.split(" ");
      stamps[what] = Number(at);
    }).then(() => (applying = false));
    while (stamps.LOCKED === undefined) await sleep(1);
    while (applying) {
      const at = Date.now();
      const t0 = performance.now();
      let error: string | undefined;
      try {
        db.run("INSERT INTO notes (id, body) VALUES (?, ?)", db.uuid(), "main thread");
      } catch (e) {
        error = (e as { kind?: string }).kind ?? String(e);
      }
      writes.push({ at, ms: performance.now() - t0, error });
      await sleep(20);
    }
    await apply;
    db.close();
    // Writes started while the lock was held.
    const during = writes.filter((w) => w.at >= stamps.LOCKED && w.at <= stamps.COMMITTED);
    const longest = Math.max(...during.map((w) => w.ms));
    const failed = during.filter((w) => w.error !== undefined);
    const txMs = stamps.COMMITTED - stamps.LOCKED;
    console.log(
      `\n(b) main-thread writes while a second connection applies ${APPLY_ROWS} rows in one ` +
        `transaction (the executor's apply stand-in)`,
    );
    console.log(
      `  apply transaction (write lock held) ${fmt(txMs)}; main connection busy_timeout ${busy} ms`,
    );
    console.log(
      `  main-thread writes during it: ${during.length}, longest ${fmt(longest)}, ` +
        `${failed.length} failed (${
          [...new Set(failed.map((f) => f.error))].join(", ") || "none"
        })`,
    );
    console.log(
      `  bound: a write waits for the lock up to min(busy_timeout ${busy} ms, the rest of the ` +
        `apply transaction), then fails 'busy'; WAL keeps reads free meanwhile`,
    );
  }

  if (ONLY.includes("c")) {
    const server = await errorServer503();
    const inlinePath = join(dir, "overhead-inline.db");
    const db = await openInline(inlinePath, server.port, 5);
    const services: Record<string, SyncService> = {};
    for (const kind of KINDS) {
      const path = join(dir, `overhead-${kind}.db`);
      (await openDirty(path)).close();
      services[kind] = await SyncService.start(
        path,
        serviceOptions(server.port, {
          executor: kind,
          connectTimeoutS: 5,
          requestTimeoutS: 5,
          changeDebounceMs: false,
          retry: { baseMs: 3_600_000, capMs: 3_600_000, maxAttempts: 1_000_000 },
        }),
      );
    }
    const cases: Record<string, () => Promise<unknown>> = {
      "inline network.sync()": () => Promise.resolve().then(() => db.network.sync()),
      "service (worker)": () => services.worker.syncNow(),
      "service (process)": () => services.process.syncNow(),
    };
    const times = await timeCases(cases, CALLS);
    for (const s of Object.values(services)) await s.stop();
    db.close();
    server.stop();
    printOverhead("c", CALLS, times);
  }

  if (ONLY.includes("d")) {
    const configs = ["none", ...KINDS];
    const outs = await Promise.all(configs.map((k) => runChild(["--idle", k])));
    const r = Object.fromEntries(
      configs.map((k, i) => [k, JSON.parse(outs[i].trim().split("\n").at(-1)!)]),
    ) as Record<string, { cpuMs: number; childCpuMs: number; rss: number; pss: number }>;
    console.log(
      `\n(d) idle service for ${IDLE_S} s over a bare opened database (goal: CPU ≤ 50 ms, ` +
        `worker memory ≤ +15 MB; RSS counts shared runtime pages twice, PSS splits them)`,
    );
    console.log(
      `  bare database          CPU ${fmt(r.none.cpuMs).padStart(9)}   RSS ${
        mb(r.none.rss).padStart(9)
      }` +
        `   PSS ${mb(r.none.pss).padStart(9)}`,
    );
    for (const kind of KINDS) {
      const x = r[kind];
      console.log(
        `  service (${kind})`.padEnd(25) +
          `CPU ${fmt(x.cpuMs - r.none.cpuMs).padStart(9)} over bare (child ${fmt(x.childCpuMs)})` +
          `   RSS +${mb(x.rss - r.none.rss)} (${(x.rss / r.none.rss).toFixed(2)}×)` +
          `   PSS +${mb(x.pss - r.none.pss)} (${(x.pss / r.none.pss).toFixed(2)}×)`,
      );
    }
  }

  if (ONLY.includes("e")) {
    const port = await refusedPort();
    const path = join(dir, "latency.db");
    const db = await openDirty(path);
    const service = await SyncService.start(
      path,
      serviceOptions(port, {
        retry: { maxAttempts: 1 },
      }),
    );
    const starts: number[] = [];
    service.on("started", (e) => {
      if (e.reasons.includes("change")) starts.push(Date.now());
    });
    await sleep(1500);
    const measure = async (commit: () => Promise<number>): Promise<number[]> => {
      const out: number[] = [];
      for (let i = 0; i < LATENCY_RUNS; i++) {
        const before = starts.length;
        const committedAt = await commit();
        const deadline = Date.now() + 5000;
        while (starts.length === before && Date.now() < deadline) await sleep(1);
        out.push(starts.length > before ? starts[before] - committedAt : NaN);
        await sleep(500);
      }
      return out;
    };
    const inProcess = await measure(() => {
      db.run("INSERT INTO notes (id, body) VALUES (?, ?)", db.uuid(), "this process");
      return Promise.resolve(Date.now());
    });
    const other = await measure(async () => {
      const out = await runChild(["--commit", path]);
      return Number(/COMMITTED (\d+)/.exec(out)![1]);
    });
    await service.stop();
    db.close();
    console.log(
      `\n(e) local commit → its sync starts, ${LATENCY_RUNS} runs each (debounce 1000 ms, ` +
        `data_version poll 250 ms: goal ≤ 1250 ms)`,
    );
    for (
      const [name, xs] of [["this process (data_version)", inProcess], [
        "another process",
        other,
      ]] as const
    ) {
      console.log(
        `  ${name.padEnd(30)} median ${fmt(median(xs)).padStart(10)}   max ${
          fmt(Math.max(...xs)).padStart(10)
        }` +
          `   ${(median(xs) / 1250).toFixed(2)}× the bound`,
      );
    }
  }

  if (ONLY.includes("f")) {
    const port = await refusedPort();
    const path = join(dir, "storm.db");
    const db = await openDirty(path);
    const service = await SyncService.start(
      path,
      serviceOptions(port, {
        retry: { maxAttempts: 1 },
      }),
    );
    let syncs = 0;
    service.on("started", () => syncs++);
    await sleep(1000);
    const t0 = performance.now();
    let commits = 0;
    const insert = db.driver.prepare("INSERT INTO notes (id, body) VALUES (?, ?)");
    while (commits < 10_000) {
      // Batches of 100 single-row commits, yielding between batches so timers run.
      for (let i = 0; i < 100; i++, commits++) insert.run(`storm-${commits}`, "x");
      const due = (commits / 10_000) * 1000;
      const ahead = due - (performance.now() - t0);
      await sleep(ahead > 0 ? ahead : 0);
    }
    const stormMs = performance.now() - t0;
    await sleep(4000);
    const bytes = queueBytes(path);
    await service.stop();
    db.close();
    console.log(`\n(f) a storm of local commits (goal: ≤ 2 syncs, queue file < 1 MB)`);
    console.log(
      `  ${commits} commits in ${fmt(stormMs)}: ${syncs} sync(s) started (until 4 s after), ` +
        `queue files ${(bytes / 1024).toFixed(0)} KB`,
    );
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
