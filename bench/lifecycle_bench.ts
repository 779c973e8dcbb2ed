/**
 * Memory over many SyncDatabase lifecycles, printed, not asserted (RSS is noisy,
 * and Deno only collects garbage on demand with --v8-flags=--expose-gc):
 *
 *   deno run -A --v8-flags=--expose-gc bench/lifecycle_bench.ts      bun bench/lifecycle_bench.ts
 *
 * open/close   open → init → close on one file, BENCH_CYCLES times (default 1,000) after 100
 *              warm-up cycles
 * network      open → init → network.init → failed send → close, BENCH_NETWORK_CYCLES times
 *              (default 600) after 300 warm-up cycles. Measured on 1.1.4 without the network
 *              cleanup in close(): +8 to +12 MB per 600 cycles (12-18 KB each); with it, +0 to +4 MB.
 *
 * Each prints the time taken, RSS before and after, and the growth per cycle.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { SyncDatabase } from "../src/database.ts";
import { resolveExtension } from "../ffi/resolve.ts";
import { BENCH_CACHE as cacheDir } from "./cold_start_bench.ts";

const CYCLES = Number(process.env.BENCH_CYCLES ?? 1_000);
const NETWORK_CYCLES = Number(process.env.BENCH_NETWORK_CYCLES ?? 600);
const NOTES = "CREATE TABLE IF NOT EXISTS notes (id TEXT PRIMARY KEY NOT NULL, body TEXT)";

function collectGarbage(): boolean {
  const g = globalThis as { Bun?: { gc(force: boolean): void }; gc?: () => void };
  if (g.Bun) g.Bun.gc(true);
  else if (typeof g.gc === "function") g.gc();
  else return false;
  return true;
}

const mb = (bytes: number) => (bytes / 1048576).toFixed(1);

async function measure(label: string, n: number, cycle: () => Promise<void>): Promise<void> {
  collectGarbage();
  const before = process.memoryUsage().rss;
  const started = performance.now();
  for (let i = 0; i < n; i++) await cycle();
  const ms = performance.now() - started;
  collectGarbage();
  const after = process.memoryUsage().rss;
  const growth = after - before;
  console.log(
    `${label.padEnd(10)} ${n} cycles in ${ms.toFixed(0)} ms; rss ${mb(before)} MB -> ${
      mb(after)
    } MB (${growth >= 0 ? "+" : ""}${mb(growth)} MB, ${(growth / 1024 / n).toFixed(2)} KB/cycle)`,
  );
}

async function refusedAddress(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  await new Promise((resolve) => server.close(resolve));
  return `http://127.0.0.1:${port}`;
}

const { path: extensionPath } = await resolveExtension({ cacheDir });
const dir = mkdtempSync(join(tmpdir(), "sqlite-sync-lifecycle-bench-"));
try {
  const file = join(dir, "app.db");
  const open = () => SyncDatabase.open(file, { extensionPath });
  console.log(
    `${process.versions.bun ? `bun ${process.versions.bun}` : `deno ${process.versions.deno}`}; ` +
      `forced GC: ${collectGarbage() ? "yes" : "no (deno: add --v8-flags=--expose-gc)"}`,
  );
  const first = await open();
  first.exec(NOTES);
  first.init("notes");
  first.run("INSERT INTO notes (id, body) VALUES (?, 'x')", first.uuid());
  first.close();
  (await open()).close();

  const openClose = async () => {
    const db = await open();
    db.init("notes");
    db.close();
  };
  for (let i = 0; i < 100; i++) await openClose();
  await measure("open/close", CYCLES, openClose);

  const address = await refusedAddress();
  const network = async () => {
    const db = await open();
    db.init("notes");
    db.network.init({ databaseId: "bench-db", address, apiKey: "sqa_BENCH_KEY" });
    try {
      db.network.sendChanges();
    } catch {
      // offline, as intended
    }
    db.close();
  };
  for (let i = 0; i < 300; i++) await network();
  await measure("network", NETWORK_CYCLES, network);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
