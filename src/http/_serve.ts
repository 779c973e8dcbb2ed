/**
 * Serves a fetch handler (`app.fetch` of a hono app) with `node:http`, which
 * Deno, Bun and Node all provide: one code path for the daemon in every
 * runtime, tested in each, and no runtime global (`Deno.serve`, `Bun.serve`)
 * outside an adapter. A status app on localhost needs no more speed than
 * `node:http` gives in any of them.
 *
 * @module
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { Readable } from "node:stream";

/** A fetch handler. */
export type FetchHandler = (request: Request) => Response | Promise<Response>;

/** A running server. */
export interface Served {
  /** The address it is bound to. */
  host: string;
  /** The port it is bound to (the free one picked for port 0). */
  port: number;
  /** Stops accepting, ends open connections and resolves once closed. */
  close(): Promise<void>;
}

const MAX_BODY = 1 << 20;

async function toRequest(req: IncomingMessage, origin: string): Promise<Request> {
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (Array.isArray(value)) { for (const v of value) headers.append(name, v); }
    else if (value !== undefined) headers.set(name, value);
  }
  const method = req.method ?? "GET";
  let body: Uint8Array<ArrayBuffer> | undefined;
  if (method !== "GET" && method !== "HEAD") {
    const chunks: Uint8Array[] = [];
    let size = 0;
    for await (const chunk of req) {
      size += (chunk as Uint8Array).length;
      if (size > MAX_BODY) throw new RangeError("request body larger than 1 MiB");
      chunks.push(chunk as Uint8Array);
    }
    body = new Uint8Array(size);
    let at = 0;
    for (const c of chunks) {
      body.set(c, at);
      at += c.length;
    }
  }
  return new Request(new URL(req.url ?? "/", origin), { method, headers, body });
}

async function send(res: ServerResponse, response: Response): Promise<void> {
  const headers: Record<string, string | string[]> = {};
  response.headers.forEach((value, name) => {
    if (name === "set-cookie") return;
    headers[name] = value;
  });
  const cookies = response.headers.getSetCookie?.() ?? [];
  if (cookies.length > 0) headers["set-cookie"] = cookies;
  res.writeHead(response.status, response.statusText, headers);
  if (!response.body) {
    res.end();
    return;
  }
  await new Promise<void>((resolve, reject) => {
    // deno-lint-ignore no-explicit-any
    const stream = Readable.fromWeb(response.body as any);
    stream.on("error", reject);
    res.on("finish", resolve);
    res.on("close", resolve);
    stream.pipe(res);
  });
}

/**
 * Binds `host:port` and serves `handler`.
 *
 * @param handler The fetch handler; an exception it throws becomes a 500 without details.
 * @param options Host and port (0: a free port).
 * @returns The bound address and `close()`.
 * @throws The bind error (`EADDRINUSE`, `EACCES`, `EADDRNOTAVAIL`…) as `node:net` reports it.
 *
 * @example Usage
 * ```ts
 * import { serveFetch } from "./_serve.ts";
 * const served = await serveFetch(() => new Response("ok"), { host: "127.0.0.1", port: 0 });
 * console.log(await (await fetch(`http://127.0.0.1:${served.port}/`)).text()); // "ok"
 * await served.close();
 * ```
 */
export function serveFetch(
  handler: FetchHandler,
  options: { host: string; port: number },
): Promise<Served> {
  const server = createServer(async (req, res) => {
    try {
      const host = options.host.includes(":") ? `[${options.host}]` : options.host;
      const request = await toRequest(req, `http://${host}`);
      await send(res, await handler(request));
    } catch {
      if (!res.headersSent) res.writeHead(500, { "content-type": "text/plain" });
      res.end("internal error\n");
    }
  });
  server.keepAliveTimeout = 5000;
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => {
      server.off("error", reject);
      const address = server.address() as AddressInfo;
      resolve({
        host: address.address,
        port: address.port,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            server.closeAllConnections?.();
          }),
      });
    });
  });
}
