/**
 * Child script of executor_test.ts: a "user script" that runs an executor
 * and then has nothing left to do. The test times how long the process takes
 * to exit on its own.
 *
 *   <runtime> _executor_stop_child.ts <db> <extension> <port> <kind> <mode>
 *
 * Modes:
 * - `hung`: starts a sync against `port` (a listener that never answers)
 *   with a 300 s request time-out (the extension's default), calls
 *   `close({ graceMs: 200 })` 500 ms later, prints `CLOSED` and does nothing more;
 * - `idle`: init, `close()`, prints `CLOSED`;
 * - `forget`: init, prints `CLOSED`, never closes (an idle executor must not
 *   keep the process alive).
 *
 * Prints `PID <executor's process id>` after init, `SYNC <error kind>` when
 * the sync settles (`hung`).
 */
import process from "node:process";
import { createExecutor } from "../../../src/scheduler/_executor_connection.ts";
import type { ExecutorKind } from "../../../src/scheduler/executor.ts";

const [path, extensionPath, port, kind, mode] = process.argv.slice(2);

const executor = await createExecutor({
  kind: kind as ExecutorKind,
  path,
  extensionPath,
  connection: { connectTimeoutS: 30, requestTimeoutS: 300 },
});
await executor.init({ databaseId: "stop-test", address: `http://127.0.0.1:${port}` });
console.log(`PID ${executor.pid}`);

if (mode === "hung") {
  executor.sync({ jobId: 1 }).then(
    () => console.log("SYNC ok"),
    (err) => console.log(`SYNC ${err?.kind ?? err}`),
  );
  await new Promise((resolve) => setTimeout(resolve, 500));
  await executor.close({ graceMs: 200 });
} else if (mode === "idle") {
  await executor.close();
}
console.log(`CLOSED ${executor.state}`);
