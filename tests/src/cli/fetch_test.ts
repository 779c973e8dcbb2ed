/**
 * `sqlite-sync fetch` end to end in child processes: the real linux-x86_64 binary from the npm
 * registry, whose folder must work as is on a device without network, as
 * `SQLITE_SYNC_CACHE_DIR` and as `SQLITE_SYNC_MIRROR`; a failed fetch, which leaves no folder
 * behind; the progress it prints. Platforms without pins, from a registry on 127.0.0.1, are
 * fetch_registry_test.ts's part.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { progressReporter } from "../../../src/cli/fetch.ts";
import { refusedPort, tempDir } from "../../_helpers.ts";
import { bytes, startFixtureServer } from "../../ffi/_fixture_server.ts";
import { assertJsonFailure, assertOneLineError, cli, jsonOf, shown } from "./_cli.ts";
import { filesUnder, layoutOf, V } from "./_fetch_fixtures.ts";

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
