import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { resolveExtension } from "../../ffi/resolve.ts";
import { PINS } from "../../ffi/pins.ts";
import { isKind, tempDir } from "../_helpers.ts";
import {
  bytes,
  dummyBinary as dummy,
  LICENSE_TEXT,
  platformTarball as packageFor,
  sri,
  tarGz,
  withFixture,
  zip,
} from "./_fixture_server.ts";

const V = "0.0.0-test";

describe("resolveExtension() from GitHub releases and mirrors", () => {
  const release = "cloudsync-macos-arm64";
  const files = {
    [`${release}/cloudsync.dylib`]: dummy("darwin-arm64"),
    [`${release}/LICENSE.md`]: LICENSE_TEXT,
  };
  const ghPath = (ext: string): string => `/gh/${V}/${release}-${V}.${ext}`;

  it("resolveExtension() falls back from an npm 404 to a GitHub .tar.gz accepted by the user's integrity", async () => {
    await withFixture(async (f) => {
      const archive = await tarGz({ "README.md": "x", ...files });
      f.server.route(ghPath("tar.gz"), bytes(archive));
      const resolved = await resolveExtension(
        f.options({ version: V, platform: "darwin-arm64", integrity: sri(archive) }),
      );
      assert.equal(resolved.source, "github");
      assert.equal(resolved.verified, true);
      assert.equal(f.server.count("/@sqliteai/sqlite-sync-darwin-arm64"), 1);
      assert.deepEqual(readFileSync(resolved.path), Buffer.from(dummy("darwin-arm64")));
      assert.equal(
        readFileSync(join(f.cacheDir, V, "darwin-arm64", "LICENSE.md"), "utf8"),
        LICENSE_TEXT,
      );
    });
  });

  it("resolveExtension() takes the GitHub .zip when the .tar.gz is 404, verified by the binary's hash", async () => {
    await withFixture(async (f) => {
      f.server.route(ghPath("zip"), bytes(zip(files)));
      const resolved = await resolveExtension(f.options({
        version: V,
        platform: "darwin-arm64",
        sources: ["github"],
        integrity: sri(dummy("darwin-arm64")),
      }));
      assert.equal(resolved.source, "github");
      assert.equal(f.server.count(ghPath("tar.gz")), 1);
      assert.equal(f.server.count(ghPath("zip")), 1);
    });
  });

  it("resolveExtension() refuses a GitHub archive when no integrity is known", async () => {
    await withFixture(async (f) => {
      f.server.route(ghPath("tar.gz"), bytes(await tarGz(files)));
      await assert.rejects(
        resolveExtension(f.options({ version: V, platform: "darwin-arm64", sources: ["github"] })),
        isKind("integrity", /no integrity is known/, /'integrity' option/),
      );
      assert.deepEqual(f.cacheListing(), []);
    });
  });

  it("resolveExtension() uses only the mirror from SQLITE_SYNC_MIRROR, accepted by the user's integrity and checked against its sidecar", async () => {
    await withFixture(async (f) => {
      const tarball = await packageFor("linux-x86_64-musl");
      const path = `/mirror/${V}/sqlite-sync-linux-x86_64-musl-${V}.tgz`;
      f.server.route(path, bytes(tarball));
      f.server.route(`${path}.integrity`, bytes(`${sri(tarball)}\n`));
      const resolved = await resolveExtension(f.options({
        version: V,
        platform: "linux-x86_64-musl",
        integrity: sri(tarball),
        env: { SQLITE_SYNC_MIRROR: `${f.server.url}/mirror/` },
      }));
      assert.equal(resolved.source, "mirror");
      assert.equal(resolved.verified, true);
      assert.equal(f.server.count("/@sqliteai/sqlite-sync-linux-x86_64-musl"), 0);
      assert.equal(f.server.count(`${path}.integrity`), 1);
      assert.ok(existsSync(join(f.cacheDir, V, "linux-x86_64-musl", "LICENSE.md")));
      const meta = JSON.parse(
        readFileSync(join(f.cacheDir, V, "linux-x86_64-musl", "meta.json"), "utf8"),
      );
      assert.equal(meta.verifiedBy, "the 'integrity' option, the mirror's .integrity file");
    });
  });

  it("resolveExtension() refuses a mirror archive that only the mirror's own sidecar vouches for", async () => {
    await withFixture(async (f) => {
      // A hostile mirror serves any binary with a matching .integrity file.
      const evil = await packageFor("linux-arm64", new TextEncoder().encode("evil"));
      const path = `/mirror/${V}/sqlite-sync-linux-arm64-${V}.tgz`;
      f.server.route(path, bytes(evil));
      f.server.route(`${path}.integrity`, bytes(sri(evil)));
      await assert.rejects(
        resolveExtension(
          f.options({ version: V, platform: "linux-arm64", mirror: `${f.server.url}/mirror` }),
        ),
        isKind("integrity", /no integrity is known/, /\.integrity file only guards/, /'integrity'/),
      );
      assert.equal(f.server.count(path), 0, "nothing downloaded");
      assert.deepEqual(f.cacheListing(), []);
    });
  });

  it("resolveExtension() accepts a mirror archive without a sidecar when it matches the pinned binary", async () => {
    await withFixture(async (f) => {
      const version = "0.0.0-mirror-pin";
      const tarball = await packageFor("linux-arm64", undefined, version);
      const pins = PINS as Record<string, unknown>;
      pins[version] = { "linux-arm64": { binary: sri(dummy("linux-arm64")) } };
      try {
        f.server.route(`/mirror/${version}/sqlite-sync-linux-arm64-${version}.tgz`, bytes(tarball));
        const resolved = await resolveExtension(
          f.options({ version, platform: "linux-arm64", mirror: `${f.server.url}/mirror` }),
        );
        assert.equal(resolved.source, "mirror");
        assert.equal(resolved.verified, true);
      } finally {
        delete pins[version];
      }
    });
  });

  it("resolveExtension() refuses a mirror archive whose sidecar disagrees, even when the user's integrity matches", async () => {
    await withFixture(async (f) => {
      const tarball = await packageFor("linux-arm64");
      const path = `/mirror/${V}/sqlite-sync-linux-arm64-${V}.tgz`;
      f.server.route(path, bytes(tarball));
      f.server.route(`${path}.integrity`, bytes(sri(new Uint8Array([0]))));
      await assert.rejects(
        resolveExtension(f.options({
          version: V,
          platform: "linux-arm64",
          mirror: `${f.server.url}/mirror`,
          integrity: sri(tarball),
        })),
        isKind("integrity", /mirror's \.integrity file/),
      );
      assert.deepEqual(f.cacheListing(), []);
    });
  });

  it("resolveExtension() no longer trusts a cached mirror download that only its sidecar verified", async () => {
    await withFixture(async (f) => {
      const dir = join(f.cacheDir, V, "linux-arm64");
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, "cloudsync.so"), dummy("linux-arm64"));
      writeFileSync(
        join(dir, "meta.json"),
        JSON.stringify({
          version: V,
          platform: "linux-arm64",
          source: "mirror",
          url: "http://mirror.example/x.tgz",
          archiveIntegrity: "sha512-AAAA",
          binaryIntegrity: sri(dummy("linux-arm64")),
          verifiedBy: "the mirror's .integrity file",
          fetchedAt: new Date().toISOString(),
        }),
      );
      await assert.rejects(
        resolveExtension(f.options({ version: V, platform: "linux-arm64", offline: true })),
        isKind("integrity", /verified only by a mirror's \.integrity file/),
      );
    });
  });

  it("resolveExtension() reads a mirror that is a local directory", async () => {
    await withFixture(async (f) => {
      const mirror = tempDir("sqlite-sync-mirror-");
      try {
        const tarball = await packageFor("win32-x86_64");
        mkdirSync(join(mirror.path, V));
        const file = join(mirror.path, V, `sqlite-sync-win32-x86_64-${V}.tgz`);
        writeFileSync(file, tarball);
        writeFileSync(`${file}.integrity`, sri(tarball));
        const resolved = await resolveExtension(
          f.options({
            version: V,
            platform: "win32-x86_64",
            mirror: mirror.path,
            integrity: sri(tarball),
          }),
        );
        assert.equal(resolved.source, "mirror");
        assert.ok(resolved.path.endsWith("cloudsync.dll"));
      } finally {
        mirror.cleanup();
      }
    });
  });
});
