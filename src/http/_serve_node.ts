/**
 * The Node adapter of `serve.ts`: hono's `@hono/node-server` over
 * `node:http`, with `headersTimeout`, `requestTimeout` and `keepAliveTimeout`
 * from the limits. It leaves the global `Request` and `Response` alone
 * (`overrideGlobalObjects: false`: this is a library inside someone's
 * process) and drains an unread request body (at most 64 MiB or 500 ms, then
 * it closes the connection). `node:http` hands `CONNECT` to a `connect`
 * listener instead of the handler (and a `Request` cannot carry that method):
 * it is answered here, 405 and `Connection: close`, as the app answers every
 * other method it does not serve.
 *
 * @module
 */
import { createAdaptorServer } from "@hono/node-server";
import type { Server } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import type { Adapter, Served } from "./serve.ts";

const CONNECT_REFUSED = '{"error":"CONNECT is not supported: this is not a proxy."}';
const CONNECT_ANSWER = "HTTP/1.1 405 Method Not Allowed\r\n" +
  "Allow: GET, HEAD, POST\r\n" +
  "Content-Type: application/json\r\n" +
  `Content-Length: ${CONNECT_REFUSED.length}\r\n` +
  "Connection: close\r\n\r\n" + CONNECT_REFUSED;

/**
 * Serves `handler` with `node:http` (through `@hono/node-server`) on `options.host:options.port`.
 *
 * @param handler The fetch handler (already answering 500 on its own errors).
 * @param options Host and port (0: a free port).
 * @param limits `headersTimeoutMs`, `requestTimeoutMs` and `keepAliveTimeoutMs` are used.
 * @returns The bound address and a `close()` that ends open connections.
 * @throws The bind error as `node:net` reports it (`code` such as `EADDRINUSE`).
 *
 * @example Usage
 * ```ts ignore
 * import { serveNode } from "./_serve_node.ts";
 * import { SERVE_LIMITS } from "./serve.ts";
 * const served = await serveNode(() => new Response("ok"), { host: "127.0.0.1", port: 0 }, SERVE_LIMITS);
 * await served.close();
 * ```
 */
export const serveNode: Adapter = (handler, options, limits) => {
  const server = createAdaptorServer({
    fetch: (request: Request) => handler(request),
    overrideGlobalObjects: false,
    serverOptions: {
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      keepAliveTimeout: limits.keepAliveTimeoutMs,
      // How often the two time-outs above are checked (Node's default, 30 s, would let a
      // client that never finishes its headers keep its connection for up to 40 s).
      connectionsCheckingInterval: Math.min(1000, limits.headersTimeoutMs),
    },
  }) as Server;
  server.on("connect", (_request: unknown, socket: Socket) => {
    socket.on("error", () => {});
    socket.end(CONNECT_ANSWER);
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => {
      server.off("error", reject);
      const address = server.address() as AddressInfo;
      let closing: Promise<void> | undefined;
      const served: Served = {
        host: address.address,
        port: address.port,
        close: () =>
          closing ??= new Promise<void>((done) => {
            server.close(() => done());
            server.closeAllConnections();
          }),
      };
      resolve(served);
    });
  });
};
