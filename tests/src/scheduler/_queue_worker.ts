/**
 * A child process of queue_processes_test.ts and queue_recovery_test.ts: a
 * queue worker in its own process, on a real file.
 *
 *   loop  <queue> <jobs> <seed>         request → claim → work 5–20 ms → complete, until it
 *                                       completed <jobs>; prints `done <jobId> <fence>`
 *   crash <queue> <data>                request → claim → write 4–8 rows to <data> (each
 *                                       committed, then printed `row <id>`) → complete,
 *                                       forever (killed)
 *   drain <queue> <data>                like crash, but exits once the queue is empty
 *   hold  <queue>                       request → claim with a long lease → print the claim
 *                                       as JSON → exit without completing
 *   pid                                 print `pid <pid>` and exit (a pid that is then gone)
 *
 * Waiting for the other process' lease (loop) and the pauses between a job's rows (crash)
 * are a seeded random number of event-loop turns, not timers. A loop job's work alone takes
 * real time: its test compares the runs' wall-clock start and finish (ms), so a job must last
 * a few ms for an overlap of two jobs to show.
 */
import process from "node:process";
import { setImmediate } from "node:timers";
import { openDriver } from "../../../ffi/drivers/open_driver.ts";
import { makeOwner } from "../../../src/scheduler/_queue_owner.ts";
import { SyncQueue } from "../../../src/scheduler/queue.ts";
import { seededRandom } from "./_seeded_random.ts";

const [mode, queuePath, arg2, arg3] = process.argv.slice(2);
/** A loop job's work: it lasts `ms` of the wall clock (see the header). */
const work = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** Lets `n` turns of the event loop pass: another process gets the files meanwhile. */
async function turns(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve));
}
const write = (line: string) => process.stdout.write(`${line}\n`);

if (mode === "pid") {
  write(`pid ${process.pid}`);
  process.exit(0);
}

const owner = makeOwner();
const queue = await SyncQueue.open(queuePath, { maxAttempts: 3, historyLimit: 2000 });

if (mode === "hold") {
  queue.request("hold", { now: Date.now() });
  const claim = queue.claim({ owner, now: Date.now(), leaseMs: 600_000 });
  write(JSON.stringify(claim.claimed ? { jobId: claim.job.id, fence: claim.fence, owner } : {}));
  process.exit(0);
}

if (mode === "loop") {
  const target = Number(arg2);
  const random = seededRandom(Number(arg3));
  let done = 0;
  const deadline = Date.now() + 30_000;
  while (done < target && Date.now() < deadline) {
    queue.request(`loop:${process.pid}`, { now: Date.now() });
    const claim = queue.claim({ owner, now: Date.now(), leaseMs: 10_000 });
    if (!claim.claimed) {
      await turns(1 + Math.floor(random() * 3));
      continue;
    }
    const startedAt = Date.now();
    await work(5 + Math.floor(random() * 16));
    const finishedAt = Date.now();
    const ok = queue.complete(claim.job.id, claim.fence, {
      now: Date.now(),
      startedAt,
      finishedAt,
    });
    if (!ok) throw new Error(`complete refused for job ${claim.job.id} fence ${claim.fence}`);
    write(`done ${claim.job.id} ${claim.fence}`);
    done++;
  }
  queue.close();
  process.exit(done === target ? 0 : 3);
}

// crash / drain: jobs that write rows to a second SQLite file.
const data = await openDriver(arg2);
data.exec("PRAGMA busy_timeout = 5000");
data.prepare("PRAGMA journal_mode = WAL").get();
data.exec(
  "CREATE TABLE IF NOT EXISTS rows (id INTEGER PRIMARY KEY AUTOINCREMENT, job INTEGER, fence INTEGER)",
);
const insert = data.prepare("INSERT INTO rows (job, fence) VALUES (?, ?)");
const random = seededRandom(process.pid);
write("ready");
for (;;) {
  if (mode === "crash") queue.request("crash", { now: Date.now() });
  const claim = queue.claim({ owner, now: Date.now(), leaseMs: 30_000 });
  if (!claim.claimed) {
    if (mode === "drain" && claim.reason === "empty") break;
    if (claim.reason === "leased") throw new Error(`lease still held by ${claim.holder}`);
    await turns(1);
    continue;
  }
  const { job, fence } = claim;
  const startedAt = Date.now();
  const batches = 4 + Math.floor(random() * 5);
  for (let i = 0; i < batches; i++) {
    const id = data.transaction(() => insert.run(job.id, fence).lastInsertRowid);
    write(`row ${id}`);
    await turns(Math.floor(random() * 4));
  }
  const ok = queue.complete(job.id, fence, { now: Date.now(), startedAt, rowsSent: batches });
  write(`${ok ? "done" : "fenced"} ${job.id} ${fence}`);
}
queue.close();
data.close();
process.exit(0);
