/**
 * A database whose server hangs must not starve the others (issue 14). In one
 * process, 20 `SyncService`s on a fixed 2 s schedule: 5 point at a listener
 * that never answers (request and connect time-outs 10 s), 15 at a server
 * answering every request with 503, each on a port of its own so that
 * requests count per database. Over the window (60 s) each of the 15 should
 * still get at least 80 % of its scheduled attempts (60 s / 2 s = 30), and the
 * main thread should never stall more than 20 ms (5 ms interval probe).
 *
 *   deno run -A bench/starvation_bench.ts [--seconds 60] [--interval-ms 2000]
 *   bun bench/starvation_bench.ts [--seconds 60]
 *   deno run -A bench/starvation_bench.ts --runtimes deno,bun   (each in turn, then side by side)
 *
 * The schedule: `intervalMs: 2000` (a fixed interval; adaptive `polling` is
 * off whenever `intervalMs` or `cron` is set), `syncOnStart: false`, the
 * change trigger off, and `retry: { maxAttempts: 1 }`: a failed sync is
 * dead-lettered at once instead of being retried on the back-off, so every
 * attempt is one of the schedule (with retries on, the interval's requests
 * merge into the pending retry and the back-off, not the schedule, would set
 * the pace). An attempt is one `failed` event of the service inside the
 * window; the fixtures' request counts (503 servers) and connection counts
 * (silent listeners) over the same window are the cross-check (a sync may make
 * more than one request).
 *
 * Fixtures (licence rule): only silent listeners and fixed-error HTTP servers,
 * in a child process of the same runtime (a server on this event loop would
 * skew the stall probe); nothing that speaks the CloudSync protocol.
 *
 * Options: --seconds (60), --interval-ms (2000), --hung (5), --answered (15),
 * --timeout-s (10: the hung databases' request and connect time-outs),
 * --executor worker|process (default: the library's), --runtimes deno,bun.
 * Prints a table per database, the minimum ratio over the answered ones, the
 * longest stall, and a last line `RESULT {json}`. Exits 0 whatever the numbers.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { SyncService, type SyncServiceOptions } from "../mod.ts";
import { rssKb, tree } from "./_proc_tree.ts";
import {
  extensionPath,
  median,
  openDirty,
  runPerRuntime,
  runtime,
  selfArgv,
  sleep,
} from "./_util.ts";

const SELF = fileURLToPath(import.meta.url);

const { values: flags } = parseArgs({
  args: process.argv.slice(2),
  options: {
    seconds: { type: "string", default: "60" },
    "interval-ms": { type: "string", default: "2000" },
    hung: { type: "string", default: "5" },
    answered: { type: "string", default: "15" },
    "timeout-s": { type: "string", default: "10" },
    executor: { type: "string" },
    runtimes: { type: "string" },
    fixtures: { type: "boolean", default: false }, // child mode
  },
});
const SECONDS = Number(flags.seconds);
const INTERVAL_MS = Number(flags["interval-ms"]);
const HUNG = Number(flags.hung);
const ANSWERED = Number(flags.answered);
const TIMEOUT_S = Number(flags["timeout-s"]);
const RATIO_GOAL = 0.8;
const STALL_GOAL_MS = 20;

// ---- child mode: the fixtures ----------------------------------------------------------------

if (flags.fixtures) {
  // HUNG silent listeners and ANSWERED 503 servers, each counting per port. Prints the ports;
  // answers a "COUNTS" line on stdin with the counts; exits when stdin closes.
  const servers: Server[] = [];
  const sockets = new Set<Socket>();
  const listen = async (server: Server): Promise<number> => {
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    return (server.address() as { port: number }).port;
  };
  const counts: Record<number, { connections: number; requests: number }> = {};
  const silent: number[] = [];
  for (let i = 0; i < HUNG; i++) {
    let port = 0;
    port = await listen(createServer((socket) => {
      counts[port].connections++;
      sockets.add(socket);
      socket.on("error", () => {});
      socket.on("close", () => sockets.delete(socket));
    }));
    counts[port] = { connections: 0, requests: 0 };
    silent.push(port);
  }
  const body = '{"errors":[{"status":"503","code":"database_paused","title":"Database paused"}]}';
  const answer = `HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n` +
    `Content-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`;
  const e503: number[] = [];
  for (let i = 0; i < ANSWERED; i++) {
    let port = 0;
    port = await listen(createServer((socket) => {
      counts[port].connections++;
      sockets.add(socket);
      let received = "";
      let answered = false;
      socket.setEncoding("latin1");
      socket.on("data", (chunk: string) => {
        if (answered) return;
        received += chunk;
        const end = received.indexOf("\r\n\r\n");
        if (end < 0) return;
        const length = Number(
          /\r\ncontent-length:\s*(\d+)/i.exec(received.slice(0, end))?.[1] ?? 0,
        );
        if (received.length - (end + 4) < length) return;
        answered = true;
        counts[port].requests++;
        socket.end(answer);
      });
      socket.on("error", () => socket.destroy());
      socket.on("close", () => sockets.delete(socket));
    }));
    counts[port] = { connections: 0, requests: 0 };
    e503.push(port);
  }
  process.stdout.write(`PORTS ${JSON.stringify({ silent, e503 })}\n`);
  let input = "";
  process.stdin.setEncoding("utf8");
  process.stdin.on("data", (chunk: string) => {
    input += chunk;
    for (let i = input.indexOf("\n"); i >= 0; i = input.indexOf("\n")) {
      if (input.slice(0, i).trim() === "COUNTS") {
        process.stdout.write(`COUNTS ${JSON.stringify(counts)}\n`);
      }
      input = input.slice(i + 1);
    }
  });
  const stop = () => {
    for (const s of sockets) s.destroy();
    for (const s of servers) s.close();
    process.exit(0);
  };
  process.stdin.on("end", stop);
  process.stdin.on("close", stop);
  setTimeout(stop, (SECONDS + 600) * 1000); // never outlive a forgotten parent by much
}

// ---- wrapper mode: each runtime in turn, then side by side ------------------------------------

interface Result {
  runtime: string;
  executor: string;
  seconds: number;
  expected: number;
  minRatio: number;
  medianRatio: number;
  requestsPerAttempt: number;
  hungAttempts: number[];
  stallMs: number;
  startupStallMs: number;
  processes: number;
  rssMb: number;
}

async function wrapper(runtimes: string[]): Promise<void> {
  const results = await runPerRuntime<Result>(SELF, runtimes);
  console.log(
    `\n| runtime (executor) | min ratio of the ${ANSWERED} (goal ≥ ${RATIO_GOAL * 100} %) | ` +
      `median ratio | requests/attempt | hung dbs' attempts | longest stall (goal ≤ ${STALL_GOAL_MS} ms) | ` +
      `stall during start-up | processes | RSS MB |\n|---|---|---|---|---|---|---|---|---|`,
  );
  for (const r of results) {
    console.log(
      `| ${r.runtime} (${r.executor}) | ${(r.minRatio * 100).toFixed(0)} % ${
        r.minRatio >= RATIO_GOAL ? "✓" : "✗"
      } | ${(r.medianRatio * 100).toFixed(0)} % | ${r.requestsPerAttempt.toFixed(2)} | ${
        r.hungAttempts.join(", ")
      } | ${r.stallMs.toFixed(1)} ms ${r.stallMs <= STALL_GOAL_MS ? "✓" : "✗"} | ${
        r.startupStallMs.toFixed(1)
      } ms | ${r.processes} | ${r.rssMb.toFixed(0)} |`,
    );
  }
}

// ---- the bench ----------------------------------------------------------------------------------

/** The fixtures child: ports, and counts on demand. */
async function startFixtures(): Promise<{
  child: ChildProcess;
  ports: { silent: number[]; e503: number[] };
  counts: () => Promise<Record<number, { connections: number; requests: number }>>;
}> {
  const [cmd, ...args] = selfArgv(SELF, [
    "--fixtures",
    "--hung",
    String(HUNG),
    "--answered",
    String(ANSWERED),
    "--seconds",
    String(SECONDS),
  ]);
  const child = spawn(cmd, args, { stdio: ["pipe", "pipe", "inherit"] });
  let buffer = "";
  const waiting: ((line: string) => void)[] = [];
  child.stdout!.setEncoding("utf8");
  child.stdout!.on("data", (d: string) => {
    buffer += d;
    for (let i = buffer.indexOf("\n"); i >= 0; i = buffer.indexOf("\n")) {
      const line = buffer.slice(0, i);
      buffer = buffer.slice(i + 1);
      waiting.shift()?.(line);
    }
  });
  const next = () =>
    new Promise<string>((resolve, reject) => {
      waiting.push(resolve);
      child.once("exit", (code) => reject(new Error(`fixtures exited with ${code}`)));
    });
  const first = await next();
  if (!first.startsWith("PORTS ")) throw new Error(`fixtures: unexpected '${first}'`);
  return {
    child,
    ports: JSON.parse(first.slice(6)),
    counts: async () => {
      const line = next();
      child.stdin!.write("COUNTS\n");
      return JSON.parse((await line).slice(7));
    },
  };
}

