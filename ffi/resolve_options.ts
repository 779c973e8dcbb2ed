/**
 * The options of extension resolution, apart from the resolver so that the
 * settings reader and the resolver do not import each other.
 *
 * @module
 */
import type { PlatformId } from "./platform.ts";
import type { DownloadProgress } from "./download.ts";

/** Where a binary may be downloaded from. */
export type SourceName = "npm" | "github" | "mirror";

/** Options of {@linkcode resolveExtension}. */
export interface ResolveOptions {
  /**
   * A binary to use as is; nothing else is tried. Must exist. It is loaded even when it does not
   * match the pinned binary of `version` and `platform`, but then `verified` is `false`; a
   * mismatch with the `integrity` option refuses it.
   */
  extensionPath?: string;
  /**
   * The extension version.
   * @default {EXTENSION_VERSION}
   */
  version?: string;
  /**
   * The platform whose binary to resolve.
   * @default {currentPlatformId()}
   */
  platform?: PlatformId;
  /**
   * The cache root.
   * @default {defaultCacheDir(env)} (`SQLITE_SYNC_CACHE_DIR`, else a per-user cache directory)
   */
  cacheDir?: string;
  /**
   * Where to download from, in order; the first success wins.
   * @default {["mirror"] when a mirror is configured, else ["npm", "github"]}
   */
  sources?: SourceName[];
  /**
   * The npm registry.
   * @default {env SQLITE_SYNC_NPM_REGISTRY or "https://registry.npmjs.org"}
   */
  npmRegistry?: string;
  /**
   * The base URL of GitHub release assets.
   * @default {"https://github.com/sqliteai/sqlite-sync/releases/download"}
   */
  githubBaseUrl?: string;
  /**
   * A mirror (URL or directory) laid out as `<mirror>/<version>/sqlite-sync-<platform>-<version>.tgz`.
   * Its archives are accepted only when they match a pin or the `integrity` option; the mirror's
   * own `<archive>.integrity` file is checked too, but never enough alone.
   * @default {env SQLITE_SYNC_MIRROR}
   */
  mirror?: string;
  /** An SRI (`sha512-…`) of the archive (or of the binary) to accept. */
  integrity?: string;
  /**
   * Never download (also env `SQLITE_SYNC_OFFLINE=1`).
   * @default {false}
   */
  offline?: boolean;
  /**
   * Abort a download that receives no bytes for this long.
   * @default {30000}
   */
  timeoutMs?: number;
  /**
   * Abort any one download that has not finished after this long, however steadily bytes arrive.
   * @default {600000}
   */
  deadlineMs?: number;
  /** Called as download bytes arrive (see `createProgressReporter`). */
  onProgress?: (progress: DownloadProgress) => void;
  /**
   * The environment to read `SQLITE_SYNC_*`, `HOME`… from.
   * @default {process.env}
   */
  env?: Record<string, string | undefined>;
}
