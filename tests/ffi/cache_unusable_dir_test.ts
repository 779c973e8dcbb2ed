/**
 * resolveExtension() with a cache directory it cannot use (under a regular
 * file, under /proc, read-only, or none at all): a cache error naming the
 * directory and the ways to set another.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { resolveExtension } from "../../ffi/resolve.ts";
import { isKind, itUnless, readOnlyMaker, refusedPort, tempDir } from "../_helpers.ts";
import { V } from "./_cache_fixtures.ts";

describe("resolveExtension() with an unusable cache directory", () => {
  const unreachable = async () => {
    const port = await refusedPort();
    return {
      npmRegistry: `http://127.0.0.1:${port}`,
      githubBaseUrl: `http://127.0.0.1:${port}`,
      env: {},
    };
  };

  it("resolveExtension() reports a cache dir under a regular file as a cache error naming it", async () => {
    const dir = tempDir();
    try {
      writeFileSync(join(dir.path, "file"), "x");
      const cacheDir = join(dir.path, "file", "cache");
      await assert.rejects(
        resolveExtension({
          ...(await unreachable()),
          cacheDir,
          version: V,
          platform: "linux-arm64",
        }),
        isKind(
          "cache",
          new RegExp(cacheDir.replace(/[/\\.]/g, "\\$&")),
          /SQLITE_SYNC_CACHE_DIR/,
          /'cacheDir'/,
        ),
      );
    } finally {
      dir.cleanup();
    }
  });

  itUnless(
    process.platform === "linux" ? undefined : "/proc exists on Linux only",
    "resolveExtension() reports a cache dir under /proc (or where no lock file can be created) as a cache error",
    async () => {
      await assert.rejects(
        resolveExtension({
          ...(await unreachable()),
          cacheDir: "/proc/sqlite-sync-cache",
          version: V,
          platform: "linux-arm64",
        }),
        isKind("cache", /\/proc\/sqlite-sync-cache/),
      );
      // An existing directory where no file can be created: creating the lock file itself fails.
      await assert.rejects(
        resolveExtension({
          ...(await unreachable()),
          cacheDir: "/proc",
          version: "self",
          platform: "linux-arm64",
        }),
        isKind("cache", /'\/proc'/),
      );
    },
  );

  itUnless(
    readOnlyMaker === undefined
      ? "cannot make a directory read-only here (root without chattr, or Windows)"
      : undefined,
    "resolveExtension() reports a read-only cache dir as a cache error",
    async () => {
      const dir = tempDir();
      const ro = join(dir.path, "ro");
      try {
        mkdirSync(ro);
        readOnlyMaker!.set(ro);
        await assert.rejects(
          resolveExtension({
            ...(await unreachable()),
            cacheDir: ro,
            version: V,
            platform: "linux-arm64",
          }),
          isKind("cache", /ro'/),
        );
      } finally {
        readOnlyMaker!.unset(ro);
        dir.cleanup();
      }
    },
  );

  it("resolveExtension() without HOME, XDG_CACHE_HOME or cacheDir throws a cache error", async () => {
    await assert.rejects(
      resolveExtension({ ...(await unreachable()), version: V, platform: "linux-arm64" }),
      isKind("cache", /SQLITE_SYNC_CACHE_DIR/),
    );
  });
});
