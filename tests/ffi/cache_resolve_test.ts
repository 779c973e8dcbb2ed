/**
 * resolveExtension() with the cache: a tampered cached binary replaced by a
 * fresh download, refused when offline, checked against the pin rather than
 * meta.json; and four processes resolving at once, of which one downloads
 * while the other three wait on the lock.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { resolveExtension } from "../../ffi/resolve.ts";
import { PINS } from "../../ffi/pins.ts";
import { platformAsset } from "../../ffi/platform.ts";
import {
  isKind,
  itUnless,
  ROOT,
  run,
  runtimeArgv,
  tempDir,
  testExtensionPath,
} from "../_helpers.ts";
import { npmTarball, serveNpmPackage, sri, withFixture } from "./_fixture_server.ts";
import { BINARY, flipByte, serveArm64, V } from "./_cache_fixtures.ts";

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
