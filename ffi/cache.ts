/**
 * The on-disk cache of verified binaries:
 * `<cacheDir>/<version>/<platform>/{<binary>, LICENSE.md, meta.json}`.
 * Files are written through temp files in the same directory and renamed into
 * place, binary last, so a reader never sees a half-written entry.
 *
 * @module
 */
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join, posix, win32 } from "node:path";
import process from "node:process";
import { SqliteSyncError } from "../common/errors.ts";
import { fileIntegrity, fileMatches } from "./_file_integrity.ts";
import { isPermissionError, permissionError } from "./_permission.ts";

/** What `meta.json` records about a cached binary. */
export interface CacheMeta {
  /** The extension version. */
  version: string;
  /** The platform id. */
  platform: string;
  /** Where it came from (`npm`, `github`, `mirror`). */
  source: string;
  /** The archive URL, without credentials. */
  url: string;
  /** SRI of the downloaded archive. */
  archiveIntegrity: string;
  /** sha512 SRI of the binary, checked before every use. */
  binaryIntegrity: string;
  /** What the archive was verified against. */
  verifiedBy: string;
  /** When it was downloaded (ISO 8601). */
  fetchedAt: string;
}

/** The paths of one cache entry. */
export interface CacheEntry {
  /** The cache root. */
  cacheDir: string;
  /** `<cacheDir>/<version>/<platform>`. */
  dir: string;
  /** The binary. */
  binaryPath: string;
  /** The extension's licence, kept beside the binary. */
  licensePath: string;
  /** `meta.json`. */
  metaPath: string;
  /** The cross-process lock, `<cacheDir>/<version>/<platform>.lock`. */
  lockPath: string;
}

/**
 * The `verifiedBy` label of a mirror's `.integrity` file. It guards against corruption only: an
 * entry verified by nothing else (as versions before 0.1 accepted) is not trusted.
 */
export const MIRROR_SIDECAR_LABEL = "the mirror's .integrity file";

/** The outcome of {@linkcode checkCacheEntry}. */
export type CacheState =
  | { status: "hit"; integrity: string }
  | { status: "miss" }
  | { status: "invalid"; reason: string };

/** What {@linkcode checkCacheEntry} verifies against. */
export interface CacheExpectation {
  /** The pinned sha512 of the binary: when set, `meta.json` is not read. */
  binary?: string;
  /** The user's integrity: the cached archive or binary must match it. */
  user?: string;
}

/**
 * The cache directory to use when none is given: `SQLITE_SYNC_CACHE_DIR`, else
 * `%LOCALAPPDATA%\sqlite-sync` on Windows, `$XDG_CACHE_HOME/sqlite-sync`,
 * `~/Library/Caches/sqlite-sync` on macOS, `~/.cache/sqlite-sync` elsewhere.
 *
 * @param env The environment.
 * @param os `process.platform` of the host.
 * @returns An absolute directory path.
 * @throws {SqliteSyncError} `cache` when the environment names no home or cache directory.
 *
 * @example Usage
 * ```ts
 * import { defaultCacheDir } from "./cache.ts";
 * console.log(defaultCacheDir({ HOME: "/home/me" }, "linux")); // "/home/me/.cache/sqlite-sync"
 * ```
 */
export function defaultCacheDir(
  env: Record<string, string | undefined> = process.env,
  os: string = process.platform,
): string {
  const path = os === "win32" ? win32 : posix;
  if (env.SQLITE_SYNC_CACHE_DIR) return path.resolve(env.SQLITE_SYNC_CACHE_DIR);
  if (os === "win32") {
    if (env.LOCALAPPDATA) return path.join(env.LOCALAPPDATA, "sqlite-sync");
  } else {
    if (env.XDG_CACHE_HOME && path.isAbsolute(env.XDG_CACHE_HOME)) {
      return path.join(env.XDG_CACHE_HOME, "sqlite-sync");
    }
    if (env.HOME) {
      return os === "darwin"
        ? path.join(env.HOME, "Library", "Caches", "sqlite-sync")
        : path.join(env.HOME, ".cache", "sqlite-sync");
    }
  }
  const names = os === "win32" ? "LOCALAPPDATA" : "HOME or XDG_CACHE_HOME";
  throw new SqliteSyncError(
    "cache",
    `Cannot choose a cache directory for the sqlite-sync extension: ${names} is not set. ` +
      `Set the 'cacheDir' option or the SQLITE_SYNC_CACHE_DIR environment variable.`,
  );
}