async function bench(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "sqlite-sync-starvation-bench-"));
  const services: SyncService[] = [];
  let fixtures: Awaited<ReturnType<typeof startFixtures>> | undefined;
  let probe: ReturnType<typeof setInterval> | undefined;
  const onSignal = () => {
    fixtures?.child.kill("SIGKILL");
    for (const pid of tree(process.pid).slice(1)) {
      try {
        process.kill(pid, "SIGKILL");
      } catch { /* gone */ }
    }
    rmSync(dir, { recursive: true, force: true });
    process.exit(130);
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  try {
    console.log(
      `starvation bench: ${runtime.name} ${runtime.version}; ${HUNG} databases on silent listeners ` +
        `(time-outs ${TIMEOUT_S} s), ${ANSWERED} on 503 servers; intervalMs ${INTERVAL_MS}; ` +
        `window ${SECONDS} s; load ${loadavg().map((x) => x.toFixed(2)).join(" ")}`,
    );
    fixtures = await startFixtures();
    const dbs = [
      ...fixtures.ports.silent.map((port, i) => ({ name: `hung${i}`, port, hung: true })),
      ...fixtures.ports.e503.map((port, i) => ({ name: `e503-${i}`, port, hung: false })),
    ];
    const failed = new Map<string, number[]>();
    const started = new Map<string, number[]>();

    // The main-thread probe runs from before the first start to the end.
    let last = performance.now();
    let gap = 0;
    probe = setInterval(() => {
      const now = performance.now();
      gap = Math.max(gap, now - last);
      last = now;
    }, 5);
    await sleep(50);
    const t00 = performance.now();
    for (const db of dbs) {
      const path = join(dir, `${db.name}.db`);
      (await openDirty(path)).close();
      const options: SyncServiceOptions = {
        databaseId: "bench",
        address: `http://127.0.0.1:${db.port}`,
        apiKey: "sqa_BENCHKEY_0123456789",
        extensionPath,
        intervalMs: INTERVAL_MS,
        syncOnStart: false,
        changeDebounceMs: false,
        retry: { maxAttempts: 1 },
        connectTimeoutS: TIMEOUT_S,
        requestTimeoutS: TIMEOUT_S,
        ...(flags.executor ? { executor: flags.executor as "worker" | "process" } : {}),
      };
      const service = await SyncService.start(path, options);
      services.push(service);
      failed.set(db.name, []);
      started.set(db.name, []);
      service.on("failed", () => failed.get(db.name)!.push(performance.now()));
      service.on("started", () => started.get(db.name)!.push(performance.now()));
    }
    const startupS = (performance.now() - t00) / 1000;
    await sleep(20); // the probe sees the end of the last start
    const startupStallMs = gap;
    const executor = services[0].status().executor;

    // The window: from now, SECONDS long; the probe's maximum restarts.
    gap = 0;
    last = performance.now();
    const counts0 = await fixtures.counts();
    const t0 = performance.now();
    await sleep(SECONDS * 1000);
    const t1 = performance.now();
    const counts1 = await fixtures.counts();
    const stallMs = gap;
    const pids = tree(process.pid);
    const rssMb = pids.reduce((n, pid) => n + rssKb(pid), 0) / 1024;
    clearInterval(probe);
    probe = undefined;

    const expected = Math.floor((SECONDS * 1000) / INTERVAL_MS);
    const inWindow = (xs: number[]) => xs.filter((t) => t >= t0 && t < t1).length;
    console.log(
      `\n${dbs.length} services started in ${startupS.toFixed(1)} s (${executor} executors; ` +
        `${pids.length} processes, RSS ${rssMb.toFixed(0)} MB over this process tree)`,
    );
    console.log(
      `\n| database | server | attempts (failed events) | syncs started | server requests | ` +
        `server connections | expected | ratio |\n|---|---|---|---|---|---|---|---|`,
    );
    const ratios: number[] = [];
    const hungAttempts: number[] = [];
    let requests = 0;
    let attemptsAnswered = 0;
    for (const db of dbs) {
      const attempts = inWindow(failed.get(db.name)!);
      const c0 = counts0[db.port];
      const c1 = counts1[db.port];
      const ratio = attempts / expected;
      if (db.hung) hungAttempts.push(attempts);
      else {
        ratios.push(ratio);
        requests += c1.requests - c0.requests;
        attemptsAnswered += attempts;
      }
      console.log(
        `| ${db.name} | ${db.hung ? "silent" : "503"} :${db.port} | ${attempts} | ${
          inWindow(started.get(db.name)!)
        } | ${db.hung ? "–" : c1.requests - c0.requests} | ${c1.connections - c0.connections} | ${
          db.hung ? "–" : expected
        } | ${db.hung ? "–" : `${(ratio * 100).toFixed(0)} %`} |`,
      );
    }
    const minRatio = Math.min(...ratios);
    const result: Result = {
      runtime: `${runtime.name} ${runtime.version}`,
      executor,
      seconds: SECONDS,
      expected,
      minRatio,
      medianRatio: median(ratios),
      requestsPerAttempt: attemptsAnswered ? requests / attemptsAnswered : NaN,
      hungAttempts,
      stallMs,
      startupStallMs,
      processes: pids.length,
      rssMb,
    };
    console.log(
      `\nminimum ratio over the ${ANSWERED} answered databases: ${(minRatio * 100).toFixed(0)} % ` +
        `of ${expected} scheduled attempts (goal ≥ ${RATIO_GOAL * 100} %: ${
          minRatio >= RATIO_GOAL ? "met" : "MISSED"
        }); median ${(result.medianRatio * 100).toFixed(0)} %; ` +
        `${result.requestsPerAttempt.toFixed(2)} server requests per attempt`,
    );
    console.log(
      `hung databases' attempts in the window: ${hungAttempts.join(", ")} ` +
        `(each bounded by its ${TIMEOUT_S} s time-out)`,
    );
    console.log(
      `longest main-thread stall (5 ms probe) over the window: ${stallMs.toFixed(1)} ms ` +
        `(goal ≤ ${STALL_GOAL_MS} ms: ${stallMs <= STALL_GOAL_MS ? "met" : "MISSED"}); ` +
        `during the ${dbs.length} starts: ${startupStallMs.toFixed(1)} ms`,
    );
    console.log(`load at the end: ${loadavg().map((x) => x.toFixed(2)).join(" ")}`);
    console.log(`RESULT ${JSON.stringify(result)}`);
  } catch (err) {
    console.log(`bench error: ${(err as Error).stack ?? err}`);
  } finally {
    if (probe) clearInterval(probe);
    await Promise.all(services.map((s) => s.stop({ graceMs: 0 }).catch(() => {})));
    fixtures?.child.stdin?.end();
    fixtures?.child.kill("SIGKILL");
    for (const pid of tree(process.pid).slice(1)) {
      try {
        process.kill(pid, "SIGKILL");
      } catch { /* gone */ }
    }
    rmSync(dir, { recursive: true, force: true });
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}

if (!flags.fixtures) {
  if (flags.runtimes) await wrapper(flags.runtimes.split(",").map((s) => s.trim()));
  else await bench();
  process.exit(0);
}
