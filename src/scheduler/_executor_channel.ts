/**
 * The per-runtime part of the executor: starting the entry as a
 * `node:worker_threads` Worker or as a child process of the current runtime,
 * and one small {@linkcode Channel} over either (send, receive, end it the
 * hard way, let go of it).
 *
 * A channel never keeps the process alive by itself: the Worker, the child
 * and its pipes are unref'd as soon as their listeners are attached (in
 * Node, adding a `message` listener re-refs a Worker, hence the order). The
 * owner holds a timer of its own while it waits for an answer.
 *
 * @module
 */
import { type ChildProcess, spawn } from "node:child_process";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import type { RuntimeName } from "../../ffi/runtime.ts";
import type { ExecutorKind, Reply, Request } from "./_executor_protocol.ts";

/** How a channel ended. */
export interface ChannelExit {
  /** The exit code, when the executor exited by itself. */
  code: number | null;
  /** The signal that ended a child process. */
  signal: string | null;
  /** Why it could not start or run (spawn failure, uncaught error in a Worker). */
  error?: string;
}

/** What the owner of a channel hears. */
export interface ChannelHandlers {
  /** A message from the executor. */
  onMessage(message: Reply): void;
  /** The executor ended (called once). */
  onExit(exit: ChannelExit): void;
}

/** One running executor, seen from the main side. */
export interface Channel {
  /** Worker or child process. */
  readonly kind: ExecutorKind;
  /** The child's process id (a Worker runs in this process: its id). */
  readonly pid: number | undefined;
  /** Sends a request. */
  send(message: Request): void;
  /** Ends the executor at once: SIGKILL for a child, `terminate()` for a Worker. */
  kill(): void;
  /** Releases every handle (pipes, listeners). Call after the exit. */
  dispose(): void;
  /** The last few KB the executor wrote to stderr (child) or its uncaught error (Worker). */
  stderrTail(): string;
}

/** Options of {@linkcode openChannel}. */
export interface ChannelOptions {
  /** Worker or child process. */
  kind: ExecutorKind;
  /** The entry module (`_executor_entry.ts`, or the bundle's `.js`). */
  entry: URL;
  /** The runtime running us (chooses the child's command line). */
  runtime: RuntimeName;
  /** Replaces the runtime flags put before the entry on a child's command line. */
  runtimeArgs?: readonly string[];
}

const TAIL = 4096;

/**
 * The flags a child needs per runtime. Deno: permissions to read and write
 * the database, load the extension (FFI) and read the environment and host
 * (extension resolution); no network permission (libcurl is native code).
 * Node: quiet about node:sqlite being experimental.
 *
 * @param runtime The runtime.
 * @returns Flags put before the entry.
 *
 * @example Usage
 * ```ts
 * import { defaultRuntimeArgs } from "./_executor_channel.ts";
 * console.log(defaultRuntimeArgs("bun")); // []
 * ```
 */
export function defaultRuntimeArgs(runtime: RuntimeName): string[] {
  switch (runtime) {
    case "deno":
      return [
        "run",
        "--no-check",
        "--quiet",
        "--allow-read",
        "--allow-write",
        "--allow-ffi",
        "--allow-env",
        "--allow-sys",
      ];
    case "bun":
      return [];
    case "node":
      return ["--disable-warning=ExperimentalWarning"];
  }
}

/**
 * Starts the entry and wires it to `handlers`.
 *
 * @param options Kind, entry and runtime.
 * @param handlers Message and exit callbacks.
 * @returns The channel (the executor is starting; it sends `ready` when it is).
 *
 * @example Usage
 * ```ts ignore
 * import { openChannel } from "./_executor_channel.ts";
 * import { executorEntry } from "./executor.ts";
 * const channel = openChannel({ kind: "process", entry: executorEntry(), runtime: "bun" }, {
 *   onMessage: (m) => console.log(m.t), // "ready"
 *   onExit: (e) => console.log("exited", e.code, e.signal),
 * });
 * channel.kill();
 * ```
 */
export function openChannel(options: ChannelOptions, handlers: ChannelHandlers): Channel {
  return options.kind === "worker"
    ? workerChannel(options, handlers)
    : processChannel(options, handlers);
}

function once(handlers: ChannelHandlers): (exit: ChannelExit) => void {
  let done = false;
  return (exit) => {
    if (done) return;
    done = true;
    handlers.onExit(exit);
  };
}

function workerChannel(options: ChannelOptions, handlers: ChannelHandlers): Channel {
  const exit = once(handlers);
  let tail = "";
  const worker = new Worker(options.entry);
  worker.on("message", (message: Reply) => handlers.onMessage(message));
  worker.on("error", (err: unknown) => {
    tail = (err instanceof Error ? `${err.name}: ${err.message}` : String(err)).slice(-TAIL);
  });
  worker.on("exit", (code: number) => exit({ code, signal: null, error: tail || undefined }));
  worker.unref();
  return {
    kind: "worker",
    pid: process.pid,
    send: (message) => worker.postMessage(message),
    kill: () => {
      // Resolves at once in Deno; Node's promise stays pending while the thread is in native code.
      worker.terminate().catch(() => {});
    },
    dispose: () => {
      worker.removeAllListeners("message");
      worker.removeAllListeners("exit");
      worker.removeAllListeners("error");
      worker.on("error", () => {}); // A late error must not become an uncaught exception.
      worker.unref();
    },
    stderrTail: () => tail,
  };
}

