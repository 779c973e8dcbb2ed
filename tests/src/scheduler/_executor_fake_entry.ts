/**
 * A stand-in for `_executor_entry.ts` (passed as `entry` by executor_test.ts)
 * that misbehaves on purpose, as a Worker or as a child process. No
 * database, no network. The mode comes from EXECUTOR_FAKE_MODE:
 *
 * - `crash-on-sync`: ready; answers `info`; dies of an uncaught error on `sync`;
 * - `exit-before-ready`: a child writes a line to stderr and exits with code 3, a
 *   Worker dies of an uncaught error;
 * - `old-protocol`: announces protocol version 0.
 */
import process from "node:process";
import { parentPort } from "node:worker_threads";

const mode = process.env.EXECUTOR_FAKE_MODE;

type Message = { t: string; id?: number };

const post = (message: unknown) =>
  parentPort
    ? parentPort.postMessage(message)
    : process.stdout.write(JSON.stringify(message) + "\n");

function onRequest(request: Message): void {
  if (request.t === "sync") {
    setTimeout(() => {
      throw new Error("fake executor: crashing on purpose");
    }, 50);
    return;
  }
  post({ t: "ok", id: request.id, value: null });
}

if (mode === "exit-before-ready") {
  // A Worker dies of the uncaught error (process.exit() there may end more than the thread).
  if (parentPort) throw new Error("fake executor: cannot start");
  process.stderr.write("fake executor: cannot start\n");
  process.exit(3);
}

if (parentPort) {
  parentPort.on("message", onRequest);
} else {
  let buffer = "";
  process.stdin.setEncoding("utf8");
  process.stdin.on("data", (chunk: string) => {
    buffer += chunk;
    for (let i = buffer.indexOf("\n"); i >= 0; i = buffer.indexOf("\n")) {
      onRequest(JSON.parse(buffer.slice(0, i)));
      buffer = buffer.slice(i + 1);
    }
  });
  process.stdin.on("end", () => process.exit(0));
}
post({ t: "ready", pid: process.pid, protocol: mode === "old-protocol" ? 0 : 1 });
