/**
 * createApp()'s refusals before any route (src/http/_guards.ts) and its
 * optional cache (src/http/_response_cache.ts), through `app.request()`: 405
 * with `Allow` for a method a route does not take, 413 for a body over 64 KB,
 * 421 for a `Host` outside `allowedHosts`, the headers every answer carries,
 * and `cacheMs`. What a real server does with the same requests on one
 * connection is serve_test.ts's part.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Hono } from "hono";
import { createApp } from "../../../src/http/app.ts";
import { hostName, isLoopback } from "../../../common/hosts.ts";
import { loopbackAllowedHosts } from "../../../src/http/_guards.ts";
import { FakeService, NOW, statusOf, TOKEN } from "./_fakes.ts";

const AUTH = { Authorization: `Bearer ${TOKEN}` };

function app(options: Parameters<typeof createApp>[1] = {}) {
  const service = new FakeService();
  return { service, app: createApp([{ name: "a", service }], { token: TOKEN, ...options }) };
}

describe("createApp() methods: 405 with Allow", () => {
  // TRACE and CONNECT cannot be built as a Request here (forbidden methods): serve_test.ts sends
  // them to the real servers.
  for (const method of ["PUT", "PATCH", "DELETE", "OPTIONS", "PROPFIND"]) {
    it(`${method} on every route answers 405 with the route's Allow and runs nothing`, async () => {
      const { service, app: status } = app();
      for (
        const [path, allow] of [
          ["/sync", "POST"],
          ["/status", "GET, HEAD"],
          ["/healthz", "GET, HEAD"],
          ["/metrics", "GET, HEAD"],
          ["/", "GET, HEAD"],
        ]
      ) {
        const res = await status.request(path, { method, headers: AUTH });
        assert.equal(res.status, 405, `${method} ${path}`);
        assert.equal(res.headers.get("allow"), allow, `${method} ${path}`);
        assert.deepEqual(await res.json(), {
          error: `${method} is not allowed here: use ${allow}.`,
        });
      }
      assert.equal(service.syncCalls, 0);
    });
  }

  it("POST on a page answers 405 with Allow: GET, HEAD; HEAD /sync 405 with Allow: POST", async () => {
    const { app: status } = app();
    for (const path of ["/status", "/healthz", "/metrics", "/"]) {
      const res = await status.request(path, { method: "POST", headers: AUTH });
      assert.deepEqual([res.status, res.headers.get("allow")], [405, "GET, HEAD"], path);
    }
    const head = await status.request("/sync", { method: "HEAD" });
    assert.deepEqual([head.status, head.headers.get("allow")], [405, "POST"]);
  });

  it("a path that is no route answers 404 to GET, HEAD and POST and 405 with Allow: GET, HEAD, POST to others", async () => {
    const { app: status } = app();
    for (const method of ["GET", "HEAD", "POST"]) {
      assert.equal((await status.request("/nothing", { method })).status, 404, method);
    }
    const other = await status.request("/nothing", { method: "PROPFIND" });
    assert.deepEqual([other.status, other.headers.get("allow")], [405, "GET, HEAD, POST"]);
  });

  it("mounted at /ops, a refused method answers 405 under the mount path too", async () => {
    const parent = new Hono();
    const ops = createApp([{ name: "a", service: new FakeService() }], { basePath: "/ops" });
    parent.mount("/ops", ops.fetch, { replaceRequest: false });
    const res = await parent.request("/ops/status", { method: "DELETE" });
    assert.deepEqual([res.status, res.headers.get("allow")], [405, "GET, HEAD"]);
  });
});

describe("createApp() request bodies: 64 KB", () => {
  it("a POST /sync announcing more than 64 KB answers 413 JSON and syncs nothing", async () => {
    const { service, app: status } = app();
    const res = await status.request("/sync", {
      method: "POST",
      headers: { ...AUTH, "Content-Length": String(64 * 1024 + 1) },
      body: "x".repeat(64 * 1024 + 1),
    });
    assert.equal(res.status, 413);
    assert.match(res.headers.get("content-type")!, /^application\/json/);
    assert.deepEqual(await res.json(), { error: "The request body is larger than 64 KB." });
    assert.equal(service.syncCalls, 0);
  });

  it("a POST /sync with a body of exactly 64 KB is answered by the route", async () => {
    const { service, app: status } = app();
    const res = await status.request("/sync", {
      method: "POST",
      headers: { ...AUTH, "Content-Length": String(64 * 1024) },
      body: "x".repeat(64 * 1024),
    });
    assert.equal(res.status, 200);
    assert.equal(service.syncCalls, 1);
  });
});

describe("createApp() allowedHosts: 421 Misdirected Request", () => {
  const LOOPBACK = loopbackAllowedHosts("127.0.0.1")!;

  it("answers every route to localhost, 127.0.0.1 and [::1], with or without the port", async () => {
    const { app: status } = app({ allowedHosts: LOOPBACK });
    for (
      const host of ["localhost", "LOCALHOST:8787", "127.0.0.1", "127.0.0.1:8787", "[::1]:8787"]
    ) {
      for (const path of ["/healthz", "/status", "/metrics", "/"]) {
        const res = await status.request(`http://${host}${path}`, { headers: { Host: host } });
        assert.equal(res.status, 200, `${host} ${path}`);
      }
    }
  });

  it("answers 421 JSON to any other Host, before auth, methods and syncs", async () => {
    const { service, app: status } = app({ allowedHosts: LOOPBACK });
    for (const host of ["evil.example", "evil.example:8787", "127.0.0.1.nip.io", "10.0.0.1"]) {
      const get = await status.request("/status", { headers: { Host: host } });
      assert.equal(get.status, 421, host);
      assert.match((await get.json()).error, /answers only to the host names localhost, /);
      const post = await status.request("/sync", {
        method: "POST",
        headers: { ...AUTH, Host: host },
      });
      assert.equal(post.status, 421, host);
      const put = await status.request("/status", { method: "PUT", headers: { Host: host } });
      assert.equal(put.status, 421, host);
    }
    assert.equal(service.syncCalls, 0);
  });

  it("answers a name given in allowedHosts (the daemon's configured http.host)", async () => {
    const { app: status } = app({ allowedHosts: [...LOOPBACK, "status.lan"] });
    const res = await status.request("/healthz", { headers: { Host: "status.lan:8787" } });
    assert.equal(res.status, 200);
  });

  it("without allowedHosts, any Host is answered (the app mounted elsewhere)", async () => {
    const { app: status } = app();
    const res = await status.request("/healthz", { headers: { Host: "evil.example" } });
    assert.equal(res.status, 200);
  });

  it("hostName() spells hosts as a URL does; isLoopback() knows 127/8, ::1 and localhost", () => {
    assert.equal(hostName("[0:0::1]:8787"), "[::1]");
    assert.equal(hostName("::1"), "[::1]");
    assert.equal(hostName("LocalHost."), "localhost");
    assert.equal(hostName("127.1"), "127.0.0.1");
    for (const bad of ["", "a b", "x/y", "u@127.0.0.1", "host:99999", "[::1"]) {
      assert.equal(hostName(bad), undefined, bad);
    }
    for (const host of ["127.0.0.1", "127.3.2.1", "::1", "localhost"]) assert.ok(isLoopback(host));
    for (const host of ["0.0.0.0", "::", "10.0.0.1", "example.com"]) assert.ok(!isLoopback(host));
    assert.equal(loopbackAllowedHosts("0.0.0.0"), undefined);
    assert.deepEqual(loopbackAllowedHosts("127.0.0.2"), [
      "localhost",
      "127.0.0.1",
      "[::1]",
      "127.0.0.2",
    ]);
  });
});

describe("createApp() headers on every answer", () => {
  it("refusals and answers alike carry Cache-Control: no-store, nosniff and Vary: Accept-Encoding", async () => {
    const { app: status } = app({ allowedHosts: ["localhost"] });
    const requests: [string, RequestInit, number][] = [
      ["/status", {}, 200],
      ["/nothing", {}, 404],
      ["/status", { method: "PUT" }, 405],
      ["/sync", { method: "POST" }, 401],
      [
        "/sync",
        { method: "POST", headers: { "Content-Length": "70000" }, body: "x".repeat(70000) },
        413,
      ],
      ["/status", { headers: { Host: "evil.example" } }, 421],
    ];
    for (const [path, init, code] of requests) {
      const res = await status.request(`http://localhost${path}`, init);
      assert.equal(res.status, code, path);
      assert.equal(res.headers.get("cache-control"), "no-store", path);
      assert.equal(res.headers.get("x-content-type-options"), "nosniff", path);
      assert.equal(res.headers.get("vary"), "Accept-Encoding", path);
    }
  });
});

describe("createApp() cacheMs", () => {
  it("answers a GET from its first render until cacheMs has passed on the app's clock, then afresh", async () => {
    let now = NOW;
    let state: "idle" | "offline" = "idle";
    const service = new FakeService(() => statusOf({ state }));
    const status = createApp([{ name: "a", service }], { now: () => now, cacheMs: 1000 });
    const read = async () => (await (await status.request("/status")).json()).databases[0].status;
    assert.equal((await read()).state, "idle");
    state = "offline";
    now += 999;
    assert.equal((await read()).state, "idle", "within cacheMs: the first render");
    now += 1;
    assert.equal((await read()).state, "offline", "after cacheMs: read afresh");
  });

  it("keeps answers per path and Accept-Encoding, never a refusal, and a clock set back reads afresh", async () => {
    let now = NOW;
    let state: "idle" | "offline" = "idle";
    const status = createApp([{ name: "a", service: new FakeService(() => statusOf({ state })) }], {
      now: () => now,
      cacheMs: 1000,
    });
    const state0 = async (init?: RequestInit) =>
      (await (await status.request("/status", init)).json()).databases[0].status.state;
    assert.equal(await state0(), "idle");
    const gzip = await status.request("/status", { headers: { "Accept-Encoding": "gzip" } });
    assert.equal(gzip.headers.get("content-encoding"), "gzip");
    await gzip.arrayBuffer();
    state = "offline";
    // The answers kept: per path and encoding.
    assert.equal(await state0(), "idle");
    const metrics = await status.request("/metrics");
    assert.match(await metrics.text(), /sqlite_sync_state\{[^}]*state="offline"\} 1/);
    assert.equal((await status.request("/status", { method: "PUT" })).status, 405);
    now -= 60_000; // the clock went back: what was kept counts as expired
    assert.equal(await state0(), "offline");
  });

  it("HEAD is answered from what GET rendered, without a body", async () => {
    const status = createApp([{ name: "a", service: new FakeService() }], { cacheMs: 1000 });
    const get = await status.request("/healthz");
    await get.text();
    const head = await status.request("/healthz", { method: "HEAD" });
    assert.deepEqual([head.status, await head.text()], [200, ""]);
  });
});

describe("createApp() refuses bad allowedHosts and cacheMs", () => {
  const cases: [string, Parameters<typeof createApp>[1], RegExp][] = [
    ["an empty allowedHosts", { allowedHosts: [] }, /'allowedHosts' must be a non-empty list/],
    [
      "a host with a path",
      { allowedHosts: ["a/b"] },
      /'allowedHosts'.*current value is \["a\/b"\]/,
    ],
    ["allowedHosts not a list", { allowedHosts: "localhost" as never }, /'allowedHosts'/],
    [
      "cacheMs 0",
      { cacheMs: 0 },
      /'cacheMs' must be an integer from 1 to 60000: current value is 0/,
    ],
    ["cacheMs 1.5", { cacheMs: 1.5 }, /'cacheMs'/],
  ];
  for (const [label, options, message] of cases) {
    it(`createApp() refuses ${label} with a TypeError`, () => {
      assert.throws(() => createApp([], options), (err: unknown) => {
        assert.ok(err instanceof TypeError);
        assert.match(err.message, message);
        return true;
      });
    });
  }
});