/**
 * The paths of the cache entry for one version and platform.
 *
 * @param cacheDir The cache root.
 * @param version The extension version.
 * @param platform The platform id.
 * @param binaryName The binary's file name.
 * @returns The entry's paths.
 *
 * @example Usage
 * ```ts
 * import { cacheEntry } from "./cache.ts";
 * console.log(cacheEntry("/c", "1.1.4", "linux-x86_64", "cloudsync.so").binaryPath);
 * ```
 */
export function cacheEntry(
  cacheDir: string,
  version: string,
  platform: string,
  binaryName: string,
): CacheEntry {
  const dir = join(cacheDir, version, platform);
  return {
    cacheDir,
    dir,
    binaryPath: join(dir, binaryName),
    licensePath: join(dir, "LICENSE.md"),
    metaPath: join(dir, "meta.json"),
    lockPath: join(cacheDir, version, `${platform}.lock`),
  };
}

/**
 * Verifies a cache entry: the binary's sha512 must equal the pin, or (when the
 * version is not pinned) the one `meta.json` recorded; a user integrity must
 * match the recorded archive or the binary; without either, an entry that only a
 * mirror's `.integrity` file vouched for is not trusted. The binary is hashed through
 * {@linkcode fileIntegrity}, so once per process while it stays unchanged.
 * Reads one small file at most besides the binary and never deletes anything.
 *
 * @param entry The entry.
 * @param expect The pin and the user's integrity.
 * @returns `hit` with the binary's SRI, `miss`, or `invalid` with the reason.
 * @throws {SqliteSyncError} `cache` when Deno denies reading the cache (missing `--allow-read`).
 *
 * @example Usage
 * ```ts ignore
 * import { cacheEntry, checkCacheEntry } from "./cache.ts";
 * const state = await checkCacheEntry(cacheEntry("/c", "1.1.4", "linux-x86_64", "cloudsync.so"), {});
 * ```
 */
export async function checkCacheEntry(
  entry: CacheEntry,
  expect: CacheExpectation,
): Promise<CacheState> {
  let integrity: string;
  try {
    integrity = await fileIntegrity(entry.binaryPath);
  } catch (err) {
    if (isPermissionError(err)) throw permissionError("cache", err, "reading the cache");
    return { status: "miss" };
  }
  const matches = (sri: string): Promise<boolean> => fileMatches(entry.binaryPath, integrity, sri);
  if (expect.binary !== undefined) {
    if (!await matches(expect.binary)) {
      return { status: "invalid", reason: "its sha512 does not match the pinned integrity" };
    }
    if (expect.user === undefined || await matches(expect.user)) {
      return { status: "hit", integrity };
    }
  }
  const meta = readCacheMeta(entry);
  if (!meta) return { status: "invalid", reason: "its meta.json is missing or unreadable" };
  if (expect.binary === undefined && integrity !== meta.binaryIntegrity) {
    return { status: "invalid", reason: "its sha512 does not match the one recorded in meta.json" };
  }
  if (expect.user !== undefined) {
    if (expect.user !== meta.archiveIntegrity && !await matches(expect.user)) {
      return { status: "invalid", reason: "it was not downloaded with the integrity you passed" };
    }
  } else if (expect.binary === undefined && meta.verifiedBy === MIRROR_SIDECAR_LABEL) {
    return { status: "invalid", reason: "it was verified only by a mirror's .integrity file" };
  }
  return { status: "hit", integrity };
}

