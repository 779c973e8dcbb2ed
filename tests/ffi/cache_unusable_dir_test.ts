/**
 * resolveExtension() with a cache directory it cannot use (under a regular
 * file, under /proc, read-only, or none at all): a cache error naming the
 * directory and the ways to set another.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { resolveExtension } from "../../ffi/resolve.ts";
import { isKind, itUnless, refusedPort, tempDir } from "../_helpers.ts";
import { V } from "./_cache_fixtures.ts";

/**
 * How to make a directory unwritable here: chmod for ordinary users; root
 * ignores modes, so the immutable attribute (chattr +i, ext4 and friends).
 */
const readOnly: { set(dir: string): void; unset(dir: string): void } | undefined = (() => {
  if (process.platform === "win32") return undefined;
  if (process.getuid?.() !== 0) {
    return { set: (d) => chmodSync(d, 0o555), unset: (d) => chmodSync(d, 0o755) };
  }
  const probe = mkdtempSync(join(tmpdir(), "sqlite-sync-ro-"));
  try {
    if (spawnSync("chattr", ["+i", probe]).status !== 0) return undefined;
    let writable = true;
    try {
      writeFileSync(join(probe, "x"), "");
    } catch {
      writable = false;
    }
    spawnSync("chattr", ["-i", probe]);
    if (writable) return undefined;
    return {
      set: (d) => void spawnSync("chattr", ["+i", d]),
      unset: (d) => void spawnSync("chattr", ["-i", d]),
    };
  } finally {
    rmSync(probe, { recursive: true, force: true });
  }
})();

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
    readOnly === undefined
      ? "cannot make a directory read-only here (root without chattr, or Windows)"
      : undefined,
    "resolveExtension() reports a read-only cache dir as a cache error",
    async () => {
      const dir = tempDir();
      const ro = join(dir.path, "ro");
      try {
        mkdirSync(ro);
        readOnly!.set(ro);
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
        readOnly!.unset(ro);
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
