/**
 * resolveExtension() with an explicit binary (the extensionPath option or
 * SQLITE_SYNC_EXTENSION_PATH): returned unverified, or verified against the
 * integrity option or the pin; a real 1.1.4 binary that differs from the pin
 * still loads; a missing path is named.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { resolveExtension } from "../../ffi/resolve.ts";
import { PINS } from "../../ffi/pins.ts";
import { isKind, itUnless, tempDir, testExtensionPath } from "../_helpers.ts";
import { closeConnection, openDatabase } from "../../ffi/open.ts";
import { dummyBinary as dummy, sri } from "./_fixture_server.ts";
import { host } from "./_resolve_fixtures.ts";

describe("resolveExtension() with an explicit path", () => {
  it("resolveExtension() returns an existing extensionPath unverified, and verified with a matching integrity", async () => {
    const dir = tempDir();
    try {
      const file = join(dir.path, "cloudsync.so");
      writeFileSync(file, dummy("x"));
      const plain = await resolveExtension({
        extensionPath: file,
        platform: "linux-x86_64",
        env: {},
      });
      assert.deepEqual(plain, {
        path: file,
        version: "1.1.4",
        platform: "linux-x86_64",
        source: "option",
        verified: false,
        integrity: sri(dummy("x")),
      });
      const checked = await resolveExtension({
        extensionPath: file,
        integrity: sri(dummy("x")),
        env: {},
      });
      assert.equal(checked.verified, true);
      await assert.rejects(
        resolveExtension({ extensionPath: file, integrity: sri(dummy("y")), env: {} }),
        isKind("integrity", /does not match the 'integrity' option/),
      );
      const fromEnv = await resolveExtension({ env: { SQLITE_SYNC_EXTENSION_PATH: file } });
      assert.equal(fromEnv.source, "env");
    } finally {
      dir.cleanup();
    }
  });

  it("resolveExtension() reports an explicit binary verified when it matches the pinned binary, and a mismatch unverified", async () => {
    const dir = tempDir();
    const version = "0.0.0-explicit-pin";
    const pins = PINS as Record<string, unknown>;
    pins[version] = { "linux-arm64": { binary: sri(dummy("pinned")) } };
    try {
      const good = join(dir.path, "good.so");
      const other = join(dir.path, "other.so");
      writeFileSync(good, dummy("pinned"));
      writeFileSync(other, dummy("something else"));
      const base = { version, platform: "linux-arm64" as const };
      const matching = await resolveExtension({ ...base, extensionPath: good, env: {} });
      assert.equal(matching.verified, true);
      const fromEnv = await resolveExtension({
        ...base,
        env: { SQLITE_SYNC_EXTENSION_PATH: good },
      });
      assert.deepEqual([fromEnv.source, fromEnv.verified], ["env", true]);
      const mismatch = await resolveExtension({ ...base, extensionPath: other, env: {} });
      assert.deepEqual([mismatch.path, mismatch.verified], [other, false]);
    } finally {
      delete pins[version];
      dir.cleanup();
    }
  });

  itUnless(
    host === "linux-x64"
      ? undefined
      : `the real binary only loads on linux-x64, this host is ${host}`,
    "openDatabase() loads an explicit 1.1.4 binary that differs from the pinned one, reported unverified",
    async () => {
      const dir = tempDir();
      try {
        // The real binary plus one trailing byte: still a loadable library, no longer the pin.
        const real = readFileSync(await testExtensionPath());
        const changed = join(dir.path, "cloudsync.so");
        writeFileSync(changed, Buffer.concat([real, Buffer.from([0])]));
        const pinned = PINS["1.1.4"]["linux-x86_64"]?.binary;
        const { driver, extension } = await openDatabase(join(dir.path, "app.db"), {
          extensionPath: changed,
          version: "1.1.4",
          platform: "linux-x86_64",
          env: {},
        });
        try {
          assert.equal(extension.path, changed);
          assert.equal(extension.source, "option");
          assert.equal(extension.verified, false);
          assert.notEqual(extension.integrity, pinned);
          assert.equal(driver.prepare("SELECT cloudsync_version() AS v").get()?.v, "1.1.4");
        } finally {
          closeConnection(driver);
        }
      } finally {
        dir.cleanup();
      }
    },
  );

  it("resolveExtension() refuses an extensionPath that does not exist, naming it", async () => {
    await assert.rejects(
      resolveExtension({
        extensionPath: "/nowhere/cloudsync.so",
        env: { SQLITE_SYNC_EXTENSION_PATH: "/x" },
      }),
      isKind("not-found", /'\/nowhere\/cloudsync\.so'/, /'extensionPath' option/),
    );
    await assert.rejects(
      resolveExtension({ env: { SQLITE_SYNC_EXTENSION_PATH: "/nowhere/env.so" } }),
      isKind("not-found", /'\/nowhere\/env\.so'/, /SQLITE_SYNC_EXTENSION_PATH/),
    );
  });
});
