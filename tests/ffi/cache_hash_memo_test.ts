/**
 * The per-process hash memo behind the cache (ffi/_file_integrity.ts):
 * resolveExtension() hashes an unchanged cached binary once, still detects a
 * binary tampered after a resolve, fileMatches() compares SRI strings, and
 * fileIntegrity() keeps no hash of a file written moments ago.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, utimesSync, writeFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { fileIntegrity, fileMatches, hashMemo } from "../../ffi/_file_integrity.ts";
import { resolveExtension } from "../../ffi/resolve.ts";
import { isKind, tempDir } from "../_helpers.ts";
import { sri, withFixture } from "./_fixture_server.ts";
import { BINARY, flipByte, serveArm64, V } from "./_cache_fixtures.ts";

describe("fileIntegrity() and the per-process hash memo", () => {
  /**
   * Runs `fn` with the file at `path` dated an hour back and the memo's racy-time guard
   * (`racyMs`) off. The old mtime makes any later write change the file's fingerprint, whatever
   * the file-time granularity, which is what the guard protects. utimes cannot date ctime back (it
   * sets it to now, and the guard compares ctime), so the guard is switched off instead of waited
   * out; it has its own test below ("keeps no hash of a file written moments ago").
   */
  async function withAgedFile(path: string, fn: () => Promise<void>): Promise<void> {
    const racyMs = hashMemo.racyMs;
    const hourAgo = new Date(Date.now() - 3_600_000);
    utimesSync(path, hourAgo, hourAgo);
    hashMemo.racyMs = Number.NEGATIVE_INFINITY;
    try {
      await fn();
    } finally {
      hashMemo.racyMs = racyMs;
    }
  }

  it("resolveExtension() hashes an unchanged cached binary once per process", async () => {
    await withFixture(async (f) => {
      await serveArm64(f);
      const options = f.options({ version: V, platform: "linux-arm64" });
      const first = await resolveExtension(options);
      await withAgedFile(first.path, async () => {
        const hashes = hashMemo.hashes;
        const second = await resolveExtension({ ...options, offline: true });
        assert.deepEqual(second, { ...first, source: "cache" });
        assert.equal(hashMemo.hashes, hashes + 1, "the first check in this process hashes");
        for (let i = 0; i < 3; i++) {
          assert.deepEqual(await resolveExtension({ ...options, offline: true }), second);
        }
        assert.equal(hashMemo.hashes, hashes + 1, "later checks reuse the hash");
      });
    });
  });

  it("resolveExtension() detects a binary tampered after a successful resolve in this process", async () => {
    await withFixture(async (f) => {
      const { tarballPath } = await serveArm64(f);
      const options = f.options({ version: V, platform: "linux-arm64" });
      const first = await resolveExtension(options);
      await withAgedFile(first.path, async () => {
        assert.equal((await resolveExtension(options)).source, "cache");
        assert.equal((await resolveExtension(options)).source, "cache"); // from the memo
        const hashes = hashMemo.hashes;
        flipByte(first.path); // Same inode and size: only the file times change.
        await assert.rejects(
          resolveExtension({ ...options, offline: true }),
          isKind("integrity", /failed verification/),
        );
        assert.equal(hashMemo.hashes, hashes + 1);
        const replaced = await resolveExtension(options);
        assert.equal(replaced.source, "npm");
        assert.equal(f.server.count(tarballPath), 2);
        assert.deepEqual(readFileSync(replaced.path), Buffer.from(BINARY));
      });
    });
  });

  it("fileMatches() compares sha512 hashes directly and checks other algorithms on the bytes", async () => {
    const dir = tempDir();
    try {
      const path = join(dir.path, "file.bin");
      writeFileSync(path, BINARY);
      const own = await fileIntegrity(path);
      const other = sri(new Uint8Array([9]));
      const sha256 = `sha256-${createHash("sha256").update(BINARY).digest("base64")}`;
      assert.equal(await fileMatches(path, own, `${other} ${own}?opt`), true);
      assert.equal(await fileMatches(path, own, other), false);
      assert.equal(await fileMatches(path, own, `${other} ${sha256}`), true);
      assert.equal(await fileMatches(path, own, "sha256-AAAA"), false);
      await assert.rejects(fileMatches(path, own, "md5-AAAA"), TypeError);
    } finally {
      dir.cleanup();
    }
  });

  it("fileIntegrity() keeps no hash of a file written moments ago", async () => {
    const dir = tempDir();
    try {
      const path = join(dir.path, "fresh.bin");
      writeFileSync(path, BINARY);
      const hashes = hashMemo.hashes;
      assert.equal(await fileIntegrity(path), sri(BINARY));
      assert.equal(await fileIntegrity(path), sri(BINARY));
      // Its ctime is within racyMs of the read: a write in the same file-time tick would go unseen.
      assert.equal(hashMemo.hashes, hashes + 2);
      await assert.rejects(fileIntegrity(join(dir.path, "missing.bin")), { code: "ENOENT" });
    } finally {
      dir.cleanup();
    }
  });
});
