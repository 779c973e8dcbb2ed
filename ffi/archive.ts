/**
 * Reading the extension out of npm tarballs and GitHub release archives
 * (`.tar.gz` through `DecompressionStream` + nanotar, `.zip` through fflate),
 * with a cap on the unpacked size.
 *
 * @module
 */
import { parseTar } from "nanotar";
import { unzipSync } from "fflate";
import { SqliteSyncError } from "../common/errors.ts";
import { concatBytes, integrityOf, matchesIntegrity } from "./download.ts";

/** The archive formats the extension is published in. */
export type ArchiveFormat = "tar.gz" | "zip";

/** One regular file of an archive. */
export interface ArchiveEntry {
  /** Its path inside the archive, `/`-separated. */
  name: string;
  /** Its content. */
  data: Uint8Array;
}

/** What {@linkcode pickExtensionFiles} found. */
export interface ExtensionFiles {
  /** The binary's path inside the archive. */
  binaryPath: string;
  /** The binary. */
  binary: Uint8Array;
  /** `LICENSE.md` found next to the binary (or anywhere), if any. */
  license?: Uint8Array;
}

/** The largest unpacked size {@linkcode readArchive} accepts by default: 512 MB. */
export const DEFAULT_MAX_UNPACKED = 512 * 1024 * 1024;

/**
 * Tells an archive's format from its first bytes.
 *
 * @param data The archive.
 * @returns `"tar.gz"` for gzip, `"zip"` for zip, else `undefined`.
 *
 * @example Usage
 * ```ts
 * import { detectArchiveFormat } from "./archive.ts";
 * console.log(detectArchiveFormat(new Uint8Array([0x1f, 0x8b, 8]))); // "tar.gz"
 * ```
 */
export function detectArchiveFormat(data: Uint8Array): ArchiveFormat | undefined {
  if (data[0] === 0x1f && data[1] === 0x8b) return "tar.gz";
  if (data[0] === 0x50 && data[1] === 0x4b && data[2] === 0x03 && data[3] === 0x04) return "zip";
  return undefined;
}

/**
 * Decompresses gzip with `DecompressionStream`, refusing output larger than `maxBytes`.
 *
 * @param data The gzip bytes.
 * @param maxBytes The cap on the output.
 * @returns The decompressed bytes.
 * @throws {SqliteSyncError} `download` when the data is not gzip or exceeds the cap.
 *
 * @example Usage
 * ```ts ignore
 * import { gunzip } from "./archive.ts";
 * const tar = await gunzip(tgzBytes);
 * ```
 */
export async function gunzip(
  data: Uint8Array,
  maxBytes = DEFAULT_MAX_UNPACKED,
): Promise<Uint8Array> {
  const stream = new Blob([data as Uint8Array<ArrayBuffer>]).stream().pipeThrough(
    new DecompressionStream("gzip"),
  );
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > maxBytes) {
        await reader.cancel().catch(() => {});
        throw new SqliteSyncError("download", `archive unpacks to more than ${maxBytes} bytes`);
      }
      chunks.push(value);
    }
  } catch (err) {
    if (err instanceof SqliteSyncError) throw err;
    throw new SqliteSyncError("download", `archive is not valid gzip: ${(err as Error).message}`, {
      cause: err,
    });
  }
  return concatBytes(chunks, size);
}

/**
 * Lists the regular files of a `.tar.gz` or `.zip` archive (format sniffed from its bytes).
 *
 * @param data The archive.
 * @param maxBytes The cap on the unpacked size.
 * @returns Its regular files.
 * @throws {SqliteSyncError} `download` when the archive is unreadable, of an unknown format or too large.
 *
 * @example Usage
 * ```ts ignore
 * import { readArchive } from "./archive.ts";
 * for (const entry of await readArchive(bytes)) console.log(entry.name);
 * ```
 */
export async function readArchive(
  data: Uint8Array,
  maxBytes = DEFAULT_MAX_UNPACKED,
): Promise<ArchiveEntry[]> {
  const format = detectArchiveFormat(data);
  if (format === "tar.gz") {
    const tar = await gunzip(data, maxBytes);
    try {
      return parseTar(tar)
        .filter((item) => (item.type === "file" || item.type === undefined) && item.data)
        .map((item) => ({ name: item.name, data: item.data as Uint8Array }));
    } catch (err) {
      throw new SqliteSyncError(
        "download",
        `archive is not a valid tar: ${(err as Error).message}`,
        {
          cause: err,
        },
      );
    }
  }
  if (format === "zip") {
    let total = 0;
    try {
      const files = unzipSync(data, {
        filter: (file) => {
          if (file.name.endsWith("/")) return false;
          total += file.originalSize;
          if (total > maxBytes) throw new RangeError(`unpacks to more than ${maxBytes} bytes`);
          return true;
        },
      });
      return Object.entries(files).map(([name, content]) => ({ name, data: content }));
    } catch (err) {
      throw new SqliteSyncError(
        "download",
        `archive is not a valid zip: ${(err as Error).message}`,
        {
          cause: err,
        },
      );
    }
  }
  throw new SqliteSyncError("download", "archive is neither gzip nor zip");
}

