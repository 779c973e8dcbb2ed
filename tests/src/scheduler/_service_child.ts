/**
 * Child processes of the SyncService tests. Against non-protocol fixtures
 * only (a refused port, a listener that never answers).
 *
 *   write <db> <ext> <rows>
 *       Commits <rows> rows to `notes` through its own SyncDatabase, one
 *       transaction each, back to back, printing `COMMITTED <id> <epoch ms>`
 *       after each. (A further argument is ignored: service_network_test.ts
 *       still passes the 0 ms gap this mode once had.)
 *   crash <db> <ext> <port> <requestTimeoutS> <seed>
 *       Runs a service (short retries, change trigger, polling) and writes rows
 *       to `notes` forever, printing `ROW <id>` after each commit, 0–29 ms
 *       apart (seeded); killed by the test after a number of rows. The pause
 *       is real time on purpose: the service runs on the wall clock (its
 *       debounce, polling, retries, request time-out, the executor's start),
 *       and the rows must be spread over its life for the kills to meet jobs
 *       in every phase. Without it the rows outrun the service: in Bun the
 *       kills then met fewer jobs than service_crash_test.ts requires.
 *   drain <db> <ext> <port>
 *       Runs a service with no trigger until the queue is empty (every job
 *       final; checked after each of its events, given up after 30 s), stops
 *       it, prints `DRAINED <depth>`.
 *   two <db> <ext> <port>
 *       Runs a service (interval 1 s, 1 s request time-out), prints `READY`,
 *       then `SYNC <start> <end> <jobId> <kind>` (epoch ms, the error's kind)
 *       for every sync it ran; when its stdin closes, stops and prints `STOPPED`.
 *   stop <db> <ext> <port> <graceMs> [worker|process]
 *       Starts a service whose first sync hangs (300 s request time-out),
 *       prints `STARTED <jobId> <executor>` on `started`; when its stdin
 *       closes, calls stop({ graceMs }), prints `STOPPED <jobId>`, and does
 *       nothing more: it must then exit on its own.
 */
import process from "node:process";
import { SyncDatabase } from "../../../src/database.ts";
import { SyncService } from "../../../src/scheduler/service.ts";
import { seededRandom } from "./_seeded_random.ts";

const [mode, path, extensionPath, arg3, arg4, arg5] = process.argv.slice(2);
const out = (line: string) => process.stdout.write(`${line}\n`);
/** The crash mode's pause between two rows (see the header: real time on purpose). */
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const address = () => `http://127.0.0.1:${arg3}`;

/** Resolves when this process' stdin closes: the test's "stop now" (no timing involved). */
function inputClosed(): Promise<void> {
  return new Promise((resolve) => {
    process.stdin.once("end", () => resolve());
    process.stdin.once("close", () => resolve());
    process.stdin.on("data", () => {});
    process.stdin.resume();
  });
}

if (mode === "write") {
  const db = await SyncDatabase.open(path, { extensionPath });
  for (let i = 0; i < Number(arg3); i++) {
    const id = db.uuid();
    db.run("INSERT INTO notes (id, body) VALUES (?, ?)", id, `from pid ${process.pid}`);
    out(`COMMITTED ${id} ${Date.now()}`);
  }
  db.close();
} else if (mode === "crash") {
  const random = seededRandom(Number(arg5));
  const service = await SyncService.start(path, {
    databaseId: "crash-test",
    address: address(),
    apiKey: "sqa_CRASHKEY_0123456789",
    tables: ["notes"],
    requestTimeoutS: Number(arg4),
    connectTimeoutS: 1,
    changeDebounceMs: 50,
    polling: { baseIntervalMs: 100, maxIntervalMs: 400 },
    retry: { baseMs: 20, capMs: 100, maxAttempts: 4 },
    leaseMs: 3000,
  });
  out(`READY ${service.status().executor}`);
  const db = await SyncDatabase.open(path, { extensionPath });
  for (;;) {
    const id = db.uuid();
    db.run("INSERT INTO notes (id, body) VALUES (?, ?)", id, "row");
    out(`ROW ${id}`);
    await pause(Math.floor(random() * 30));
  }
} else if (mode === "drain") {
  const service = await SyncService.start(path, {
    databaseId: "crash-test",
    address: address(),
    apiKey: "sqa_CRASHKEY_0123456789",
    tables: ["notes"],
    changeDebounceMs: false,
    polling: false,
    syncOnStart: false,
    connectTimeoutS: 1,
    requestTimeoutS: 1,
    retry: { baseMs: 5, capMs: 10, maxAttempts: 4 },
  });
  // Every job ends with an event; the depth is read after each (and once at the start, for a
  // queue that recovery alone emptied). The 30 s are a failure guard: DRAINED then shows the rest.
  let giveUp: ReturnType<typeof setTimeout> | undefined;
  await new Promise<void>((resolve) => {
    const check = () => setTimeout(() => service.status().queueDepth === 0 && resolve(), 0);
    for (const type of ["succeeded", "failed", "dead-lettered"] as const) service.on(type, check);
    check();
    giveUp = setTimeout(resolve, 30_000);
  });
  clearTimeout(giveUp);
  const depth = service.status().queueDepth;
  await service.stop();
  out(`DRAINED ${depth}`);
} else if (mode === "two") {
  const service = await SyncService.start(path, {
    databaseId: "two-test",
    address: address(),
    apiKey: "sqa_TWOKEY_0123456789",
    tables: ["notes"],
    intervalMs: 1000,
    syncOnStart: false,
    changeDebounceMs: false,
    connectTimeoutS: 1,
    requestTimeoutS: 1,
    retry: { baseMs: 10, capMs: 50, maxAttempts: 1000 },
    leaseMs: 5000,
  });
  let startedAt = 0;
  service.on("started", () => (startedAt = Date.now()));
  service.on("failed", (e) => out(`SYNC ${startedAt} ${Date.now()} ${e.jobId} ${e.error.kind}`));
  service.on("succeeded", (e) => out(`SYNC ${startedAt} ${Date.now()} ${e.jobId} ok`));
  out("READY");
  await inputClosed();
  await service.stop({ graceMs: 0 });
  out("STOPPED");
} else if (mode === "stop") {
  const service = await SyncService.start(path, {
    databaseId: "stop-test",
    address: address(),
    apiKey: "sqa_STOPKEY_0123456789",
    tables: ["notes"],
    connectTimeoutS: 30,
    requestTimeoutS: 300,
    changeDebounceMs: false,
    polling: false,
    syncOnStart: false,
    ...(arg5 === "worker" || arg5 === "process" ? { executor: arg5 } : {}),
  });
  const started = new Promise<number>((resolve) => service.on("started", (e) => resolve(e.jobId)));
  service.syncNow().catch(() => {});
  const jobId = await started;
  out(`STARTED ${jobId} ${service.status().executor}`);
  // The test closes stdin once its listener holds the sync's connection.
  await inputClosed();
  await service.stop({ graceMs: Number(arg4) });
  out(`STOPPED ${jobId}`);
} else {
  process.stderr.write(`unknown mode ${mode}\n`);
  process.exit(2);
}
