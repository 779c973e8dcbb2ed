/**
 * Crash safety of SyncService: a child process runs the service (against a
 * listener that never answers, 1 s request time-out, or a refused port, so
 * jobs keep cycling with short retries) while it writes rows; the test kills
 * it with SIGKILL 20 times, restarting it each time, each kill after a seeded
 * random number of the child's commits (its own progress, not a timer). Then
 * a last child drains the queue. Every job must reach exactly one final state
 * (none lost, none finished twice), both files must pass `integrity_check`,
 * every committed row must be there, and the queue file must stay small.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, statSync } from "node:fs";
import { join } from "node:path";
import { openDriver } from "../../../ffi/drivers/open_driver.ts";
import { SyncDatabase } from "../../../src/database.ts";
import { queuePathFor } from "../../../src/scheduler/_queue_path.ts";
import { SyncQueue } from "../../../src/scheduler/queue.ts";
import { attemptOf } from "../../../src/scheduler/_service_outcomes.ts";
import {
  refusedPort,
  ROOT,
  RUNTIME,
  runtimeArgv,
  tempDir,
  testExtensionPath,
} from "../../_helpers.ts";
import { silentListener } from "../_error_servers.ts";
import { seededRandom } from "./_seeded_random.ts";
import { guard } from "./_service_events.ts";

const CHILD = join(ROOT, "tests", "src", "scheduler", "_service_child.ts");
const KILLS = 20;
/** Each kill comes after this many of the child's commits (seeded): 7 to 60. */
const ROWS_BEFORE_KILL = [7, 60];

interface Child {
  lines: string[];
  ready: Promise<void>;
  /** Resolves once the child printed `n` ROW lines (its commits); rejects if it exits first. */
  rows(n: number): Promise<void>;
  closed: Promise<{ code: number | null; signal: string | null }>;
  kill(): void;
  stderr(): string;
}

function startChild(args: string[]): Child {
  const [cmd, ...rest] = runtimeArgv(CHILD, args);
  const child = spawn(cmd, rest, { stdio: ["ignore", "pipe", "pipe"] });
  const lines: string[] = [];
  let buffer = "";
  let err = "";
  let onReady: () => void = () => {};
  const ready = new Promise<void>((resolve) => (onReady = resolve));
  let rows = 0;
  let exited = false;
  let waiters: (() => void)[] = [];
  const wake = () => {
    const woken = waiters;
    waiters = [];
    for (const w of woken) w();
  };
  child.stdout!.on("data", (d) => {
    buffer += d;
    for (let i = buffer.indexOf("\n"); i >= 0; i = buffer.indexOf("\n")) {
      const line = buffer.slice(0, i);
      buffer = buffer.slice(i + 1);
      lines.push(line);
      if (line.startsWith("READY") || line.startsWith("DRAINED")) onReady();
      if (line.startsWith("ROW ")) rows++;
    }
    wake();
  });
  child.stderr!.on("data", (d) => (err += d));
  const closed = new Promise<{ code: number | null; signal: string | null }>((resolve) =>
    child.on("close", (code, signal) => {
      exited = true;
      resolve({ code, signal });
      wake();
    })
  );
  const rowsSeen = (n: number) =>
    guard(
      new Promise<void>((resolve, reject) => {
        const check = () => {
          if (rows >= n) resolve();
          else if (exited) reject(new Error(`the child exited after ${rows} of ${n} rows: ${err}`));
          else waiters.push(check);
        };
        check();
      }),
      `${n} rows from the child`,
    );
  return {
    lines,
    ready,
    rows: rowsSeen,
    closed,
    kill: () => child.kill("SIGKILL"),
    stderr: () => err,
  };
}

async function integrity(path: string): Promise<string> {
  const driver = await openDriver(path);
  try {
    driver.exec("PRAGMA busy_timeout = 5000");
    return String(driver.prepare("PRAGMA integrity_check").get()!.integrity_check);
  } finally {
    driver.close();
  }
}

