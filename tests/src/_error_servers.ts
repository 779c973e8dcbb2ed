/**
 * The non-protocol network fixtures, for the tests: a TCP listener that
 * accepts connections and never answers (in-process: the kernel accepts, nobody
 * reads), and the fixed-error HTTP server of _http_error_server.ts in a child
 * process (the extension's network calls block the calling thread, so a
 * server on the test's own event loop could never answer).
 */
import { createServer, type Socket } from "node:net";
import { spawn } from "node:child_process";
import { join } from "node:path";
import { listen, runtimeArgv } from "../_helpers.ts";

const FIXTURE = join(
  import.meta.dirname ?? new URL(".", import.meta.url).pathname,
  "_http_error_server.ts",
);

/** A listener that accepts connections and never answers; see {@linkcode silentListener}. */
export interface SilentListener {
  port: number;
  /** Connections open now. */
  readonly open: number;
  /** The most connections that were open at once. */
  readonly maxOpen: number;
  /** Connections accepted so far. */
  readonly accepted: number;
  /** Resolves once a connection is open (at once when one is). */
  connected(): Promise<void>;
  /** Resolves when the `n`-th connection (counting from 1) has been accepted. */
  accepting(n: number): Promise<void>;
  /** Ends every open connection (a hung call then returns). */
  destroySockets(): void;
  close(): Promise<void>;
}

/** An in-process listener that accepts connections and never answers. */
export async function silentListener(): Promise<SilentListener> {
  const sockets = new Set<Socket>();
  let maxOpen = 0;
  let accepted = 0;
  let waiters: (() => void)[] = [];
  const server = createServer((socket) => {
    sockets.add(socket);
    accepted++;
    maxOpen = Math.max(maxOpen, sockets.size);
    socket.on("error", () => {});
    socket.on("close", () => sockets.delete(socket));
    // Read (and drop) what arrives, so a peer that is gone is noticed at once; never answer.
    socket.resume();
    for (const wake of waiters.splice(0)) wake();
  });
  const port = await listen(server);
  const when = (done: () => boolean) =>
    new Promise<void>((resolve) => {
      const check = () => (done() ? resolve() : waiters.push(check));
      check();
    });
  return {
    port,
    get open() {
      return sockets.size;
    },
    get maxOpen() {
      return maxOpen;
    },
    get accepted() {
      return accepted;
    },
    connected: () => when(() => sockets.size > 0),
    accepting: (n) => when(() => accepted >= n),
    destroySockets: () => {
      for (const s of sockets) s.destroy();
    },
    close: () => {
      for (const s of sockets) s.destroy();
      waiters = [];
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * The fixed-error HTTP server in a child process (see _http_error_server.ts):
 * every request gets `status` and `body`; `{{HEADERS}}` in `body` echoes the request's headers,
 * `{{AUTH_ENCODED}}` its Authorization value and credential in every encoding, and
 * `{{CREDENTIAL_ENCODED}}` the credential alone.
 */
export async function errorServer(
  status: number,
  reason: string,
  body: string,
): Promise<{ port: number; stop: () => Promise<void> }> {
  const [cmd, ...args] = runtimeArgv(FIXTURE, [String(status), reason, body]);
  const child = spawn(cmd, args, { stdio: ["pipe", "pipe", "pipe"] });
  let stderr = "";
  child.stderr!.on("data", (d) => (stderr += d));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const port = await new Promise<number>((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error(`fixture did not start: ${stderr}`)), 20_000);
    child.stdout!.on("data", (d) => {
      out += d;
      const m = /PORT (\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`fixture exited with ${code}: ${stderr}`));
    });
  });
  return {
    port,
    stop: async () => {
      child.stdin!.end();
      child.kill();
      await exited;
    },
  };
}
