/**
 * A short-lived cache of the status app's GET answers (`cacheMs`), for a
 * server that a scraper, many browser tabs or a careless loop may hit
 * hundreds of times a second: the page and `/status` read every database's
 * attempts and render up to 150 KB per database, and at that rate the
 * garbage alone grew the daemon's heap by 100 MB or more (Deno's young
 * generation, bench/soak_bench.ts). With it, each distinct GET is rendered at
 * most once per `cacheMs`; the answer is at most that old.
 *
 * Only 200 answers are kept, by path and `Accept-Encoding` (the query is not
 * part of the key: no GET route reads it), at most {@linkcode MAX_ENTRIES}
 * of them. A `POST /sync` does not empty it: its own answer carries the
 * results, and emptying on every sync would let a flood of them defeat the
 * cache (`/status` says when it was read: `generatedAt`).
 *
 * @module
 */
import type { MiddlewareHandler } from "hono";

/** The most answers kept at once. */
export const MAX_ENTRIES = 16;

interface Entry {
  at: number;
  status: number;
  headers: [string, string][];
  /** Text unless encoded: Deno.serve holds a byte body's memory far longer than a string's. */
  body: string | Uint8Array<ArrayBuffer>;
}

/**
 * The cache as a middleware: put it before the routes and after any check that may refuse a
 * request (a refusal is never cached, and a cached answer skips nothing but the route).
 *
 * @param ttlMs How long an answer is reused, in ms.
 * @param now The clock (ms); an answer from the future (a clock set back) counts as expired.
 * @returns The middleware.
 */
export function responseCache(ttlMs: number, now: () => number): MiddlewareHandler {
  const entries = new Map<string, Entry>();
  return async (c, next) => {
    if (c.req.method !== "GET" && c.req.method !== "HEAD") return await next();
    const key = `${c.req.path}\n${c.req.header("accept-encoding") ?? ""}`;
    const at = now();
    const hit = entries.get(key);
    if (hit !== undefined && at - hit.at >= 0 && at - hit.at < ttlMs) {
      return new Response(hit.body, { status: hit.status, headers: hit.headers });
    }
    await next();
    if (c.res.status !== 200) return;
    // Every answer here is UTF-8 text (JSON, HTML, Prometheus text), so text() keeps its bytes.
    // As a string, a flood of cached answers leaves Deno's RSS flat; as bytes (`new Response(u8)`)
    // the same 78 KB answer 20,000 times grew it by ~65 MB (bench/soak_bench.ts).
    const copy = c.res.clone();
    const body = c.res.headers.has("content-encoding")
      ? new Uint8Array(await copy.arrayBuffer())
      : await copy.text();
    entries.delete(key);
    if (entries.size >= MAX_ENTRIES) entries.delete(entries.keys().next().value!);
    const headers: [string, string][] = [];
    c.res.headers.forEach((value, name) => headers.push([name, value]));
    entries.set(key, { at, status: c.res.status, headers, body });
  };
}
