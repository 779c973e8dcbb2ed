/**
 * Child processes of the SyncService tests. Against non-protocol fixtures
 * only (a refused port, a listener that never answers).
 *
 *   write <db> <ext> <rows> <gapMs>
 *       Commits <rows> rows to `notes` through its own SyncDatabase, one
 *       transaction each, printing `COMMITTED <id> <epoch ms>` after each.
 *   crash <db> <ext> <port> <requestTimeoutS> <seed>
 *       Runs a service (short retries, change trigger, polling) and writes rows
 *       to `notes` forever, printing `ROW <id>` after each commit; killed by the test.
 *   drain <db> <ext> <port>
 *       Runs a service with no trigger until the queue is empty (every job
 *       final), stops it, prints `DRAINED <depth>`.
 *   two <db> <ext> <port> <ms>
 *       Runs a service (interval 1 s, 1 s request time-out) for <ms>, printing
 *       `SYNC <start> <end> <jobId>` (epoch ms) for every sync it ran, then stops.
 *   stop <db> <ext> <port> <graceMs> [worker|process]
 *       Starts a service whose first sync hangs (300 s request time-out), calls
 *       stop({ graceMs }) 500 ms after `started`, prints `STOPPED <jobId>`, and
 *       does nothing more: the test times the exit.
 */
import process from "node:process";
import { SyncDatabase } from "../../../src/database.ts";
import { SyncService } from "../../../src/scheduler/service.ts";
import { seededRandom } from "./_seeded_random.ts";

const [mode, path, extensionPath, arg3, arg4, arg5] = process.argv.slice(2);
const out = (line: string) => process.stdout.write(`${line}\n`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const address = () => `http://127.0.0.1:${arg3}`;

if (mode === "write") {
  const db = await SyncDatabase.open(path, { extensionPath });
  for (let i = 0; i < Number(arg3); i++) {
    const id = db.uuid();
    db.run("INSERT INTO notes (id, body) VALUES (?, ?)", id, `from pid ${process.pid}`);
    out(`COMMITTED ${id} ${Date.now()}`);
    await sleep(Number(arg4));
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
    changePollMs: 20,
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
    await sleep(Math.floor(random() * 30));
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
  const deadline = Date.now() + 30_000;
  while (service.status().queueDepth > 0 && Date.now() < deadline) await sleep(20);
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
  service.on("failed", (e) => out(`SYNC ${startedAt} ${Date.now()} ${e.jobId}`));
  service.on("succeeded", (e) => out(`SYNC ${startedAt} ${Date.now()} ${e.jobId}`));
  await sleep(Number(arg4));
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
  await started;
  const jobId = await started;
  out(`STARTED ${jobId} ${service.status().executor}`);
  await sleep(500);
  await service.stop({ graceMs: Number(arg4) });
  out(`STOPPED ${jobId}`);
} else {
  process.stderr.write(`unknown mode ${mode}\n`);
  process.exit(2);
}
