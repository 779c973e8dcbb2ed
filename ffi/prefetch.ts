/**
 * Prefetching verified binaries into a folder that a device without network
 * uses as is: as its cache directory (`SQLITE_SYNC_CACHE_DIR`), or as a mirror
 * (`SQLITE_SYNC_MIRROR`). Both layouts live side by side under the version:
 *
 * ```text
 * <out>/<version>/<platform>/<binary>, LICENSE.md, meta.json     ← the cache entry
 * <out>/<version>/sqlite-sync-<platform>-<version>.tgz           ← the mirror archive
 * <out>/<version>/sqlite-sync-<platform>-<version>.tgz.integrity
 * ```
 *
 * Every download goes through the same sources and verification as
 * `resolveExtension`.
 *
 * @module
 */
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import process from "node:process";
import { SqliteSyncError } from "../common/errors.ts";
import {
  cacheEntry,
  cacheError,
  checkCacheEntry,
  ensureCacheDir,
  installCacheEntry,
  readCacheMeta,
  removeCacheEntry,
} from "./cache.ts";
import { integrityOf, parseIntegrity } from "./download.ts";
import type { PlatformId } from "./platform.ts";
import type { ResolveOptions, SourceName } from "./resolve_options.ts";
import { type ResolveSettings, settingsOf } from "./_settings.ts";
import type { Downloaded } from "./_sources.ts";

/** Options of {@linkcode prefetchExtension}: those of `resolveExtension` that choose and fetch a binary. */
export type PrefetchOptions = Omit<ResolveOptions, "extensionPath" | "cacheDir">;

/** Where {@linkcode prefetchExtension} put one platform's binary. */
export interface PrefetchedExtension {
  /** The platform id. */
  platform: PlatformId;
  /** The extension version. */
  version: string;
  /** How the folder got it: `present` when it already held a verified copy, else the source. */
  source: "present" | SourceName;
  /** The cache entry's binary, `<out>/<version>/<platform>/<binary>`. */
  binaryPath: string;
  /**
   * The mirror archive, `<out>/<version>/sqlite-sync-<platform>-<version>.tgz`, or `null` when
   * the binary came from a GitHub release archive, which is not what a mirror serves.
   */
  archivePath: string | null;
  /** sha512 SRI of the archive: what a mirror needs as the `integrity` option when not pinned. */
  archiveIntegrity: string;
  /** sha512 SRI of the binary. */
  binaryIntegrity: string;
  /** What the download was verified against. */
  verifiedBy: string;
  /**
   * Whether a device using the folder as a mirror must pass `archiveIntegrity` as the `integrity`
   * option (the platform has no pinned hash, and a mirror's `.integrity` file is never trusted
   * alone). As a cache directory, the folder needs nothing more.
   */
  mirrorNeedsIntegrity: boolean;
}

/**
 * The mirror archive's path for a version and platform under a folder, as
 * `resolveExtension`'s mirror source requests it.
 *
 * @param outDir The folder.
 * @param version The extension version.
 * @param platform The platform id.
 * @returns `<outDir>/<version>/sqlite-sync-<platform>-<version>.tgz`.
 *
 * @example Usage
 * ```ts
 * import { mirrorArchivePath } from "./prefetch.ts";
 * console.log(mirrorArchivePath("/m", "1.1.4", "linux-arm64"));
 * // "/m/1.1.4/sqlite-sync-linux-arm64-1.1.4.tgz"
 * ```
 */
export function mirrorArchivePath(outDir: string, version: string, platform: string): string {
  return join(outDir, version, `sqlite-sync-${platform}-${version}.tgz`);
}

/**
 * Downloads and verifies one platform's binary into `outDir`, as a cache
 * entry and as a mirror archive (see the module documentation), unless the
 * folder already holds a verified copy. Concurrent prefetches of one folder
 * share a download through the cache's lock file.
 *
 * @param outDir The folder (created when missing).
 * @param options The platform, version, sources, registry or mirror, time-outs, progress.
 * @returns What the folder now holds for that platform.
 * @throws {TypeError} {RangeError} for a malformed option (integrity included), as `resolveExtension`.
 * @throws {SqliteSyncError} `cache` when the folder cannot be written; `offline` when every
 *   source is unreachable (or offline mode is on); `integrity` when a download fails verification;
 *   `not-found` when no source has the binary.
 *
 * @example Usage
 * ```ts ignore
 * import { prefetchExtension } from "./prefetch.ts";
 * const got = await prefetchExtension("./sqlite-sync-cache", { platform: "linux-arm64" });
 * console.log(got.binaryPath, got.archivePath);
 * ```
 */
