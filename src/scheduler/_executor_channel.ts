/**
 * The per-runtime part of the executor pool: how one Worker slot is started
 * and reached. A `"worker"` slot is a `node:worker_threads` Worker in this
 * process; a `"process"` slot is a Worker inside the pool's one host process
 * (`_executor_host.ts`), reached through its stdin/stdout.
 *
 * Nothing here keeps the process alive by itself: Workers, the host and its
 * pipes are unref'd as soon as their listeners are attached (in Node, adding
 * a `message` listener re-refs a Worker, hence the order). The pool holds a
 * timer of its own while a call waits for an answer.
 *
 * @module
 */
import { type ChildProcess, spawn } from "node:child_process";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import type { RuntimeName } from "../../ffi/runtime.ts";
import {
  type HostCommand,
  type HostEvent,
  postText,
  PROTOCOL_VERSION,
  readText,
  type Reply,
  type Request,
  WORKER_RESOURCE_LIMITS,
} from "./_executor_protocol.ts";

/** How a slot ended. */
export interface SlotExit {
  /** The Worker's exit code, when it exited by itself. */
  code: number | null;
  /** The signal that ended the host process, when it was one. */
  signal: string | null;
  /** Why it ended (an uncaught error, the host's stderr headline). */
  error?: string;
}

/** What the owner of a slot hears. */
export interface SlotHandlers {
  /** A message from the Worker. */
  onMessage(message: Reply): void;
  /** The Worker ended (called once). */
  onExit(exit: SlotExit): void;
}

/** One Worker of the pool, seen from the main side. */
export interface SlotTransport {
  /** The process the Worker runs in. */
  readonly pid: number | undefined;
  /** Sends a request. */
  send(message: Request): void;
  /** Ends the Worker at once (`terminate()`); its exit follows. */
  kill(): void;
}

const TAIL = 4096;

/**
 * The flags the host process needs per runtime. Deno: permissions to read
 * and write the databases, load the extension (FFI) and read the environment
 * and host; no network permission (libcurl is native code). Node: quiet
 * about node:sqlite being experimental.
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
 * Starts a Worker on `entry` in this process.
 *
 * @param entry The Worker's entry module.
 * @param handlers Message and exit callbacks.
 * @returns The slot.
 *
 * @example Usage
 * ```ts ignore
 * import { startWorkerSlot } from "./_executor_channel.ts";
 * const slot = startWorkerSlot(entryUrl, { onMessage: console.log, onExit: console.log });
 * slot.kill();
 * ```
 */
export function startWorkerSlot(entry: URL, handlers: SlotHandlers): SlotTransport {
  const exit = once(handlers);
  let error = "";
  const worker = new Worker(entry, { resourceLimits: WORKER_RESOURCE_LIMITS });
  worker.on("message", (data: string) => handlers.onMessage(readText<Reply>(data)));
  worker.on("error", (err: unknown) => {
    error = (err instanceof Error ? `${err.name}: ${err.message}` : String(err)).slice(-TAIL);
  });
  worker.on("exit", (code: number) => exit({ code, signal: null, error: error || undefined }));
  worker.unref();
  return {
    pid: process.pid,
    send: (message) => postText(worker, message),
    // Resolves at once in Deno; Node's promise stays pending while the thread is in native code.
    kill: () => void worker.terminate().catch(() => {}),
  };
}

/** Options of {@linkcode HostProcess}. */
export interface HostOptions {
  /** The host's entry module (`_executor_host.ts`, or the bundle's `.js`). */
  hostEntry: URL;
  /** The runtime running us (chooses the command line). */
  runtime: RuntimeName;
  /** Replaces the runtime flags put before the entry. */
  runtimeArgs?: readonly string[];
  /** Removes secrets from the host's stderr before it is reported. */
  redact(text: string): string;
  /**
   * Run the host as a Worker of this process instead of a child process
   * (the `"worker"` kind in Deno, where creating a Worker blocks the creating
   * thread for 30–50 ms: the host's thread takes that, not the caller's).
   */
  inProcess?: boolean;
}

/**
 * The pool's one child process. Slots are Workers inside it; when it exits
 * (killed, crashed, or ended by `kill()`) every slot reports its exit.
 *
 * @example Usage
 * ```ts ignore
 * import { HostProcess } from "./_executor_channel.ts";
 * const host = new HostProcess({ hostEntry, runtime: "bun", redact: (t) => t });
 * const slot = host.startSlot(entryUrl, { onMessage: console.log, onExit: console.log });
 * host.kill(); // SIGKILL: every Worker of it ends with it
 * ```
 */
export class HostProcess {
  #child: ChildProcess | undefined;
  #worker: Worker | undefined;
  #slots = new Map<number, SlotHandlers>();
  #nextSlot = 1;
  #tail = "";
  #exited: SlotExit | undefined;
  #options: HostOptions;

