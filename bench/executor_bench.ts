/**
 * The executor vs the same network call inline on the main thread, side by
 * side in one run of the current runtime, against non-protocol fixtures only
 * (a listener that never answers, a server answering every request with 503).
 *
 *   deno run -A bench/executor_bench.ts
 *   bun bench/executor_bench.ts
 *   node --disable-warning=ExperimentalWarning bench/executor_bench.ts   (Node ≥ 22.18)
 *
 * (a) stall:    longest gap of a 5 ms main-thread interval while one sync hangs on a
 *               listener that never answers (request time-out BENCH_HANG_S), executor
 *               (worker and process) vs inline `db.network.sync()`. Goal: executor ≤ 20 ms.
 * (b) overhead: `executor.sync()` vs inline `db.network.sync()` against a 503 server,
 *               interleaved, median of BENCH_CALLS each. Goal: ≤ +5 ms. The executor
 *               also stores both time-outs (one small commit) before every sync.
 * (c) memory:   RSS of a process holding one opened database and an idle, initialised
 *               executor, over the same process without one (fresh processes; a child
 *               executor's own RSS is added). Goal: ≤ +15 MB with a Worker.
 *
 * Env: BENCH_HANG_S (default 3), BENCH_HANG_RUNS (hung syncs per executor, default 3),
 * BENCH_CALLS (default 50), SQLITE_SYNC_TEST_EXTENSION.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { createExecutor, type Executor } from "../src/scheduler/executor.ts";
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
  stall,
  timeCases,
} from "./_util.ts";

const SELF = fileURLToPath(import.meta.url);
const HANG_S = Number(process.env.BENCH_HANG_S ?? 3);
const HANG_RUNS = Number(process.env.BENCH_HANG_RUNS ?? 3);
const CALLS = Number(process.env.BENCH_CALLS ?? 50);
const KINDS: ExecutorKind[] = ["worker", "process"];

// ---- (c) memory: the child side ------------------------------------------------------

if (process.argv[2] === "--rss") {
  const kind = process.argv[3] as ExecutorKind | "none";
  const dir = mkdtempSync(join(tmpdir(), "executor-bench-rss-"));
  const path = join(dir, "rss.db");
  const db = await openDirty(path);
  let executor: Executor | undefined;
  if (kind !== "none") {
    executor = await createExecutor({ kind, path, extensionPath, driver: db.driver.name });
    await executor.init({ databaseId: "bench", address: "http://127.0.0.1:9", tables: ["notes"] });
  }
  await new Promise((r) => setTimeout(r, 1500)); // idle, polling
  (globalThis as { gc?: () => void }).gc?.();
  const rss = process.memoryUsage().rss;
  const pid = executor?.pid;
  const child = pid !== undefined && pid !== process.pid ? pid : undefined;
  console.log(JSON.stringify({
    rss,
    childRss: child === undefined ? 0 : procKb(child, "status", "VmRSS"),
    pss: procKb(process.pid, "smaps_rollup", "Pss"),
    childPss: child === undefined ? 0 : procKb(child, "smaps_rollup", "Pss"),
  }));
  await executor?.close();
  db.close();
  rmSync(dir, { recursive: true, force: true });
  process.exit(0);
}

interface Memory {
  rss: number;
  childRss: number;
  /** Proportional set size: shared pages (the runtime's binary) split between the processes. */
  pss: number;
  childPss: number;
}

function runRss(kind: ExecutorKind | "none"): Promise<Memory> {
  const [cmd, ...args] = selfArgv(SELF, ["--rss", kind]);
  return new Promise((resolvePromise, reject) => {
    const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout!.on("data", (d) => (out += d));
    child.on("close", () => {
      try {
        resolvePromise(JSON.parse(out.trim().split("\n").at(-1)!));
      } catch (err) {
        reject(new Error(`rss child failed: ${out} ${err}`));
      }
    });
  });
}

// ---- the run -------------------------------------------------------------------------

const dir = mkdtempSync(join(tmpdir(), "executor-bench-"));
console.log(
  `executor bench: ${runtime.name} ${runtime.version}, hang time-out ${HANG_S} s, ${CALLS} calls`,
);

