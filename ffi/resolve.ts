/**
 * Finds the sqlite-sync extension binary: an explicit path, then
 * `SQLITE_SYNC_EXTENSION_PATH`, then the verified cache, then a download from
 * the npm registry, GitHub releases or a mirror — each download hash-checked,
 * installed atomically under a cross-process lock.
 *
 * @module
 */
import { rmdirSync } from "node:fs";
import { dirname, resolve as resolvePath } from "node:path";
import { SqliteSyncError } from "../common/errors.ts";
import type { PlatformId } from "./platform.ts";
import {
  type CacheEntry,
  cacheEntry,
  cacheError,
  checkCacheEntry,
  defaultCacheDir,
  ensureCacheDir,
  installCacheEntry,
  removeCacheEntry,
} from "./cache.ts";
import { fileIntegrity, fileMatches } from "./_file_integrity.ts";
import { type ResolveSettings as Settings, settingsOf } from "./_settings.ts";
import { isPermissionError, permissionError } from "./_permission.ts";
// Types only: download.ts (node:crypto), lock.ts and _sources.ts (archive.ts: fflate, nanotar)
// are imported on a cache miss, so a warm start does not pay for loading them.
import type { DownloadProgress } from "./download.ts";
import type { Downloaded } from "./_sources.ts";
import type { ResolveOptions, SourceName } from "./resolve_options.ts";

export { defaultCacheDir };
export type { DownloadProgress, ResolveOptions, SourceName };

/** A binary ready to load. */
export interface ResolvedExtension {
  /** Absolute path of the binary. */
  path: string;
  /** The extension version asked for. */
  version: string;
  /** The platform id. */
  platform: PlatformId;
  /** How it was found. */
  source: "option" | "env" | "cache" | SourceName;
  /**
   * `true` when hash-checked against a pin, the registry's or the user's integrity. An explicit
   * binary (`extensionPath`, `SQLITE_SYNC_EXTENSION_PATH`) is `true` only when it matches the
   * pinned binary or the `integrity` option.
   */
  verified: boolean;
  /** sha512 SRI of the binary file. */
  integrity?: string;
  /** The cache root, for cached and downloaded binaries. */
  cacheDir?: string;
}

/**
 * Resolves the extension binary: `extensionPath` → `SQLITE_SYNC_EXTENSION_PATH`
 * → the cache → a download from each source in turn. Concurrent processes
 * share one download through a lock file. A cached binary is verified before
 * it is returned: hashed on the first call in a process, and again whenever
 * its stat fingerprint (device, inode, size, mtime, ctime) has changed.
 *
 * @param options Where to look and how to verify.
 * @returns The binary's path and how it was found and verified.
 * @throws {TypeError} for a malformed option (unknown platform or source, bad integrity, bad URL).
 * @throws {RangeError} for a non-positive `timeoutMs` or `deadlineMs`.
 * @throws {SqliteSyncError} `not-found` (a missing explicit path; nothing cached and every source
 * failed), `offline` (every source unreachable), `integrity` (a download or cached file failed
 * verification), `cache` (unusable cache directory, or a Deno permission missing for it, code
 * `NotCapable`), `unsupported-platform`.
 *
 * @example Usage
 * ```ts
 * import { resolveExtension } from "@sqliteai/sync";
 * const { path, verified } = await resolveExtension();
 * console.log(path, verified);
 * ```
 */
export async function resolveExtension(options: ResolveOptions = {}): Promise<ResolvedExtension> {
  const s = settingsOf(options);
  if (s.integrity !== undefined) (await import("./download.ts")).parseIntegrity(s.integrity);
  if (s.extensionPath !== undefined) return await explicitBinary(s.extensionPath, "option", s);
  if (s.env.SQLITE_SYNC_EXTENSION_PATH) {
    return await explicitBinary(s.env.SQLITE_SYNC_EXTENSION_PATH, "env", s);
  }
  const cacheDir = s.cacheDir ?? defaultCacheDir(s.env);
  const entry = cacheEntry(cacheDir, s.version, s.platform, s.asset.binaryName);
  const expect = { binary: s.pin?.binary, user: s.integrity };
  let state = await checkCacheEntry(entry, expect);
  const hit = (integrity: string): ResolvedExtension => ({
    path: entry.binaryPath,
    version: s.version,
    platform: s.platform,
    source: "cache",
    verified: true,
    integrity,
    cacheDir,
  });
  if (state.status === "hit") return hit(state.integrity);
  if (s.offline) {
    if (state.status === "invalid") {
      throw new SqliteSyncError(
        "integrity",
        `The cached sqlite-sync extension '${entry.binaryPath}' failed verification (${state.reason}) ` +
          `and offline mode forbids downloading a fresh copy, so it was not used. Go online once, or ` +
          `pass a trusted binary with the 'extensionPath' option or SQLITE_SYNC_EXTENSION_PATH.`,
      );
    }
    throw failure(s, entry, [], true, "");
  }

  ensureCacheDir(dirname(entry.lockPath), cacheDir);
  const [{ acquireLock }, { SOURCES, downloadedMeta }] = await Promise.all([
    import("./lock.ts"),
    import("./_sources.ts"),
  ]);
  let found: string | undefined;
  const lock = await acquireLock(entry.lockPath, {
    whileWaiting: async () => {
      const seen = await checkCacheEntry(entry, expect);
      if (seen.status === "hit") found = seen.integrity;
      return found !== undefined;
    },
  }).catch((err) => {
    throw cacheError(cacheDir, err);
  });
  if (!lock) return hit(found as string);
  let failed = false;
  try {
    state = await checkCacheEntry(entry, expect);
    if (state.status === "hit") return hit(state.integrity);
    if (state.status === "invalid") removeCacheEntry(entry);
    const attempts: Attempt[] = [];
    for (const source of s.sources) {
      let got: Downloaded;
      try {
        got = await SOURCES[source](s);
      } catch (err) {
        if (err instanceof SqliteSyncError && err.kind === "cache") throw err;
        attempts.push({ source, error: err });
        continue;
      }
      installCacheEntry(entry, {
        binary: got.files.binary,
        license: got.files.license,
        meta: downloadedMeta(s, source, got),
      });
      return {
        path: entry.binaryPath,
        version: s.version,
        platform: s.platform,
        source,
        verified: true,
        integrity: got.binaryIntegrity,
        cacheDir,
      };
    }
    // Leave nothing behind a failed download: empty directories go too (the entry's under the lock).
    failed = true;
    tryRmdir(entry.dir);
    throw failure(s, entry, attempts, false, state.status === "invalid" ? state.reason : "");
  } finally {
    lock.release();
    if (failed) tryRmdir(dirname(entry.lockPath));
  }
}

