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

/** An in-process listener that accepts connections and never answers. */
export async function silentListener(): Promise<{ port: number; close: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on("error", () => {});
  });
  const port = await listen(server);
  return {
    port,
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * The fixed-error HTTP server in a child process (see _http_error_server.ts):
 * every request gets `status` and `body`; `{{HEADERS}}` in `body` echoes the request's headers.
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
