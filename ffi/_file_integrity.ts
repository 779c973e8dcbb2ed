/**
 * File hashes for the cache: the sha512 SRI of a binary, memoized per
 * process while the file's stat fingerprint is unchanged, and the comparison
 * with an SRI string. Nothing here imports `download.ts` (and so
 * `node:crypto`, ~13 ms to load in Deno): hashing uses Web Crypto, and the
 * rare non-sha512 comparison loads `download.ts` on demand.
 *
 * @module
 */
import { readFileSync, statSync } from "node:fs";

/**
 * The per-process memo of file hashes behind {@linkcode fileIntegrity}, exposed
 * for tests: `hashes` counts the files actually read and hashed; `racyMs` is how
 * much older than the hash a file's ctime must be for the hash to be kept.
 */
export interface HashMemoStats {
  /** Files read and hashed so far in this process. */
  hashes: number;
  /**
   * A hash is kept only when the file's ctime is at least this much older than
   * the moment it was read. File times can be coarse (Deno reports ctime in
   * whole seconds; ext3, HFS+ and FAT keep seconds), and a write in the same
   * tick as the previous one would leave the fingerprint unchanged.
   * @default {2000}
   */
  racyMs: number;
}

/** See {@linkcode HashMemoStats}. Tests read `hashes` and may lower `racyMs`. */
export const hashMemo: HashMemoStats = { hashes: 0, racyMs: 2000 };

const hashes = new Map<string, { fingerprint: string; integrity: string }>();

function fingerprint(path: string): { key: string; ctimeMs: number } {
  const st = statSync(path);
  return { key: `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`, ctimeMs: st.ctimeMs };
}

/**
 * The sha512 SRI of a file. The hash is kept for the life of the process and
 * reused while the file's stat fingerprint (device, inode, size, mtime, ctime)
 * is unchanged: any write or replacement changes ctime (or the inode), so a
 * modified file is read and hashed again. A file that changed while it was
 * read, or whose ctime is too recent to be trusted, is hashed on every call.
 *
 * @param path The file.
 * @returns `sha512-<base64>`.
 * @throws {Error} The file-system error when the file cannot be read.
 *
 * @example Usage
 * ```ts ignore
 * import { fileIntegrity } from "./_file_integrity.ts";
 * console.log(await fileIntegrity("/c/1.1.4/linux-x86_64/cloudsync.so"));
 * ```
 */
export async function fileIntegrity(path: string): Promise<string> {
  const before = fingerprint(path);
  const known = hashes.get(path);
  if (known?.fingerprint === before.key) return known.integrity;
  const readAt = Date.now();
  const data = readFileSync(path);
  hashMemo.hashes++;
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-512", data));
  const integrity = `sha512-${btoa(String.fromCharCode(...digest))}`;
  let after: string | undefined;
  try {
    after = fingerprint(path).key;
  } catch {
    after = undefined;
  }
  if (after === before.key && before.ctimeMs < readAt - hashMemo.racyMs) {
    hashes.set(path, { fingerprint: before.key, integrity });
  } else {
    hashes.delete(path);
  }
  return integrity;
}

/**
 * Tells whether a file whose sha512 SRI is known matches an SRI string: its
 * sha512 hashes are compared directly; only a string that also holds other
 * algorithms has the file read again (and `download.ts` loaded) to check them.
 *
 * @param path The file.
 * @param integrity The file's sha512 SRI, from {@linkcode fileIntegrity}.
 * @param sri The SRI string to match.
 * @returns `true` when one hash matches.
 * @throws {TypeError} when `sri` is malformed and holds more than sha512 hashes.
 *
 * @example Usage
 * ```ts ignore
 * import { fileIntegrity, fileMatches } from "./_file_integrity.ts";
 * const path = "/c/1.1.4/linux-x86_64/cloudsync.so";
 * console.log(await fileMatches(path, await fileIntegrity(path), "sha512-…"));
 * ```
 */
export async function fileMatches(path: string, integrity: string, sri: string): Promise<boolean> {
  const parts = sri.trim().split(/\s+/);
  if (parts.some((part) => part.replace(/\?.*$/, "") === integrity)) return true;
  if (parts.every((part) => part.startsWith("sha512-"))) return false;
  const { matchesIntegrity } = await import("./download.ts");
  return matchesIntegrity(readFileSync(path), sri);
}
