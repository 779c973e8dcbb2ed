/**
 * The extension version this library is tested with, and the integrities it
 * knows. Data only: resolution logic lives in `resolve.ts`.
 *
 * @module
 */
import type { PlatformId } from "./platform.ts";

/**
 * The sqlite-sync extension version this library is built and tested against.
 *
 * @example Usage
 * ```ts
 * import { EXTENSION_VERSION } from "@sqliteai/sync";
 * console.log(`sqlite-sync ${EXTENSION_VERSION}`); // "sqlite-sync 1.1.4"
 * ```
 */
export const EXTENSION_VERSION = "1.1.4";

/** Known hashes for one platform of one version (SRI strings, `sha512-<base64>`). */
export interface PlatformPin {
  /** `dist.integrity` of the npm platform package tarball. */
  npmTarball?: string;
  /** sha512 of the GitHub release archive `cloudsync-<platform>-<version>.tar.gz`. */
  releaseArchive?: string;
  /** sha512 of the extracted binary itself. */
  binary?: string;
}

/**
 * Integrities verified by the maintainers, by version and platform. A platform
 * missing here falls back to the integrity the npm registry publishes, or to
 * one the user passes; an unverifiable download is never loaded.
 */
export const PINS: Readonly<Record<string, Partial<Record<PlatformId, PlatformPin>>>> = {
  "1.1.4": {
    "linux-x86_64": {
      npmTarball:
        "sha512-pfYEd41S0eiqG3y95RiDA6OaHVZjFjRTfEJgXrZtxRVpMFH1xM+K09jxaLQT1mHT3Hsm721qhXv8OwmvrIEaug==",
      binary:
        "sha512-5d5/6i37/OXw/Spjq8HF+qQy/2SvTEjVsvfgGlMHNUaEAJZiF0tWD7ZAEptt7bFKqZVpUhU48X+bHHFl/olT+w==",
    },
  },
};
