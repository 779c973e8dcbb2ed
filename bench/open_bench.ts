/**
 * Warm open through the library vs a bare open, interleaved in one process.
 *
 *   deno run -A bench/open_bench.ts      bun bench/open_bench.ts
 *
 * lib:       openDatabase(file, { cacheDir }) (resolve from a warm cache, open, busy timeout,
 *            load, WAL, cloudsync_version()) + closeConnection()
 * bare:      the runtime's own SQLite module: open + loadExtension(known path) + terminate + close
 * bare+wal:  bare plus the same busy_timeout / journal_mode / version statements (so
 *            lib − bare+wal ≈ what resolution and the wrappers cost)
 * lib-noresolve: openWithExtension(file, resolved) + closeConnection(): the library minus resolution
 * resolve:   resolveExtension({ cacheDir }) alone
 *
 * Goal: lib ≤ 1.2× bare and < 2 ms extra. Env: BENCH_ITERATIONS (default 200),
 * SQLITE_SYNC_BENCH_CACHE (default .cache/bench-extension; filled once from the network).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import process from "node:process";
import { closeConnection, openDatabase, openWithExtension } from "../ffi/open.ts";
import { resolveExtension } from "../ffi/resolve.ts";
import { detectRuntime } from "../ffi/runtime.ts";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const ITERATIONS = Number(process.env.BENCH_ITERATIONS ?? 200);
const cacheDir = process.env.SQLITE_SYNC_BENCH_CACHE ?? join(ROOT, ".cache", "bench-extension");
const runtime = detectRuntime();

interface BareDb {
  exec(sql: string): unknown;
  loadExtension(path: string): void;
  prepare(sql: string): { get(): unknown };
  close(): void;
}

// The runtime's own module, as a user who skips the library would call it.
async function bareOpener(): Promise<(path: string) => BareDb> {
  if (runtime.name === "bun") {
    const spec = "bun:sqlite";
    const { Database } = await import(spec);
    return (path) => new Database(path);
  }
  const { DatabaseSync } = await import("node:sqlite");
  return (path) => new DatabaseSync(path, { allowExtension: true }) as unknown as BareDb;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

const extension = await resolveExtension({ cacheDir }); // fills the cache once
const openBare = await bareOpener();
const dir = mkdtempSync(join(tmpdir(), "sqlite-sync-bench-"));
const path = join(dir, "bench.db");

const cases: Record<string, () => Promise<void> | void> = {
  lib: async () => {
    const { driver } = await openDatabase(path, { cacheDir });
    closeConnection(driver);
  },
  "lib-noresolve": async () => {
    closeConnection(await openWithExtension(path, extension));
  },
  bare: () => {
    const db = openBare(path);
    db.loadExtension(extension.path);
    db.exec("select cloudsync_terminate()");
    db.close();
  },
  "bare+wal": () => {
    const db = openBare(path);
    db.exec("PRAGMA busy_timeout = 5000");
    db.loadExtension(extension.path);
    db.prepare("PRAGMA journal_mode = wal").get();
    db.prepare("select cloudsync_version() as version").get();
    db.exec("select cloudsync_terminate()");
    db.close();
  },
  resolve: async () => {
    await resolveExtension({ cacheDir });
  },
};

const times: Record<string, number[]> = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
for (let i = 0; i < ITERATIONS + 20; i++) {
  // Interleaved, rotating the order so no case always runs first.
  const names = Object.keys(cases);
  for (let j = 0; j < names.length; j++) {
    const name = names[(i + j) % names.length];
    const t0 = performance.now();
    await cases[name]();
    const dt = performance.now() - t0;
    if (i >= 20) times[name].push(dt); // the first 20 rounds warm the JIT
  }
}
rmSync(dir, { recursive: true, force: true });

const m = Object.fromEntries(Object.entries(times).map(([k, v]) => [k, median(v)]));
const fmt = (x: number) => `${x.toFixed(3)} ms`;
console.log(`${runtime.name} ${runtime.version}, ${ITERATIONS} iterations each, medians:`);
for (const [k, v] of Object.entries(m)) console.log(`  ${k.padEnd(13)} ${fmt(v)}`);
console.log(
  `lib / bare      = ${(m.lib / m.bare).toFixed(2)}×, extra ${fmt(m.lib - m.bare)} ` +
    `(goal ≤ 1.2× and < 2 ms)`,
);
console.log(
  `lib / bare+wal  = ${(m.lib / m["bare+wal"]).toFixed(2)}×, extra ${
    fmt(m.lib - m["bare+wal"])
  } (resolution + wrappers; resolve alone ${fmt(m.resolve)})`,
);
console.log(
  `lib-noresolve / bare = ${(m["lib-noresolve"] / m.bare).toFixed(2)}×, extra ${
    fmt(m["lib-noresolve"] - m.bare)
  } (the wrappers, pragmas and version check without resolution)`,
);
