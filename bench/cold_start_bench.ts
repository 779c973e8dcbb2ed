/**
 * Cold start: a fresh process that opens a database through the library vs one
 * that opens it bare, spawned alternately; medians of wall time, and of the
 * first open inside each process (timed after the imports).
 *
 *   deno run -A bench/cold_start_bench.ts      bun bench/cold_start_bench.ts
 *
 * The same file is the child (`--child lib|bare <db> <cacheDir|extension>`), so both
 * children parse the same code; only `lib` imports the library (dynamically).
 * Goal: lib − bare ≤ 15 ms. Env: BENCH_RUNS (default 15). `open_bench.ts` runs
 * {@linkcode measureColdStart} too, to print every number side by side.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import process from "node:process";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const isBun = typeof (globalThis as { Bun?: unknown }).Bun !== "undefined";

/** The cache the benches share (filled once from the network). */
export const BENCH_CACHE: string = process.env.SQLITE_SYNC_BENCH_CACHE ??
  join(ROOT, ".cache", "bench-extension");

/** Prints the extension version and how long the first open took, in ms. */
async function child(mode: string, db: string, arg: string): Promise<void> {
  if (mode === "lib") {
    const { closeConnection, openDatabase } = await import("../ffi/open.ts");
    const t0 = performance.now();
    const { driver } = await openDatabase(db, { cacheDir: arg });
    const version = driver.prepare("select cloudsync_version() as v").get()?.v;
    closeConnection(driver);
    console.log(version, performance.now() - t0);
    return;
  }
  // Bare: the runtime's own module and a known extension path.
  type Handle = {
    loadExtension(p: string): void;
    prepare(s: string): { get(): unknown };
    exec(s: string): unknown;
    close(): void;
  };
  let open: (db: string) => Handle;
  if (isBun) {
    const spec = "bun:sqlite";
    const { Database } = await import(spec);
    open = (db) => new Database(db);
  } else {
    const { DatabaseSync } = await import("node:sqlite");
    open = (db) => new DatabaseSync(db, { allowExtension: true }) as unknown as Handle;
  }
  const t0 = performance.now();
  const handle = open(db);
  handle.loadExtension(arg);
  const version = (handle.prepare("select cloudsync_version() as v").get() as { v: string }).v;
  handle.exec("select cloudsync_terminate()");
  handle.close();
  console.log(version, performance.now() - t0);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** Medians over fresh processes, in ms. */
export interface ColdStart {
  /** Processes of each kind measured. */
  runs: number;
  /** Wall time of a process that opens through the library. */
  lib: number;
  /** Wall time of a process that opens bare. */
  bare: number;
  /** The library's first open in its process (resolution with the hash, driver, pragmas, load). */
  libFirstOpen: number;
  /** The bare first open in its process (open, load, version, terminate, close). */
  bareFirstOpen: number;
}

/**
 * Spawns `runs` library and `runs` bare processes alternately (after two
 * warm-up rounds that fill the OS file cache) and returns the medians.
 *
 * @param runs Processes of each kind.
 * @param cacheDir A warm cache holding the extension.
 * @param extensionPath The cached binary, for the bare processes.
 * @returns The medians.
 */
export function measureColdStart(
  runs: number,
  cacheDir: string,
  extensionPath: string,
): ColdStart {
  const dir = mkdtempSync(join(tmpdir(), "sqlite-sync-cold-"));
  const self = fileURLToPath(import.meta.url);
  const argv = (mode: string, arg: string): string[] =>
    isBun
      ? ["run", self, "--child", mode, join(dir, `${mode}.db`), arg]
      : ["run", "-A", "--no-check", self, "--child", mode, join(dir, `${mode}.db`), arg];
  const wall: Record<string, number[]> = { lib: [], bare: [] };
  const first: Record<string, number[]> = { lib: [], bare: [] };
  try {
    for (let i = 0; i < runs + 2; i++) {
      for (const mode of i % 2 ? ["lib", "bare"] : ["bare", "lib"]) {
        const t0 = performance.now();
        const r = spawnSync(
          process.execPath,
          argv(mode, mode === "lib" ? cacheDir : extensionPath),
          { cwd: ROOT, encoding: "utf8" },
        );
        const dt = performance.now() - t0;
        const [version, openMs] = r.stdout.trim().split(" ");
        if (r.status !== 0 || version !== "1.1.4") {
          throw new Error(`${mode} child failed (${r.status}): ${r.stderr}`);
        }
        if (i < 2) continue; // two warm-up rounds fill the OS file cache
        wall[mode].push(dt);
        first[mode].push(Number(openMs));
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return {
    runs,
    lib: median(wall.lib),
    bare: median(wall.bare),
    libFirstOpen: median(first.lib),
    bareFirstOpen: median(first.bare),
  };
}

async function main(): Promise<void> {
  const runs = Number(process.env.BENCH_RUNS ?? 15);
  const { resolveExtension } = await import("../ffi/resolve.ts");
  const extension = await resolveExtension({ cacheDir: BENCH_CACHE }); // warm cache for the lib children
  const r = measureColdStart(runs, BENCH_CACHE, extension.path);
  const name = isBun ? "bun" : "deno";
  console.log(`${name}: ${runs} cold processes each, median wall time (first open inside)`);
  console.log(`  bare ${r.bare.toFixed(1)} ms (${r.bareFirstOpen.toFixed(2)} ms)`);
  console.log(`  lib  ${r.lib.toFixed(1)} ms (${r.libFirstOpen.toFixed(2)} ms)`);
  console.log(`lib − bare = ${(r.lib - r.bare).toFixed(1)} ms (goal ≤ 15 ms)`);
}

if (import.meta.main) {
  const i = process.argv.indexOf("--child");
  if (i >= 0) await child(process.argv[i + 1], process.argv[i + 2], process.argv[i + 3]);
  else await main();
}
