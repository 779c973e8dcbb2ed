import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import {
  type DownloadProgress,
  fetchBytes,
  fetchJson,
  integrityOf,
  matchesIntegrity,
  parseIntegrity,
} from "../../ffi/download.ts";
import { redact } from "../../common/redact.ts";
import { SqliteSyncError } from "../../common/errors.ts";
import { isKind, refusedPort, tempDir } from "../_helpers.ts";
import {
  bytes,
  drip,
  type FixtureServer,
  noResponse,
  redirect,
  sri,
  stallAfterHeaders,
  startFixtureServer,
  status,
  truncated,
} from "./_fixture_server.ts";

const BODY = new Uint8Array(64 * 1024).map((_, i) => (i * 7) % 251);

describe("fetchBytes()", () => {
  let server: FixtureServer;
  before(async () => {
    server = await startFixtureServer();
    server.route("/ok", bytes(BODY));
    server.route("/moved", redirect("/ok"));
    server.route("/missing", status(404));
    server.route("/broken", status(500));
    server.route("/cut", truncated(BODY, 1000));
    server.route("/stall", stallAfterHeaders(BODY, 100));
    server.route("/silent", noResponse());
    server.route("/drip", drip(BODY.subarray(0, 200), 100));
    server.route("/json", bytes('{"a":1}'));
    server.route("/not-json", bytes("<html>"));
    server.route("/auth", (req, res) => {
      const expected = `Basic ${btoa("me:s3cret")}`;
      res.writeHead(req.headers.authorization === expected ? 200 : 401, { "content-length": "2" });
      res.end("ok");
    });
  });
  after(() => server.close());

  it("fetchBytes() returns the body and reports progress ending with the total", async () => {
    const seen: DownloadProgress[] = [];
    const body = await fetchBytes(`${server.url}/ok`, { onProgress: (p) => seen.push(p) });
    assert.deepEqual(body, BODY);
    assert.equal(seen[0].received, 0);
    assert.deepEqual(seen.at(-1), {
      url: `${server.url}/ok`,
      received: BODY.length,
      total: BODY.length,
    });
  });

  it("fetchBytes() follows a 302 redirect to the real file", async () => {
    assert.deepEqual(await fetchBytes(`${server.url}/moved`), BODY);
  });

  it("fetchBytes() turns 404 and 500 into http errors carrying the status", async () => {
    await assert.rejects(fetchBytes(`${server.url}/missing`), (err) => {
      assert.ok(err instanceof SqliteSyncError && err.kind === "http" && err.status === 404);
      assert.match(err.message, /HTTP 404/);
      return true;
    });
    await assert.rejects(fetchBytes(`${server.url}/broken`), (err) => {
      assert.ok(err instanceof SqliteSyncError && err.status === 500);
      return true;
    });
  });

  it("fetchBytes() refuses a body cut short of its Content-Length", async () => {
    await assert.rejects(
      fetchBytes(`${server.url}/cut`),
      isKind("download", /(connection lost|truncated).*of 65536 bytes/),
    );
  });

  it("fetchBytes() times out when the body stalls after the headers", async () => {
    await assert.rejects(
      fetchBytes(`${server.url}/stall`, { timeoutMs: 150 }),
      isKind("timeout", /timed out, no data for 150 ms/),
    );
  });

  // How long these take is measured, not asserted, by bench/timeouts_bench.ts.
  it("fetchBytes() times out when the headers never arrive", async () => {
    await assert.rejects(
      fetchBytes(`${server.url}/silent`, { timeoutMs: 150 }),
      isKind("timeout", /timed out, no data for 150 ms \(timeoutMs\) after 0 bytes/),
    );
  });

  it("fetchBytes() gives up at deadlineMs on a body that drips in just inside timeoutMs", async () => {
    // One byte every 100 ms: the 300 ms idle time-out never fires, the body (200 bytes) would
    // take 20 s; only the 1 s deadline can end it, and the message says which limit did.
    await assert.rejects(
      fetchBytes(`${server.url}/drip`, { timeoutMs: 300, deadlineMs: 1000 }),
      isKind("timeout", /not finished within the 1000 ms deadline \(deadlineMs\) after \d+ bytes/),
    );
  });

  it("fetchBytes() reports a refused connection as offline", async () => {
    const port = await refusedPort();
    await assert.rejects(
      fetchBytes(`http://127.0.0.1:${port}/x`),
      isKind("offline", /cannot connect/),
    );
  });

  it("fetchBytes() refuses a body larger than maxBytes", async () => {
    await assert.rejects(
      fetchBytes(`${server.url}/ok`, { maxBytes: 1000 }),
      isKind("download", /cap/),
    );
  });

  it("fetchBytes() sends URL credentials as Basic auth and keeps them out of messages", async () => {
    const url = new URL(`${server.url}/auth`);
    url.username = "me";
    url.password = "s3cret";
    assert.equal(new TextDecoder().decode(await fetchBytes(url.href)), "ok");
    url.password = "wrong-s3cret";
    await assert.rejects(fetchBytes(url.href), (err) => {
      assert.ok(err instanceof SqliteSyncError && err.status === 401);
      assert.doesNotMatch(err.message, /s3cret|me:/);
      return true;
    });
  });

  it("fetchBytes() reads file: URLs and reports a missing file as 404", async () => {
    const dir = tempDir();
    try {
      writeFileSync(join(dir.path, "a.bin"), BODY);
      assert.deepEqual(await fetchBytes(pathToFileURL(join(dir.path, "a.bin")).href), BODY);
      await assert.rejects(fetchBytes(pathToFileURL(join(dir.path, "b.bin")).href), (err) => {
        assert.ok(err instanceof SqliteSyncError && err.status === 404);
        return true;
      });
    } finally {
      dir.cleanup();
    }
  });

  it("fetchBytes() rejects unsupported URL schemes with a TypeError", async () => {
    await assert.rejects(fetchBytes("ftp://example.com/x"), TypeError);
  });

  it("fetchJson() parses JSON and refuses other bodies", async () => {
    assert.deepEqual(await fetchJson(`${server.url}/json`), { a: 1 });
    await assert.rejects(fetchJson(`${server.url}/not-json`), isKind("download", /not valid JSON/));
  });
});

