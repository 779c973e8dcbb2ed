/**
 * The executor pool's host process (the `"process"` kind): one child of the
 * current runtime per pool, whatever the number of databases. Its main thread
 * never runs SQL: it starts the pool's Workers, relays messages between them
 * and the parent (newline-delimited JSON over stdin/stdout), reports a
 * Worker's exit, and ends the whole process the moment its parent is gone
 * (stdin closed, or the parent pid changed), even while a Worker is blocked
 * in a native network call: `process.exit()` from this free main thread ends
 * those threads too, in Deno, Bun and Node. So a blocked sync never outlives
 * its owner by more than {@linkcode PARENT_CHECK_MS}, and the parent can end
 * every sync at once with one SIGKILL.
 *
 * @module
 */
import process from "node:process";
import { parentPort, Worker } from "node:worker_threads";
import {
  type HostCommand,
  type HostEvent,
  postText,
  PROTOCOL_VERSION,
  readText,
  type Reply,
  WORKER_RESOURCE_LIMITS,
} from "./_executor_protocol.ts";

/** How often the parent pid is compared with the one at start, in ms. */
export const PARENT_CHECK_MS = 1000;

const TAIL = 2048;

/** Starts, relays and ends the pool's Workers; `emit` reports to the pool. */
function relay(emit: (event: HostEvent) => void): (command: HostCommand) => void {
  const workers = new Map<number, Worker>();
  return (command) => {
    switch (command.t) {
      case "spawn": {
        let error = "";
        const worker = new Worker(new URL(command.entry), {
          resourceLimits: WORKER_RESOURCE_LIMITS,
        });
        worker.on("message", (data: string) => {
          emit({ t: "from", slot: command.slot, m: readText<Reply>(data) });
        });
        worker.on("error", (err: unknown) => {
          error = (err instanceof Error ? `${err.name}: ${err.message}` : String(err)).slice(-TAIL);
        });
        worker.on("exit", (code: number) => {
          workers.delete(command.slot);
          emit({ t: "exit", slot: command.slot, code, ...(error ? { error } : {}) });
        });
        workers.set(command.slot, worker);
        return;
      }
      case "send":
        {
          const worker = workers.get(command.slot);
          if (worker) postText(worker, command.m);
        }
        return;
      case "kill":
        workers.get(command.slot)?.terminate().catch(() => {});
        return;
    }
  };
}

function main(): void {
  if (parentPort) {
    // A host Worker of the "worker" kind (Deno): creating a Worker blocks the creating thread
    // for 30–50 ms there, so the pool's own thread never does it.
    const port = parentPort;
    const run = relay((event) => postText(port, event));
    port.on("message", (data: string) => run(readText<HostCommand>(data)));
    postText(port, { t: "hello", pid: process.pid, protocol: PROTOCOL_VERSION });
    return;
  }
  // stdout is the channel: keep stray output off it.
  const toStderr = (...args: unknown[]) => console.error(...args);
  console.log = toStderr;
  console.info = toStderr;
  console.debug = toStderr;
  const emit = (event: HostEvent) => process.stdout.write(JSON.stringify(event) + "\n");
  const gone = () => process.exit(0);
  const run = relay(emit);

  let buffer = "";
  process.stdin.setEncoding("utf8");
  process.stdin.on("data", (chunk: string) => {
    buffer += chunk;
    for (let i = buffer.indexOf("\n"); i >= 0; i = buffer.indexOf("\n")) {
      const line = buffer.slice(0, i);
      buffer = buffer.slice(i + 1);
      let command: HostCommand;
      try {
        command = JSON.parse(line);
      } catch {
        continue;
      }
      run(command);
    }
  });
  // The parent closed the pipe or died: nobody is left to answer.
  process.stdin.on("end", gone);
  process.stdin.on("close", gone);
  process.stdin.resume();
  const parent = process.ppid;
  setInterval(() => {
    if (process.ppid !== parent) gone();
  }, PARENT_CHECK_MS);
  emit({ t: "hello", pid: process.pid, protocol: PROTOCOL_VERSION });
}

main();
