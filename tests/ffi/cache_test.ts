/**
 * The extension cache (ffi/cache.ts): defaultCacheDir() per platform and
 * environment, and installCacheEntry()/checkCacheEntry() (the files written,
 * a hit, and a flipped byte, a lost meta.json, a pin or user integrity
 * mismatch refused). The hash memo is in cache_hash_memo_test.ts,
 * resolveExtension() with the cache in cache_resolve_test.ts, unusable cache
 * directories in cache_unusable_dir_test.ts.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, writeFileSync } from "node:fs";
import {
  cacheEntry,
  checkCacheEntry,
  defaultCacheDir,
  installCacheEntry,
  readCacheMeta,
} from "../../ffi/cache.ts";
import { isKind, tempDir } from "../_helpers.ts";
import { sri } from "./_fixture_server.ts";
import { BINARY, flipByte, V } from "./_cache_fixtures.ts";

const meta = (binary: Uint8Array) => ({
  version: V,
  platform: "linux-arm64",
  source: "npm",
  url: "http://127.0.0.1/x.tgz",
  archiveIntegrity: sri(new Uint8Array([1])),
  binaryIntegrity: sri(binary),
  verifiedBy: "test",
  fetchedAt: new Date().toISOString(),
});

describe("defaultCacheDir()", () => {
  it("defaultCacheDir() prefers SQLITE_SYNC_CACHE_DIR", () => {
    assert.equal(
      defaultCacheDir({ SQLITE_SYNC_CACHE_DIR: "/srv/c", HOME: "/h" }, "linux"),
      "/srv/c",
    );
  });

  it("defaultCacheDir() uses XDG_CACHE_HOME, then ~/.cache on Linux", () => {
    assert.equal(defaultCacheDir({ XDG_CACHE_HOME: "/x", HOME: "/h" }, "linux"), "/x/sqlite-sync");
    assert.equal(
      defaultCacheDir({ XDG_CACHE_HOME: "relative", HOME: "/h" }, "linux"),
      "/h/.cache/sqlite-sync",
    );
    assert.equal(defaultCacheDir({ HOME: "/h" }, "linux"), "/h/.cache/sqlite-sync");
  });

  it("defaultCacheDir() uses ~/Library/Caches on macOS and %LOCALAPPDATA% on Windows", () => {
    assert.equal(
      defaultCacheDir({ HOME: "/Users/me" }, "darwin"),
      "/Users/me/Library/Caches/sqlite-sync",
    );
    assert.equal(
      defaultCacheDir({ LOCALAPPDATA: "C:\\Users\\me\\AppData\\Local", HOME: "/h" }, "win32"),
      "C:\\Users\\me\\AppData\\Local\\sqlite-sync",
    );
  });

  it("defaultCacheDir() throws a cache error when no home or cache directory is set", () => {
    for (const os of ["linux", "darwin", "win32"]) {
      assert.throws(
        () => defaultCacheDir({}, os),
        isKind("cache", /SQLITE_SYNC_CACHE_DIR/, /'cacheDir'/),
      );
    }
    assert.throws(() => defaultCacheDir({ HOME: "/h" }, "win32"), isKind("cache", /LOCALAPPDATA/));
  });
});

describe("checkCacheEntry() and installCacheEntry()", () => {
  it("installCacheEntry() writes binary, LICENSE.md and meta.json without leftover temp files", async () => {
    const dir = tempDir();
    try {
      const entry = cacheEntry(dir.path, V, "linux-arm64", "cloudsync.so");
      assert.deepEqual(await checkCacheEntry(entry, {}), { status: "miss" });
      installCacheEntry(entry, {
        binary: BINARY,
        license: new TextEncoder().encode("L"),
        meta: meta(BINARY),
      });
      assert.deepEqual(readdirSync(entry.dir).sort(), ["LICENSE.md", "cloudsync.so", "meta.json"]);
      assert.deepEqual(await checkCacheEntry(entry, {}), { status: "hit", integrity: sri(BINARY) });
      assert.equal(readCacheMeta(entry)?.binaryIntegrity, sri(BINARY));
    } finally {
      dir.cleanup();
    }
  });

  it("checkCacheEntry() rejects a flipped byte, a lost meta.json, a pin mismatch and a foreign user integrity", async () => {
    const dir = tempDir();
    try {
      const entry = cacheEntry(dir.path, V, "linux-arm64", "cloudsync.so");
      installCacheEntry(entry, { binary: BINARY, meta: meta(BINARY) });
      assert.equal((await checkCacheEntry(entry, { binary: sri(BINARY) })).status, "hit");
      assert.equal(
        (await checkCacheEntry(entry, { binary: sri(new Uint8Array([7])) })).status,
        "invalid",
      );
      assert.equal(
        (await checkCacheEntry(entry, { user: sri(new Uint8Array([1])) })).status,
        "hit",
      );
      assert.equal((await checkCacheEntry(entry, { user: sri(BINARY) })).status, "hit");
      assert.equal(
        (await checkCacheEntry(entry, { user: sri(new Uint8Array([2])) })).status,
        "invalid",
      );
      flipByte(entry.binaryPath);
      assert.match(
        ((await checkCacheEntry(entry, {})) as { reason: string }).reason,
        /does not match.*meta\.json/,
      );
      writeFileSync(entry.metaPath, "{");
      assert.match(
        ((await checkCacheEntry(entry, {})) as { reason: string }).reason,
        /meta\.json is missing/,
      );
    } finally {
      dir.cleanup();
    }
  });
});
