/**
 * What the status app refuses before a route runs, the same under every
 * server (`Deno.serve`, `Bun.serve`, `node:http`) and when mounted:
 *
 * - a `Host` that is not allowed: 421 Misdirected Request (on only when
 *   `allowedHosts` is given; the daemon gives it on a loopback bind, so a
 *   page of another site that a DNS rebinding points at 127.0.0.1 is refused);
 * - a request body over 64 KB: 413 (hono's `bodyLimit`; no route reads a
 *   body, so a `Content-Length` over the limit is refused unread and the
 *   server drains it, keeping the connection);
 * - a chunked body not received within 10 s: 408 (a runtime server may have its own
 *   time-outs too: `serve.ts`);
 * - a method a route does not take: 405 with `Allow` (`methodNotAllowed()`).
 *
 * Every refusal is JSON `{ "error": "…" }`, like the app's other errors.
 *
 * @module
 */
import type { Context, MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { hostName, isLoopback } from "../../common/hosts.ts";

/** The largest request body the app reads, in bytes. */
export const MAX_BODY_BYTES = 64 * 1024;

/** How long a chunked request body may take to arrive, in ms. */
export const BODY_TIMEOUT_MS = 10_000;

/** The names a loopback server always answers to. */
export const LOOPBACK_NAMES: readonly string[] = Object.freeze(["localhost", "127.0.0.1", "[::1]"]);

/** Thrown into the body's reader when it did not arrive in time; {@linkcode bodyGuard} answers 408. */
export class BodyTimeoutError extends Error {
  /**
   * @param ms The time allowed.
   */
  constructor(ms: number) {
    super(`The request body did not arrive within ${ms / 1000} s.`);
    this.name = "BodyTimeoutError";
  }
}

/**
 * The `allowedHosts` for a server bound to `bindHost`: on a loopback address, the loopback
 * names, that address and `extra`; on any other address `undefined` (no check: the names it is
 * reached by are not known).
 *
 * @param bindHost The address the server binds (`http.host` of the daemon's config).
 * @param extra More names to answer to.
 * @returns The list, or `undefined`.
 */
export function loopbackAllowedHosts(
  bindHost: string,
  extra: readonly string[] = [],
): string[] | undefined {
  if (!isLoopback(bindHost)) return undefined;
  return [...new Set([...LOOPBACK_NAMES, hostName(bindHost)!, ...extra])];
}

/**
 * Answers 421 to a request whose `Host` (without its port) is not one of `allowed`. A request
 * without `Host` (HTTP/1.0; no browser sends one) is judged by its URL's host.
 *
 * @param allowed Host names (`localhost`, `127.0.0.1`, `[::1]` or `::1`, `status.lan`…).
 * @returns The middleware.
 */
export function hostGuard(allowed: readonly string[]): MiddlewareHandler {
  const names = new Set(allowed.map(hostName));
  const list = [...names].join(", ");
  return async (c, next) => {
    // Bun's URL of a CONNECT is its authority (`127.0.0.1:443`), no URL to parse.
    const url = URL.canParse(c.req.url) ? new URL(c.req.url).host : "";
    const name = hostName(c.req.header("host") ?? url);
    if (name !== undefined && names.has(name)) return await next();
    return c.json({
      error: `This server answers only to the host names ${list}, not ` +
        `${JSON.stringify((c.req.header("host") ?? "").slice(0, 100))}.`,
    }, 421);
  };
}

/** `source`, failing with {@linkcode BodyTimeoutError} unless it ends within `ms`. */
function within(
  source: ReadableStream<Uint8Array>,
  ms: number,
): { stream: ReadableStream<Uint8Array>; stop: () => void } {
  const reader = source.getReader();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const stop = () => clearTimeout(timer);
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      timer = setTimeout(() => {
        controller.error(new BodyTimeoutError(ms));
        reader.cancel().catch(() => {});
      }, ms);
    },
    async pull(controller) {
      try {
        const { done, value } = await reader.read();
        if (done) {
          stop();
          controller.close();
        } else controller.enqueue(value);
      } catch (err) {
        stop();
        controller.error(err);
      }
    },
    cancel(reason) {
      stop();
      return reader.cancel(reason);
    },
  });
  return { stream, stop };
}

/**
 * Refuses a `POST` body over `maxBytes` with 413 (a `Content-Length` over it unread; a chunked
 * body through hono's `bodyLimit`, as soon as it passes it) and a chunked body that takes longer
 * than `timeoutMs` to arrive with 408. Other methods are left to the routes (their bodies are
 * never read).
 *
 * @param maxBytes The limit.
 * @param timeoutMs The time a chunked body may take.
 * @returns The middleware.
 */
export function bodyGuard(maxBytes: number, timeoutMs: number): MiddlewareHandler {
  const tooLarge = (c: Context) =>
    c.json({ error: `The request body is larger than ${maxBytes / 1024} KB.` }, 413);
  const limit = bodyLimit({ maxSize: maxBytes, onError: tooLarge });
  return async (c, next) => {
    if (c.req.method !== "POST") return await next();
    const headers = c.req.raw.headers;
    if (!headers.has("transfer-encoding")) {
      // Judged by Content-Length (no header: no body), and `body` left untouched: under
      // @hono/node-server that would open a stream over the socket, which then stalls the
      // server's draining of the unread body and closes a connection that could have stayed.
      return Number(headers.get("content-length") ?? 0) > maxBytes ? tooLarge(c) : await next();
    }
    const raw = c.req.raw;
    if (raw.body === null) return await next();
    const timed = within(raw.body, timeoutMs);
    // A new Request, not `new Request(raw, …)`: @hono/node-server's request is no Request to
    // Node's own constructor when the globals are left alone.
    c.req.raw = new Request(raw.url, {
      method: raw.method,
      headers: raw.headers,
      body: timed.stream,
      duplex: "half",
    } as RequestInit);
    try {
      // bodyLimit reads the whole body before the route runs: only reading can time out here
      // (a route's own error goes to the app's error handler, not through this await).
      return await limit(c, next);
    } catch (err) {
      if (err instanceof BodyTimeoutError) return c.json({ error: err.message }, 408);
      throw err;
    } finally {
      timed.stop();
    }
  };
}

/**
 * The 405 answer for a method a route does not take.
 *
 * @param allow The route's methods, e.g. `GET, HEAD`.
 * @returns A handler answering 405 with `Allow`.
 */
export function methodNotAllowed(allow: string): (c: Context) => Response {
  return (c) =>
    c.json({ error: `${c.req.method} is not allowed here: use ${allow}.` }, 405, {
      Allow: allow,
    });
}
