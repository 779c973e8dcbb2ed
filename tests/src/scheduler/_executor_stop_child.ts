/**
 * Child script of executor_close_test.ts: a "user script" that runs an
 * executor and then has nothing left to do. The test waits for the process
 * to exit on its own.
 *
 *   <runtime> _executor_stop_child.ts <db> <extension> <port> <kind> <mode>
 *
 * Modes:
 * - `hung`: starts a sync against `port` (a listener that never answers)
 *   with a 300 s request time-out (the extension's default); when its stdin
 *   closes (the test closes it once its listener holds the sync's
 *   connection), calls `close({ graceMs: 200 })`, prints `CLOSED` and does
 *   nothing more;
 * - `idle`: init, `close()`, prints `CLOSED`;
 * - `forget`: init, prints `CLOSED`, never closes (an idle executor must not
 *   keep the process alive).
 *
 * Prints `PID <executor's process id>` after init, `SYNC <error kind>` when
 * the sync settles (`hung`).
 */
import process from "node:process";
import { createExecutor } from "../../../src/scheduler/executor.ts";
import type { ExecutorKind } from "../../../src/scheduler/executor.ts";

const [path, extensionPath, port, kind, mode] = process.argv.slice(2);

/** Resolves when this process' stdin closes: the test's "the call hangs now". */
function inputClosed(): Promise<void> {
  return new Promise((resolve) => {
    process.stdin.once("end", () => resolve());
    process.stdin.once("close", () => resolve());
    process.stdin.on("data", () => {});
    process.stdin.resume();
  });
}

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
  await inputClosed();
  await executor.close({ graceMs: 200 });
} else if (mode === "idle") {
  await executor.close();
}
console.log(`CLOSED ${executor.state}`);
