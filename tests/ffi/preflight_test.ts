/** preflight() and checkHost(): each host requirement reported by name, with injected probes. */
import { describe, it } from "node:test";
import process from "node:process";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { CA_BUNDLE_PATH, checkHost, preflight, type PreflightProbe } from "../../ffi/preflight.ts";
import { currentPlatformId } from "../../ffi/platform.ts";
import { itUnless } from "../_helpers.ts";

interface FakeHost {
  files?: string[];
  ldCache?: string;
  env?: Record<string, string>;
  glibc?: string;
}

function probe(host: FakeHost): PreflightProbe {
  const files = new Set(host.files ?? []);
  return {
    exists: (p) => files.has(p),
    readText: (p) => (p === "/etc/ld.so.cache" ? host.ldCache : undefined),
    env: (n) => host.env?.[n],
    glibcVersion: () => host.glibc,
  };
}

const HEALTHY: FakeHost = {
  ldCache: "ld.so-1.7.0\0libssl.so.3\0/lib/x86_64-linux-gnu/libssl.so.3\0libcrypto.so.3\0",
  files: [CA_BUNDLE_PATH],
  glibc: "2.36",
};

function check(report: ReturnType<typeof preflight>, name: string) {
  const c = report.checks.find((c) => c.name === name);
  assert.ok(c, `no check named ${name}`);
  return c;
}

describe("preflight()", () => {
  it("checkHost() passes a healthy glibc host", () => {
    const r = checkHost("linux-x86_64", probe(HEALTHY));
    assert.equal(r.ok, true);
    assert.deepEqual(r.checks.map((c) => c.name), [
      "libssl.so.3",
      "libcrypto.so.3",
      "glibc",
      "ca-bundle",
    ]);
    assert.ok(r.checks.every((c) => c.ok && c.fix === ""));
  });

  it("checkHost() reports a missing libssl.so.3 by name with a fix", () => {
    const r = checkHost(
      "linux-x86_64",
      probe({ ...HEALTHY, ldCache: "libcrypto.so.3\0libssl.so.30\0" }),
    );
    assert.equal(r.ok, false);
    const ssl = check(r, "libssl.so.3");
    assert.equal(ssl.ok, false);
    assert.match(ssl.detail, /libssl\.so\.3 \(OpenSSL 3\) not found/);
    assert.match(ssl.fix, /libssl3/);
    assert.equal(ssl.affects, "load");
    assert.equal(check(r, "libcrypto.so.3").ok, true);
  });

  it("checkHost() finds OpenSSL in the arch's lib dir or LD_LIBRARY_PATH without ld.so.cache", () => {
    const r = checkHost(
      "linux-arm64",
      probe({
        files: [
          "/usr/lib/aarch64-linux-gnu/libssl.so.3",
          "/opt/ssl/lib/libcrypto.so.3",
          CA_BUNDLE_PATH,
        ],
        env: { LD_LIBRARY_PATH: "/opt/ssl/lib" },
        glibc: "2.39",
      }),
    );
    assert.equal(r.ok, true, JSON.stringify(r.checks));
    assert.match(check(r, "libcrypto.so.3").detail, /\/opt\/ssl\/lib/);
  });

  it("checkHost() reports an old glibc as 'glibc 2.31 < 2.34'", () => {
    const r = checkHost("linux-x86_64", probe({ ...HEALTHY, glibc: "2.31" }));
    const g = check(r, "glibc");
    assert.equal(g.ok, false);
    assert.equal(g.detail, "glibc 2.31 < 2.34");
    assert.equal(r.ok, false);
  });

  it("checkHost() accepts an unknown glibc version rather than guessing", () => {
    const r = checkHost("linux-x86_64", probe({ ...HEALTHY, glibc: undefined }));
    assert.equal(check(r, "glibc").ok, true);
    assert.match(check(r, "glibc").detail, /unknown/);
  });

  it("checkHost() reports a missing CA bundle as a network problem", () => {
    const r = checkHost("linux-x86_64", probe({ ...HEALTHY, files: [] }));
    const ca = check(r, "ca-bundle");
    assert.equal(ca.ok, false);
    assert.equal(ca.affects, "network");
    assert.match(ca.detail, /ca-certificates\.crt not found/);
    assert.equal(r.ok, false);
  });

  it("preflight() has no checks outside Linux glibc", () => {
    for (const platform of ["darwin-arm64", "win32-x86_64", "linux-x86_64-musl"] as const) {
      assert.deepEqual(preflight({ platform }), {
        platform,
        ok: true,
        checks: [],
      });
    }
  });

  // The real probe has checks to run only on Linux glibc; CI is linux-x86_64 glibc.
  const host = (() => {
    try {
      return currentPlatformId();
    } catch {
      return undefined;
    }
  })();
  itUnless(
    host === "linux-x86_64" || host === "linux-arm64"
      ? undefined
      : `preflight() has checks only on Linux glibc; this host is ${host ?? process.platform}`,
    "preflight() on this host runs the real probe: OpenSSL 3 and glibc found, the CA bundle as on disk",
    () => {
      const r = preflight();
      assert.equal(r.platform, host);
      assert.deepEqual(r.checks.map((c) => c.name), [
        "libssl.so.3",
        "libcrypto.so.3",
        "glibc",
        "ca-bundle",
      ]);
      // The rest of the suite loads the extension here, so its libraries and glibc are present.
      for (const name of ["libssl.so.3", "libcrypto.so.3"]) {
        const c = r.checks.find((c) => c.name === name)!;
        assert.equal(c.ok, true, c.detail);
        assert.match(c.detail, new RegExp(`^${name.replaceAll(".", "\\.")} found in `));
      }
      const glibc = r.checks.find((c) => c.name === "glibc")!;
      assert.equal(glibc.ok, true, glibc.detail);
      assert.match(glibc.detail, /^glibc \d+\.\d+ ≥ 2\.34$/);
      const ca = r.checks.find((c) => c.name === "ca-bundle")!;
      assert.equal(ca.ok, existsSync(CA_BUNDLE_PATH));
      assert.equal(r.ok, r.checks.every((c) => c.ok));
    },
  );
});
