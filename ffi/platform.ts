/**
 * Host detection: os × arch × libc → one of upstream's seven platform ids.
 *
 * @module
 */
import { existsSync, readFileSync } from "node:fs";
import process from "node:process";
import { SqliteSyncError } from "../common/errors.ts";

/**
 * The seven platforms for which upstream publishes a loadable extension.
 *
 * @example Usage
 * ```ts
 * import { PLATFORM_IDS } from "@sqliteai/sync";
 * console.log(PLATFORM_IDS.includes("linux-arm64")); // true
 * ```
 */
export const PLATFORM_IDS = [
  "linux-x86_64",
  "linux-arm64",
  "linux-x86_64-musl",
  "linux-arm64-musl",
  "darwin-x86_64",
  "darwin-arm64",
  "win32-x86_64",
] as const;

/** One of upstream's seven platform ids, as used in npm package names. */
export type PlatformId = typeof PLATFORM_IDS[number];

/** The C library of a Linux host. */
export type Libc = "glibc" | "musl";

/** What is known about a host, in Node's vocabulary (`process.platform`, `process.arch`). */
export interface HostInfo {
  /** `process.platform`: `linux`, `darwin`, `win32`, `freebsd`… */
  os: string;
  /** `process.arch`: `x64`, `arm64`, `arm`, `ia32`… */
  arch: string;
  /** The C library, on Linux only. */
  libc?: Libc;
}

/** How one platform's binary is named and published. */
export interface PlatformAsset {
  /** The platform id. */
  id: PlatformId;
  /** The npm package holding the binary. */
  npmPackage: string;
  /** The binary's file name inside packages and archives. */
  binaryName: string;
  /** The platform string of GitHub release assets (`cloudsync-<this>-<version>.tar.gz`). */
  releasePlatform: string;
}

const RELEASE_PLATFORMS: Record<PlatformId, string> = {
  "linux-x86_64": "linux-x86_64",
  "linux-arm64": "linux-arm64",
  "linux-x86_64-musl": "linux-musl-x86_64",
  "linux-arm64-musl": "linux-musl-arm64",
  "darwin-x86_64": "macos-x86_64",
  "darwin-arm64": "macos-arm64",
  "win32-x86_64": "windows-x86_64",
};

/**
 * Tells whether a string is one of the seven platform ids.
 *
 * @param value The string to check.
 * @returns `true` when `value` is a {@linkcode PlatformId}.
 *
 * @example Usage
 * ```ts
 * import { isPlatformId } from "./platform.ts";
 * console.log(isPlatformId("linux-arm64")); // true
 * ```
 */
export function isPlatformId(value: string): value is PlatformId {
  return (PLATFORM_IDS as readonly string[]).includes(value);
}

/**
 * Maps a host to its platform id.
 *
 * @param host The host, usually from {@linkcode detectHost}.
 * @returns The platform id.
 * @throws {SqliteSyncError} `unsupported-platform` naming the host and the supported list.
 *
 * @example Usage
 * ```ts
 * import { platformIdOf } from "@sqliteai/sync";
 * console.log(platformIdOf({ os: "linux", arch: "arm64", libc: "musl" })); // "linux-arm64-musl"
 * ```
 */
export function platformIdOf(host: HostInfo): PlatformId {
  const arch = host.arch === "x64" ? "x86_64" : host.arch === "arm64" ? "arm64" : undefined;
  let id: string | undefined;
  if (arch !== undefined) {
    if (host.os === "linux") id = host.libc === "musl" ? `linux-${arch}-musl` : `linux-${arch}`;
    else if (host.os === "darwin") id = `darwin-${arch}`;
    else if (host.os === "win32" && arch === "x86_64") id = "win32-x86_64";
  }
  if (id === undefined || !isPlatformId(id)) {
    const libc = host.os === "linux" && host.libc ? ` (${host.libc})` : "";
    throw new SqliteSyncError(
      "unsupported-platform",
      `sqlite-sync has no prebuilt extension for ${host.os}/${host.arch}${libc}. ` +
        `Supported platforms: ${PLATFORM_IDS.join(", ")}. ` +
        `Build the extension from source and pass its path with the 'extensionPath' option ` +
        `or the SQLITE_SYNC_EXTENSION_PATH environment variable.`,
    );
  }
  return id;
}