function tryRmdir(dir: string): void {
  try {
    rmdirSync(dir);
  } catch {
    // Not empty (another version, platform or lock) or already gone.
  }
}

async function explicitBinary(
  path: string,
  source: "option" | "env",
  s: Settings,
): Promise<ResolvedExtension> {
  const given = source === "option"
    ? "the 'extensionPath' option"
    : "the SQLITE_SYNC_EXTENSION_PATH environment variable";
  let integrity: string;
  try {
    integrity = await fileIntegrity(path);
  } catch (err) {
    if (isPermissionError(err)) throw permissionError("not-found", err, `reading ${given}`);
    const code = (err as { code?: string }).code;
    throw new SqliteSyncError(
      "not-found",
      `The sqlite-sync extension '${path}' given by ${given} cannot be read (${code ?? err}). ` +
        `Fix the path, or unset it to let the library download and cache the extension.`,
      { cause: err, code },
    );
  }
  let verified = false;
  if (s.integrity !== undefined) {
    if (!await fileMatches(path, integrity, s.integrity)) {
      throw new SqliteSyncError(
        "integrity",
        `The sqlite-sync extension '${path}' given by ${given} does not match the 'integrity' ` +
          `option (its sha512 is ${integrity}); it was not used.`,
      );
    }
    verified = true;
  } else if (s.pin?.binary !== undefined) {
    // The user chose this file, so a mismatch still loads, but it is not reported as verified.
    verified = await fileMatches(path, integrity, s.pin.binary);
  }
  return {
    path: resolvePath(path),
    version: s.version,
    platform: s.platform,
    source,
    verified,
    integrity,
  };
}

interface Attempt {
  source: SourceName;
  error: unknown;
}

function failure(
  s: Settings,
  entry: CacheEntry,
  attempts: Attempt[],
  offline: boolean,
  cacheProblem: string,
): SqliteSyncError {
  const kinds = attempts.map((a) => a.error instanceof SqliteSyncError ? a.error.kind : "other");
  const kind = kinds.includes("integrity")
    ? "integrity"
    : kinds.length > 0 && kinds.every((k) => k === "offline" || k === "timeout")
    ? "offline"
    : "not-found";
  const tried = [
    cacheProblem
      ? `  - cache: the copy in '${entry.dir}' failed verification (${cacheProblem}) and was deleted`
      : `  - cache: nothing usable in '${entry.dir}'`,
  ];
  if (offline) {
    tried.push("  - download: skipped, offline mode (the 'offline' option or SQLITE_SYNC_OFFLINE)");
  }
  for (const a of attempts) {
    tried.push(`  - ${a.source}: ${a.error instanceof Error ? a.error.message : String(a.error)}`);
  }
  return new SqliteSyncError(
    kind,
    `Cannot get the sqlite-sync extension ${s.version} for ${s.platform}. Tried:\n${
      tried.join("\n")
    }\n` +
      `Ways out: pass the path of a binary you trust with the 'extensionPath' option or the ` +
      `SQLITE_SYNC_EXTENSION_PATH environment variable; or prefetch the extension on a machine with ` +
      `network access into a mirror or cache directory and point SQLITE_SYNC_MIRROR or ` +
      `SQLITE_SYNC_CACHE_DIR (the 'mirror' / 'cacheDir' options) at it.`,
    { cause: new AggregateError(attempts.map((a) => a.error), "every source failed") },
  );
}
