import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { resolveExtension } from "../../ffi/resolve.ts";
import { PINS } from "../../ffi/pins.ts";
import { PLATFORM_IDS, platformAsset, type PlatformId } from "../../ffi/platform.ts";
import { isKind, itUnless, refusedPort, tempDir, testExtensionPath } from "../_helpers.ts";
import { closeConnection, openDatabase } from "../../ffi/open.ts";
import {
  bytes,
  dummyBinary as dummy,
  LICENSE_TEXT,
  noResponse,
  platformTarball as packageFor,
  redirect,
  serveNpmPackage,
  sri,
  stallAfterHeaders,
  status,
  truncated,
  withFixture,
} from "./_fixture_server.ts";
import { cloudsyncVersion } from "./_resolve_child.ts";

const V = "0.0.0-test";
const host = `${process.platform}-${process.arch}`;

describe("resolveExtension() from the npm registry", () => {
  for (const platform of PLATFORM_IDS.filter((p) => p !== "linux-x86_64")) {
    it(`resolveExtension() installs the ${platform} npm package into the cache and reuses it`, async () => {
      await withFixture(async (f) => {
        const asset = platformAsset(platform);
        const tarball = await packageFor(platform);
        const { tarballPath } = serveNpmPackage(f.server, asset.npmPackage, V, tarball);
        const first = await resolveExtension(f.options({ version: V, platform }));
        const dir = join(f.cacheDir, V, platform);
        assert.deepEqual(first, {
          path: join(dir, asset.binaryName),
          version: V,
          platform,
          source: "npm",
          verified: true,
          integrity: sri(dummy(platform)),
          cacheDir: f.cacheDir,
        });
        assert.deepEqual(readFileSync(first.path), Buffer.from(dummy(platform)));
        assert.equal(readFileSync(join(dir, "LICENSE.md"), "utf8"), LICENSE_TEXT);
        const meta = JSON.parse(readFileSync(join(dir, "meta.json"), "utf8"));
        assert.equal(meta.source, "npm");
        assert.equal(meta.url, `${f.server.url}${tarballPath}`);
        assert.equal(meta.archiveIntegrity, sri(tarball));
        assert.equal(meta.binaryIntegrity, sri(dummy(platform)));
        assert.ok(!Number.isNaN(Date.parse(meta.fetchedAt)));
        assert.deepEqual(
          f.cacheListing(),
          [
            V,
            join(V, platform),
            ...[asset.binaryName, "LICENSE.md", "meta.json"].map((n) => join(V, platform, n))
              .sort(),
          ].sort(),
        );

        const second = await resolveExtension(f.options({ version: V, platform }));
        assert.equal(second.source, "cache");
        assert.equal(second.path, first.path);
        assert.equal(f.server.count(tarballPath), 1);
      });
    });
  }

  it("resolveExtension() refuses a tarball that does not match the registry's integrity and caches nothing", async () => {
    await withFixture(async (f) => {
      const tarball = await packageFor("darwin-arm64");
      serveNpmPackage(f.server, platformAsset("darwin-arm64").npmPackage, V, tarball, {
        integrity: sri(new Uint8Array([1, 2, 3])),
      });
      await assert.rejects(
        resolveExtension(f.options({ version: V, platform: "darwin-arm64", sources: ["npm"] })),
        isKind("integrity", /integrity mismatch/, /registry's dist\.integrity/, /refused/),
      );
      assert.deepEqual(f.cacheListing(), []);
    });
  });

  it("resolveExtension() refuses a tarball that mismatches the pin even when the registry agrees", async () => {
    await withFixture(async (f) => {
      const version = "0.0.0-pinned";
      const tarball = await packageFor("linux-arm64", undefined, version);
      serveNpmPackage(f.server, platformAsset("linux-arm64").npmPackage, version, tarball);
      const pins = PINS as Record<string, unknown>;
      pins[version] = { "linux-arm64": { npmTarball: sri(new Uint8Array([9])) } };
      try {
        await assert.rejects(
          resolveExtension(f.options({ version, platform: "linux-arm64", sources: ["npm"] })),
          isKind("integrity", /pinned npm tarball integrity/),
        );
        assert.deepEqual(f.cacheListing(), []);
      } finally {
        delete pins[version];
      }
    });
  });

  it("resolveExtension() refuses a truncated tarball and caches nothing", async () => {
    await withFixture(async (f) => {
      const tarball = await packageFor("win32-x86_64");
      serveNpmPackage(f.server, platformAsset("win32-x86_64").npmPackage, V, tarball, {
        tarballHandler: truncated(tarball, 40),
      });
      await assert.rejects(
        resolveExtension(f.options({ version: V, platform: "win32-x86_64", sources: ["npm"] })),
        isKind("not-found", /npm: .*(connection lost|truncated)/),
      );
      assert.deepEqual(f.cacheListing(), []);
    });
  });

  it("resolveExtension() follows a 302 redirect to the real tarball", async () => {
    await withFixture(async (f) => {
      const tarball = await packageFor("darwin-x86_64");
      f.server.route("/files/real.tgz", bytes(tarball));
      const { tarballPath } = serveNpmPackage(
        f.server,
        platformAsset("darwin-x86_64").npmPackage,
        V,
        tarball,
        {
          tarballHandler: redirect("/files/real.tgz"),
        },
      );
      const resolved = await resolveExtension(f.options({ version: V, platform: "darwin-x86_64" }));
      assert.equal(resolved.source, "npm");
      assert.equal(f.server.count(tarballPath), 1);
      assert.equal(f.server.count("/files/real.tgz"), 1);
    });
  });

  it("resolveExtension() reports download progress through onProgress", async () => {
    await withFixture(async (f) => {
      const tarball = await packageFor("linux-arm64-musl");
      serveNpmPackage(f.server, platformAsset("linux-arm64-musl").npmPackage, V, tarball);
      const seen: number[] = [];
      await resolveExtension(f.options({
        version: V,
        platform: "linux-arm64-musl",
        onProgress: (p) => seen.push(p.received),
      }));
      assert.equal(seen.at(-1), tarball.byteLength);
    });
  });

  it("resolveExtension() reports a missing version with the versions the registry has", async () => {
    await withFixture(async (f) => {
      serveNpmPackage(
        f.server,
        platformAsset("linux-arm64").npmPackage,
        "9.9.9",
        await packageFor("linux-arm64"),
      );
      await assert.rejects(
        resolveExtension(f.options({ version: V, platform: "linux-arm64", sources: ["npm"] })),
        isKind("not-found", /has no version 0\.0\.0-test \(latest published: 9\.9\.9\)/),
      );
    });
  });
});

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

describe("resolveExtension() with an explicit path", () => {
  it("resolveExtension() returns an existing extensionPath unverified, and verified with a matching integrity", async () => {
    const dir = tempDir();
    try {
      const file = join(dir.path, "cloudsync.so");
      writeFileSync(file, dummy("x"));
      const plain = await resolveExtension({
        extensionPath: file,
        platform: "linux-x86_64",
        env: {},
      });
      assert.deepEqual(plain, {
        path: file,
        version: "1.1.4",
        platform: "linux-x86_64",
        source: "option",
        verified: false,
        integrity: sri(dummy("x")),
      });
      const checked = await resolveExtension({
        extensionPath: file,
        integrity: sri(dummy("x")),
        env: {},
      });
      assert.equal(checked.verified, true);
      await assert.rejects(
        resolveExtension({ extensionPath: file, integrity: sri(dummy("y")), env: {} }),
        isKind("integrity", /does not match the 'integrity' option/),
      );
      const fromEnv = await resolveExtension({ env: { SQLITE_SYNC_EXTENSION_PATH: file } });
      assert.equal(fromEnv.source, "env");
    } finally {
      dir.cleanup();
    }
  });

  it("resolveExtension() reports an explicit binary verified when it matches the pinned binary, and a mismatch unverified", async () => {
    const dir = tempDir();
    const version = "0.0.0-explicit-pin";
    const pins = PINS as Record<string, unknown>;
    pins[version] = { "linux-arm64": { binary: sri(dummy("pinned")) } };
    try {
      const good = join(dir.path, "good.so");
      const other = join(dir.path, "other.so");
      writeFileSync(good, dummy("pinned"));
      writeFileSync(other, dummy("something else"));
      const base = { version, platform: "linux-arm64" as const };
      const matching = await resolveExtension({ ...base, extensionPath: good, env: {} });
      assert.equal(matching.verified, true);
      const fromEnv = await resolveExtension({
        ...base,
        env: { SQLITE_SYNC_EXTENSION_PATH: good },
      });
      assert.deepEqual([fromEnv.source, fromEnv.verified], ["env", true]);
      const mismatch = await resolveExtension({ ...base, extensionPath: other, env: {} });
      assert.deepEqual([mismatch.path, mismatch.verified], [other, false]);
    } finally {
      delete pins[version];
      dir.cleanup();
    }
  });

  itUnless(
    host === "linux-x64"
      ? undefined
      : `the real binary only loads on linux-x64, this host is ${host}`,
    "openDatabase() loads an explicit 1.1.4 binary that differs from the pinned one, reported unverified",
    async () => {
      const dir = tempDir();
      try {
        // The real binary plus one trailing byte: still a loadable library, no longer the pin.
        const real = readFileSync(await testExtensionPath());
        const changed = join(dir.path, "cloudsync.so");
        writeFileSync(changed, Buffer.concat([real, Buffer.from([0])]));
        const pinned = PINS["1.1.4"]["linux-x86_64"]?.binary;
        const { driver, extension } = await openDatabase(join(dir.path, "app.db"), {
          extensionPath: changed,
          version: "1.1.4",
          platform: "linux-x86_64",
          env: {},
        });
        try {
          assert.equal(extension.path, changed);
          assert.equal(extension.source, "option");
          assert.equal(extension.verified, false);
          assert.notEqual(extension.integrity, pinned);
          assert.equal(driver.prepare("SELECT cloudsync_version() AS v").get()?.v, "1.1.4");
        } finally {
          closeConnection(driver);
        }
      } finally {
        dir.cleanup();
      }
    },
  );

  it("resolveExtension() refuses an extensionPath that does not exist, naming it", async () => {
    await assert.rejects(
      resolveExtension({
        extensionPath: "/nowhere/cloudsync.so",
        env: { SQLITE_SYNC_EXTENSION_PATH: "/x" },
      }),
      isKind("not-found", /'\/nowhere\/cloudsync\.so'/, /'extensionPath' option/),
    );
    await assert.rejects(
      resolveExtension({ env: { SQLITE_SYNC_EXTENSION_PATH: "/nowhere/env.so" } }),
      isKind("not-found", /'\/nowhere\/env\.so'/, /SQLITE_SYNC_EXTENSION_PATH/),
    );
  });
});

describe("resolveExtension() with the real npm registry", () => {
  itUnless(
    host === "linux-x64"
      ? undefined
      : `the real binary only loads on linux-x64, this host is ${host}`,
    "resolveExtension() downloads, verifies and loads linux-x86_64 1.1.4 into an empty cache",
    async () => {
      const cache = tempDir();
      try {
        const resolved = await resolveExtension({
          version: "1.1.4",
          platform: "linux-x86_64",
          cacheDir: cache.path,
          env: {},
        });
        assert.equal(resolved.source, "npm");
        assert.equal(resolved.verified, true);
        assert.equal(resolved.integrity, PINS["1.1.4"]["linux-x86_64"]?.binary);
        assert.ok(existsSync(join(cache.path, "1.1.4", "linux-x86_64", "LICENSE.md")));
        assert.equal(await cloudsyncVersion(resolved.path), "1.1.4");
      } finally {
        cache.cleanup();
      }
    },
  );
});
