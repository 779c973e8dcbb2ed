/**
 * serve() on each runtime's own server, byte for byte over one TCP connection
 * (`_raw_http.ts`): `Deno.serve` when the tests run in Deno, `Bun.serve` in
 * Bun, and `@hono/node-server` in a Node 22 child (`_serve_child.ts`), each
 * serving the same fixture (`_serve_fixture.ts`: the status app on loopback
 * names, a broken one under `/broken`, the body guard with a 300 ms time-out
 * under `/slow`). What a careless or hostile client sends: bodies too large
 * (announced or chunked), methods no route takes, a foreign `Host`, a request
 * that makes the app fail, a body or headers that never finish; after each, the
 * server must answer, on the same connection where HTTP allows it.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { Buffer } from "node:buffer";
import { join } from "node:path";
import { node22Missing, node22Path, ROOT, RUNTIME, type SkipReason } from "../../_helpers.ts";
import { describeUnless } from "../../_helpers.ts";
import { serve } from "../../../src/http/serve.ts";
import { ConnectionClosed, RawConnection, requestBytes } from "./_raw_http.ts";
import { fixtureHandler, TEST_LIMITS } from "./_serve_fixture.ts";
import { TOKEN } from "./_fakes.ts";

/** A server under test. */
interface Target {
  port: number;
  close(): Promise<void>;
}

const MiB = 1024 * 1024;
const OWN = RUNTIME === "deno" ? "Deno.serve" : "Bun.serve";
const NODE = "@hono/node-server in Node 22";

/**
 * A request whose headers never finish: Bun closes it after its own fixed ~10 s (uWebSockets),
 * the Deno adapter's front after `headersTimeoutMs`, Node answers 408 first.
 */
const HEADERS_NEVER_FINISH: Record<string, string> = {
  "Deno.serve": "closed",
  "Bun.serve": "closed",
  [NODE]: "408, then closed",
};

/** What each server does with `FOO`: its parser decides before the app can (docs/daemon.md). */
const UNKNOWN_METHOD: Record<string, string> = {
  "Deno.serve": "405 GET, HEAD",
  "Bun.serve": "closed unanswered",
  [NODE]: "400 (no Allow)",
};

async function ownServer(): Promise<Target> {
  return await serve(fixtureHandler(), { host: "127.0.0.1", port: 0 }, TEST_LIMITS);
}

