import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { resolveExtension } from "../../ffi/resolve.ts";
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

  it("resolveExtension() uses only the mirror from SQLITE_SYNC_MIRROR, verified by its sidecar", async () => {
    await withFixture(async (f) => {
      const tarball = await packageFor("linux-x86_64-musl");
      const path = `/mirror/${V}/sqlite-sync-linux-x86_64-musl-${V}.tgz`;
      f.server.route(path, bytes(tarball));
      f.server.route(`${path}.integrity`, bytes(`${sri(tarball)}\n`));
      const resolved = await resolveExtension(f.options({
        version: V,
        platform: "linux-x86_64-musl",
        env: { SQLITE_SYNC_MIRROR: `${f.server.url}/mirror/` },
      }));
      assert.equal(resolved.source, "mirror");
      assert.equal(f.server.count("/@sqliteai/sqlite-sync-linux-x86_64-musl"), 0);
      assert.ok(existsSync(join(f.cacheDir, V, "linux-x86_64-musl", "LICENSE.md")));
    });
  });

  it("resolveExtension() refuses a mirror archive whose sidecar disagrees", async () => {
    await withFixture(async (f) => {
      const path = `/mirror/${V}/sqlite-sync-linux-arm64-${V}.tgz`;
      f.server.route(path, bytes(await packageFor("linux-arm64")));
      f.server.route(`${path}.integrity`, bytes(sri(new Uint8Array([0]))));
      await assert.rejects(
        resolveExtension(
          f.options({ version: V, platform: "linux-arm64", mirror: `${f.server.url}/mirror` }),
        ),
        isKind("integrity", /mirror's \.integrity file/),
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
          f.options({ version: V, platform: "win32-x86_64", mirror: mirror.path }),
        );
        assert.equal(resolved.source, "mirror");
        assert.ok(resolved.path.endsWith("cloudsync.dll"));
      } finally {
        mirror.cleanup();
      }
    });
  });
});