export async function prefetchExtension(
  outDir: string,
  options: PrefetchOptions = {},
): Promise<PrefetchedExtension> {
  if (typeof outDir !== "string" || outDir === "") {
    throw new TypeError("Cannot prefetch the extension: 'outDir' must be a non-empty string");
  }
  const given = options as ResolveOptions;
  if (given.extensionPath !== undefined || given.cacheDir !== undefined) {
    throw new TypeError(
      "Cannot prefetch the extension: 'extensionPath' and 'cacheDir' do not apply (the folder is the cache)",
    );
  }
  const s = settingsOf({ ...options, cacheDir: outDir });
  if (s.integrity !== undefined) parseIntegrity(s.integrity);
  const root = s.cacheDir!;
  const entry = cacheEntry(root, s.version, s.platform, s.asset.binaryName);
  const archivePath = mirrorArchivePath(root, s.version, s.platform);
  const present = async (): Promise<PrefetchedExtension | undefined> => {
    const state = await checkCacheEntry(entry, { binary: s.pin?.binary, user: s.integrity });
    const meta = state.status === "hit" ? readCacheMeta(entry) : undefined;
    if (!meta) return undefined;
    const npmShaped = meta.source !== "github";
    if (npmShaped && !archiveMatches(archivePath, meta.archiveIntegrity)) return undefined;
    return result(s, "present", entry.binaryPath, npmShaped ? archivePath : null, meta);
  };
  const already = await present();
  if (already) return already;
  if (s.offline) {
    throw new SqliteSyncError(
      "offline",
      `Cannot prefetch the sqlite-sync extension ${s.version} for ${s.platform}: offline mode is ` +
        `on (the 'offline' option or SQLITE_SYNC_OFFLINE) and '${root}' holds no verified copy.`,
    );
  }

  ensureCacheDir(dirname(entry.lockPath), root);
  const [{ acquireLock }, { SOURCES, downloadedMeta }] = await Promise.all([
    import("./lock.ts"),
    import("./_sources.ts"),
  ]);
  let found: PrefetchedExtension | undefined;
  const lock = await acquireLock(entry.lockPath, {
    whileWaiting: async () => (found = await present()) !== undefined,
  }).catch((err) => {
    throw cacheError(root, err);
  });
  if (!lock) return found!;
  try {
    const again = await present();
    if (again) return again;
    removeCacheEntry(entry);
    const failures: string[] = [];
    const kinds: string[] = [];
    for (const source of s.sources) {
      let got: Downloaded;
      try {
        got = await SOURCES[source](s);
      } catch (err) {
        if (err instanceof SqliteSyncError && err.kind === "cache") throw err;
        kinds.push(err instanceof SqliteSyncError ? err.kind : "other");
        failures.push(`${source}: ${err instanceof Error ? err.message : String(err)}`);
        continue;
      }
      const meta = downloadedMeta(s, source, got);
      // The archive first, the cache entry (binary last) after: a folder whose binary is in
      // place is complete.
      const npmShaped = source !== "github";
      if (npmShaped) writeArchive(root, archivePath, got.archive, got.archiveIntegrity);
      installCacheEntry(entry, { binary: got.files.binary, license: got.files.license, meta });
      return result(s, source, entry.binaryPath, npmShaped ? archivePath : null, meta);
    }
    const kind = kinds.includes("integrity")
      ? "integrity"
      : kinds.length > 0 && kinds.every((k) => k === "offline" || k === "timeout")
      ? "offline"
      : "not-found";
    throw new SqliteSyncError(
      kind,
      `Cannot prefetch the sqlite-sync extension ${s.version} for ${s.platform}: ${
        failures.join("; ")
      }`,
    );
  } finally {
    lock.release();
  }
}

function result(
  s: ResolveSettings,
  source: PrefetchedExtension["source"],
  binaryPath: string,
  archivePath: string | null,
  meta: { archiveIntegrity: string; binaryIntegrity: string; verifiedBy: string },
): PrefetchedExtension {
  return {
    platform: s.platform,
    version: s.version,
    source,
    binaryPath,
    archivePath,
    archiveIntegrity: meta.archiveIntegrity,
    binaryIntegrity: meta.binaryIntegrity,
    verifiedBy: meta.verifiedBy,
    mirrorNeedsIntegrity: s.pin?.npmTarball === undefined && s.pin?.binary === undefined,
  };
}

function archiveMatches(path: string, integrity: string): boolean {
  if (!existsSync(path)) return false;
  try {
    return integrityOf(readFileSync(path)) === integrity;
  } catch {
    return false;
  }
}

/** Writes the archive and its `.integrity` file through temp files renamed into place. */
function writeArchive(root: string, path: string, archive: Uint8Array, integrity: string): void {
  try {
    writeAtomic(`${path}.integrity`, `${integrity}\n`);
    writeAtomic(path, archive);
  } catch (err) {
    throw cacheError(root, err);
  }
}

function writeAtomic(path: string, data: Uint8Array | string): void {
  const tmp = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  try {
    writeFileSync(tmp, data, { mode: 0o644, flag: "wx" });
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}
