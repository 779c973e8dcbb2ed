/**
 * resolveExtension() from the npm registry: a fixture registry serving each
 * platform's package (installed into the cache, reused, checked against the
 * registry's integrity and the pins, truncated, redirected, with progress,
 * a missing version), and the real registry's linux-x86_64 1.1.4. Failures
 * are in resolve_failures_test.ts, explicit paths in
 * resolve_explicit_path_test.ts.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { resolveExtension } from "../../ffi/resolve.ts";
import { PINS } from "../../ffi/pins.ts";
import { PLATFORM_IDS, platformAsset } from "../../ffi/platform.ts";
import { isKind, itUnless, tempDir } from "../_helpers.ts";
import {
  bytes,
  dummyBinary as dummy,
  LICENSE_TEXT,
  platformTarball as packageFor,
  redirect,
  serveNpmPackage,
  sri,
  truncated,
  withFixture,
} from "./_fixture_server.ts";
import { cloudsyncVersion } from "./_resolve_child.ts";
import { host, V } from "./_resolve_fixtures.ts";

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