try {
  // (a) stall during a hung sync
  const listener = await silentListener();
  const address = `http://127.0.0.1:${listener.port}`;
  const stalls: Record<string, { gapMs: number; maxGapMs: number; ms: number }> = {};
  for (const kind of KINDS) {
    const path = join(dir, `hang-${kind}.db`);
    const db = await openDirty(path);
    const executor = await createExecutor({
      kind,
      path,
      extensionPath,
      driver: db.driver.name,
      connection: { connectTimeoutS: HANG_S, requestTimeoutS: HANG_S },
    });
    await executor.init({ databaseId: "bench", address, tables: ["notes"] });
    const runs = [];
    for (let i = 0; i < HANG_RUNS; i++) runs.push(await stall(() => executor.sync()));
    stalls[`executor (${kind})`] = {
      gapMs: median(runs.map((r) => r.gapMs)),
      maxGapMs: Math.max(...runs.map((r) => r.gapMs)),
      ms: median(runs.map((r) => r.ms)),
    };
    await executor.close();
    db.close();
  }
  {
    const db = await openInline(join(dir, "hang-inline.db"), listener.port, HANG_S);
    const r = await stall(() => db.network.sync());
    stalls["inline network.sync()"] = { ...r, maxGapMs: r.gapMs };
    db.close();
  }
  await listener.close();
  const inlineGap = stalls["inline network.sync()"].gapMs;
  console.log(
    `\n(a) longest main-thread stall while one sync hangs, median of ${HANG_RUNS} syncs per ` +
      `executor (max in brackets; goal: executor ≤ 20 ms)`,
  );
  for (const [name, r] of Object.entries(stalls)) {
    const ratio = name.startsWith("inline")
      ? ""
      : `   inline/executor ${(inlineGap / r.gapMs).toFixed(0)}×`;
    console.log(
      `  ${name.padEnd(24)} stall ${fmt(r.gapMs).padStart(10)} (${fmt(r.maxGapMs)})   call ${
        fmt(r.ms).padStart(10)
      }${ratio}`,
    );
  }

  // (b) overhead against a 503 server
  const server = await errorServer503();
  const path = join(dir, "overhead.db");
  const db = await openInline(path, server.port, 5);
  const executors: Record<string, Executor> = {};
  for (const kind of KINDS) {
    executors[kind] = await createExecutor({
      kind,
      path,
      extensionPath,
      driver: db.driver.name,
      connection: { connectTimeoutS: 5, requestTimeoutS: 5 },
    });
    await executors[kind].init({
      databaseId: "bench",
      address: `http://127.0.0.1:${server.port}`,
    });
  }
  const cases: Record<string, () => Promise<unknown>> = {
    "inline network.sync()": () => Promise.resolve().then(() => db.network.sync()),
    "executor (worker)": () => executors.worker.sync(),
    "executor (process)": () => executors.process.sync(),
  };
  const times = await timeCases(cases, CALLS);
  for (const e of Object.values(executors)) await e.close();
  db.close();
  server.stop();
  printOverhead("b", CALLS, times);

  // (c) memory
  const bare = await runRss("none");
  console.log(
    `\n(c) memory of an idle executor over a bare opened database (goal: worker ≤ +15 MB);\n` +
      `    RSS counts the runtime's shared pages in both processes, PSS splits them`,
  );
  console.log(
    `  bare database            RSS ${mb(bare.rss).padStart(9)}   PSS ${mb(bare.pss).padStart(9)}`,
  );
  for (const kind of KINDS) {
    const r = await runRss(kind);
    const rss = r.rss + r.childRss;
    const pss = r.pss + r.childPss;
    console.log(
      `  executor (${kind})`.padEnd(25) +
        `RSS ${mb(rss).padStart(9)} (+${mb(rss - bare.rss)}, ${(rss / bare.rss).toFixed(2)}×)   ` +
        `PSS ${mb(pss).padStart(9)} (+${mb(pss - bare.pss)}, ${(pss / bare.pss).toFixed(2)}×)`,
    );
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