/** `_serve_child.ts` in Node 22: the `@hono/node-server` adapter. */
async function nodeServer(): Promise<Target> {
  const child: ChildProcess = spawn(
    node22Path()!,
    ["--no-warnings", join(ROOT, "tests", "src", "http", "_serve_child.ts")],
    { cwd: ROOT, stdio: ["pipe", "pipe", "pipe"] },
  );
  let stderr = "";
  child.stderr!.on("data", (d) => (stderr += d));
  const exited = new Promise<void>((resolve) => child.on("close", () => resolve()));
  const port = await new Promise<number>((resolve, reject) => {
    let out = "";
    child.stdout!.on("data", (d) => {
      out += d;
      const m = /PORT (\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.on("close", (code) => reject(new Error(`the Node child exited ${code}: ${stderr}`)));
  });
  return {
    port,
    close: async () => {
      child.stdin!.end();
      await exited;
    },
  };
}

/** Writes `bytes` without waiting for the server to read them (it may answer first). */
function send(conn: RawConnection, bytes: Uint8Array | string): void {
  conn.write(bytes).catch(() => {});
}

/** Writes a chunked body of `totalBytes` until the response arrives; returns it and the bytes sent. */
async function chunkedUpload(
  conn: RawConnection,
  totalBytes: number,
): Promise<{ status: number; body: string; sent: number }> {
  await conn.write(requestBytes("POST", "/sync", { "transfer-encoding": "chunked" }));
  let answer: { status: number; body: string } | Error | undefined;
  const reading = conn.read({ timeoutMs: 30_000 }).then(
    (r) => (answer = { status: r.status, body: r.body.toString() }),
    (err: Error) => (answer = err),
  );
  const chunk = Buffer.alloc(64 * 1024, 0x61);
  const frame = Buffer.concat([
    Buffer.from(`${chunk.length.toString(16)}\r\n`),
    chunk,
    Buffer.from("\r\n"),
  ]);
  let sent = 0;
  while (answer === undefined && sent < totalBytes && conn.closed === undefined) {
    // A write waits for the kernel to take it: with the server no longer reading, that is never,
    // so the answer (or the connection's end) is what ends the wait.
    await Promise.race([conn.write(frame).catch(() => {}), reading]);
    if (answer === undefined) sent += chunk.length;
  }
  await reading;
  if (answer instanceof Error) throw answer;
  return { ...answer!, sent };
}

function suite(label: string, missing: SkipReason, start: () => Promise<Target>): void {
  describeUnless(missing, `serve() on ${label}`, () => {
    let target: Target | undefined;
    const open: RawConnection[] = [];
    const connect = async () => {
      const conn = await RawConnection.open(target!.port);
      open.push(conn);
      return conn;
    };
    before(async () => {
      target = await start();
    });
    after(async () => {
      for (const conn of open) conn.close();
      await target?.close();
    });

    it("answers a 2 MiB POST /sync with 413 JSON, then a GET on the same connection", async () => {
      const conn = await connect();
      send(conn, requestBytes("POST", "/sync", { "content-length": String(2 * MiB) }));
      send(conn, Buffer.alloc(2 * MiB, 0x61));
      const refused = await conn.read();
      assert.equal(refused.status, 413);
      assert.match(refused.headers["content-type"], /^application\/json/);
      assert.match(JSON.parse(refused.body.toString()).error, /larger than 64 KB/);
      const next = await conn.request("GET", "/healthz");
      assert.equal(next.status, 200);
      assert.match(next.body.toString(), /^1 ok/);
    });

    it("answers a 100 MiB chunked POST /sync with 413 before a third of it is sent", async () => {
      const conn = await connect();
      const { status, body, sent } = await chunkedUpload(conn, 100 * MiB);
      assert.equal(status, 413);
      assert.match(JSON.parse(body).error, /larger than 64 KB/);
      assert.ok(sent < 33 * MiB, `${(sent / MiB).toFixed(1)} MiB were sent before the answer`);
      // The server is still answering (this connection's state mid-body is the server's choice).
      const next = await (await connect()).request("GET", "/healthz");
      assert.equal(next.status, 200);
    });

    it("answers TRACE, PUT, DELETE, PATCH, OPTIONS and POST on a page with 405 and the route's Allow, then the next request on the same connection", async () => {
      const conn = await connect();
      for (const method of ["TRACE", "PUT", "DELETE", "PATCH", "OPTIONS"]) {
        for (const [path, allow] of [["/sync", "POST"], ["/status", "GET, HEAD"]]) {
          const res = await conn.request(method, path, { headers: { "content-length": "0" } });
          assert.equal(res.status, 405, `${method} ${path}`);
          assert.equal(res.headers.allow, allow, `${method} ${path}`);
          assert.match(
            JSON.parse(res.body.toString()).error,
            new RegExp(`^${method} is not allowed`),
          );
        }
      }
      const post = await conn.request("POST", "/metrics", { headers: { "content-length": "0" } });
      assert.equal(post.status, 405);
      assert.equal(post.headers.allow, "GET, HEAD");
      assert.equal((await conn.request("GET", "/healthz")).status, 200);
    });

    it("answers extension methods (PROPFIND, PURGE, QUERY, M-SEARCH) with 405 and the route's Allow, on the same connection", async () => {
      const conn = await connect();
      for (const method of ["PROPFIND", "PURGE", "QUERY", "M-SEARCH"]) {
        const res = await conn.request(method, "/status", { headers: { "content-length": "0" } });
        assert.equal(res.status, 405, method);
        assert.equal(res.headers.allow, "GET, HEAD", method);
      }
      assert.equal((await conn.request("GET", "/healthz")).status, 200);
    });

    it(`meets a method outside every registry (FOO) as docs/daemon.md says: ${UNKNOWN_METHOD[label]}`, async () => {
      const conn = await connect();
      const outcome = await conn.request("FOO", "/status", { timeoutMs: 10_000 }).then(
        (res) => `${res.status} ${res.headers.allow ?? "(no Allow)"}`,
        (err) => (err instanceof ConnectionClosed ? "closed unanswered" : Promise.reject(err)),
      );
      assert.equal(outcome, UNKNOWN_METHOD[label]);
      const next = await (await connect()).request("GET", "/healthz");
      assert.equal(next.status, 200);
    });

    it("answers CONNECT with 405 and Allow, and keeps answering", async () => {
      const conn = await connect();
      const res = await conn.request("CONNECT", "127.0.0.1:443", {
        headers: { host: "127.0.0.1:443" },
      });
      assert.equal(res.status, 405);
      assert.equal(res.headers.allow, "GET, HEAD, POST");
      // After CONNECT a server may end the connection (Bun and Node do): a new one is answered.
      const next = await (await connect()).request("GET", "/healthz");
      assert.equal(next.status, 200);
    });

    it("answers 421 to a Host that is not a loopback name, 200 to localhost, 127.0.0.1 and [::1] with or without the port", async () => {
      const conn = await connect();
      const port = target!.port;
      for (const host of ["evil.example", `evil.example:${port}`, "127.0.0.1.nip.io", "10.0.0.1"]) {
        const res = await conn.request("GET", "/status", { headers: { host } });
        assert.equal(res.status, 421, host);
        assert.match(JSON.parse(res.body.toString()).error, /answers only to the host names/);
      }
      for (
        const host of [
          "localhost",
          `localhost:${port}`,
          "127.0.0.1",
          `127.0.0.1:${port}`,
          "[::1]",
          `[::1]:${port}`,
        ]
      ) {
        const res = await conn.request("GET", "/healthz", { headers: { host } });
        assert.equal(res.status, 200, host);
      }
    });

    it("after a 500 (a service whose status cannot be read) answers the next request on the same connection", async () => {
      const conn = await connect();
      const failed = await conn.request("GET", "/broken/status");
      assert.equal(failed.status, 500);
      assert.doesNotMatch(failed.body.toString(), /cannot be read/); // no detail leaks
      const next = await conn.request("GET", "/status");
      assert.equal(next.status, 200);
      assert.equal(JSON.parse(next.body.toString()).databases[0].name, "main");
    });

    it("answers a POST /sync with the token after the refusals, on the same connection", async () => {
      const conn = await connect();
      assert.equal((await conn.request("POST", "/sync", { body: "" })).status, 401);
      const ok = await conn.request("POST", "/sync", {
        headers: { authorization: `Bearer ${TOKEN}` },
        body: "{}",
      });
      assert.equal(ok.status, 200);
      assert.equal(JSON.parse(ok.body.toString()).results[0].ok, true);
    });

    it("answers 408 to a chunked body that stalls past the body time-out", async () => {
      const conn = await connect();
      await conn.write(requestBytes("POST", "/slow", { "transfer-encoding": "chunked" }));
      await conn.write("3\r\nabc\r\n"); // and nothing more
      const res = await conn.read({ timeoutMs: 10_000 });
      assert.equal(res.status, 408);
      assert.match(JSON.parse(res.body.toString()).error, /did not arrive within 0\.3 s/);
    });

    it("answers a request that takes longer than every time-out (a long sync is not cut)", async () => {
      const conn = await connect();
      // Bun counts idleness in 4 s ticks: 4.5 s outlasts its 1 s idle time-out however counted.
      const res = await conn.request("GET", "/slow/answer?ms=4500", { timeoutMs: 30_000 });
      assert.equal(res.status, 200);
      assert.equal(res.body.toString(), "done");
      assert.equal((await conn.request("GET", "/healthz")).status, 200);
    });

    it("ends an idle keep-alive connection after the idle time-out", async () => {
      const conn = await connect();
      assert.equal((await conn.request("GET", "/healthz")).status, 200);
      await assert.rejects(conn.read({ timeoutMs: 30_000 }), ConnectionClosed);
    });

    it(
      `ends a connection whose headers never finish after the header time-out: ${
        HEADERS_NEVER_FINISH[label]
      }`,
      async () => {
        const conn = await connect();
        await conn.write("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n"); // no blank line
        const next = () =>
          conn.read({ timeoutMs: 30_000 }).then(
            (res) => String(res.status),
            (err) => (err instanceof ConnectionClosed ? "closed" : Promise.reject(err)),
          );
        const first = await next();
        const outcome = first === "closed" ? first : `${first}, then ${await next()}`;
        assert.equal(outcome, HEADERS_NEVER_FINISH[label]);
      },
    );
  });
}

suite(OWN, undefined, ownServer);
suite(NODE, node22Missing(), nodeServer);

describe(`serve() on ${OWN}: binding and closing`, () => {
  it("port 0 binds a free port and reports it with the address", async () => {
    const served = await serve(() => new Response("ok"), { host: "127.0.0.1", port: 0 });
    try {
      assert.equal(served.host, "127.0.0.1");
      assert.ok(served.port > 0);
      const res = await fetch(`http://127.0.0.1:${served.port}/`);
      assert.equal(await res.text(), "ok");
    } finally {
      await served.close();
    }
  });

  it("a port in use fails with code EADDRINUSE", async () => {
    const first = await serve(() => new Response("ok"), { host: "127.0.0.1", port: 0 });
    try {
      await assert.rejects(
        serve(() => new Response("ok"), { host: "127.0.0.1", port: first.port }),
        (err: unknown) => {
          assert.equal((err as { code?: string }).code, "EADDRINUSE");
          return true;
        },
      );
    } finally {
      await first.close();
    }
  });

  it("a handler that throws is answered 500 without its message", async () => {
    const served = await serve(() => {
      throw new Error("secret detail");
    }, { host: "127.0.0.1", port: 0 });
    try {
      const conn = await RawConnection.open(served.port);
      const res = await conn.request("GET", "/");
      assert.equal(res.status, 500);
      assert.doesNotMatch(res.body.toString(), /secret/);
      assert.equal((await conn.request("GET", "/")).status, 500); // and the connection answers on
      conn.close();
    } finally {
      await served.close();
    }
  });

  it("close() resolves with a keep-alive connection open and one half-sent request, and refuses new ones", async () => {
    const served = await serve(() => new Response("ok"), { host: "127.0.0.1", port: 0 });
    const idle = await RawConnection.open(served.port);
    assert.equal((await idle.request("GET", "/")).status, 200);
    const half = await RawConnection.open(served.port);
    await half.write("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    await served.close();
    await assert.rejects(RawConnection.open(served.port));
    idle.close();
    half.close();
  });
});
