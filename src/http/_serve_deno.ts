/**
 * The Deno adapter of `serve.ts`: `Deno.serve`. It has no time-out option
 * (Deno 2.9), so none is applied here, and it ignores `Connection: close` from
 * a handler. After an early answer (413, 405, 401) it drains the unread
 * request body and keeps the connection, but only if the request's `body` was
 * looked at: a body larger than what it buffered is otherwise answered by
 * closing the connection (Deno 2.9.6), so the adapter looks at it (only when
 * there is one: looking costs memory, 36 MB over 20,000 `POST`s without a
 * body).
 *
 * @module
 */
import type { Adapter, Served } from "./serve.ts";

/** Whether the request announces a body (`Content-Length` above 0, or chunked). */
function hasBody(headers: Headers): boolean {
  const length = headers.get("content-length");
  return headers.has("transfer-encoding") || (length !== null && length !== "0");
}

/**
 * Serves `handler` with `Deno.serve` on `options.host:options.port`.
 *
 * @param handler The fetch handler (already answering 500 on its own errors).
 * @param options Host and port (0: a free port).
 * @returns The bound address and a `close()` that lets requests in flight finish.
 * @throws The bind error (`Deno.errors.AddrInUse`…, with `code` such as `EADDRINUSE`).
 *
 * @example Usage
 * ```ts ignore
 * import { serveDeno } from "./_serve_deno.ts";
 * import { SERVE_LIMITS } from "./serve.ts";
 * const served = await serveDeno(() => new Response("ok"), { host: "127.0.0.1", port: 0 }, SERVE_LIMITS);
 * await served.close();
 * ```
 */
export const serveDeno: Adapter = (handler, options) => {
  const server = Deno.serve({
    hostname: options.host,
    port: options.port,
    // Deno prints "Listening on…" without it: the daemon logs that itself, as JSON.
    onListen: () => {},
    onError: () => new Response("internal error\n", { status: 500 }),
  }, (request) => {
    // Looking is enough (nothing is read): see the module's doc. Only at a request that has a
    // body: looking costs memory per request (a POST without one grew the heap).
    if (hasBody(request.headers)) void request.body;
    return handler(request);
  });
  const addr = server.addr as Deno.NetAddr;
  let closing: Promise<void> | undefined;
  const served: Served = {
    host: addr.hostname,
    port: addr.port,
    close: () => (closing ??= server.shutdown()),
  };
  return Promise.resolve(served);
};
