/**
 * The typed API vs the same SQL through the raw driver, side by side in one
 * process, interleaved rounds, medians.
 *
 *   deno run -A bench/api_bench.ts      bun bench/api_bench.ts
 *
 * (a) calls:  db.dbVersion() / db.uuid() vs one reused raw prepared statement on
 *             the same connection (db.driver.prepare("SELECT cloudsync_…()")).
 *             Goal: typed ≤ 1.05× raw time per call.
 * (b) apply:  db.applyChanges(payload) vs driver.prepare("SELECT cloudsync_payload_apply(?)")
 *             on equivalent fresh replicas (file databases, same schema), payload of
 *             BENCH_ROWS rows. Goal: typed ≥ 0.95× raw throughput.
 *
 * Env: BENCH_ROUNDS (default 21), BENCH_CALLS (calls per round for (a), default 5000),
 * BENCH_ROWS (default 1000), SQLITE_SYNC_TEST_EXTENSION (extension path; otherwise
 * resolved into the shared test cache like the tests do).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import process from "node:process";
import { SyncDatabase } from "../src/database.ts";
import { resolveExtension } from "../ffi/resolve.ts";
import { detectRuntime } from "../ffi/runtime.ts";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 21);
const CALLS = Number(process.env.BENCH_CALLS ?? 5000);
const ROWS = Number(process.env.BENCH_ROWS ?? 1000);

const extensionPath = process.env.SQLITE_SYNC_TEST_EXTENSION ??
  (await resolveExtension({
    cacheDir: process.env.SQLITE_SYNC_TEST_CACHE ?? join(ROOT, ".cache", "test-extension"),
  })).path;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

const dir = mkdtempSync(join(tmpdir(), "sqlite-sync-api-bench-"));
const SCHEMA = "CREATE TABLE items (id TEXT PRIMARY KEY NOT NULL, name TEXT, qty INTEGER)";

async function replica(name: string): Promise<SyncDatabase> {
  const db = await SyncDatabase.open(join(dir, `${name}.db`), { extensionPath });
  db.exec(SCHEMA);
  db.init("items");
  return db;
}

let sink = 0; // keeps results alive

try {
  // ---- (a) per-call overhead -------------------------------------------------------
  const db = await replica("calls");
  db.run("INSERT INTO items (id, name, qty) VALUES ('seed', 'x', 1)");
  const rawVersion = db.driver.prepare("SELECT cloudsync_db_version() AS v");
  const rawUuid = db.driver.prepare("SELECT cloudsync_uuid() AS v");
  const callCases: Record<string, () => void> = {
    "dbVersion() typed": () => {
      for (let i = 0; i < CALLS; i++) sink += db.dbVersion();
    },
    "dbVersion() raw": () => {
      for (let i = 0; i < CALLS; i++) sink += Number(rawVersion.get()!.v);
    },
    "uuid() typed": () => {
      for (let i = 0; i < CALLS; i++) sink += db.uuid().length;
    },
    "uuid() raw": () => {
      for (let i = 0; i < CALLS; i++) sink += (rawUuid.get()!.v as string).length;
    },
  };
  const perCall: Record<string, number[]> = {};
  for (const name of Object.keys(callCases)) callCases[name](); // warm-up
  for (let round = 0; round < ROUNDS; round++) {
    const names = Object.keys(callCases);
    if (round % 2) names.reverse(); // alternate the order
    for (const name of names) {
      const t0 = performance.now();
      callCases[name]();
      (perCall[name] ??= []).push(((performance.now() - t0) * 1e6) / CALLS);
    }
  }
  rawVersion.finalize();
  rawUuid.finalize();
  db.close();

  // ---- (b) apply throughput --------------------------------------------------------
  const source = await replica("source");
  source.transaction(() => {
    for (let i = 0; i < ROWS; i++) {
      source.run(
        "INSERT INTO items (id, name, qty) VALUES (?, ?, ?)",
        `row-${i}`,
        `name ${i}`,
        i,
      );
    }
  });
  const payload = source.encodeChanges()!;
  source.close();

  const applyMs: Record<string, number[]> = { "applyChanges() typed": [], "apply raw": [] };
  const applyCases: Record<string, (target: SyncDatabase) => number> = {
    "applyChanges() typed": (target) => target.applyChanges(payload),
    "apply raw": (target) => {
      const stmt = target.driver.prepare("SELECT cloudsync_payload_apply(?) AS v");
      try {
        return Number(stmt.get(payload)!.v);
      } finally {
        stmt.finalize();
      }
    },
  };
  const applyRounds = Math.max(5, Math.ceil(ROUNDS / 2));
  for (let round = -1; round < applyRounds; round++) {
    const names = Object.keys(applyCases);
    if (round % 2) names.reverse();
    for (const name of names) {
      const target = await replica(`apply-${round}-${name.split(" ")[0].replace(/\W/g, "")}`);
      const t0 = performance.now();
      const applied = applyCases[name](target);
      const ms = performance.now() - t0;
      const count = Number(target.get("SELECT count(*) AS n FROM items")!.n);
      target.close();
      if (count !== ROWS) throw new Error(`${name}: ${count} rows after apply, expected ${ROWS}`);
      sink += applied;
      if (round >= 0) applyMs[name].push(ms); // round -1 is the warm-up
    }
  }

  // ---- report ------------------------------------------------------------------------
  const runtime = detectRuntime();
  console.log(
    `api_bench: ${runtime.name} ${runtime.version}, ${ROUNDS} rounds × ${CALLS} calls; ` +
      `apply ${applyRounds} rounds × ${ROWS} rows (payload ${payload.length} bytes)`,
  );
  const row = (label: string, value: string) => console.log(`  ${label.padEnd(28)} ${value}`);
  for (const [name, xs] of Object.entries(perCall)) row(name, `${median(xs).toFixed(0)} ns/call`);
  for (const [name, xs] of Object.entries(applyMs)) {
    row(name, `${median(xs).toFixed(2)} ms (${(ROWS / median(xs) * 1000).toFixed(0)} rows/s)`);
  }
  const verdict = (ok: boolean) => (ok ? "ok" : "MISSED");
  // Ratios are medians of per-round ratios: each pair ran back to back, so drift cancels.
  const ratio = (num: number[], den: number[]) => median(num.map((x, i) => x / den[i]));
  const versionRatio = ratio(perCall["dbVersion() typed"], perCall["dbVersion() raw"]);
  const uuidRatio = ratio(perCall["uuid() typed"], perCall["uuid() raw"]);
  const applyRatio = ratio(applyMs["apply raw"], applyMs["applyChanges() typed"]);
  row(
    "dbVersion() typed/raw time",
    `${versionRatio.toFixed(3)}× (goal ≤ 1.05) ${verdict(versionRatio <= 1.05)}`,
  );
  row(
    "uuid() typed/raw time",
    `${uuidRatio.toFixed(3)}× (goal ≤ 1.05) ${verdict(uuidRatio <= 1.05)}`,
  );
  row(
    "applyChanges() throughput",
    `${applyRatio.toFixed(3)}× raw (goal ≥ 0.95) ${verdict(applyRatio >= 0.95)}`,
  );
  if (sink === -1) console.log(sink);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