/**
 * Finds the extension binary and its licence among archive entries. The binary
 * is `preferred` when present, else the shallowest entry named `binaryName`;
 * the licence is the `LICENSE.md` beside it, else the shallowest one.
 *
 * @param entries The archive's files.
 * @param binaryName The binary's file name (`cloudsync.so`, …).
 * @param preferred The path to take first (`package/cloudsync.so` in npm tarballs).
 * @returns The binary, its path and the licence if any.
 * @throws {SqliteSyncError} `download` when no entry is named `binaryName`.
 *
 * @example Usage
 * ```ts
 * import { pickExtensionFiles } from "./archive.ts";
 * const files = pickExtensionFiles(
 *   [{ name: "dir/cloudsync.so", data: new Uint8Array([1]) }],
 *   "cloudsync.so",
 * );
 * console.log(files.binaryPath); // "dir/cloudsync.so"
 * ```
 */
export function pickExtensionFiles(
  entries: ArchiveEntry[],
  binaryName: string,
  preferred?: string,
): ExtensionFiles {
  const byDepth = (a: ArchiveEntry, b: ArchiveEntry): number =>
    a.name.split("/").length - b.name.split("/").length || a.name.length - b.name.length;
  const clean = entries.map((e) => ({ ...e, name: e.name.replace(/^\.\//, "") }));
  const binary = clean.find((e) => e.name === preferred) ??
    clean.filter((e) => baseName(e.name) === binaryName).sort(byDepth)[0];
  if (!binary) {
    throw new SqliteSyncError(
      "download",
      `archive holds no ${binaryName} (files: ${clean.slice(0, 10).map((e) => e.name).join(", ")})`,
    );
  }
  const dir = binary.name.slice(0, binary.name.length - baseName(binary.name).length);
  const licences = clean.filter((e) => baseName(e.name).toUpperCase() === "LICENSE.MD");
  const license = licences.find((e) => e.name === `${dir}LICENSE.md`) ?? licences.sort(byDepth)[0];
  return { binaryPath: binary.name, binary: binary.data, license: license?.data };
}

function baseName(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}

/** One expected hash of a download: of the archive, of the binary inside it, or of either. */
export interface IntegrityCheck {
  /** Where the hash comes from, for messages ("the pinned npm tarball integrity"…). */
  label: string;
  /** The SRI string. */
  sri: string;
  /** What it is the hash of. */
  target: "archive" | "binary" | "either";
}

/** What {@linkcode extractVerified} returns. */
export interface VerifiedExtension {
  /** The binary and its licence. */
  files: ExtensionFiles;
  /** sha512 SRI of the archive. */
  archiveIntegrity: string;
  /** sha512 SRI of the binary. */
  binaryIntegrity: string;
  /** The labels of the checks that passed. */
  verifiedBy: string[];
}

/**
 * Verifies a downloaded archive against every known hash (archive hashes
 * before unpacking anything), then extracts the binary and checks the binary
 * hashes. All checks must pass; with no check at all the archive is refused.
 *
 * @param archive The downloaded archive.
 * @param checks The expected hashes.
 * @param options `where` (the redacted URL) and `what` (version and platform) for messages;
 * the binary's name and preferred path.
 * @returns The verified files and their integrities.
 * @throws {SqliteSyncError} `integrity` on a mismatch or when no check is known;
 * `download` when the archive is unreadable or lacks the binary.
 *
 * @example Usage
 * ```ts ignore
 * import { extractVerified } from "./archive.ts";
 * const ok = await extractVerified(bytes, [{ label: "pin", sri, target: "archive" }], {
 *   where: url, what: "1.1.4 on linux-x86_64", binaryName: "cloudsync.so",
 * });
 * ```
 */
export async function extractVerified(
  archive: Uint8Array,
  checks: IntegrityCheck[],
  options: { where: string; what: string; binaryName: string; preferred?: string },
): Promise<VerifiedExtension> {
  const { where, what, binaryName, preferred } = options;
  if (checks.length === 0) {
    throw new SqliteSyncError(
      "integrity",
      `${where}: no integrity is known for ${what}, so the download was refused. ` +
        `Pass the archive's SRI (sha512-…) as the 'integrity' option to accept it.`,
    );
  }
  const archiveIntegrity = integrityOf(archive);
  const mismatch = (check: IntegrityCheck, actual: string): SqliteSyncError =>
    new SqliteSyncError(
      "integrity",
      `${where}: integrity mismatch, ${check.label} expects ${check.sri} but the ${
        check.target === "binary" ? "binary" : "archive"
      } is ${actual}; the download was refused and nothing was cached.`,
    );
  for (const check of checks.filter((c) => c.target === "archive")) {
    if (!matchesIntegrity(archive, check.sri)) throw mismatch(check, archiveIntegrity);
  }
  let files: ExtensionFiles;
  try {
    files = pickExtensionFiles(await readArchive(archive), binaryName, preferred);
  } catch (err) {
    throw new SqliteSyncError("download", `${where}: ${(err as Error).message}`, { cause: err });
  }
  const binaryIntegrity = integrityOf(files.binary);
  for (const check of checks.filter((c) => c.target !== "archive")) {
    const ok = (check.target === "either" && matchesIntegrity(archive, check.sri)) ||
      matchesIntegrity(files.binary, check.sri);
    if (!ok) {
      throw mismatch(
        check,
        check.target === "binary"
          ? binaryIntegrity
          : `${archiveIntegrity} (its binary ${binaryIntegrity})`,
      );
    }
  }
  return { files, archiveIntegrity, binaryIntegrity, verifiedBy: checks.map((c) => c.label) };
}
