/**
 * resolveExtension() failing: HTTP errors from every source, a stalled
 * tarball and a silent registry (time-outs), an unreachable registry (every
 * attempt and the ways out listed), offline mode with an empty cache, and
 * malformed options (never echoing a registry or mirror value).
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { resolveExtension } from "../../ffi/resolve.ts";
import { platformAsset, type PlatformId } from "../../ffi/platform.ts";
import { isKind, refusedPort, tempDir } from "../_helpers.ts";
import {
  noResponse,
  platformTarball as packageFor,
  serveNpmPackage,
  stallAfterHeaders,
  status,
  withFixture,
} from "./_fixture_server.ts";
import { V } from "./_resolve_fixtures.ts";

describe("resolveExtension() failures", () => {
  it("resolveExtension() reports HTTP 500 from every source in one not-found error", async () => {
    await withFixture(async (f) => {
      f.server.route("/@sqliteai/sqlite-sync-linux-arm64", status(500));
      await assert.rejects(
        resolveExtension(f.options({ version: V, platform: "linux-arm64" })),
        isKind("not-found", /npm: .*HTTP 500/, /github: .*\.tar\.gz: HTTP 404; .*\.zip: HTTP 404/),
      );
      assert.deepEqual(f.cacheListing(), []);
    });
  });

  it("resolveExtension() times out when the tarball stalls after its headers", async () => {
    await withFixture(async (f) => {
      const tarball = await packageFor("linux-arm64");
      serveNpmPackage(f.server, platformAsset("linux-arm64").npmPackage, V, tarball, {
        tarballHandler: stallAfterHeaders(tarball, 10),
      });
      await assert.rejects(
        resolveExtension(
          f.options({ version: V, platform: "linux-arm64", sources: ["npm"], timeoutMs: 200 }),
        ),
        isKind("offline", /timed out, no data for 200 ms/),
      );
      assert.deepEqual(f.cacheListing(), []);
    });
  });

  it("resolveExtension() times out when the registry never answers", async () => {
    await withFixture(async (f) => {
      f.server.route("/@sqliteai/sqlite-sync-linux-arm64", noResponse());
      await assert.rejects(
        resolveExtension(
          f.options({ version: V, platform: "linux-arm64", sources: ["npm"], timeoutMs: 200 }),
        ),
        isKind("offline", /timed out, no data for 200 ms/),
      );
    });
  });

  it("resolveExtension() lists every attempt and the ways out when the registry is unreachable", async () => {
    const port = await refusedPort();
    const cache = tempDir();
    try {
      await assert.rejects(
        resolveExtension({
          version: V,
          platform: "linux-arm64",
          cacheDir: cache.path,
          npmRegistry: `http://robot:hunter2@127.0.0.1:${port}`,
          githubBaseUrl: `http://127.0.0.1:${port}/gh`,
          env: {},
        }),
        (err) => {
          isKind(
            "offline",
            /cache: nothing usable/,
            /npm: http:\/\/127\.0\.0\.1:\d+\/.*cannot connect/,
          )(err);
          isKind(
            "offline",
            /github: http:\/\/127\.0\.0\.1/,
            /extensionPath/,
            /SQLITE_SYNC_EXTENSION_PATH/,
          )(err);
          isKind("offline", /SQLITE_SYNC_MIRROR/, /SQLITE_SYNC_CACHE_DIR/)(err);
          assert.doesNotMatch((err as Error).message, /hunter2|robot/);
          return true;
        },
      );
    } finally {
      cache.cleanup();
    }
  });

  it("resolveExtension() in offline mode with an empty cache downloads nothing and explains why", async () => {
    await withFixture(async (f) => {
      for (const options of [{ offline: true }, { env: { SQLITE_SYNC_OFFLINE: "1" } }]) {
        await assert.rejects(
          resolveExtension(f.options({ version: V, platform: "linux-arm64", ...options })),
          isKind("not-found", /offline mode/, /extensionPath/, /SQLITE_SYNC_MIRROR/),
        );
      }
      assert.equal(f.server.count("/@sqliteai/sqlite-sync-linux-arm64"), 0);
      assert.deepEqual(f.cacheListing(), []);
    });
  });

  it("resolveExtension() never echoes a malformed registry or mirror value, which may hold a token", async () => {
    const secret = "s3cr3t-T0KEN";
    const cases: Parameters<typeof resolveExtension>[0][] = [
      { env: { SQLITE_SYNC_NPM_REGISTRY: `me:${secret}@npm.corp.example/` } },
      { env: { SQLITE_SYNC_MIRROR: `me:${secret}@mirror.corp.example/x` } },
      { npmRegistry: `ftp://me:${secret}@npm.corp.example/` },
      { githubBaseUrl: `me:${secret}@gh.corp.example` },
      { mirror: `relative/${secret}` },
    ];
    for (const options of cases) {
      await assert.rejects(resolveExtension({ cacheDir: "/nonexistent", ...options }), (err) => {
        assert.ok(err instanceof TypeError);
        assert.match(err.message, /'(npmRegistry|mirror|githubBaseUrl)' must be an http\(s\) URL/);
        assert.ok(!err.message.includes(secret), err.message);
        return true;
      });
    }
    await assert.rejects(
      resolveExtension({ cacheDir: "/nonexistent", npmRegistry: `ftp://me:${secret}@x/` }),
      /its protocol is 'ftp:'/,
    );
  });

  it("resolveExtension() rejects malformed options with TypeError or RangeError", async () => {
    const base = { cacheDir: "/nonexistent", env: {} };
    await assert.rejects(
      resolveExtension({ ...base, platform: "linux-arm" as PlatformId }),
      /linux-x86_64, linux-arm64/,
    );
    await assert.rejects(
      resolveExtension({ ...base, platform: "linux-arm" as PlatformId }),
      TypeError,
    );
    await assert.rejects(resolveExtension({ ...base, integrity: "md5-abc" }), TypeError);
    await assert.rejects(resolveExtension({ ...base, sources: [] }), TypeError);
    await assert.rejects(resolveExtension({ ...base, sources: ["pypi" as "npm"] }), TypeError);
    await assert.rejects(resolveExtension({ ...base, version: "../../etc" }), TypeError);
    await assert.rejects(resolveExtension({ ...base, npmRegistry: "ftp://x" }), TypeError);
    await assert.rejects(resolveExtension({ ...base, timeoutMs: 0 }), RangeError);
    await assert.rejects(resolveExtension({ ...base, deadlineMs: 0 }), /'deadlineMs' must be/);
    await assert.rejects(resolveExtension({ ...base, deadlineMs: -1 }), RangeError);
    await assert.rejects(resolveExtension({ ...base, deadlineMs: Infinity }), RangeError);
  });
});