/**
 * Reads an entry's `meta.json`.
 *
 * @param entry The entry.
 * @returns The metadata, or `undefined` when missing or malformed.
 *
 * @example Usage
 * ```ts ignore
 * import { cacheEntry, readCacheMeta } from "./cache.ts";
 * console.log(readCacheMeta(cacheEntry("/c", "1.1.4", "linux-x86_64", "cloudsync.so"))?.source);
 * ```
 */
export function readCacheMeta(entry: CacheEntry): CacheMeta | undefined {
  try {
    const meta = JSON.parse(readFileSync(entry.metaPath, "utf8"));
    return typeof meta?.binaryIntegrity === "string" ? meta as CacheMeta : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Creates a directory (and its parents), turning failures into a `cache` error.
 *
 * @param dir The directory.
 * @param cacheDir The cache root, named in the message.
 * @throws {SqliteSyncError} `cache` when the directory cannot be created.
 *
 * @example Usage
 * ```ts ignore
 * import { ensureCacheDir } from "./cache.ts";
 * ensureCacheDir("/tmp/sqlite-sync/1.1.4", "/tmp/sqlite-sync");
 * ```
 */
export function ensureCacheDir(dir: string, cacheDir: string): void {
  try {
    mkdirSync(dir, { recursive: true });
  } catch (err) {
    throw cacheError(cacheDir, err);
  }
}

/**
 * Installs a verified binary into its entry: `LICENSE.md`, then `meta.json`,
 * then the binary, each written to a temp file and renamed into place.
 *
 * @param entry The entry.
 * @param files The binary, its licence and its metadata.
 * @throws {SqliteSyncError} `cache` when the directory cannot be written.
 *
 * @example Usage
 * ```ts ignore
 * import { cacheEntry, installCacheEntry } from "./cache.ts";
 * installCacheEntry(entry, { binary, license, meta });
 * ```
 */
export function installCacheEntry(
  entry: CacheEntry,
  files: { binary: Uint8Array; license?: Uint8Array; meta: CacheMeta },
): void {
  ensureCacheDir(entry.dir, entry.cacheDir);
  try {
    if (files.license) writeAtomic(entry.licensePath, files.license);
    writeAtomic(entry.metaPath, `${JSON.stringify(files.meta, null, 2)}\n`);
    writeAtomic(entry.binaryPath, files.binary, 0o755);
  } catch (err) {
    throw cacheError(entry.cacheDir, err);
  }
}

/**
 * Deletes an entry's files (binary first, so no reader can pick up what is left).
 *
 * @param entry The entry.
 *
 * @example Usage
 * ```ts ignore
 * import { removeCacheEntry } from "./cache.ts";
 * removeCacheEntry(entry);
 * ```
 */
export function removeCacheEntry(entry: CacheEntry): void {
  for (const path of [entry.binaryPath, entry.metaPath, entry.licensePath]) {
    try {
      rmSync(path, { force: true });
    } catch {
      // Removing is best effort: the next install renames over it anyway.
    }
  }
}

function writeAtomic(path: string, data: Uint8Array | string, mode = 0o644): void {
  const tmp = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  try {
    writeFileSync(tmp, data, { mode, flag: "wx" });
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}

/**
 * Builds the `cache` error for a directory that cannot be used.
 *
 * @param cacheDir The cache root.
 * @param cause The file-system error.
 * @returns The error.
 *
 * @example Usage
 * ```ts
 * import { cacheError } from "./cache.ts";
 * console.log(cacheError("/ro", new Error("EROFS")).kind); // "cache"
 * ```
 */
export function cacheError(cacheDir: string, cause: unknown): SqliteSyncError {
  if (isPermissionError(cause)) {
    return permissionError("cache", cause, `using the cache directory '${cacheDir}'`);
  }
  const code = (cause as { code?: unknown })?.code;
  const why = typeof code === "string" ? code : (cause as Error)?.message ?? String(cause);
  return new SqliteSyncError(
    "cache",
    `Cannot write the sqlite-sync cache directory '${cacheDir}' (${why}). ` +
      `Set the 'cacheDir' option or the SQLITE_SYNC_CACHE_DIR environment variable to a writable directory.`,
    { cause, code: typeof code === "string" ? code : undefined },
  );
}
