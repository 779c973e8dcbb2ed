/**
 * What the status app costs per request as databases and attempts grow: GET /, /status,
 * /metrics and /healthz for 1, 20 and 100 databases, each with 0, 50 or 500 attempts in its
 * 24-hour window (the most the app reads). Services are plain objects answering `status()` and
 * `attempts()` from memory, so this measures the app (health model, JSON, metrics text, HTML and
 * SVG), not the queue file. Prints median ms per request, the response size, and the cost per
 * added database from 1 to 100.
 *
 * Run: `deno run -A bench/status_app_bench.ts` or `bun bench/status_app_bench.ts`.
 *
 * @module
 */
import { createApp } from "../src/http/app.ts";
import type { NamedService } from "../src/http/_snapshot.ts";
import type { AttemptOutcome, SyncAttempt, SyncServiceStatus } from "../src/scheduler/status.ts";
import process from "node:process";
import { median } from "./_util.ts";

const NOW = Date.now();
const OUTCOMES: AttemptOutcome[] = ["success", "empty", "retry", "retry", "dead-letter"];

function status(i: number): SyncServiceStatus {
  return {
    state: i % 3 === 0 ? "offline" : "idle",
    executor: "worker",
    executorRestarts: 0,
    lastSyncAt: NOW - 5000,
    lastSuccessAt: i % 3 === 0 ? null : NOW - 60_000,
    lastResult: null,
    lastError: i % 3 === 0
      ? { kind: "offline", message: "Failed to connect to 127.0.0.1 port 9: Connection refused" }
      : null,
    permanentReason: null,
    consecutiveErrors: i % 3 === 0 ? 4 : 0,
    consecutiveEmptySyncs: 0,
    currentIntervalMs: 5000,
    nextRunAt: NOW + 5000,
    queueDepth: i % 3 === 0 ? 1 : 0,
    unsentChanges: 3,
    totals: {
      succeeded: 10,
      failed: 4,
      rowsReceived: 100,
      chunksSent: 3,
      bytesSent: 1000,
      bytesReceived: 5000,
      attempts: { success: 5, empty: 5, retry: 3, "dead-letter": 1, interrupted: 0 },
    },
    databaseId: `db_${i}`,
    address: "https://cloudsync.sqlite.ai",
    schedule: { kind: "cron", cron: "*/5 * * * *", timezone: null },
    oldestJobAt: i % 3 === 0 ? NOW - 30_000 : null,
  };
}

function attempts(n: number): SyncAttempt[] {
  return Array.from({ length: n }, (_, k) => {
    const outcome = OUTCOMES[k % OUTCOMES.length];
    const failed = outcome === "retry" || outcome === "dead-letter";
    return {
      jobId: k,
      startedAt: NOW - (n - k) * 150_000,
      finishedAt: NOW - (n - k) * 150_000 + 800,
      outcome,
      chunksSent: k % 7,
      rowsReceived: outcome === "success" ? k % 50 : 0,
      error: failed ? { kind: "offline", message: "Failed to connect" } : null,
    };
  });
}

function services(databases: number, perDatabase: number): NamedService[] {
  const list = attempts(perDatabase);
  return Array.from({ length: databases }, (_, i) => {
    const s = status(i);
    return {
      name: `tenant-${i}`,
      service: {
        status: () => s,
        attempts: () => list,
        syncNow: () => Promise.reject(new Error("not in this bench")),
      },
    };
  });
}

async function time(
  app: ReturnType<typeof createApp>,
  path: string,
): Promise<{ ms: number; bytes: number }> {
  const runs: number[] = [];
  let bytes = 0;
  for (let i = 0; i < 15; i++) {
    const t0 = performance.now();
    const r = await app.request(path, { headers: GZIP ? { "Accept-Encoding": "gzip" } : {} });
    bytes = (await r.arrayBuffer()).byteLength;
    runs.push(performance.now() - t0);
  }
  return { ms: median(runs.slice(3)), bytes };
}

const PATHS = ["/", "/status", "/metrics", "/healthz"];
/** `--gzip`: as a browser asks (Accept-Encoding: gzip); sizes are then what travels. */
const GZIP = process.argv.slice(2).includes("--gzip");
const kb = (b: number) => `${(b / 1024).toFixed(0)} KB`;
console.log(
  `status app, ${navigator.userAgent}: median ms per request (response size${
    GZIP ? ", gzip" : ""
  })\n`,
);
console.log(`| databases × attempts | ${PATHS.join(" | ")} |`);
console.log(`|---|${PATHS.map(() => "---").join("|")}|`);
const results = new Map<string, Map<string, number>>();
for (const perDatabase of [0, 50, 500]) {
  for (const databases of [1, 20, 100]) {
    const app = createApp(services(databases, perDatabase), { now: () => NOW });
    const cells: string[] = [];
    const row = new Map<string, number>();
    for (const path of PATHS) {
      const { ms, bytes } = await time(app, path);
      row.set(path, ms);
      cells.push(`${ms.toFixed(2)} ms (${kb(bytes)})`);
    }
    results.set(`${databases}×${perDatabase}`, row);
    console.log(`| ${databases} × ${perDatabase} | ${cells.join(" | ")} |`);
  }
}
console.log("\nper added database, 1 → 100 (500 attempts each):");
for (const path of PATHS) {
  const a = results.get("1×500")!.get(path)!;
  const b = results.get("100×500")!.get(path)!;
  console.log(`  ${path}: +${((b - a) / 99).toFixed(3)} ms`);
}
