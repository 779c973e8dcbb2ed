import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { spawnSync } from "node:child_process";
import { tmpdir } from "node:os";
import { createHash } from "node:crypto";
import { join } from "node:path";
import process from "node:process";
import {
  cacheEntry,
  checkCacheEntry,
  defaultCacheDir,
  installCacheEntry,
  readCacheMeta,
} from "../../ffi/cache.ts";
import { fileIntegrity, fileMatches, hashMemo } from "../../ffi/_file_integrity.ts";
import { resolveExtension } from "../../ffi/resolve.ts";
import { PINS } from "../../ffi/pins.ts";
import { platformAsset } from "../../ffi/platform.ts";
import { setTimeout as sleep } from "node:timers/promises";
import {
  isKind,
  itUnless,
  refusedPort,
  ROOT,
  run,
  runtimeArgv,
  tempDir,
  testExtensionPath,
} from "../_helpers.ts";
import { type Fixture, npmTarball, serveNpmPackage, sri, withFixture } from "./_fixture_server.ts";

const V = "0.0.0-test";
const BINARY = new TextEncoder().encode("dummy cloudsync binary\n");

function flipByte(path: string): void {
  const data = readFileSync(path);
  data[Math.floor(data.length / 2)] ^= 0xff;
  writeFileSync(path, data);
}

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

/**
 * How to make a directory unwritable here: chmod for ordinary users; root
 * ignores modes, so the immutable attribute (chattr +i, ext4 and friends).
 */
const readOnly: { set(dir: string): void; unset(dir: string): void } | undefined = (() => {
  if (process.platform === "win32") return undefined;
  if (process.getuid?.() !== 0) {
    return { set: (d) => chmodSync(d, 0o555), unset: (d) => chmodSync(d, 0o755) };
  }
  const probe = mkdtempSync(join(tmpdir(), "sqlite-sync-ro-"));
  try {
    if (spawnSync("chattr", ["+i", probe]).status !== 0) return undefined;
    let writable = true;
    try {
      writeFileSync(join(probe, "x"), "");
    } catch {
      writable = false;
    }
    spawnSync("chattr", ["-i", probe]);
    if (writable) return undefined;
    return {
      set: (d) => void spawnSync("chattr", ["+i", d]),
      unset: (d) => void spawnSync("chattr", ["-i", d]),
    };
  } finally {
    rmSync(probe, { recursive: true, force: true });
  }
})();

/** Serves a dummy linux-arm64 package of version V; returns its tarball path on the server. */
async function serveArm64(f: Fixture): Promise<{ tarballPath: string }> {
  const asset = platformAsset("linux-arm64");
  const tarball = await npmTarball(asset.npmPackage, V, asset.binaryName, BINARY);
  return serveNpmPackage(f.server, asset.npmPackage, V, tarball);
}

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

