/**
 * The daemon's costs: an idle daemon's CPU and memory over 60 s (Deno, Bun);
 * cold start to the first `/healthz` answer (Deno, Bun, the compiled x64
 * binary, and the compiled arm64 binary under qemu, reported apart); the
 * compiled binaries' sizes.
 *
 *   deno run -A bench/daemon_bench.ts      (or: bun bench/daemon_bench.ts; same numbers)
 *
 * Every daemon runs one database against a refused port (no network, no
 * protocol): "idle" is an offline device, with its start-up sync failing and
 * retrying on the jittered back-off, cron `0 0 1 1 *` otherwise. CPU is
 * utime+stime of the daemon and its children (Bun's executor is a child
 * process) from /proc; memory is the RSS of the same processes at the end, and
 * the peak (VmHWM). Cold start spawns the daemon with a fixed port and polls
 * `/healthz` every 5 ms; median of BENCH_RUNS (default 5; 3 under qemu).
 * Env: BENCH_IDLE_S (default 60).
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const DENO = join(ROOT, "node_modules", ".bin", "deno");
const BUN = join(ROOT, "node_modules", ".bin", "bun");
const MAIN = join(ROOT, "src", "cli", "main.ts");
const QEMU = ["/usr/bin/qemu-aarch64-static", "/usr/local/bin/qemu-aarch64-static"].find((p) => {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
});
const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const IDLE_S = Number(process.env.BENCH_IDLE_S ?? 60);
const TICK = 100; // CLK_TCK on Linux

const dir = mkdtempSync(join(tmpdir(), "sqlite-sync-daemon-bench-"));

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as { port: number }).port;
  await new Promise((r) => server.close(r));
  return port;
}

async function extensionPath(): Promise<string> {
  const { resolveExtension } = await import("../ffi/resolve.ts");
  return (await resolveExtension({ cacheDir: join(ROOT, ".cache", "bench-extension") })).path;
}

async function config(name: string, httpPort: number): Promise<string> {
  const file = join(dir, `${name}.jsonc`);
  writeFileSync(
    file,
    JSON.stringify({
      databases: [{
        name,
        path: join(dir, `${name}.db`),
        databaseId: "db_bench",
        address: `http://127.0.0.1:${await freePort()}`,
        apiKeyEnv: "BENCH_KEY",
        cron: "0 0 1 1 *",
      }],
      http: { port: httpPort },
      logLevel: "warn",
    }),
  );
  return file;
}

/** The process and its descendants (from /proc). */
function tree(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
    } catch { /* gone */ }
  }
  const out = [pid];
  for (let i = 0; i < out.length; i++) out.push(...(children.get(out[i]) ?? []));
  return out;
}

function cpuTicks(pids: number[]): number {
  let total = 0;
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      total += Number(f[11]) + Number(f[12]); // utime, stime
    } catch { /* gone */ }
  }
  return total;
}

function memoryKb(pids: number[], key: "VmRSS" | "VmHWM"): number {
  let total = 0;
  for (const pid of pids) {
    try {
      const m = new RegExp(`${key}:\\s+(\\d+) kB`).exec(
        readFileSync(`/proc/${pid}/status`, "utf8"),
      );
      total += Number(m?.[1] ?? 0);
    } catch { /* gone */ }
  }
  return total;
}

const env = (extension: string) => ({
  ...process.env,
  BENCH_KEY: "bench-key-not-secret",
  ...(extension ? { SQLITE_SYNC_EXTENSION_PATH: extension } : {
    SQLITE_SYNC_EXTENSION_PATH: "",
    SQLITE_SYNC_OFFLINE: "1",
    SQLITE_SYNC_CACHE_DIR: join(dir, "empty-cache"),
  }),
});

async function waitHealthz(port: number, deadline: number): Promise<void> {
  for (;;) {
    try {
      await (await fetch(`http://127.0.0.1:${port}/healthz`)).text();
      return;
    } catch {
      if (performance.now() > deadline) throw new Error("no /healthz answer");
      await new Promise((r) => setTimeout(r, 5));
    }
  }
}

async function stop(child: ReturnType<typeof spawn>): Promise<void> {
  const closed = new Promise((r) => child.on("close", r));
  process.kill(child.pid!, "SIGTERM");
  await closed;
}

async function idle(label: string, argv: string[], extension: string) {
  const port = await freePort();
  const child = spawn(argv[0], [
    ...argv.slice(1),
    "daemon",
    "--config",
    await config(`idle-${label}`, port),
  ], {
    env: env(extension),
    stdio: "ignore",
  });
  await waitHealthz(port, performance.now() + 60_000);
  await new Promise((r) => setTimeout(r, 2000)); // past start-up
  const before = cpuTicks(tree(child.pid!));
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, IDLE_S * 1000));
  const pids = tree(child.pid!);
  const seconds = (performance.now() - t0) / 1000;
  const cpuMs = ((cpuTicks(pids) - before) * 1000) / TICK;
  const result = {
    label,
    processes: pids.length,
    cpuPct: (cpuMs / (seconds * 1000)) * 100,
    cpuMsPerMin: (cpuMs / seconds) * 60,
    rssMb: memoryKb(pids, "VmRSS") / 1024,
    peakMb: memoryKb(pids, "VmHWM") / 1024,
  };
  await stop(child);
  return result;
}

async function coldStart(label: string, argv: string[], extension: string, runs: number) {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const port = await freePort();
    const file = await config(`cold-${label.replace(/\W+/g, "-")}-${i}`, port);
    const t0 = performance.now();
    const child = spawn(argv[0], [...argv.slice(1), "daemon", "--config", file], {
      env: env(extension),
      stdio: "ignore",
    });
    await waitHealthz(port, t0 + 120_000);
    times.push(performance.now() - t0);
    await stop(child);
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
  ], {
    encoding: "utf8",
  });
  if (r.status !== 0) throw new Error(`build failed: ${r.stderr}`);
}

try {
  const extension = await extensionPath();
  const x64 = join(dir, "sqlite-sync-x64");
  const arm64 = join(dir, "sqlite-sync-arm64");
  build(x64);
  build(arm64, "bun-linux-arm64");
  const deno = [DENO, "run", "-A", "--no-check", MAIN];
  const bun = [BUN, MAIN];

  console.log(`idle daemons (${IDLE_S} s, one database, offline), Deno and Bun side by side…`);
  const idles = await Promise.all([idle("deno", deno, extension), idle("bun", bun, extension)]);
  console.log(
    "\n| idle daemon | processes | CPU | CPU ms/min | RSS MB | peak RSS MB |\n|---|---|---|---|---|---|",
  );
  for (const r of idles) {
    console.log(
      `| ${r.label} | ${r.processes} | ${r.cpuPct.toFixed(2)} % | ${r.cpuMsPerMin.toFixed(0)} | ${
        r.rssMb.toFixed(1)
      } | ${r.peakMb.toFixed(1)} |`,
    );
  }

  const colds = [
    await coldStart("deno run src/cli/main.ts", deno, extension, RUNS),
    await coldStart("bun src/cli/main.ts", bun, extension, RUNS),
    await coldStart("compiled x64 (bun build --compile)", [x64], extension, RUNS),
  ];
  if (QEMU) {
    // No arm64 extension here: /healthz answers while the database fails to start (reported).
    colds.push(
      await coldStart(
        "compiled arm64 under qemu-aarch64-static",
        [QEMU, arm64],
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
} finally {
  rmSync(dir, { recursive: true, force: true });
}
