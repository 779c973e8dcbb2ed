/**
 * `sqlite-sync fetch` of platforms without pins, from fixture packages served by a registry on
 * 127.0.0.1: verified by the registry's dist.integrity, plain lines when stderr is not a
 * terminal, the folder as a cache directory and as a mirror (refused alone, accepted with the
 * printed integrity), and `--integrity` misused.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { resolveExtension } from "../../../ffi/resolve.ts";
import { platformAsset, type PlatformId } from "../../../ffi/platform.ts";
import { tempDir } from "../../_helpers.ts";
import {
  dummyBinary,
  type FixtureServer,
  platformTarball,
  serveNpmPackage,
  sri,
  startFixtureServer,
} from "../../ffi/_fixture_server.ts";
import { assertOneLineError, cli, jsonOf, shown } from "./_cli.ts";
import { filesUnder, layoutOf, V } from "./_fetch_fixtures.ts";

describe("sqlite-sync fetch: platforms without pins from a registry on 127.0.0.1", () => {
  const PLATFORMS = ["linux-arm64", "darwin-arm64"] as const;
  let dir: { path: string; cleanup: () => void };
  let server: FixtureServer;
  const tarballs = new Map<PlatformId, Uint8Array>();
  before(async () => {
    dir = tempDir();
    server = await startFixtureServer();
    for (const platform of PLATFORMS) {
      const tarball = await platformTarball(platform, dummyBinary(platform), V);
      tarballs.set(platform, tarball);
      serveNpmPackage(server, platformAsset(platform).npmPackage, V, tarball);
    }
  });
  after(async () => {
    await server.close();
    dir.cleanup();
  });

  const fetchBoth = (out: string, ...extra: string[]) =>
    cli([
      "fetch",
      ...PLATFORMS.flatMap((p) => ["--platform", p]),
      "--out",
      out,
      "--registry",
      server.url,
      ...extra,
    ]);

  it("fetch --json fetches each platform, verified by the registry's dist.integrity, into both layouts", async () => {
    const out = join(dir.path, "both");
    const result = jsonOf(await fetchBoth(out, "--json"));
    const got = result.platforms as Record<string, unknown>[];
    assert.deepEqual(got.map((p) => p.platform), [...PLATFORMS]);
    for (const [i, platform] of PLATFORMS.entries()) {
      assert.equal(got[i].source, "npm");
      assert.equal(got[i].verifiedBy, "the registry's dist.integrity");
      assert.equal(got[i].mirrorNeedsIntegrity, true);
      assert.equal(got[i].archiveIntegrity, sri(tarballs.get(platform)!));
      assert.deepEqual(
        new Uint8Array(readFileSync(String(got[i].archivePath))),
        tarballs.get(platform),
      );
      assert.deepEqual(
        new Uint8Array(readFileSync(String(got[i].binaryPath))),
        dummyBinary(platform),
      );
    }
    assert.deepEqual(filesUnder(out), PLATFORMS.flatMap((p) => layoutOf(p)).sort());
  });

  it("fetch prints plain lines, no progress bar, when stderr is not a terminal", async () => {
    const out = join(dir.path, "plain");
    const r = await fetchBoth(out);
    assert.equal(r.code, 0, shown(r));
    assert.doesNotMatch(r.stderr, /\r/);
    for (const platform of PLATFORMS) {
      const size = tarballs.get(platform)!.length;
      assert.match(
        r.stderr,
        new RegExp(`^downloaded sqlite-sync-${platform}-${V}\\.tgz \\(${size} B\\)$`, "m"),
      );
      assert.match(
        r.stdout,
        new RegExp(
          `^${platform}: fetched from npm, verified by the registry's dist\\.integrity$`,
          "m",
        ),
      );
      assert.match(
        r.stdout,
        new RegExp(
          `^ {2}as a mirror, pass integrity ${
            sri(tarballs.get(platform)!).replace(/[+/]/g, "\\$&")
          }$`,
          "m",
        ),
      );
    }
  });

  it("the folder is a cache directory for a platform without pins: resolveExtension() finds it offline", async () => {
    const out = join(dir.path, "as-cache");
    assert.equal((await fetchBoth(out)).code, 0);
    const found = await resolveExtension({
      platform: "linux-arm64",
      cacheDir: out,
      offline: true,
      env: {},
    });
    assert.equal(found.source, "cache");
    assert.equal(found.verified, true);
    assert.equal(found.path, join(out, V, "linux-arm64", "cloudsync.so"));
  });

  it("as a mirror, a platform without pins is refused alone and accepted with the printed integrity", async () => {
    const out = join(dir.path, "as-mirror");
    const got = (jsonOf(await fetchBoth(out, "--json")).platforms as Record<string, unknown>[])[1];
    const device = (name: string) => ({
      platform: "darwin-arm64" as const,
      mirror: out,
      cacheDir: join(dir.path, name),
      env: {},
    });
    await assert.rejects(resolveExtension(device("refused")), /no integrity is known/);
    const found = await resolveExtension({
      ...device("accepted"),
      integrity: String(got.archiveIntegrity),
    });
    assert.equal(found.source, "mirror");
    assert.deepEqual(new Uint8Array(readFileSync(found.path)), dummyBinary("darwin-arm64"));
  });

  it("fetch --mirror of a platform without pins is refused alone (exit 1) and accepted with --integrity", async () => {
    const mirror = join(dir.path, "mirror-source");
    const first =
      (jsonOf(await fetchBoth(mirror, "--json")).platforms as Record<string, unknown>[])[0];
    const fromMirror = (out: string, ...extra: string[]) =>
      cli(["fetch", "--platform", "linux-arm64", "--mirror", mirror, "--out", out, ...extra]);
    const refused = await fromMirror(join(dir.path, "mirror-refused"));
    assertOneLineError(
      refused,
      1,
      /^sqlite-sync: fetch failed \(integrity\): Cannot prefetch the sqlite-sync extension 1\.1\.4 for linux-arm64: mirror: .*no integrity is known .*Pass the archive's SRI \(sha512-…\) with --integrity to accept it\.$/,
    );
    const copy = join(dir.path, "mirror-accepted");
    const accepted = await fromMirror(
      copy,
      "--integrity",
      String(first.archiveIntegrity),
      "--json",
    );
    const got = (jsonOf(accepted).platforms as Record<string, unknown>[])[0];
    assert.equal(got.source, "mirror");
    assert.match(String(got.verifiedBy), /the 'integrity' option/);
    assert.deepEqual(
      new Uint8Array(readFileSync(String(got.binaryPath))),
      dummyBinary("linux-arm64"),
    );
  });

  it("fetch --integrity with two platforms, or a malformed one, exits 2 with one line", async () => {
    const twice = await fetchBoth(join(dir.path, "x"), "--integrity", "sha512-AAAA");
    assertOneLineError(
      twice,
      2,
      /--integrity names one archive: give exactly one --platform with it/,
    );
    const malformed = await cli([
      "fetch",
      "--platform",
      "linux-arm64",
      "--out",
      join(dir.path, "y"),
      "--integrity",
      "md5-not-a-hash",
    ]);
    assertOneLineError(
      malformed,
      2,
      /Cannot use --integrity: expected an SRI string such as 'sha512-<base64>'$/,
    );
    assert.doesNotMatch(malformed.stderr, /not-a-hash/);
  });
});
