/**
 * Secrets canary, resolution side: each download source (npm registry, GitHub
 * releases, mirror) with the canary password in its URL, failing every way
 * the fixture server can make it (a malformed dist.tarball or dist.integrity,
 * 500s, 404s, a bad hash, a stall, a refused port, a host that does not
 * resolve, a malformed mirror .integrity, no known integrity), a registry
 * echoing the Authorization header (Basic, the password inside) in every
 * encoding, plus diagnostics() of such a failure.
 */
import { before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { refusedPort } from "./_helpers.ts";
import { resolveExtension } from "../ffi/resolve.ts";
import { diagnostics } from "../ffi/diagnostics.ts";
import { platformAsset, type PlatformId } from "../ffi/platform.ts";
import {
  bytes,
  type Fixture,
  fixture,
  json,
  platformTarball,
  serveNpmPackage,
  sri,
  stallAfterHeaders,
  status,
} from "./ffi/_fixture_server.ts";
import { assertNoCanary, expectCanaryFreeAsync, FORMS, PASSWORD } from "./_canary.ts";
import { fetchBytes } from "../ffi/download.ts";
import { authorizationEncodings } from "./src/_echo_encodings.ts";

const V = "0.0.0-test";
const PLATFORM: PlatformId = "darwin-arm64";
const ASSET = platformAsset(PLATFORM);

/** The registry, mirror and release URLs of a fixture, with the canary password in them. */
function withCredentials(url: string): string {
  return url.replace("://", `://canary:${encodeURIComponent(PASSWORD)}@`);
}

describe("secrets canary: resolution errors", () => {
  let f: Fixture;
  let tarball: Uint8Array;
  const metaPath = `/${ASSET.npmPackage}`;
  const releasePath = `/gh/${V}/cloudsync-${ASSET.releasePlatform}-${V}.tar.gz`;
  const mirrorPath = `/m/${V}/sqlite-sync-${PLATFORM}-${V}.tgz`;

  before(async () => {
    tarball = await platformTarball(PLATFORM);
  });
  // One fixture per test: routes differ.
  const withF = (fn: () => Promise<void>) => async () => {
    f = await fixture();
    try {
      await fn();
    } finally {
      await f.dispose();
    }
  };
  const options = (extra: Record<string, unknown> = {}) =>
    f.options({
      version: V,
      platform: PLATFORM,
      npmRegistry: withCredentials(f.server.url),
      githubBaseUrl: withCredentials(`${f.server.url}/gh`),
      timeoutMs: 2000,
      ...extra,
    });
  const npmMeta = (dist: Record<string, unknown>) =>
    json({
      name: ASSET.npmPackage,
      versions: { [V]: { name: ASSET.npmPackage, version: V, dist } },
    });

  it(
    "npm: a malformed dist.tarball never shows the registry password",
    withF(async () => {
      f.server.route(metaPath, npmMeta({ tarball: "http://[not a url" }));
      await expectCanaryFreeAsync(
        "npm bad tarball",
        resolveExtension(options({ sources: ["npm"] })),
        "not-found",
        /dist\.tarball/,
      );
    }),
  );

  it(
    "npm: a 500 on the metadata never shows the registry password",
    withF(async () => {
      f.server.route(metaPath, status(500));
      await expectCanaryFreeAsync(
        "npm meta 500",
        resolveExtension(options({ sources: ["npm"] })),
        "not-found",
        /HTTP 500/,
      );
    }),
  );

  it(
    "npm: a 500 on the tarball never shows the registry password",
    withF(async () => {
      // The tarball is on the registry's host, so it is fetched with the registry's credentials.
      serveNpmPackage(f.server, ASSET.npmPackage, V, tarball, { tarballHandler: status(500) });
      await expectCanaryFreeAsync(
        "npm tarball 500",
        resolveExtension(options({ sources: ["npm"] })),
        "not-found",
        /HTTP 500/,
      );
    }),
  );

  it(
    "npm: a tarball with a bad hash never shows the registry password",
    withF(async () => {
      serveNpmPackage(f.server, ASSET.npmPackage, V, tarball, {
        integrity: sri(new Uint8Array([1])),
      });
      await expectCanaryFreeAsync(
        "npm bad hash",
        resolveExtension(options({ sources: ["npm"] })),
        "integrity",
        /mismatch/,
      );
    }),
  );

  it(
    "npm: a malformed dist.integrity never shows the registry password",
    withF(async () => {
      f.server.route(
        metaPath,
        npmMeta({ tarball: `${f.server.url}/t.tgz`, integrity: `sha512-!! ${PASSWORD}` }),
      );
      await expectCanaryFreeAsync(
        "npm bad integrity",
        resolveExtension(options({ sources: ["npm"] })),
        "integrity",
        /not a valid SRI/,
      );
    }),
  );

  it(
    "npm: a dist.integrity echoing the Authorization header in any encoding (base64 at each offset, percent, hex) never shows the registry password",
    withF(async () => {
      // One echo per request (the message shows the value's first 80 characters, redacted).
      const echoes = authorizationEncodings("Basic ?").length;
      for (let i = 0; i < echoes; i++) {
        let sent = "";
        f.server.route(metaPath, (req, res) => {
          const authorization = String(req.headers.authorization);
          sent = authorizationEncodings(authorization)[i];
          npmMeta({ tarball: `${f.server.url}/t.tgz`, integrity: `sha512-!! ${sent}` })(req, res);
        });
        const err = await expectCanaryFreeAsync(
          `npm integrity echo ${i}`,
          resolveExtension(options({ sources: ["npm"] })),
          "integrity",
          /not a valid SRI/,
        );
        // The echo came: its label is in the message.
        assert.ok(err.message.includes(sent.slice(0, sent.indexOf("]") + 1)), err.message);
      }
    }),
  );

  it(
    "npm: a stalled registry ('timeout') never shows the registry password",
    withF(async () => {
      f.server.route(metaPath, stallAfterHeaders(new Uint8Array(100)));
      await expectCanaryFreeAsync(
        "npm stall",
        resolveExtension(options({ sources: ["npm"], timeoutMs: 200 })),
        "offline",
        /timed out/,
      );
    }),
  );

  it(
    "npm: a refused or unresolvable registry ('offline') never shows the registry password",
    withF(async () => {
      const refused = withCredentials(`http://127.0.0.1:${await refusedPort()}`);
      await expectCanaryFreeAsync(
        "npm refused",
        resolveExtension(options({ sources: ["npm"], npmRegistry: refused })),
        "offline",
        /connection refused/,
      );
      const dns = withCredentials("http://nonexistent.invalid");
      await expectCanaryFreeAsync(
        "npm dns",
        resolveExtension(options({ sources: ["npm"], npmRegistry: dns })),
        "offline",
        /DNS lookup failed/,
      );
      const query = `${f.server.url}/?token=${encodeURIComponent(PASSWORD)}`;
      f.server.route("/", status(500));
      await expectCanaryFreeAsync(
        "npm query token",
        resolveExtension(options({ sources: ["npm"], npmRegistry: query })),
        "not-found",
      );
    }),
  );

  it(
    "GitHub: a 500, a 404 on both archives and a bad hash never show the release URL password",
    withF(async () => {
      f.server.route(releasePath, status(500));
      await expectCanaryFreeAsync(
        "github 500",
        resolveExtension(options({ sources: ["github"] })),
        "not-found",
        /HTTP 500/,
      );
      f.server.route(releasePath, status(404));
      await expectCanaryFreeAsync(
        "github 404",
        resolveExtension(options({ sources: ["github"] })),
        "not-found",
        /HTTP 404/,
      );
      f.server.route(releasePath, bytes(tarball));
      await expectCanaryFreeAsync(
        "github bad hash",
        resolveExtension(options({ sources: ["github"], integrity: sri(new Uint8Array([2])) })),
        "integrity",
      );
    }),
  );

  it(
    "mirror: a 500, a bad hash, a malformed .integrity and no known integrity never show the mirror password",
    withF(async () => {
      const mirror = withCredentials(`${f.server.url}/m`);
      const good = { sources: ["mirror"], mirror, integrity: sri(tarball) };
      f.server.route(mirrorPath, status(500));
      await expectCanaryFreeAsync(
        "mirror 500",
        resolveExtension(options(good)),
        "not-found",
        /HTTP 500/,
      );
      f.server.route(mirrorPath, bytes(tarball));
      await expectCanaryFreeAsync(
        "mirror bad hash",
        resolveExtension(options({ ...good, integrity: sri(new Uint8Array([3])) })),
        "integrity",
      );
      f.server.route(`${mirrorPath}.integrity`, bytes(`not-sri ${PASSWORD}`));
      await expectCanaryFreeAsync(
        "mirror bad sidecar",
        resolveExtension(options(good)),
        "integrity",
        /not a valid SRI/,
      );
      await expectCanaryFreeAsync(
        "mirror without integrity",
        resolveExtension(options({ sources: ["mirror"], mirror })),
        "integrity",
        /no integrity is known/,
      );
    }),
  );

  it("fetchBytes() of a malformed URL holding the password never shows it", async () => {
    let caught: unknown;
    try {
      await fetchBytes(`http://canary:${PASSWORD}@[not-a-host/x`);
    } catch (err) {
      caught = err;
    }
    assert.ok(caught instanceof TypeError, String(caught));
    assert.match(caught.message, /not a URL/);
    assertNoCanary(caught, "fetchBytes malformed URL");
  });

  it(
    "diagnostics() of a failing resolution shows no password in its JSON",
    withF(async () => {
      f.server.route(metaPath, npmMeta({ tarball: "http://[not a url" }));
      const report = await diagnostics({ ...options({ sources: ["npm"] }), platform: PLATFORM });
      assert.ok(report.problems.some((p) => p.step === "resolve"), JSON.stringify(report.problems));
      const text = JSON.stringify(report).toLowerCase();
      for (const form of FORMS) assert.ok(!text.includes(form.toLowerCase()), text);
    }),
  );
});
