/**
 * The Deno adapter's front (src/http/_serve_deno_front.ts): where a header
 * block ends, in a stream split anywhere, and the private folder of the
 * socket it relays to. The front itself is exercised on real connections by
 * serve_test.ts (Deno: its time-outs, 413s, methods, keep-alive, close()).
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { HeaderEnd } from "../../../src/http/_serve_deno_front.ts";
import { serve } from "../../../src/http/serve.ts";
import { RUNTIME, tempDir } from "../../_helpers.ts";

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);
const REQUEST = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: */*\r\n\r\n";

/** Feeds `chunks` in order; the index of the chunk where the block ended, or -1. */
function endsAt(scan: HeaderEnd, chunks: string[]): number {
  return chunks.findIndex((chunk) => scan.feed(bytes(chunk)));
}

describe("HeaderEnd", () => {
  it("finds the end of a header block split at every possible place", () => {
    for (let cut = 1; cut < REQUEST.length; cut++) {
      const at = endsAt(new HeaderEnd(), [REQUEST.slice(0, cut), REQUEST.slice(cut)]);
      assert.equal(at, 1, `cut at ${cut}`);
    }
    assert.equal(endsAt(new HeaderEnd(), [...REQUEST]), REQUEST.length - 1);
  });

  it("does not end a block at one line break, a doubled CR or a bare \\n\\n", () => {
    const scan = new HeaderEnd();
    assert.equal(
      endsAt(scan, ["GET / HTTP/1.1\r\n", "Host: x\r\n", "\r\r\n", "\n\n", "\r\nX"]),
      -1,
    );
    assert.equal(endsAt(scan, ["\r\n\r", "\n"]), 1);
  });

  it("after the end, and after reset(), looks for the next block from scratch", () => {
    const scan = new HeaderEnd();
    assert.equal(endsAt(scan, ["GET / HTTP/1.1\r\n\r\n"]), 0);
    assert.equal(endsAt(scan, ["\r\n"]), -1, "half a blank line is not a block");
    scan.reset();
    assert.equal(endsAt(scan, ["\r\n"]), -1);
    assert.equal(endsAt(scan, ["GET / HTTP/1.1\r\n", "\r\n"]), 1);
  });
});

describe("serve(): the Deno adapter's socket folder", () => {
  it("is private (0700), holds only the socket, and close() removes it; Bun makes none", async () => {
    const dir = tempDir();
    const saved = process.env.TMPDIR;
    process.env.TMPDIR = dir.path;
    try {
      const served = await serve(() => new Response("ok"), { host: "127.0.0.1", port: 0 });
      const folders = readdirSync(dir.path);
      assert.equal(folders.length, { deno: 1, bun: 0 }[RUNTIME]);
      for (const folder of folders) {
        assert.equal(statSync(join(dir.path, folder)).mode & 0o777, 0o700);
        assert.deepEqual(readdirSync(join(dir.path, folder)), ["http.sock"]);
      }
      const res = await fetch(`http://127.0.0.1:${served.port}/`);
      assert.equal(await res.text(), "ok");
      await served.close();
      assert.deepEqual(readdirSync(dir.path), []);
    } finally {
      if (saved === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = saved;
      dir.cleanup();
    }
  });
});