/**
 * Describes how a platform's binary is named and published.
 *
 * @param id The platform id.
 * @returns Package name, binary name and release platform string.
 *
 * @example Usage
 * ```ts
 * import { platformAsset } from "./platform.ts";
 * console.log(platformAsset("win32-x86_64").binaryName); // "cloudsync.dll"
 * ```
 */
export function platformAsset(id: PlatformId): PlatformAsset {
  const binaryName = id.startsWith("darwin")
    ? "cloudsync.dylib"
    : id.startsWith("win32")
    ? "cloudsync.dll"
    : "cloudsync.so";
  return {
    id,
    npmPackage: `@sqliteai/sqlite-sync-${id}`,
    binaryName,
    releasePlatform: RELEASE_PLATFORMS[id],
  };
}

/** Files and probes used by musl detection; injectable for tests. */
export interface LibcProbe {
  /** Whether a file exists. */
  exists(path: string): boolean;
  /** A file's text, or `undefined` when it cannot be read. */
  read(path: string): string | undefined;
  /** `process.report`'s `glibcVersionRuntime`, when the runtime exposes it. */
  glibcVersionRuntime(): string | undefined;
}

const realProbe: LibcProbe = {
  exists: (path) => existsSync(path),
  read: (path) => {
    try {
      return readFileSync(path, "utf8");
    } catch {
      return undefined;
    }
  },
  glibcVersionRuntime: () => {
    // deno-lint-ignore no-explicit-any
    const report = (process as any).report?.getReport?.();
    return report?.header?.glibcVersionRuntime ?? undefined;
  },
};

const detectedLibc = new Map<string, Libc>();

/**
 * Detects the C library of a Linux host with upstream's rules: musl when the
 * musl loader exists; else glibc when the runtime reports a glibc version; else
 * musl when `/etc/os-release` names Alpine or musl; else glibc. Spawns no
 * process; `process.report` (milliseconds) is read only when os-release names
 * musl, and with the real probes the answer is kept for the life of the process.
 *
 * @param arch `process.arch` of the host.
 * @param probe File and runtime probes (tests inject their own; those answers are not kept).
 * @returns `"musl"` or `"glibc"`.
 *
 * @example Usage
 * ```ts
 * import { detectLibc } from "./platform.ts";
 * console.log(detectLibc("x64"));
 * ```
 */
export function detectLibc(arch: string, probe?: LibcProbe): Libc {
  if (probe !== undefined) return probeLibc(arch, probe);
  let libc = detectedLibc.get(arch);
  if (libc === undefined) {
    libc = probeLibc(arch, realProbe);
    detectedLibc.set(arch, libc);
  }
  return libc;
}

function probeLibc(arch: string, probe: LibcProbe): Libc {
  const loader = arch === "arm64" ? "aarch64" : arch === "arm" ? "armhf" : "x86_64";
  if (probe.exists(`/lib/ld-musl-${loader}.so.1`)) return "musl";
  // Upstream asks the runtime before /etc/os-release; the answer only differs when os-release
  // names musl, so the costly report (milliseconds) is consulted only then.
  const osRelease = probe.read("/etc/os-release") ?? "";
  if (!/alpine|musl/i.test(osRelease)) return "glibc";
  return probe.glibcVersionRuntime() ? "glibc" : "musl";
}

/**
 * Reads the current host: `process.platform`, `process.arch` and, on Linux, the C library.
 * Deno, Bun and Node report the same values.
 *
 * @returns The host.
 *
 * @example Usage
 * ```ts
 * import { detectHost, platformIdOf } from "./platform.ts";
 * console.log(platformIdOf(detectHost()));
 * ```
 */
export function detectHost(): HostInfo {
  const host: HostInfo = { os: process.platform, arch: process.arch };
  if (host.os === "linux") host.libc = detectLibc(host.arch);
  return host;
}

let currentId: PlatformId | undefined;

/**
 * The platform id of the current host, detected once per process.
 *
 * @returns The platform id.
 * @throws {SqliteSyncError} `unsupported-platform` on hosts upstream does not build for.
 *
 * @example Usage
 * ```ts
 * import { currentPlatformId } from "@sqliteai/sync";
 * console.log(currentPlatformId()); // e.g. "linux-x86_64"
 * ```
 */
export function currentPlatformId(): PlatformId {
  return currentId ??= platformIdOf(detectHost());
}