describe("redact() of a URL", () => {
  it("redact() drops user, password and query string", () => {
    assert.equal(
      redact("https://user:tok@registry.example.com/a/b?sig=1&x=2"),
      "https://registry.example.com/a/b?…",
    );
    assert.equal(redact("http://127.0.0.1:9/x"), "http://127.0.0.1:9/x");
    assert.equal(redact("not a url"), "not a url");
  });
});

describe("parseIntegrity() / matchesIntegrity() / integrityOf()", () => {
  const data = new TextEncoder().encode("hello");

  it("integrityOf() matches an independent sha512 SRI", () => {
    assert.equal(integrityOf(data), sri(data));
  });

  it("matchesIntegrity() accepts sha256/384/512 and any of several hashes", () => {
    assert.ok(matchesIntegrity(data, integrityOf(data, "sha256")));
    assert.ok(matchesIntegrity(data, integrityOf(data, "sha384")));
    assert.ok(matchesIntegrity(data, `sha512-AAAA ${integrityOf(data)}`));
    assert.ok(!matchesIntegrity(data, integrityOf(new Uint8Array([1]))));
  });

  it("parseIntegrity() throws a TypeError for malformed strings", () => {
    for (const bad of ["", "md5-abc", "sha512", "sha512-!!", "deadbeef"]) {
      assert.throws(() => parseIntegrity(bad), TypeError, bad);
    }
    assert.deepEqual(parseIntegrity("sha512-AbC="), [{ algorithm: "sha512", digest: "AbC=" }]);
  });
});