function processChannel(options: ChannelOptions, handlers: ChannelHandlers): Channel {
  const exit = once(handlers);
  const entry = options.entry.protocol === "file:"
    ? fileURLToPath(options.entry)
    : options.entry.href;
  const args = [...(options.runtimeArgs ?? defaultRuntimeArgs(options.runtime)), entry];
  let tail = "";
  let child: ChildProcess;
  try {
    // Secrets never go on the command line or in the environment: they arrive by message.
    child = spawn(process.execPath, args, { stdio: ["pipe", "pipe", "pipe"], windowsHide: true });
  } catch (err) {
    // Deno without --allow-run throws here.
    const message = err instanceof Error ? err.message : String(err);
    queueMicrotask(() => exit({ code: null, signal: null, error: message }));
    return {
      kind: "process",
      pid: undefined,
      send: () => {},
      kill: () => {},
      dispose: () => {},
      stderrTail: () => message,
    };
  }
  const { stdin, stdout, stderr } = child as Required<Pick<ChildProcess, "stdin">> & {
    stdout: NonNullable<ChildProcess["stdout"]>;
    stderr: NonNullable<ChildProcess["stderr"]>;
    stdin: NonNullable<ChildProcess["stdin"]>;
  };
  let buffer = "";
  stdout.setEncoding("utf8");
  stdout.on("data", (chunk: string) => {
    buffer += chunk;
    for (let i = buffer.indexOf("\n"); i >= 0; i = buffer.indexOf("\n")) {
      const line = buffer.slice(0, i);
      buffer = buffer.slice(i + 1);
      let message: unknown;
      try {
        message = JSON.parse(line);
      } catch {
        continue; // Not ours: the entry keeps stdout for the protocol, but be lenient.
      }
      if (message && typeof message === "object" && "t" in message) {
        handlers.onMessage(message as Reply);
      }
    }
  });
  stderr.setEncoding("utf8");
  stderr.on("data", (chunk: string) => {
    tail = (tail + chunk).slice(-TAIL);
  });
  stdin.on("error", () => {}); // EPIPE after the child died: the exit reports it.
  stdout.on("error", () => {});
  stderr.on("error", () => {});
  child.on("error", (err: Error) => exit({ code: null, signal: null, error: err.message }));
  // "close" (not "exit"): every reply written before the exit has been read by then.
  child.on("close", (code: number | null, signal: string | null) => exit({ code, signal }));
  child.unref();
  for (const stream of [stdin, stdout, stderr]) {
    (stream as unknown as { unref?: () => void }).unref?.();
  }
  return {
    kind: "process",
    pid: child.pid,
    send: (message) => {
      if (!stdin.destroyed && stdin.writable) stdin.write(JSON.stringify(message) + "\n");
    },
    kill: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    },
    dispose: () => {
      child.removeAllListeners("close");
      child.removeAllListeners("error");
      child.on("error", () => {});
      stdout.removeAllListeners("data");
      stderr.removeAllListeners("data");
      for (const stream of [stdin, stdout, stderr]) stream.destroy();
      child.unref();
    },
    stderrTail: () => tail,
  };
}

/**
 * The line of an executor's stderr that says what went wrong: the last line
 * naming an error (stack lines and colours left out), or the last line.
 *
 * @param tail What the executor wrote to stderr (its last few KB).
 * @returns `"; its stderr says: …"`, or `""` when it wrote nothing.
 *
 * @example Usage
 * ```ts
 * import { stderrHeadline } from "./_executor_channel.ts";
 * console.log(stderrHeadline("Error: boom\n    at main (x.ts:1:1)\n")); // "; its stderr says: Error: boom"
 * ```
 */
export function stderrHeadline(tail: string): string {
  const lines = tail
    // deno-lint-ignore no-control-regex
    .replace(/\x1b\[[0-9;]*m/g, "")
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith("at "));
  // Not findLast(): the npm build's declarations target ES2022.
  const line = [...lines].reverse().find((l) => /\b(?:error|panic|fatal|uncaught)\b/i.test(l)) ??
    lines.at(-1);
  return line ? `; its stderr says: ${line.slice(0, 500)}` : "";
}

/**
 * How an executor ended, for messages: `(signal SIGKILL)`, `(exit code 1)`,
 * plus the error and the stderr headline when there are any.
 *
 * @param exit The exit.
 * @param tail Its stderr tail.
 * @returns The summary (the caller redacts credentials).
 *
 * @example Usage
 * ```ts
 * import { exitSummary } from "./_executor_channel.ts";
 * console.log(exitSummary({ code: null, signal: "SIGKILL" }, "")); // "(signal SIGKILL)"
 * ```
 */
export function exitSummary(exit: ChannelExit, tail: string): string {
  const how = exit.signal
    ? `(signal ${exit.signal})`
    : exit.code !== null
    ? `(exit code ${exit.code})`
    : "";
  return `${how}${exit.error ? `: ${exit.error}` : ""}${stderrHeadline(tail)}`;
}