describe(`SyncService crash safety (${RUNTIME})`, () => {
  it(`${KILLS} SIGKILLs, each after a seeded random number (7–60) of the child's commits, during jobs and writes: every job ends exactly once, none lost, integrity_check ok after each kill, every committed row present, the queue file under 1 MB`, async () => {
    const dir = tempDir("service-crash-");
    const listener = await silentListener();
    const refused = await refusedPort();
    const random = seededRandom(20_261_130);
    try {
      const path = join(dir.path, "crash.db");
      const queuePath = queuePathFor(path);
      const extensionPath = await testExtensionPath();
      const setup = await SyncDatabase.open(path, { extensionPath });
      setup.exec("CREATE TABLE notes (id TEXT PRIMARY KEY NOT NULL, body TEXT)");
      setup.init("notes");
      setup.close();

      const committed: string[] = [];
      let kills = 0;
      for (let i = 0; i < KILLS; i++) {
        const silent = random() < 0.6;
        const child = startChild([
          "crash",
          path,
          extensionPath,
          String(silent ? listener.port : refused),
          "1",
          String(i + 1),
        ]);
        await Promise.race([
          child.ready,
          child.closed.then((c) => {
            throw new Error(`child ${i} exited before READY (${c.code}): ${child.stderr()}`);
          }),
        ]);
        const [least, most] = ROWS_BEFORE_KILL;
        await child.rows(least + Math.floor(random() * (most - least + 1)));
        child.kill();
        const { signal } = await child.closed;
        assert.equal(signal, "SIGKILL", `child ${i} ended on its own: ${child.stderr()}`);
        kills++;
        for (const line of child.lines) {
          const m = /^ROW (\S+)$/.exec(line);
          if (m) committed.push(m[1]);
        }
        assert.equal(await integrity(path), "ok", `database after kill ${i}`);
        assert.equal(await integrity(queuePath), "ok", `queue after kill ${i}`);
      }
      assert.equal(kills, KILLS);

      const drain = startChild(["drain", path, extensionPath, String(refused)]);
      const drained = await drain.closed;
      assert.equal(drained.code, 0, drain.stderr());
      assert.ok(drain.lines.includes("DRAINED 0"), drain.lines.join("\n"));

      assert.equal(await integrity(path), "ok");
      assert.equal(await integrity(queuePath), "ok");

      // Every committed row is there.
      const data = await openDriver(path);
      const present = new Set(
        data.prepare("SELECT id FROM notes").all().map((r) => String(r.id)),
      );
      data.close();
      assert.ok(committed.length >= KILLS, `only ${committed.length} rows were committed`);
      const missing = committed.filter((id) => !present.has(id));
      assert.deepEqual(missing, [], "committed rows are missing");

      // Every job: one final state, its runs ending with exactly one final outcome.
      const queue = await openDriver(queuePath);
      const jobs = queue.prepare("SELECT id, state, dead_reason FROM jobs ORDER BY id").all();
      const runs = queue.prepare("SELECT job_id, fence, outcome FROM runs ORDER BY fence").all();
      const lease = queue.prepare("SELECT owner FROM lease").get();
      queue.close();
      const ids = jobs.map((j) => Number(j.id));
      // Coverage: the kills met several jobs (the claims below hold for each), not one long one.
      // In Bun each child also starts the pool's host process, so fewer jobs fit between kills.
      assert.ok(ids.length >= 5, `only ${ids.length} jobs`);
      assert.deepEqual(ids, ids.map((_, k) => k + 1), "job ids have gaps: a job was lost");
      assert.equal(lease!.owner, null, "the lease is still held");
      const notFinal = jobs.filter((j) =>
        !["succeeded", "dead", "merged"].includes(String(j.state))
      );
      assert.deepEqual(notFinal, [], "jobs not in a final state after the drain");
      const byJob = new Map<number, string[]>();
      for (const r of runs) {
        const list = byJob.get(Number(r.job_id)) ?? [];
        list.push(String(r.outcome));
        byJob.set(Number(r.job_id), list);
      }
      let lost = 0;
      for (const j of jobs) {
        const outcomes = byJob.get(Number(j.id)) ?? [];
        lost += outcomes.filter((o) => o === "worker_lost").length;
        // At most one run ended the job, and it was its last; a job whose last attempt was
        // lost to a kill is dead-lettered by the recovery (its last run 'worker_lost').
        const finals = outcomes.filter((o) => o === "succeeded" || o === "dead");
        const last = outcomes.at(-1);
        const allowedLast: (string | undefined)[] = j.state === "merged"
          ? [undefined]
          : j.state === "succeeded"
          ? ["succeeded"]
          : ["dead", "worker_lost"];
        assert.ok(allowedLast.includes(last), `job ${j.id} (${j.state}): runs ${outcomes}`);
        assert.deepEqual(
          finals,
          last === "dead" || last === "succeeded" ? [last] : [],
          `job ${j.id} (${j.state}): runs ${outcomes}`,
        );
        assert.equal(
          j.dead_reason ?? null,
          last === "worker_lost" ? "max_attempts_exceeded" : j.dead_reason ?? null,
        );
        assert.ok(!outcomes.includes("running"), `job ${j.id} has a run still 'running'`);
      }
      assert.ok(lost >= 3, `only ${lost} runs were lost to a kill: the kills missed the jobs`);

      // The attempts timeline reads the same runs: every run once, none still running, each
      // run lost to a kill 'interrupted' with its end unknown and its error kind 'interrupted'.
      const reader = await SyncQueue.open(queuePath);
      const attempts = reader.runs({ since: 0, limit: 100_000 }).map(attemptOf);
      reader.close();
      assert.equal(attempts.length, runs.length);
      assert.ok(!attempts.some((a) => a.outcome === "running"), "an attempt is still running");
      const interrupted = attempts.filter((a) => a.finishedAt === null);
      assert.equal(interrupted.length, lost);
      for (const a of interrupted) {
        assert.deepEqual([a.outcome, a.error?.kind], ["interrupted", "interrupted"]);
        assert.match(a.error!.message, /was lost/);
      }

      const size = [queuePath, `${queuePath}-wal`].filter(existsSync)
        .reduce((n, f) => n + statSync(f).size, 0);
      assert.ok(size < 1_000_000, `the queue files take ${size} bytes`);
      console.log(
        `crash (${RUNTIME}): ${kills} kills, ${ids.length} jobs, ${lost} runs lost to kills, ` +
          `${committed.length} rows committed, queue files ${size} bytes`,
      );
    } finally {
      await listener.close();
      dir.cleanup();
    }
  });
});
