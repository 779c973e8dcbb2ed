/**
 * `sqlite-sync fetch` end to end in child processes: the real linux-x86_64
 * binary from the npm registry, and fixture packages for other platforms
 * served from 127.0.0.1. The folder it fills must work as is on a device
 * without network, as `SQLITE_SYNC_CACHE_DIR` and as `SQLITE_SYNC_MIRROR`.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { resolveExtension } from "../../../ffi/resolve.ts";
import { platformAsset, type PlatformId } from "../../../ffi/platform.ts";
import { progressReporter } from "../../../src/cli/fetch.ts";
import { refusedPort, tempDir } from "../../_helpers.ts";
import {
  bytes,
  dummyBinary,
  type FixtureServer,
  platformTarball,
  serveNpmPackage,
  sri,
  startFixtureServer,
} from "../../ffi/_fixture_server.ts";
import { assertJsonFailure, assertOneLineError, cli, jsonOf, shown } from "./_cli.ts";

const V = "1.1.4";

/** The files a fetched platform leaves under `<out>/<version>/`. */
function layoutOf(platform: PlatformId): string[] {
  const binary = platformAsset(platform).binaryName;
  return [
    `${platform}/${binary}`,
    `${platform}/LICENSE.md`,
    `${platform}/meta.json`,
    `sqlite-sync-${platform}-${V}.tgz`,
    `sqlite-sync-${platform}-${V}.tgz.integrity`,
  ];
}

/** Every file (not folder) under `<out>/<version>/`, sorted. */
function filesUnder(out: string): string[] {
  const root = join(out, V);
  return (readdirSync(root, { recursive: true }) as string[])
    .map(String)
    .filter((p) => !readdirSafe(join(root, p)))
    .sort();
}

function readdirSafe(path: string): boolean {
  try {
    readdirSync(path);
    return true;
  } catch {
    return false;
  }
}

describe("sqlite-sync fetch: the real linux-x86_64 binary from npm", () => {
  let dir: { path: string; cleanup: () => void };
  let out = "";
  let fetched: Record<string, unknown> = {};
  before(async () => {
    dir = tempDir();
    out = join(dir.path, "offline");
    const r = await cli(["fetch", "--platform", "linux-x86_64", "--out", out, "--json"], {
      timeoutMs: 120_000,
    });
    assert.equal(r.code, 0, shown(r));
    fetched = (JSON.parse(r.stdout).platforms as Record<string, unknown>[])[0];
  });
  after(() => dir.cleanup());

  it("fetch --json downloads it from npm, verified by the pins, into the cache and mirror layouts", () => {
    assert.equal(fetched.platform, "linux-x86_64");
    assert.equal(fetched.version, V);
    assert.equal(fetched.source, "npm");
    assert.match(String(fetched.verifiedBy), /the pinned npm tarball integrity/);
    assert.match(String(fetched.verifiedBy), /the pinned binary integrity/);
    assert.equal(fetched.mirrorNeedsIntegrity, false);
    assert.equal(fetched.binaryPath, join(out, V, "linux-x86_64", "cloudsync.so"));
    assert.equal(fetched.archivePath, join(out, V, `sqlite-sync-linux-x86_64-${V}.tgz`));
    assert.deepEqual(filesUnder(out), layoutOf("linux-x86_64").sort());
    const sidecar = readFileSync(`${fetched.archivePath}.integrity`, "utf8").trim();
    assert.equal(sidecar, fetched.archiveIntegrity);
  });

  it("the folder works as SQLITE_SYNC_CACHE_DIR on a device without network (doctor, offline)", async () => {
    const r = await cli(["doctor", "--json"], {
      env: { SQLITE_SYNC_CACHE_DIR: out, SQLITE_SYNC_OFFLINE: "1" },
    });
    const report = jsonOf(r) as { ok: boolean; extension: Record<string, unknown> };
    assert.equal(report.ok, true, shown(r));
    assert.equal(report.extension.source, "cache");
    assert.equal(report.extension.verified, true);
    assert.equal(report.extension.path, fetched.binaryPath);
    assert.equal(report.extension.version, "1.1.4");
  });

  it("the folder works as SQLITE_SYNC_MIRROR as is for a pinned platform (doctor, empty cache)", async () => {
    const cache = join(dir.path, "device-cache");
    const r = await cli(["doctor", "--json"], {
      env: { SQLITE_SYNC_MIRROR: out, SQLITE_SYNC_CACHE_DIR: cache },
    });
    const report = jsonOf(r) as { ok: boolean; extension: Record<string, unknown> };
    assert.equal(report.ok, true, shown(r));
    assert.equal(report.extension.source, "mirror");
    assert.equal(report.extension.verified, true);
    assert.equal(report.extension.path, join(cache, V, "linux-x86_64", "cloudsync.so"));
  });

  it("a second fetch into the same folder downloads nothing: 'already present', even with no registry reachable", async () => {
    const registry = `http://127.0.0.1:${await refusedPort()}`;
    const r = await cli([
      "fetch",
      "--platform",
      "linux-x86_64",
      "--out",
      out,
      "--registry",
      registry,
    ]);
    assert.equal(r.code, 0, shown(r));
    assert.match(
      r.stdout,
      /^linux-x86_64: already present, verified by the pinned npm tarball integrity/,
    );
    assert.equal(r.stderr, "");
  });

  it("fetch --mirror copies a fetched folder into another one, verified by the pins", async () => {
    const copy = join(dir.path, "copy");
    const r = await cli([
      "fetch",
      "--platform",
      "linux-x86_64",
      "--mirror",
      out,
      "--out",
      copy,
      "--json",
    ]);
    const got = (jsonOf(r).platforms as Record<string, unknown>[])[0];
    assert.equal(got.source, "mirror");
    assert.match(String(got.verifiedBy), /the pinned npm tarball integrity/);
    assert.deepEqual(filesUnder(copy), layoutOf("linux-x86_64").sort());
    assert.deepEqual(
      readFileSync(String(got.archivePath)),
      readFileSync(String(fetched.archivePath)),
    );
  });

  it("fetch refuses a tampered archive from a mirror: exit 1, one line, nothing installed", async () => {
    const server = await startFixtureServer();
    try {
      const archive = readFileSync(String(fetched.archivePath));
      const tampered = new Uint8Array(archive);
      tampered[tampered.length - 20] ^= 0xff;
      server.route(`/m/${V}/sqlite-sync-linux-x86_64-${V}.tgz`, bytes(tampered));
      const target = join(dir.path, "tampered");
      const r = await cli([
        "fetch",
        "--platform",
        "linux-x86_64",
        "--mirror",
        `${server.url}/m`,
        "--out",
        target,
      ]);
      // The download finished (its progress line), then verification refused it: one error line.
      assert.match(r.stderr, /^downloaded sqlite-sync-linux-x86_64-1\.1\.4\.tgz \(.*\)\n/);
      const errorOnly = { ...r, stderr: r.stderr.replace(/^downloaded .*\n/, "") };
      assertOneLineError(
        errorOnly,
        1,
        /^sqlite-sync: fetch failed \(integrity\): Cannot prefetch .*integrity mismatch, the pinned npm tarball integrity expects/,
      );
      assert.equal(existsSync(join(target, V, "linux-x86_64", "cloudsync.so")), false);
      assert.equal(existsSync(join(target, V, `sqlite-sync-linux-x86_64-${V}.tgz`)), false);
    } finally {
      await server.close();
    }
  });
});

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

