/**
 * The app the server tests (serve_test.ts) send their requests to, the same
 * in this process and in a Node 22 child (`_serve_child.ts`): the status app
 * with a healthy service, allowing the loopback names only; under `/broken`
 * the status app over a service whose status cannot even be looked at (every
 * GET there is a 500 from the app's error handler); under `/slow` a POST
 * behind the app's body guard with a 300 ms body time-out, and `GET
 * /slow/answer?ms=` answering after that long (a sync that takes a while).
 */
import { Hono } from "hono";
import { bodyGuard, loopbackAllowedHosts, MAX_BODY_BYTES } from "../../../src/http/_guards.ts";
import { createApp } from "../../../src/http/app.ts";
import type { FetchHandler, ServeLimits } from "../../../src/http/serve.ts";
import type { SyncServiceStatus } from "../../../src/scheduler/status.ts";
import { FakeService, TOKEN } from "./_fakes.ts";

/** Short time-outs, so that a test waits a second, not ten. */
export const TEST_LIMITS: ServeLimits = {
  headersTimeoutMs: 1000,
  requestTimeoutMs: 2000,
  keepAliveTimeoutMs: 1000,
  idleTimeoutS: 1,
};

/** The time a chunked body may take under `/slow`. */
export const SLOW_BODY_MS = 300;

/** A service whose status() returns an object that throws when read. */
function brokenService(): FakeService {
  const unreadable = new Proxy({}, {
    get() {
      throw new Error("this status cannot be read");
    },
  }) as SyncServiceStatus;
  return new FakeService(() => unreadable);
}

/** The fixture's fetch handler. */
export function fixtureHandler(): FetchHandler {
  const app = createApp([{ name: "main", service: new FakeService() }], {
    token: TOKEN,
    allowedHosts: loopbackAllowedHosts("127.0.0.1"),
  });
  const broken = createApp([{ name: "broken", service: brokenService() }], {
    basePath: "/broken",
  });
  const slow = new Hono().basePath("/slow");
  slow.use(bodyGuard(MAX_BODY_BYTES, SLOW_BODY_MS));
  slow.post("/", (c) => c.json({ ok: true }));
  slow.get("/answer", async (c) => {
    await new Promise((resolve) => setTimeout(resolve, Number(c.req.query("ms"))));
    return c.text("done");
  });
  return (request) => {
    // Bun's URL of a CONNECT is its authority (`127.0.0.1:443`), no URL to parse.
    const path = URL.canParse(request.url) ? new URL(request.url).pathname : "";
    if (path.startsWith("/broken")) return broken.fetch(request);
    if (path.startsWith("/slow")) return slow.fetch(request);
    return app.fetch(request);
  };
}
