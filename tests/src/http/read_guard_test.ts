/**
 * `createApp({ readsNeedToken: true })`: reads need the token (bearer, or the
 * password of HTTP Basic), `/healthz` stays open, `POST /sync` keeps the
 * bearer form only, and a cached answer never reaches a request without it.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createApp } from "../../../src/http/app.ts";
import { FakeService, NOW, TOKEN } from "./_fakes.ts";

const fixed = () => NOW;
const basic = (user: string, password: string) =>
  `Basic ${btoa(String.fromCharCode(...new TextEncoder().encode(`${user}:${password}`)))}`;
const READS = ["/status", "/metrics", "/"];

function guarded(extra: Parameters<typeof createApp>[1] = {}) {
  const service = new FakeService();
  const app = createApp([{ name: "a", service }], {
    token: TOKEN,
    readsNeedToken: true,
    now: fixed,
    ...extra,
  });
  return { app, service };
}

describe("createApp() with readsNeedToken", () => {
  it("GET /status, /metrics and / without a token answer 401 JSON with a Basic and a Bearer challenge", async () => {
    const { app } = guarded();
    for (const path of READS) {
      for (const method of ["GET", "HEAD"]) {
        const res = await app.request(path, { method });
        assert.equal(res.status, 401, `${method} ${path}`);
        assert.equal(
          res.headers.get("www-authenticate"),
          'Basic realm="sqlite-sync", charset="UTF-8", Bearer realm="sqlite-sync"',
          `${method} ${path}`,
        );
      }
      const body = await (await app.request(path)).json();
      assert.match(body.error, /Bearer <token>.*password of HTTP Basic/, path);
    }
  });

  it("they answer 200 to the bearer token and to HTTP Basic with the token as the password, any user name", async () => {
    const { app } = guarded();
    for (const path of READS) {
      for (
        const authorization of [
          `Bearer ${TOKEN}`,
          basic("ops", TOKEN),
          basic("", TOKEN),
          basic("ünïcode user", TOKEN),
        ]
      ) {
        const res = await app.request(path, { headers: { authorization } });
        assert.equal(res.status, 200, `${path} with ${authorization.split(" ")[0]}`);
      }
    }
  });

  it("they answer 401 to a wrong bearer token, a wrong or truncated password, Basic without a colon or not base64, and the token as the user name", async () => {
    const { app } = guarded();
    const wrong = [
      "Bearer wrong-token-000000",
      basic("ops", `${TOKEN}x`),
      basic("ops", TOKEN.slice(0, -1)),
      basic(TOKEN, ""),
      `Basic ${btoa(TOKEN)}`,
      "Basic !!!not-base64!!!",
      `Basic ${TOKEN}`,
      TOKEN,
    ];
    for (const authorization of wrong) {
      const res = await app.request("/status", { headers: { authorization } });
      assert.equal(res.status, 401, authorization);
      const text = await res.text();
      assert.ok(!text.includes(TOKEN), "the answer echoes the token");
    }
  });

  it("GET /healthz stays open (liveness probes send no credential)", async () => {
    const { app } = guarded();
    const res = await app.request("/healthz");
    assert.equal(res.status, 200);
    assert.match(await res.text(), /^1 /);
  });

  it("POST /sync takes only the bearer form: Basic with the right password is 401 and syncs nothing", async () => {
    const { app, service } = guarded();
    const res = await app.request("/sync", {
      method: "POST",
      headers: { authorization: basic("ops", TOKEN) },
    });
    assert.equal(res.status, 401);
    assert.equal(service.syncCalls, 0);
    const ok = await app.request("/sync", {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    assert.equal(ok.status, 200);
    assert.equal(service.syncCalls, 1);
  });

  it("a cached answer is never served to a request without the token", async () => {
    const { app } = guarded({ cacheMs: 60_000 });
    const first = await app.request("/status", { headers: { authorization: `Bearer ${TOKEN}` } });
    assert.equal(first.status, 200);
    const again = await app.request("/status");
    assert.equal(again.status, 401);
  });

  it("under a basePath, /ops/healthz is open and /ops/status needs the token", async () => {
    const { app } = guarded({ basePath: "/ops" });
    assert.equal((await app.request("/ops/healthz")).status, 200);
    assert.equal((await app.request("/ops/status")).status, 401);
    const ok = await app.request("/ops/status", { headers: { authorization: basic("", TOKEN) } });
    assert.equal(ok.status, 200);
  });

  it("without readsNeedToken the reads stay open with a token configured (the loopback default)", async () => {
    const app = createApp([{ name: "a", service: new FakeService() }], { token: TOKEN });
    for (const path of READS) assert.equal((await app.request(path)).status, 200, path);
  });

  it("createApp() refuses readsNeedToken without a token, and one that is not a boolean", () => {
    assert.throws(
      () => createApp([], { readsNeedToken: true }),
      /'readsNeedToken' needs 'token'/,
    );
    assert.throws(
      () => createApp([], { token: TOKEN, readsNeedToken: "yes" as never }),
      /'readsNeedToken' must be true or false/,
    );
  });
});
