/**
 * Two processes, a SyncService each, one database file: the queue's lease
 * must keep their syncs apart. Each sync hangs until its 1 s request
 * time-out (a listener that never answers), both services request one every
 * second, so they contend while both run. The phases follow events, not a
 * schedule: the first process syncs alone, then both run for two more syncs,
 * then the first stops (its cut-short job handed back) and the second syncs
 * on its own.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { openDriver } from "../../../ffi/drivers/open_driver.ts";
import { SyncDatabase } from "../../../src/database.ts";
import { queuePathFor } from "../../../src/scheduler/_queue_path.ts";
import { ROOT, RUNTIME, runtimeArgv, tempDir, testExtensionPath } from "../../_helpers.ts";
import { silentListener } from "../_error_servers.ts";
import { guard } from "./_service_events.ts";
import { type LineChild, spawnLines } from "./_service_real.ts";

const CHILD = join(ROOT, "tests", "src", "scheduler", "_service_child.ts");
const SYNC = /^SYNC (\d+) (\d+) (\d+) (\w+)$/;

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

const syncLines = (c: LineChild) => c.lines.filter((l) => SYNC.test(l)).length;

/** Resolves once the two children printed `n` SYNC lines together. */
function syncsTogether(a: LineChild, b: LineChild, n: number): Promise<void> {
  const next = (c: LineChild) => c.line(SYNC, { from: c.lines.length, guardMs: Infinity });
  const all = async () => {
    while (syncLines(a) + syncLines(b) < n) await Promise.race([next(a), next(b)]);
  };
  return guard(all(), `${n} syncs of the two processes`);
}

describe(`SyncService, two processes on one database file (${RUNTIME})`, () => {
  it("never two syncs at once: the runs in the queue's history (claim to end) never overlap, nor do the syncs each process saw (each ended by its request time-out), and both processes synced", async () => {
    const dir = tempDir("service-two-");
    const listener = await silentListener();
    const children: LineChild[] = [];
    try {
      const path = join(dir.path, "two.db");
      const extensionPath = await testExtensionPath();
      const setup = await SyncDatabase.open(path, { extensionPath });
      setup.exec("CREATE TABLE notes (id TEXT PRIMARY KEY NOT NULL, body TEXT)");
      setup.init("notes");
      setup.run("INSERT INTO notes (id, body) VALUES (?, ?)", setup.uuid(), "local");
      setup.close();
      const start = () => {
        const child = spawnLines(
          runtimeArgv(CHILD, ["two", path, extensionPath, String(listener.port)]),
        );
        children.push(child);
        return child;
      };
      // The first process runs alone until it synced once.
      const a = start();
      await a.line(SYNC);
      // Both run until two more syncs ended, whichever process ran them.
      const b = start();
      await b.line(/^READY$/);
      const before = syncLines(a) + syncLines(b);
      await syncsTogether(a, b, before + 2);
      // The first stops (a job it was running goes back to the queue); the second syncs alone.
      const fromB = b.lines.length;
      a.endInput();
      const exitA = await guard(a.exited, "the first process' exit");
      await b.line(SYNC, { from: fromB });
      b.endInput();
      const exitB = await guard(b.exited, "the second process' exit");
      assert.equal(exitA.code, 0, a.stderr());
      assert.equal(exitB.code, 0, b.stderr());

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
        c.lines.map((l) => SYNC.exec(l)).filter((m) => m !== null).map((m) => ({
          start: Number(m[1]),
          end: Number(m[2]),
          who: `process ${k} job ${m[3]}`,
          kind: m[4],
        }))
      );
      assert.ok(seen.length >= 4, `only ${seen.length} syncs reported`);
      assert.deepEqual(
        seen.filter((s) => s.kind !== "timeout"),
        [],
        "a sync did not hang on the listener until its request time-out",
      );
      assert.deepEqual(overlaps(seen), []);
    } finally {
      for (const c of children) c.kill();
      await listener.close();
      dir.cleanup();
    }
  });
});
