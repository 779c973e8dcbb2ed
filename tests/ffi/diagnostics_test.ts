/** diagnostics(): every field filled, failures reported not thrown, no secret echoed. */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import { join } from "node:path";
import { listen, RUNTIME, SHARED_TEST_CACHE, tempDir, testExtensionPath } from "../_helpers.ts";
import { PINS } from "../../ffi/pins.ts";
import { resolveExtension } from "../../ffi/resolve.ts";
import { diagnostics, diagnosticsWithHooks } from "../../ffi/diagnostics.ts";
import { closeConnection, openDatabase } from "../../ffi/open.ts";
import { CA_BUNDLE_PATH, type PreflightProbe } from "../../ffi/preflight.ts";

const healthy: PreflightProbe = {
  exists: (p) => p === CA_BUNDLE_PATH,
  readText: () => "libssl.so.3\0libcrypto.so.3\0",
  env: () => undefined,
  glibcVersion: () => "2.36",
};

const SECRETS = ["PASSWORD3", "QUERYSECRET4", "GITHUBSECRET5", "ENVSECRET6"];

describe("diagnostics()", () => {
  it("diagnostics() reports platform, runtime, driver, SQLite and extension", async () => {
    const extensionPath = await testExtensionPath();
    const d = await diagnosticsWithHooks({
      extensionPath,
      platform: "linux-x86_64",
    }, { preflightProbe: healthy });
    assert.deepEqual(d.problems, []);
    assert.equal(d.ok, true);
    assert.equal(d.platform, "linux-x86_64");
    assert.equal(d.runtime.name, RUNTIME);
    assert.match(d.runtime.version, /^\d+\.\d+/);
    assert.equal(d.driver, RUNTIME === "bun" ? "bun:sqlite" : "node:sqlite");
    assert.match(d.sqliteVersion ?? "", /^3\.\d+\.\d+$/);
    assert.equal(d.extension.version, "1.1.4");
    assert.equal(d.extension.resolvedVersion, "1.1.4");
    assert.equal(d.extension.path, extensionPath);
    assert.equal(d.extension.source, "option");
    // An explicit path is verified exactly when its bytes are the pinned 1.1.4 binary.
    const pinned = PINS["1.1.4"]["linux-x86_64"]?.binary;
    const sha512 = `sha512-${
      createHash("sha512").update(readFileSync(extensionPath)).digest("base64")
    }`;
    assert.equal(d.extension.verified, sha512 === pinned);
    // No cache directory was involved.
    assert.equal(d.extension.cacheDir, null);
    assert.deepEqual(d.preflight?.checks.map((c) => c.name), [
      "libssl.so.3",
      "libcrypto.so.3",
      "glibc",
      "ca-bundle",
    ]);
    assert.equal(d.database, null);
  });

  it("diagnostics() reports the cache directory and verification of a cached extension", async () => {
    // The suite's shared cache holds the verified 1.1.4 binary once this has run.
    await resolveExtension({ cacheDir: SHARED_TEST_CACHE, env: {} });
    const d = await diagnosticsWithHooks({
      cacheDir: SHARED_TEST_CACHE,
      offline: true,
      env: {},
    }, { preflightProbe: healthy });
    assert.deepEqual(d.problems, []);
    assert.equal(d.extension.source, "cache");
    assert.equal(d.extension.cacheDir, SHARED_TEST_CACHE);
    assert.equal(d.extension.verified, true);
    assert.equal(
      d.extension.path,
      join(SHARED_TEST_CACHE, "1.1.4", "linux-x86_64", "cloudsync.so"),
    );
    assert.equal(d.extension.version, "1.1.4");
  });

  it("diagnostics() sends the credentials of the mirror, registry and GitHub URLs it reads, and its report shows none", async () => {
    const dir = tempDir();
    const seen: { url: string; authorization?: string }[] = [];
    const server = createServer((req, res) => {
      seen.push({ url: req.url ?? "", authorization: req.headers.authorization });
      res.writeHead(404, { "content-length": "0" });
      res.end();
    });
    const port = await listen(server);
    const host = `127.0.0.1:${port}`;
    const [mirrorPass, query, githubPass, envPass] = SECRETS;
    try {
      const fromOptions = await diagnostics({
        cacheDir: join(dir.path, "cache"),
        sources: ["mirror", "npm", "github"],
        mirror: `http://user:${mirrorPass}@${host}/m?token=${query}`,
        npmRegistry: `http://${host}/npm/?token=${query}`,
        githubBaseUrl: `http://gh:${githubPass}@${host}/gh`,
        env: { HOME: dir.path },
        timeoutMs: 5000,
      });
      const fromEnv = await diagnostics({
        cacheDir: join(dir.path, "cache"),
        sources: ["mirror"],
        env: { SQLITE_SYNC_MIRROR: `http://me:${envPass}@${host}/env`, HOME: dir.path },
        timeoutMs: 5000,
      });
      // Every credential reached the server: diagnostics() read and used each of them.
      const basic = (user: string, pass: string) => `Basic ${btoa(`${user}:${pass}`)}`;
      const authorizations = seen.map((r) => r.authorization);
      assert.ok(authorizations.includes(basic("user", mirrorPass)), JSON.stringify(seen));
      assert.ok(authorizations.includes(basic("gh", githubPass)), JSON.stringify(seen));
      assert.ok(authorizations.includes(basic("me", envPass)), JSON.stringify(seen));
      assert.ok(seen.some((r) => r.url.startsWith("/m?") && r.url.includes(query)));
      assert.ok(seen.some((r) => r.url.startsWith("/npm/?") && r.url.includes(query)));
      // Both failed to resolve, naming the sources tried, and neither report holds a secret.
      for (const report of [fromOptions, fromEnv]) {
        assert.equal(report.problems.length, 1, JSON.stringify(report.problems));
        assert.equal(report.problems[0].step, "resolve");
        assert.match(report.problems[0].message, new RegExp(`mirror: http://${host}/`));
        const json = JSON.stringify(report);
        for (const s of SECRETS) assert.ok(!json.includes(s), `${s} leaked: ${json}`);
      }
      assert.match(fromOptions.problems[0].message, new RegExp(`npm: http://${host}/npm/`));
      assert.match(fromOptions.problems[0].message, new RegExp(`github: http://${host}/gh/`));
    } finally {
      await new Promise((resolve) => server.close(resolve));
      dir.cleanup();
    }
  });

  it("diagnostics() never shows a registry or mirror token given without a scheme, in env or options", async () => {
    const dir = tempDir();
    try {
      const secret = "s3cr3t-T0KEN";
      const reports = [
        await diagnosticsWithHooks({
          cacheDir: join(dir.path, "cache"),
          env: { SQLITE_SYNC_NPM_REGISTRY: `me:${secret}@npm.corp.example/`, HOME: dir.path },
        }, { preflightProbe: healthy }),
        await diagnosticsWithHooks({
          cacheDir: join(dir.path, "cache"),
          env: { SQLITE_SYNC_MIRROR: `me:${secret}@mirror.corp.example/m`, HOME: dir.path },
        }, { preflightProbe: healthy }),
        await diagnosticsWithHooks({
          cacheDir: join(dir.path, "cache"),
          npmRegistry: `me:${secret}@npm.corp.example/`,
          env: { HOME: dir.path },
        }, { preflightProbe: healthy }),
      ];
      for (const report of reports) {
        assert.equal(report.problems[0]?.step, "resolve", JSON.stringify(report.problems));
        assert.match(report.problems[0].message, /must be an http\(s\) URL/);
        const json = JSON.stringify(report);
        assert.ok(!json.includes(secret), `leaked: ${json}`);
      }
    } finally {
      dir.cleanup();
    }
  });

  it("diagnostics() reports a database's journal mode", async () => {
    const dir = tempDir();
    const path = join(dir.path, "app.db");
    try {
      const extensionPath = await testExtensionPath();
      const { driver } = await openDatabase(path, { extensionPath });
      closeConnection(driver);
      const d = await diagnostics({ extensionPath, databasePath: path });
      assert.deepEqual(d.database, { path, journalMode: "wal" });
    } finally {
      dir.cleanup();
    }
  });

  it("diagnostics() reports Deno Deploy as a problem instead of throwing", async () => {
    const d = await diagnosticsWithHooks({
      extensionPath: await testExtensionPath(),
    }, { runtime: { name: "deno", version: "2.9.6", denoDeploy: true } });
    assert.equal(d.ok, false);
    assert.equal(d.runtime.denoDeploy, true);
    assert.equal(d.problems[0]?.kind, "unsupported-runtime");
    assert.equal(d.extension.version, null);
  });
});

describe("diagnostics() connection settings", () => {
  it("diagnostics() reports recursive_triggers on, the journal mode and busy timeout of its connection", async () => {
    const d = await diagnostics({ extensionPath: await testExtensionPath() });
    assert.deepEqual(d.connection, {
      recursiveTriggers: true,
      journalMode: "memory",
      busyTimeoutMs: 5000,
    });
  });

  it("diagnostics() reports no connection settings when no connection opened", async () => {
    const d = await diagnosticsWithHooks({
      extensionPath: await testExtensionPath(),
    }, { runtime: { name: "deno", version: "2.9.6", denoDeploy: true } });
    assert.equal(d.connection, null);
  });
});
