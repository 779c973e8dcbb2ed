/**
 * The durable sync queue shared by real processes on one file
 * (_queue_worker.ts): two at once never run two jobs at once; one killed with
 * SIGKILL 20 times loses no job and no committed row.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { statSync } from "node:fs";
import { join } from "node:path";
import { openDriver } from "../../../ffi/drivers/open_driver.ts";
import { MAX_ATTEMPTS_EXCEEDED } from "../../../src/scheduler/retry.ts";
import { ROOT, run, runtimeArgv } from "../../_helpers.ts";
import { seededRandom } from "./_seeded_random.ts";
import { allFinished, freshQueue, WORKER } from "./_queue_fixtures.ts";

describe("processes", () => {
  it("two processes looping claim → work → complete on one file never run two jobs at once", async () => {
    const { queue, path, cleanup } = await freshQueue({ historyLimit: 2000 });
    try {
      const perChild = 25;
      const [one, two] = await Promise.all([
        run(runtimeArgv(WORKER, ["loop", path, String(perChild), "1"]), { timeoutMs: 60_000 }),
        run(runtimeArgv(WORKER, ["loop", path, String(perChild), "2"]), { timeoutMs: 60_000 }),
      ]);
      assert.equal(one.code, 0, one.stderr);
      assert.equal(two.code, 0, two.stderr);
      const doneBy = (out: string) => out.trim().split("\n").map((l) => Number(l.split(" ")[1]));
      const ids = [...doneBy(one.stdout), ...doneBy(two.stdout)];
      assert.equal(ids.length, 2 * perChild);
      assert.equal(new Set(ids).size, ids.length, "a job was completed twice");

      const jobs = allFinished(queue);
      const runs = jobs.flatMap((j) => j.runs).sort((x, y) => x.startedAt! - y.startedAt!);
      assert.equal(runs.length, 2 * perChild);
      const owners = new Set(runs.map((r) => r.owner));
      assert.equal(owners.size, 2, "both processes ran jobs");
      const overlaps: string[] = [];
      for (let i = 1; i < runs.length; i++) {
        if (runs[i].startedAt! < runs[i - 1].finishedAt!) {
          overlaps.push(`${JSON.stringify(runs[i - 1])} / ${JSON.stringify(runs[i])}`);
        }
      }
      assert.deepEqual(overlaps, []);
      for (const job of jobs) {
        assert.equal(job.state, "succeeded");
        assert.deepEqual(job.runs.map((r) => r.outcome), ["succeeded"]);
      }
      assert.deepEqual(jobs.map((j) => j.id).sort((x, y) => x - y), [...ids].sort((x, y) => x - y));
      // Whatever the children requested after their last job is still pending, not lost.
      assert.ok(queue.depth() <= 1);
    } finally {
      cleanup();
    }
  });

  it("a worker killed with SIGKILL at 20 random moments: each job ends exactly once, committed rows survive, files stay sound and small", async () => {
    const { queue, path, dir, cleanup } = await freshQueue({ historyLimit: 5000 });
    const dataPath = join(dir, "data.db");
    const random = seededRandom(20261130);
    const reportedRows = new Set<number>();
    const doneJobs = new Set<number>();
    const ingest = (out: string) => {
      for (const line of out.split("\n")) {
        const [what, id] = line.split(" ");
        if (what === "row") reportedRows.add(Number(id));
        if (what === "done") doneJobs.add(Number(id));
        assert.notEqual(what, "fenced", "a worker's own completion was fenced off");
      }
    };
    try {
      const delays: number[] = [];
      for (let kill = 0; kill < 20; kill++) {
        const delay = 10 + Math.floor(random() * 191);
        delays.push(delay);
        const [cmd, ...args] = runtimeArgv(WORKER, ["crash", path, dataPath]);
        const child = spawn(cmd, args, { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
        let out = "";
        let err = "";
        child.stderr!.on("data", (d) => (err += d));
        const closed = new Promise<number | null>((resolve) => child.on("close", resolve));
        await new Promise<void>((resolve, reject) => {
          child.stdout!.on("data", (d) => {
            const wasReady = out.includes("ready\n");
            out += d;
            if (!wasReady && out.includes("ready\n")) {
              setTimeout(() => child.kill("SIGKILL"), delay);
              resolve();
            }
          });
          child.on("close", () => reject(new Error(`worker ended before ready: ${err}`)));
        });
        await closed;
        assert.equal(child.signalCode, "SIGKILL", `worker #${kill} died by itself: ${err}`);
        ingest(out);
      }
      const drain = await run(runtimeArgv(WORKER, ["drain", path, dataPath]), {
        timeoutMs: 60_000,
      });
      assert.equal(drain.code, 0, drain.stderr);
      ingest(drain.stdout);

      // Every job reached exactly one final state; none is left running or pending.
      assert.equal(queue.depth(), 0);
      const jobs = allFinished(queue);
      const lost = jobs.flatMap((j) => j.runs).filter((r) => r.outcome === "worker_lost");
      for (const job of jobs) {
        const outcomes = job.runs.map((r) => r.outcome);
        const succeededRuns = outcomes.filter((o) => o === "succeeded").length;
        assert.ok(!outcomes.includes("running"), `job ${job.id} has a run still running`);
        assert.ok(["succeeded", "dead"].includes(job.state), `job ${job.id} is ${job.state}`);
        assert.equal(
          succeededRuns,
          job.state === "succeeded" ? 1 : 0,
          `job ${job.id}: ${outcomes}`,
        );
        assert.equal(
          job.deadReason,
          job.state === "dead" ? MAX_ATTEMPTS_EXCEEDED : undefined,
          `job ${job.id}`,
        );
      }
      for (const id of doneJobs) assert.equal(queue.get(id)?.state, "succeeded", `job ${id}`);
      assert.ok(lost.length >= 10, `only ${lost.length} of 20 kills hit a running job`);

      // Both files are sound; every row a worker reported committed is there.
      queue.prune();
      const data = await openDriver(dataPath);
      const raw = await openDriver(path);
      try {
        assert.equal(Object.values(data.prepare("PRAGMA integrity_check").get()!)[0], "ok");
        assert.equal(Object.values(raw.prepare("PRAGMA integrity_check").get()!)[0], "ok");
        const present = new Set(data.prepare("SELECT id FROM rows").all().map((r) => Number(r.id)));
        const missing = [...reportedRows].filter((id) => !present.has(id));
        assert.deepEqual(missing, []);
        assert.ok(reportedRows.size > 0);
      } finally {
        data.close();
        raw.close();
      }
      const { file, wal } = queue.fileSizes();
      console.log(
        `queue crash test: kills after ${delays.join(",")} ms; ${jobs.length} jobs, ` +
          `${lost.length} runs lost and recovered, ${reportedRows.size} rows; ` +
          `queue file ${file} B, WAL ${wal} B, data ${statSync(dataPath).size} B`,
      );
      assert.ok(file + wal < 1024 * 1024, `queue file ${file} + WAL ${wal} bytes`);
    } finally {
      cleanup();
    }
  });
});
