/**
 * The Deno adapter of `serve.ts`: `Deno.serve`. It has no time-out option
 * (Deno 2.9), so it listens on a Unix socket in a private folder and a TCP
 * front relays to it, adding the header and idle time-outs
 * (`_serve_deno_front.ts`); on Windows, or where no private folder can be
 * made, `Deno.serve` takes the TCP port itself, without them.
 *
 * `Deno.serve` ignores `Connection: close` from a handler. After an early
 * answer (413, 405, 401) it drains the unread request body and keeps the
 * connection, but only if the request's `body` was looked at: a body larger
 * than what it buffered is otherwise answered by closing the connection
 * (Deno 2.9.6), so the adapter looks at it (only when there is one: looking
 * costs memory, 36 MB over 20,000 `POST`s without a body).
 *
 * @module
 */
import { join } from "node:path";
import type { Adapter, FetchHandler, Served, ServeLimits, ServeOptions } from "./serve.ts";
import { type Front, listenFront } from "./_serve_deno_front.ts";

/** Whether the request announces a body (`Content-Length` above 0, or chunked). */
function hasBody(headers: Headers): boolean {
  const length = headers.get("content-length");
  return headers.has("transfer-encoding") || (length !== null && length !== "0");
}

/** A private folder for the socket, or `undefined` where there is none to be had. */
function socketFolder(): string | undefined {
  if (Deno.build.os === "windows") return undefined;
  try {
    return Deno.makeTempDirSync({ prefix: "sqlite-sync-http-" }); // mode 0700
  } catch {
    return undefined;
  }
}

/** `Deno.serve` on a TCP port or a Unix socket, quiet, looking at request bodies. */
function denoServe(
  handler: FetchHandler,
  where: { hostname: string; port: number } | { path: string },
): Deno.HttpServer<Deno.Addr> {
  return Deno.serve({
    ...where,
    // Deno prints "Listening on…" without it: the daemon logs that itself, as JSON.
    onListen: () => {},
    onError: () => new Response("internal error\n", { status: 500 }),
  }, (request) => {
    // Looking is enough (nothing is read): see the module's doc. Only at a request that has a
    // body: looking costs memory per request (a POST without one grew the heap).
    if (hasBody(request.headers)) void request.body;
    return handler(request);
  });
}

/**
 * Serves `handler` with `Deno.serve` on `options.host:options.port`, behind the time-out front.
 *
 * @param handler The fetch handler (already answering 500 on its own errors).
 * @param options Host and port (0: a free port).
 * @param limits `headersTimeoutMs` and `keepAliveTimeoutMs` are applied by the front.
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
export const serveDeno: Adapter = (handler, options, limits) => {
  let served: Served;
  try {
    served = behindFront(handler, options, limits) ?? direct(handler, options);
  } catch (err) {
    return Promise.reject(err);
  }
  return Promise.resolve(served);
};

/** `Deno.serve` on the TCP port itself: no time-outs. */
function direct(handler: FetchHandler, options: ServeOptions): Served {
  const server = denoServe(handler, { hostname: options.host, port: options.port });
  const addr = server.addr as Deno.NetAddr;
  let closing: Promise<void> | undefined;
  return {
    host: addr.hostname,
    port: addr.port,
    close: () => (closing ??= server.shutdown()),
  };
}

/**
 * `Deno.serve` on a Unix socket in a private folder, behind the front on the TCP port; `undefined`
 * where that socket cannot be had (Windows, no temporary folder, a path too long).
 *
 * @throws The TCP bind error.
 */
function behindFront(
  handler: FetchHandler,
  options: ServeOptions,
  limits: Readonly<ServeLimits>,
): Served | undefined {
  const folder = socketFolder();
  if (folder === undefined) return undefined;
  const removeFolder = () => Deno.removeSync(folder, { recursive: true });
  const path = join(folder, "http.sock");
  let server: Deno.HttpServer<Deno.Addr>;
  try {
    server = denoServe(handler, { path });
  } catch {
    removeFolder();
    return undefined;
  }
  let front: Front;
  try {
    front = listenFront(options.host, options.port, path, limits);
  } catch (err) {
    void server.shutdown().finally(removeFolder);
    throw err;
  }
  let closing: Promise<void> | undefined;
  return {
    host: front.addr.hostname,
    port: front.addr.port,
    close: () =>
      closing ??= Promise.all([front.close(), server.shutdown()]).then(() => removeFolder()),
  };
}