  /**
   * Starts the host process.
   *
   * @param options Entry, runtime and flags.
   */
  constructor(options: HostOptions) {
    this.#options = options;
    if (options.inProcess) {
      this.#worker = this.#startWorker(options.hostEntry);
      return;
    }
    const entry = options.hostEntry.protocol === "file:"
      ? fileURLToPath(options.hostEntry)
      : options.hostEntry.href;
    const args = [...(options.runtimeArgs ?? defaultRuntimeArgs(options.runtime)), entry];
    try {
      // Secrets never go on the command line or in the environment: they arrive by message.
      this.#child = spawn(process.execPath, args, {
        stdio: ["pipe", "pipe", "pipe"],
        windowsHide: true,
      });
    } catch (err) {
      // Deno without --allow-run throws here.
      const error = err instanceof Error ? err.message : String(err);
      queueMicrotask(() => this.#onExit({ code: null, signal: null, error }));
      return;
    }
    this.#wire(this.#child);
  }

  /** The host's process id. */
  get pid(): number | undefined {
    return this.#worker ? process.pid : this.#child?.pid;
  }

  /** Whether the host has exited. */
  get exited(): boolean {
    return this.#exited !== undefined;
  }

  /**
   * Starts a Worker in the host.
   *
   * @param entry The Worker's entry module.
   * @param handlers Message and exit callbacks.
   * @returns The slot.
   */
  startSlot(entry: URL, handlers: SlotHandlers): SlotTransport {
    const slot = this.#nextSlot++;
    const exit = once(handlers);
    this.#slots.set(slot, { onMessage: handlers.onMessage, onExit: exit });
    if (this.#exited) queueMicrotask(() => this.#endSlot(slot, this.#exited!));
    else this.#send({ t: "spawn", slot, entry: entry.href });
    return {
      pid: this.pid,
      send: (m) => this.#send({ t: "send", slot, m }),
      kill: () => this.#send({ t: "kill", slot }),
    };
  }

  /** Ends the host at once (SIGKILL), every Worker of it with it. */
  kill(): void {
    if (this.#worker) return void this.#worker.terminate().catch(() => {});
    const child = this.#child;
    if (child && child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  }

  #send(command: HostCommand): void {
    if (this.#worker) return postText(this.#worker, command);
    const stdin = this.#child?.stdin;
    if (stdin && !stdin.destroyed && stdin.writable) stdin.write(JSON.stringify(command) + "\n");
  }

  #startWorker(entry: URL): Worker {
    const worker = new Worker(entry, { resourceLimits: WORKER_RESOURCE_LIMITS });
    worker.on("message", (data: string) => this.#onEvent(readText<HostEvent>(data)));
    worker.on("error", (err: unknown) => {
      this.#tail += `\n${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`;
    });
    worker.on("exit", (code: number) => this.#onExit({ code, signal: null }));
    worker.unref();
    return worker;
  }

  #wire(child: ChildProcess): void {
    const stdout = child.stdout!;
    const stderr = child.stderr!;
    const stdin = child.stdin!;
    let buffer = "";
    stdout.setEncoding("utf8");
    stdout.on("data", (chunk: string) => {
      buffer += chunk;
      for (let i = buffer.indexOf("\n"); i >= 0; i = buffer.indexOf("\n")) {
        const line = buffer.slice(0, i);
        buffer = buffer.slice(i + 1);
        let event: HostEvent;
        try {
          event = JSON.parse(line);
        } catch {
          continue; // Not ours: the host keeps stdout for the protocol, but be lenient.
        }
        this.#onEvent(event);
      }
    });
    stderr.setEncoding("utf8");
    stderr.on("data", (chunk: string) => {
      this.#tail = (this.#tail + chunk).slice(-TAIL);
    });
    stdin.on("error", () => {}); // EPIPE after the host died: its exit reports it.
    stdout.on("error", () => {});
    stderr.on("error", () => {});
    child.on(
      "error",
      (err: Error) => this.#onExit({ code: null, signal: null, error: err.message }),
    );
    // "close" (not "exit"): every event written before the exit has been read by then.
    child.on(
      "close",
      (code: number | null, signal: string | null) => this.#onExit({ code, signal }),
    );
    child.unref();
    for (const stream of [stdin, stdout, stderr]) {
      (stream as unknown as { unref?: () => void }).unref?.();
    }
  }

  #onEvent(event: HostEvent): void {
    switch (event.t) {
      case "hello":
        if (event.protocol !== PROTOCOL_VERSION) {
          this.#tail += `\nError: the executor host speaks protocol ${event.protocol}, expected ` +
            `${PROTOCOL_VERSION} (a host from another version of the library)`;
          this.kill();
        }
        return;
      case "from":
        this.#slots.get(event.slot)?.onMessage(event.m);
        return;
      case "exit":
        this.#endSlot(event.slot, { code: event.code, signal: null, error: event.error });
        return;
    }
  }

  #endSlot(slot: number, exit: SlotExit): void {
    const handlers = this.#slots.get(slot);
    this.#slots.delete(slot);
    handlers?.onExit(exit);
  }

  #onExit(exit: SlotExit): void {
    if (this.#exited) return;
    const headline = stderrHeadline(this.#tail);
    this.#exited = {
      ...exit,
      error: this.#options.redact(
        `the executor host ${this.#worker ? "Worker" : "process"} ended${
          exit.signal
            ? ` (signal ${exit.signal})`
            : exit.code !== null
            ? ` (exit code ${exit.code})`
            : ""
        }${exit.error ? `: ${exit.error}` : ""}${headline}`,
      ),
    };
    const child = this.#child;
    if (child) {
      child.removeAllListeners("close");
      child.removeAllListeners("error");
      child.on("error", () => {});
      child.stdout?.removeAllListeners("data");
      child.stderr?.removeAllListeners("data");
      for (const stream of [child.stdin, child.stdout, child.stderr]) stream?.destroy();
    }
    const worker = this.#worker;
    if (worker) {
      worker.removeAllListeners("message");
      worker.removeAllListeners("exit");
      worker.on("error", () => {});
    }
    for (const slot of [...this.#slots.keys()]) this.#endSlot(slot, this.#exited);
  }
}

function once(handlers: SlotHandlers): (exit: SlotExit) => void {
  let done = false;
  return (exit) => {
    if (done) return;
    done = true;
    handlers.onExit(exit);
  };
}

/**
 * The line of a stderr tail that says what went wrong: the last line naming
 * an error (stack lines and colours left out), or the last line.
 *
 * @param tail What was written to stderr (its last few KB).
 * @returns `"; its stderr says: …"`, or `""` when nothing was written.
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