describe("fileIntegrity() and the per-process hash memo", () => {
  /** Runs `fn` with `hashMemo.racyMs` lowered, after letting the cache's file times age past it. */
  async function withAgedFile(fn: () => Promise<void>): Promise<void> {
    const racyMs = hashMemo.racyMs;
    hashMemo.racyMs = 40;
    try {
      await sleep(80); // Older than racyMs, and several file-time ticks before any later write.
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
      await withAgedFile(async () => {
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
      await withAgedFile(async () => {
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

describe("resolveExtension() and the cache", () => {
  it("resolveExtension() replaces a tampered cached binary with a fresh download", async () => {
    await withFixture(async (f) => {
      const { tarballPath } = await serveArm64(f);
      const options = f.options({ version: V, platform: "linux-arm64" });
      const first = await resolveExtension(options);
      flipByte(first.path);
      const second = await resolveExtension(options);
      assert.equal(second.source, "npm");
      assert.equal(f.server.count(tarballPath), 2);
      assert.deepEqual(readFileSync(second.path), Buffer.from(BINARY));
      assert.equal((await resolveExtension(options)).source, "cache");
    });
  });

  it("resolveExtension() refuses a tampered cached binary when offline", async () => {
    await withFixture(async (f) => {
      await serveArm64(f);
      const first = await resolveExtension(f.options({ version: V, platform: "linux-arm64" }));
      flipByte(first.path);
      await assert.rejects(
        resolveExtension(f.options({ version: V, platform: "linux-arm64", offline: true })),
        isKind("integrity", /failed verification/, /offline/),
      );
    });
  });

  it("resolveExtension() checks a pinned version's cached binary against the pin, not meta.json", async () => {
    await withFixture(async (f) => {
      const version = "0.0.0-pinned-cache";
      const asset = platformAsset("darwin-arm64");
      serveNpmPackage(
        f.server,
        asset.npmPackage,
        version,
        await npmTarball(asset.npmPackage, version, asset.binaryName, BINARY),
      );
      const pins = PINS as Record<string, unknown>;
      pins[version] = { "darwin-arm64": { binary: sri(BINARY) } };
      try {
        const options = f.options({ version, platform: "darwin-arm64" });
        const first = await resolveExtension(options);
        assert.equal((await resolveExtension(options)).source, "cache");
        // Tamper with the binary AND rewrite meta.json to match it: the pin still catches it.
        flipByte(first.path);
        const metaPath = join(f.cacheDir, version, "darwin-arm64", "meta.json");
        const recorded = JSON.parse(readFileSync(metaPath, "utf8"));
        writeFileSync(
          metaPath,
          JSON.stringify({ ...recorded, binaryIntegrity: sri(readFileSync(first.path)) }),
        );
        await assert.rejects(
          resolveExtension({ ...options, offline: true }),
          isKind("integrity", /pinned/),
        );
      } finally {
        delete pins[version];
      }
    });
  });

  const host = `${process.platform}-${process.arch}`;
  itUnless(
    host === "linux-x64"
      ? undefined
      : `the real binary only loads on linux-x64, this host is ${host}`,
    "resolveExtension() in four processes at once downloads once; the other three wait on the lock, then all four load the binary",
    async () => {
      const real = readFileSync(await testExtensionPath());
      const started = tempDir("sqlite-sync-started-");
      try {
        await withFixture(async (f) => {
          const version = "0.0.0-concurrent";
          const asset = platformAsset("linux-x86_64");
          const tarball = await npmTarball(asset.npmPackage, version, asset.binaryName, real);
          const { tarballPath } = serveNpmPackage(f.server, asset.npmPackage, version, tarball);
          // The one download holds the lock until all four children are resolving: run one
          // after another, they would never get there (the first would time out).
          let sentAt = 0;
          f.server.route(tarballPath, (_req, res) => {
            const poll = setInterval(() => {
              if (readdirSync(started.path).length < 4) return;
              clearInterval(poll);
              sentAt = Date.now();
              res.writeHead(200, { "content-length": String(tarball.byteLength) });
              res.end(tarball);
            }, 10);
          });
          const options = JSON.stringify(
            f.options({ version, platform: "linux-x86_64", env: undefined }),
          );
          const child = join(ROOT, "tests", "ffi", "_resolve_child.ts");
          const results = await Promise.all(
            [1, 2, 3, 4].map(() =>
              run(runtimeArgv(child, [options]), {
                timeoutMs: 30_000,
                env: { SQLITE_SYNC_TEST_STARTED_DIR: started.path },
              })
            ),
          );
          const outputs = results.map((r) => {
            assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
            return JSON.parse(r.stdout.trim().split("\n").at(-1)!);
          });
          assert.deepEqual(outputs.map((o) => o.version), ["1.1.4", "1.1.4", "1.1.4", "1.1.4"]);
          assert.equal(f.server.count(tarballPath), 1);
          const downloaders = outputs.filter((o) => o.source === "npm");
          const waiters = outputs.filter((o) => o.source !== "npm");
          assert.equal(downloaders.length, 1);
          assert.deepEqual(waiters.map((o) => o.source), ["cache", "cache", "cache"]);
          // Each waiter was resolving while the download held the lock, and got the binary
          // only after the download was sent: it waited on the lock, then read the cache.
          assert.ok(sentAt > 0);
          for (const w of waiters) {
            assert.ok(w.started < sentAt, `a waiter started at ${w.started}, sent at ${sentAt}`);
            assert.ok(w.resolved > sentAt, `a waiter resolved at ${w.resolved}, sent at ${sentAt}`);
          }
          assert.ok(!existsSync(join(f.cacheDir, version, "linux-x86_64.lock")));
        });
      } finally {
        started.cleanup();
      }
    },
  );
});

describe("resolveExtension() with an unusable cache directory", () => {
  const unreachable = async () => {
    const port = await refusedPort();
    return {
      npmRegistry: `http://127.0.0.1:${port}`,
      githubBaseUrl: `http://127.0.0.1:${port}`,
      env: {},
    };
  };

  it("resolveExtension() reports a cache dir under a regular file as a cache error naming it", async () => {
    const dir = tempDir();
    try {
      writeFileSync(join(dir.path, "file"), "x");
      const cacheDir = join(dir.path, "file", "cache");
      await assert.rejects(
        resolveExtension({
          ...(await unreachable()),
          cacheDir,
          version: V,
          platform: "linux-arm64",
        }),
        isKind(
          "cache",
          new RegExp(cacheDir.replace(/[/\\.]/g, "\\$&")),
          /SQLITE_SYNC_CACHE_DIR/,
          /'cacheDir'/,
        ),
      );
    } finally {
      dir.cleanup();
    }
  });

  itUnless(
    process.platform === "linux" ? undefined : "/proc exists on Linux only",
    "resolveExtension() reports a cache dir under /proc (or where no lock file can be created) as a cache error",
    async () => {
      await assert.rejects(
        resolveExtension({
          ...(await unreachable()),
          cacheDir: "/proc/sqlite-sync-cache",
          version: V,
          platform: "linux-arm64",
        }),
        isKind("cache", /\/proc\/sqlite-sync-cache/),
      );
      // An existing directory where no file can be created: creating the lock file itself fails.
      await assert.rejects(
        resolveExtension({
          ...(await unreachable()),
          cacheDir: "/proc",
          version: "self",
          platform: "linux-arm64",
        }),
        isKind("cache", /'\/proc'/),
      );
    },
  );

  itUnless(
    readOnly === undefined
      ? "cannot make a directory read-only here (root without chattr, or Windows)"
      : undefined,
    "resolveExtension() reports a read-only cache dir as a cache error",
    async () => {
      const dir = tempDir();
      const ro = join(dir.path, "ro");
      try {
        mkdirSync(ro);
        readOnly!.set(ro);
        await assert.rejects(
          resolveExtension({
            ...(await unreachable()),
            cacheDir: ro,
            version: V,
            platform: "linux-arm64",
          }),
          isKind("cache", /ro'/),
        );
      } finally {
        readOnly!.unset(ro);
        dir.cleanup();
      }
    },
  );

  it("resolveExtension() without HOME, XDG_CACHE_HOME or cacheDir throws a cache error", async () => {
    await assert.rejects(
      resolveExtension({ ...(await unreachable()), version: V, platform: "linux-arm64" }),
      isKind("cache", /SQLITE_SYNC_CACHE_DIR/),
    );
  });
});
