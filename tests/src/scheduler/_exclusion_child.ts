/**
 * Child script of service_exclusion_test.ts: one process of several sharing
 * a database file, each with a SyncService against a listener that never
 * answers. Prints `READY <pid>`, then `STARTED <jobId>` when its service
 * starts a sync and `ENDED <jobId>` when one ends, so the test can tell the
 * lease holder (the one process whose last such line is `STARTED`).
 *
 *   <runtime> _exclusion_child.ts <db> <extension> <port> <executor kind>
 */
import process from "node:process";
import { SyncService } from "../../../src/scheduler/service.ts";
import type { ExecutorKind } from "../../../src/scheduler/executor.ts";

const [path, extensionPath, port, kind] = process.argv.slice(2);

const service = await SyncService.start(path, {
  databaseId: "exclusion-test",
  address: `http://127.0.0.1:${port}`,
  apiKey: "sqa_EXCLUSION_0123456789",
  extensionPath,
  executor: kind as ExecutorKind,
  requestTimeoutS: 120,
  connectTimeoutS: 5,
  polling: false,
  syncOnStart: true,
  retry: { baseMs: 1000, capMs: 2000, maxAttempts: 1000 },
});
service.on("started", (e) => console.log(`STARTED ${e.jobId}`));
service.on("failed", (e) => console.log(`ENDED ${e.jobId}`));
service.on("succeeded", (e) => console.log(`ENDED ${e.jobId}`));
console.log(`READY ${process.pid}`);
process.stdin.on("end", () => void service.stop().then(() => process.exit(0)));
process.stdin.resume();
