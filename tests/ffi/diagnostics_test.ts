/** diagnostics(): every field filled, failures reported not thrown, no secret echoed. */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { RUNTIME, tempDir, testExtensionPath } from "../_helpers.ts";
import { diagnostics } from "../../ffi/diagnostics.ts";
import { closeConnection, openDatabase } from "../../ffi/open.ts";
import { CA_BUNDLE_PATH, type PreflightProbe } from "../../ffi/preflight.ts";

const healthy: PreflightProbe = {
  exists: (p) => p === CA_BUNDLE_PATH,
  readText: () => "libssl.so.3\0libcrypto.so.3\0",
  env: () => undefined,
  glibcVersion: () => "2.36",
};

const SECRETS = ["sk-live-SECRET1", "TOKEN-SECRET2", "PASSWORD3", "QUERYSECRET4", "ENVSECRET5"];

describe("diagnostics()", () => {
  it("diagnostics() reports platform, runtime, driver, SQLite and extension", async () => {
    const extensionPath = await testExtensionPath();
    const d = await diagnostics({
      extensionPath,
      platform: "linux-x86_64",
      preflightProbe: healthy,
    });
    assert.deepEqual(d.problems, []);
    assert.equal(d.ok, true);
    assert.equal(d.platform, "linux-x86_64");
    assert.equal(d.runtime.name, RUNTIME);
    assert.match(d.runtime.version, /^\d+\.\d+/);
    assert.equal(d.driver, RUNTIME === "bun" ? "bun:sqlite" : "node:sqlite");
    assert.match(d.sqliteVersion ?? "", /^3\.\d+\.\d+$/);
    assert.equal(d.extension.version, "1.1.4");
    assert.equal(d.extension.path, extensionPath);
    assert.equal(d.extension.source, "option");
    assert.equal(typeof d.extension.verified, "boolean");
    assert.ok("cacheDir" in d.extension);
    assert.deepEqual(d.preflight?.checks.map((c) => c.name), [
      "libssl.so.3",
      "libcrypto.so.3",
      "glibc",
      "ca-bundle",
    ]);
    assert.equal(d.database, null);
  });

  it("diagnostics() JSON contains no string passed as a secret-looking option", async () => {
    const dir = tempDir();
    try {
      const secretish = {
        apiKey: SECRETS[0],
        token: SECRETS[1],
        env: { SQLITE_CLOUD_TOKEN: SECRETS[4], HOME: dir.path },
      };
      // A working load, with unrelated secrets alongside.
      const ok = await diagnostics(
        {
          extensionPath: await testExtensionPath(),
          ...secretish,
        } as Parameters<typeof diagnostics>[0],
      );
      // A failing download whose URLs carry credentials.
      const failed = await diagnostics(
        {
          ...secretish,
          cacheDir: join(dir.path, "cache"),
          sources: ["mirror"],
          mirror: `http://user:${SECRETS[2]}@127.0.0.1:9/m?token=${SECRETS[3]}`,
          npmRegistry: `http://127.0.0.1:9/?token=${SECRETS[3]}`,
          timeoutMs: 2000,
        } as Parameters<typeof diagnostics>[0],
      );
      assert.equal(ok.extension.version, "1.1.4");
      assert.equal(failed.problems.length, 1, JSON.stringify(failed.problems));
      assert.equal(failed.problems[0].step, "resolve");
      for (const report of [ok, failed]) {
        const json = JSON.stringify(report);
        for (const s of SECRETS) assert.ok(!json.includes(s), `${s} leaked: ${json}`);
      }
    } finally {
      dir.cleanup();
    }
  });

  it("diagnostics() never shows a registry or mirror token given without a scheme, in env or options", async () => {
    const dir = tempDir();
    try {
      const secret = "s3cr3t-T0KEN";
      const reports = [
        await diagnostics({
          cacheDir: join(dir.path, "cache"),
          env: { SQLITE_SYNC_NPM_REGISTRY: `me:${secret}@npm.corp.example/`, HOME: dir.path },
          preflightProbe: healthy,
        }),
        await diagnostics({
          cacheDir: join(dir.path, "cache"),
          env: { SQLITE_SYNC_MIRROR: `me:${secret}@mirror.corp.example/m`, HOME: dir.path },
          preflightProbe: healthy,
        }),
        await diagnostics({
          cacheDir: join(dir.path, "cache"),
          npmRegistry: `me:${secret}@npm.corp.example/`,
          env: { HOME: dir.path },
          preflightProbe: healthy,
        }),
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
    const d = await diagnostics({
      extensionPath: await testExtensionPath(),
      runtime: { name: "deno", version: "2.9.6", denoDeploy: true },
    });
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
    const d = await diagnostics({
      extensionPath: await testExtensionPath(),
      runtime: { name: "deno", version: "2.9.6", denoDeploy: true },
    });
    assert.equal(d.connection, null);
  });
});
