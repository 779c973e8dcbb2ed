/**
 * A tiny test server: a fetch handler (a hono app's `fetch`) behind
 * `node:http` on 127.0.0.1, the same in Deno and Bun. GET and HEAD only,
 * which is all a browser loading the status page sends.
 */
import { createServer } from "node:http";
import { listen } from "../../_helpers.ts";

/** A running test server. */
export interface TestServer {
  /** `http://127.0.0.1:<port>` */
  origin: string;
  /** Stops it. */
  close(): Promise<void>;
}

/** Serves `fetch` on an ephemeral 127.0.0.1 port. */
export async function serveFetch(
  fetch: (request: Request) => Response | Promise<Response>,
): Promise<TestServer> {
  let origin = "";
  const server = createServer(async (req, res) => {
    try {
      const headers = new Headers();
      for (const [name, value] of Object.entries(req.headers)) {
        if (typeof value === "string") headers.set(name, value);
      }
      const response = await fetch(
        new Request(new URL(req.url ?? "/", origin), {
          method: req.method,
          headers,
        }),
      );
      res.writeHead(response.status, Object.fromEntries(response.headers));
      res.end(new Uint8Array(await response.arrayBuffer()));
    } catch (err) {
      res.writeHead(500, { "content-type": "text/plain" });
      res.end(`test server: ${err}`);
    }
  });
  const port = await listen(server);
  origin = `http://127.0.0.1:${port}`;
  return {
    origin,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}
