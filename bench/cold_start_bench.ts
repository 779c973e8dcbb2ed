/**
 * Cold start: a fresh process that opens a database through the library vs one
 * that opens it bare, spawned alternately; medians of wall time.
 *
 *   deno run -A bench/cold_start_bench.ts      bun bench/cold_start_bench.ts
 *
 * The same file is the child (`--child lib|bare <db> <cacheDir|extension>`), so both
 * children parse the same code; only `lib` imports the library (dynamically).
 * Goal: lib − bare ≤ 15 ms. Env: BENCH_RUNS (default 15).
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import process from "node:process";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const isBun = typeof (globalThis as { Bun?: unknown }).Bun !== "undefined";

async function child(mode: string, db: string, arg: string): Promise<void> {
  if (mode === "lib") {
    const { closeConnection, openDatabase } = await import("../ffi/open.ts");
    const { driver } = await openDatabase(db, { cacheDir: arg });
    console.log(driver.prepare("select cloudsync_version() as v").get()?.v);
    closeConnection(driver);
    return;
  }
  // Bare: the runtime's own module and a known extension path.
  let handle: {
    loadExtension(p: string): void;
    prepare(s: string): { get(): unknown };
    exec(s: string): unknown;
    close(): void;
  };
  if (isBun) {
    const spec = "bun:sqlite";
    const { Database } = await import(spec);
    handle = new Database(db);
  } else {
    const { DatabaseSync } = await import("node:sqlite");
    handle = new DatabaseSync(db, { allowExtension: true }) as unknown as typeof handle;
  }
  handle.loadExtension(arg);
  console.log((handle.prepare("select cloudsync_version() as v").get() as { v: string }).v);
  handle.exec("select cloudsync_terminate()");
  handle.close();
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function main(): Promise<void> {
  const runs = Number(process.env.BENCH_RUNS ?? 15);
  const cacheDir = process.env.SQLITE_SYNC_BENCH_CACHE ?? join(ROOT, ".cache", "bench-extension");
  const { resolveExtension } = await import("../ffi/resolve.ts");
  const extension = await resolveExtension({ cacheDir }); // warm cache for the lib children
  const dir = mkdtempSync(join(tmpdir(), "sqlite-sync-cold-"));
  const self = fileURLToPath(import.meta.url);
  const argv = (mode: string, arg: string): string[] =>
    isBun
      ? ["run", self, "--child", mode, join(dir, `${mode}.db`), arg]
      : ["run", "-A", "--no-check", self, "--child", mode, join(dir, `${mode}.db`), arg];
  const times: Record<string, number[]> = { lib: [], bare: [] };
  for (let i = 0; i < runs + 2; i++) {
    for (const mode of i % 2 ? ["lib", "bare"] : ["bare", "lib"]) {
      const t0 = performance.now();
      const r = spawnSync(
        process.execPath,
        argv(mode, mode === "lib" ? cacheDir : extension.path),
        { cwd: ROOT, encoding: "utf8" },
      );
      const dt = performance.now() - t0;
      if (r.status !== 0 || r.stdout.trim() !== "1.1.4") {
        throw new Error(`${mode} child failed (${r.status}): ${r.stderr}`);
      }
      if (i >= 2) times[mode].push(dt); // two warm-up rounds fill the OS file cache
    }
  }
  rmSync(dir, { recursive: true, force: true });
  const lib = median(times.lib);
  const bare = median(times.bare);
  const name = isBun ? "bun" : "deno";
  console.log(`${name}: ${runs} cold processes each, median wall time`);
  console.log(`  bare ${bare.toFixed(1)} ms`);
  console.log(`  lib  ${lib.toFixed(1)} ms`);
  console.log(`lib − bare = ${(lib - bare).toFixed(1)} ms (goal ≤ 15 ms)`);
}

const i = process.argv.indexOf("--child");
if (i >= 0) await child(process.argv[i + 1], process.argv[i + 2], process.argv[i + 3]);
else await main();
