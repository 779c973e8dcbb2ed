/**
 * The Bun adapter of `serve.ts`: `Bun.serve`. A connection idle for
 * `idleTimeoutS` (no byte either way: a stalled body, an idle keep-alive) is
 * closed, except while its request is being answered (`server.timeout(request,
 * 0)` until the handler returns, then the time-out again), so a long
 * `POST /sync` is never cut. Bun (1.4, uWebSockets) counts in 4 s ticks, and
 * closes a connection whose headers do not finish after its own fixed ~10 s
 * whatever `idleTimeout` says. It drains an unread request body itself; after
 * `CONNECT` it would hand the connection over as a tunnel, so that answer
 * carries `Connection: close`.
 *
 * @module
 */
import type { Adapter, FetchHandler, Served } from "./serve.ts";

/** The part of Bun's server this adapter uses. */
interface BunServer {
  readonly port: number;
  readonly hostname: string;
  stop(closeActiveConnections?: boolean): Promise<void>;
  timeout(request: Request, seconds: number): void;
}

/** The part of the `Bun` global this adapter uses. */
interface BunGlobal {
  serve(options: {
    hostname: string;
    port: number;
    idleTimeout: number;
    fetch(request: Request, server: BunServer): Response | Promise<Response>;
    error(error: Error): Response;
  }): BunServer;
}

async function answer(handler: FetchHandler, request: Request): Promise<Response> {
  const response = await handler(request);
  if (request.method !== "CONNECT") return response;
  const headers = new Headers(response.headers);
  headers.set("connection", "close");
  return new Response(response.body, { status: response.status, headers });
}

/**
 * Serves `handler` with `Bun.serve` on `options.host:options.port`.
 *
 * @param handler The fetch handler (already answering 500 on its own errors).
 * @param options Host and port (0: a free port).
 * @param limits `idleTimeoutS` is used.
 * @returns The bound address and a `close()` that ends open connections.
 * @throws The bind error (with `code` such as `EADDRINUSE`).
 *
 * @example Usage
 * ```ts ignore
 * import { serveBun } from "./_serve_bun.ts";
 * import { SERVE_LIMITS } from "./serve.ts";
 * const served = await serveBun(() => new Response("ok"), { host: "127.0.0.1", port: 0 }, SERVE_LIMITS);
 * await served.close();
 * ```
 */
export const serveBun: Adapter = (handler, options, limits) => {
  const bun = (globalThis as unknown as { Bun: BunGlobal }).Bun;
  const server = bun.serve({
    hostname: options.host,
    port: options.port,
    idleTimeout: limits.idleTimeoutS,
    async fetch(request, server) {
      // Idleness bounds reading a request and an idle keep-alive, not answering (a sync may
      // take minutes). 0 alone would last for the connection's life: set it back after.
      server.timeout(request, 0);
      const response = await answer(handler, request);
      server.timeout(request, limits.idleTimeoutS);
      return response;
    },
    error: () => new Response("internal error\n", { status: 500 }),
  });
  let closing: Promise<void> | undefined;
  const served: Served = {
    host: server.hostname,
    port: server.port,
    close: () => (closing ??= server.stop(true)),
  };
  return Promise.resolve(served);
};