describe("sqlite-sync fetch: a failed fetch", () => {
  let dir: { path: string; cleanup: () => void };
  before(() => {
    dir = tempDir();
  });
  after(() => dir.cleanup());

  it("a fetch from a refused mirror exits 1 and leaves none of the folders it created (<out>, its missing parents, <out>/<version>)", async () => {
    const mirror = `http://127.0.0.1:${await refusedPort()}/m`;
    const out = join(dir.path, "new", "nested", "out");
    const r = await cli(["fetch", "--platform", "linux-x86_64", "--mirror", mirror, "--out", out]);
    assertOneLineError(r, 1, /^sqlite-sync: fetch failed \(offline\): Cannot prefetch /);
    assert.deepEqual(readdirSync(dir.path), []);
  });

  it("a fetch --json of two platforms into an existing empty folder from a refused mirror prints one JSON failure and leaves the folder empty", async () => {
    const mirror = `http://127.0.0.1:${await refusedPort()}/m`;
    const out = join(dir.path, "existing");
    mkdirSync(out);
    const r = await cli([
      "fetch",
      "--platform",
      "linux-x86_64",
      "--platform",
      "linux-arm64",
      "--mirror",
      mirror,
      "--out",
      out,
      "--json",
    ]);
    assertJsonFailure(r, 1, "offline", /^fetch failed \(offline\): Cannot prefetch /);
    assert.deepEqual(readdirSync(out), []);
  });
});

describe("sqlite-sync fetch: progress", () => {
  const done = { url: "https://registry.example/p/-/p-1.1.4.tgz", received: 2048, total: 2048 };

  it("progressReporter() redraws one bar with \\r on a terminal", () => {
    const written: string[] = [];
    const report = progressReporter({ isTTY: true, write: (t) => written.push(t) }, {});
    report({ ...done, received: 1024 });
    report(done);
    assert.match(written[0], /^\rp-1\.1\.4\.tgz \[#{12}-{12}\] {2}50% 1\.0 KB\/2\.0 KB$/);
    assert.match(written.join(""), /\rp-1\.1\.4\.tgz \[#{24}\] 100% 2\.0 KB\/2\.0 KB\n$/);
  });

  it("progressReporter() prints one plain line per finished download when not on a terminal", () => {
    const written: string[] = [];
    const report = progressReporter({ isTTY: false, write: (t) => written.push(t) }, {});
    report({ ...done, received: 1024 });
    report(done);
    report(done);
    assert.deepEqual(written, ["downloaded p-1.1.4.tgz (2.0 KB)\n"]);
  });

  it("progressReporter() prints plain lines on a terminal under CI", () => {
    const written: string[] = [];
    const report = progressReporter({ isTTY: true, write: (t) => written.push(t) }, { CI: "true" });
    report(done);
    assert.deepEqual(written, ["downloaded p-1.1.4.tgz (2.0 KB)\n"]);
  });
});
