/**
 * Two processes, a SyncService each, one database file: the queue's lease
 * must keep their syncs apart. Each sync hangs about 1 s (a listener that
 * never answers, 1 s request time-out), both services request one every
 * second, so they contend while both run.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { join } from "node:path";
import { openDriver } from "../../../ffi/drivers/open_driver.ts";
import { SyncDatabase } from "../../../src/database.ts";
import { queuePathFor } from "../../../src/scheduler/queue.ts";
import { ROOT, RUNTIME, runtimeArgv, tempDir, testExtensionPath } from "../../_helpers.ts";
import { silentListener } from "../_error_servers.ts";

const CHILD = join(ROOT, "tests", "src", "scheduler", "_service_child.ts");
/**
 * The first process runs alone for 1.5 s (it syncs first), then both run and contend, then
 * the first stops while the second still runs (its cut-short job handed back), so the second
 * syncs too. Which process runs a sync while both run is not fixed (any sync of the file
 * serves both).
 */
const FIRST_MS = 4000;
const SECOND_DELAY_MS = 1500;
const SECOND_MS = 6000;

function run(args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  const [cmd, ...rest] = runtimeArgv(CHILD, args);
  const child = spawn(cmd, rest, { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stdout!.on("data", (d) => (out += d));
  child.stderr!.on("data", (d) => (err += d));
  return new Promise((resolve) => child.on("close", (code) => resolve({ code, out, err })));
}

/** Intervals sorted by start; each must end before (or when) the next starts. */
function overlaps(intervals: { start: number; end: number; who: string }[]): string[] {
  const sorted = [...intervals].sort((a, b) => a.start - b.start);
  const found: string[] = [];
  for (let i = 1; i < sorted.length; i++) {
    const [a, b] = [sorted[i - 1], sorted[i]];
    if (b.start < a.end) {
      found.push(`${a.who} [${a.start}, ${a.end}] and ${b.who} [${b.start}, ${b.end}]`);
    }
  }
  return found;
}

describe(`SyncService, two processes on one database file (${RUNTIME})`, () => {
  it("never two syncs at once: the runs in the queue's history (claim to end) never overlap, nor do the syncs each process saw, and both processes synced", async () => {
    const dir = tempDir("service-two-");
    const listener = await silentListener();
    try {
      const path = join(dir.path, "two.db");
      const extensionPath = await testExtensionPath();
      const setup = await SyncDatabase.open(path, { extensionPath });
      setup.exec("CREATE TABLE notes (id TEXT PRIMARY KEY NOT NULL, body TEXT)");
      setup.init("notes");
      setup.run("INSERT INTO notes (id, body) VALUES (?, ?)", setup.uuid(), "local");
      setup.close();
      const args = (ms: number) => ["two", path, extensionPath, String(listener.port), String(ms)];
      const first = run(args(FIRST_MS));
      await new Promise((resolve) => setTimeout(resolve, SECOND_DELAY_MS));
      const [a, b] = await Promise.all([first, run(args(SECOND_MS))]);
      assert.equal(a.code, 0, a.err);
      assert.equal(b.code, 0, b.err);

      const queue = await openDriver(queuePathFor(path));
      const runs = queue.prepare("SELECT * FROM runs ORDER BY fence").all();
      queue.close();
      const fromQueue = runs.map((r) => ({
        start: Number(r.claimed_at),
        end: Number(r.finished_at),
        who: `run ${r.fence} (${r.outcome}) by ${r.owner}`,
      }));
      assert.ok(fromQueue.every((r) => Number.isFinite(r.end)), "a run never ended");
      assert.deepEqual(overlaps(fromQueue), []);
      const owners = new Set(runs.map((r) => String(r.owner)));
      assert.equal(owners.size, 2, `only ${[...owners]} synced`);
      assert.ok(runs.length >= 4, `only ${runs.length} runs`);

      const seen = [a, b].flatMap((c, k) =>
        [...c.out.matchAll(/^SYNC (\d+) (\d+) (\d+)$/gm)].map((m) => ({
          start: Number(m[1]),
          end: Number(m[2]),
          who: `process ${k} job ${m[3]}`,
        }))
      );
      assert.ok(seen.length >= 4, `only ${seen.length} syncs reported`);
      assert.ok(seen.every((s) => s.end - s.start >= 500), "a sync did not hang on the listener");
      assert.deepEqual(overlaps(seen), []);
    } finally {
      await listener.close();
      dir.cleanup();
    }
  });
});
