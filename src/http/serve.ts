/**
 * Serves a fetch handler (`app.fetch` of a hono app) with the running
 * runtime's own HTTP server, hono's adapter pattern: `Deno.serve` in Deno,
 * `Bun.serve` in Bun, `@hono/node-server` (`node:http`) in Node. Each adapter
 * is a small file that only supplies the runtime calls (`_serve_deno.ts`,
 * `_serve_bun.ts`, `_serve_node.ts`); it is imported on first use, so a
 * runtime never loads another's. What a request may be (size, methods, `Host`)
 * is the app's business (`createApp()`), the same in every runtime; the
 * adapters add the time-outs their runtime allows:
 *
 * | runtime | idle keep-alive connection | headers not finished | body not received |
 * |---|---|---|---|
 * | Deno (`Deno.serve`, behind the adapter's front) | closed after 5 s | closed after 10 s | kept |
 * | Bun (`Bun.serve`) | closed after 10 s (4 s ticks) | closed after ~10 s (Bun's own) | closed after 10 s without a byte (not while the handler runs) |
 * | Node (`node:http`) | closed after 5 s | 408, closed after 10 s | closed after 30 s (the whole request) |
 *
 * The app adds its own for every runtime: a chunked body not received within
 * 10 s gets 408 (`_guards.ts`).
 *
 * `Deno.serve` has no time-out option (Deno 2.9): the Deno adapter serves it
 * on a Unix socket behind a TCP front that applies `headersTimeoutMs` and
 * `keepAliveTimeoutMs` (`_serve_deno_front.ts`; not on Windows). A handler
 * that throws is answered 500 in every runtime, and the connection stays
 * usable.
 *
 * @module
 */
import { detectRuntime } from "../../ffi/runtime.ts";

/** A fetch handler. */
export type FetchHandler = (request: Request) => Response | Promise<Response>;

/** Where to listen. */
export interface ServeOptions {
  /** The address to bind, e.g. `127.0.0.1`, `::1` or `0.0.0.0`. */
  host: string;
  /** The port; 0 picks a free one. */
  port: number;
}

/** A running server. */
export interface Served {
  /** The address it is bound to. */
  host: string;
  /** The port it is bound to (the free one picked for port 0). */
  port: number;
  /** Stops accepting, ends open connections and resolves once closed. */
  close(): Promise<void>;
}

/** The time-outs an adapter applies where its runtime allows (see the module's table). */
export interface ServeLimits {
  /** Node and Deno: the whole header block must arrive within this (Node's `headersTimeout`). */
  headersTimeoutMs: number;
  /** Node: the whole request, body included, must arrive within this (`requestTimeout`). */
  requestTimeoutMs: number;
  /** Node and Deno: an idle keep-alive connection is closed after this (Node's `keepAliveTimeout`). */
  keepAliveTimeoutMs: number;
  /** Bun: a connection with no bytes in either direction for this long is closed (`idleTimeout`). */
  idleTimeoutS: number;
}

/** The limits the daemon serves with. */
export const SERVE_LIMITS: Readonly<ServeLimits> = Object.freeze({
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  keepAliveTimeoutMs: 5_000,
  idleTimeoutS: 10,
});

/** What each adapter exports. */
export type Adapter = (
  handler: FetchHandler,
  options: ServeOptions,
  limits: Readonly<ServeLimits>,
) => Promise<Served>;

const INTERNAL_ERROR = "internal error\n";

/** `handler`, answering 500 without details when it throws or returns no Response. */
function guarded(handler: FetchHandler): FetchHandler {
  return async (request) => {
    try {
      const response = await handler(request);
      if (response instanceof Response) return response;
    } catch {
      // The handler's error stays on the server: the client learns only that it failed.
    }
    return new Response(INTERNAL_ERROR, {
      status: 500,
      headers: { "content-type": "text/plain; charset=utf-8" },
    });
  };
}

async function adapter(): Promise<Adapter> {
  switch (detectRuntime().name) {
    case "deno":
      return (await import("./_serve_deno.ts")).serveDeno;
    case "bun":
      return (await import("./_serve_bun.ts")).serveBun;
    case "node":
      return (await import("./_serve_node.ts")).serveNode;
  }
}

/**
 * Binds `host:port` and serves `handler` with the runtime's own server.
 *
 * @param handler The fetch handler; an exception it throws becomes a 500 without details.
 * @param options Host and port (0: a free port).
 * @param limits The time-outs (see {@linkcode SERVE_LIMITS}).
 * @returns The bound address and `close()`.
 * @throws The bind error as the runtime reports it, with `code` set (`EADDRINUSE`, `EACCES`,
 *   `EADDRNOTAVAIL`…) in every runtime.
 *
 * @example Usage
 * ```ts
 * import { serve } from "./serve.ts";
 * const served = await serve(() => new Response("ok"), { host: "127.0.0.1", port: 0 });
 * console.log(await (await fetch(`http://127.0.0.1:${served.port}/`)).text()); // "ok"
 * await served.close();
 * ```
 */
export async function serve(
  handler: FetchHandler,
  options: ServeOptions,
  limits: Readonly<ServeLimits> = SERVE_LIMITS,
): Promise<Served> {
  return await (await adapter())(guarded(handler), options, limits);
}
