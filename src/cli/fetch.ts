/**
 * `sqlite-sync fetch --platform <id>… --out <dir>`: prefetches verified
 * extension binaries for devices without network into one folder, usable
 * there as is as the cache directory (`SQLITE_SYNC_CACHE_DIR=<dir>`) or as a
 * mirror (`SQLITE_SYNC_MIRROR=<dir>`, or the folder served over http):
 *
 * ```text
 * <dir>/<version>/<platform>/cloudsync.so|.dylib|.dll, LICENSE.md, meta.json   (cache)
 * <dir>/<version>/sqlite-sync-<platform>-<version>.tgz[.integrity]             (mirror)
 * ```
 *
 * As a mirror, a platform without a pinned hash also needs its archive's
 * integrity as the `integrity` option (printed here); as a cache directory
 * nothing more is needed. Downloads come from the npm registry (`--registry`,
 * else `SQLITE_SYNC_NPM_REGISTRY`), then GitHub, or from `--mirror`.
 * A progress bar is drawn on a terminal, plain lines otherwise. A failed
 * fetch removes the folders it created and left empty.
 *
 * @module
 */
import { existsSync, rmdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { defineCommand } from "citty";
import { SqliteSyncError } from "../../common/errors.ts";
import { EXTENSION_VERSION } from "../../ffi/pins.ts";
import { isPlatformId, PLATFORM_IDS, type PlatformId } from "../../ffi/platform.ts";
import { type PrefetchedExtension, prefetchExtension } from "../../ffi/prefetch.ts";
import { createProgressReporter, type ProgressStream } from "../../ffi/progress.ts";
import type { DownloadProgress } from "../../ffi/download.ts";
import { type CliArgDef, parseCli } from "./_args.ts";
import { refuseUrlCredentials } from "./_credentials.ts";
import { CommandFailure } from "./_failure.ts";
import { formatBytes, type Output, printJson, printLines, processOutput } from "./_output.ts";
import { UsageError } from "./_usage.ts";

const args = {
  platform: {
    type: "string",
    required: true,
    multiple: true,
    valueHint: "id",
    description: `A platform to fetch (repeat for several): ${PLATFORM_IDS.join(", ")}`,
  },
  out: {
    type: "string",
    required: true,
    valueHint: "dir",
    description: "The folder to fill (created when missing)",
  },
  registry: {
    type: "string",
    valueHint: "url",
    description: "The npm registry (default: SQLITE_SYNC_NPM_REGISTRY, else registry.npmjs.org)",
  },
  mirror: {
    type: "string",
    valueHint: "url|dir",
    description: "Fetch from this mirror instead of npm and GitHub (default: SQLITE_SYNC_MIRROR)",
  },
  integrity: {
    type: "string",
    valueHint: "sri",
    description: "The archive's SRI (sha512-…) to accept, with one --platform: needed to fetch a " +
      "platform without pinned hashes from a mirror",
  },
  json: { type: "boolean", description: "Print what was fetched as JSON" },
} satisfies Record<string, CliArgDef>;

/** The `fetch` command. */
export const fetchCommand = defineCommand({
  meta: {
    name: "fetch",
    description: "Prefetch verified binaries into a cache or mirror folder for offline devices",
  },
  args,
  run: async ({ rawArgs }) => {
    const a = parseCli("fetch", rawArgs, args);
    return await fetchPlatforms({
      platforms: a.list("platform"),
      out: a.string("out")!,
      registry: a.string("registry"),
      mirror: a.string("mirror"),
      integrity: a.string("integrity"),
      json: a.flag("json"),
    });
  },
});

/** Options of {@linkcode fetchPlatforms}. */
export interface FetchOptions {
  /** Platform ids, as typed. */
  platforms: string[];
  /** The folder. */
  out: string;
  /** The npm registry URL. */
  registry?: string;
  /** A mirror URL or directory. */
  mirror?: string;
  /** The archive's SRI to accept (one platform only). */
  integrity?: string;
  /** Print JSON. @default false */
  json?: boolean;
}

/**
 * Validates the platforms and URLs, then prefetches each platform in turn.
 *
 * @param options Platforms, folder, sources, output format.
 * @param out The streams.
 * @returns The exit code (0; a failed download throws).
 * @throws {UsageError} for an unknown platform, a URL with credentials, a malformed or
 *   misplaced integrity.
 * @throws {CommandFailure} `fetch failed (<kind>): …` when a platform cannot be fetched.
 */
export async function fetchPlatforms(
  options: FetchOptions,
  out: Output = processOutput,
): Promise<number> {
  const platforms: PlatformId[] = [];
  for (const id of options.platforms) {
    if (!isPlatformId(id)) {
      throw new UsageError(
        `unknown platform '${id.slice(0, 40)}': use one of ${PLATFORM_IDS.join(", ")}`,
      );
    }
    if (!platforms.includes(id)) platforms.push(id);
  }
  if (options.integrity !== undefined && platforms.length !== 1) {
    throw new UsageError(
      "--integrity names one archive: give exactly one --platform with it (run fetch once per platform)",
    );
  }
  if (options.registry !== undefined) {
    refuseUrlCredentials(
      "--registry",
      options.registry,
      "the SQLITE_SYNC_NPM_REGISTRY environment variable",
    );
  }
  if (options.mirror !== undefined) {
    refuseUrlCredentials("--mirror", options.mirror, "the SQLITE_SYNC_MIRROR environment variable");
  }
  const onProgress = progressReporter(out.stderr);
  const fetched: PrefetchedExtension[] = [];
  // The folders a failed fetch would leave empty: those that do not exist yet.
  const created = missingFolders([
    ...platforms.map((p) => join(options.out, EXTENSION_VERSION, p)),
  ]);
  for (const platform of platforms) {
    let got: PrefetchedExtension;
    try {
      got = await prefetchExtension(options.out, {
        platform,
        npmRegistry: options.registry,
        mirror: options.mirror,
        integrity: options.integrity,
        onProgress,
      });
    } catch (err) {
      removeEmptyFolders(created);
      // Malformed --registry/--mirror values: the library names the option, never the value.
      if (err instanceof TypeError) throw new UsageError(flagNames(err.message));
      if (err instanceof SqliteSyncError) {
        const message = err.message.replace("as the 'integrity' option", "with --integrity");
        throw new CommandFailure(`fetch failed (${err.kind}): ${message}`, err.kind);
      }
      throw err;
    }
    fetched.push(got);
    if (!options.json) printLines(describeFetched(got), out);
  }
  if (options.json) printJson({ out: options.out, platforms: fetched }, out);
  return 0;
}

/**
 * The folders among `leaves` and their parents that do not exist, deepest first.
 *
 * @param leaves The deepest folders a fetch may create.
 * @returns Absolute paths.
 */
function missingFolders(leaves: readonly string[]): string[] {
  const missing = new Set<string>();
  for (const leaf of leaves) {
    for (let dir = resolve(leaf); !existsSync(dir); dir = dirname(dir)) {
      if (dirname(dir) === dir) break;
      missing.add(dir);
    }
  }
  return [...missing].sort((a, b) => b.length - a.length);
}

/** Removes those of `folders` (deepest first) that are empty; a folder with files stays. */
function removeEmptyFolders(folders: readonly string[]): void {
  for (const dir of folders) {
    try {
      rmdirSync(dir);
    } catch {
      // Not empty (an earlier platform's files, another process's), or already gone.
    }
  }
}

function flagNames(message: string): string {
  return message
    .replace("'npmRegistry'", "--registry")
    .replace("'mirror'", "--mirror")
    .replace(/^Cannot use integrity '[^']*'/, "Cannot use --integrity");
}

/**
 * Lines for one fetched platform: where it is, how it was verified, what a mirror needs.
 *
 * @param got The result.
 * @returns The lines.
 */
export function describeFetched(got: PrefetchedExtension): string[] {
  const how = got.source === "present" ? "already present" : `fetched from ${got.source}`;
  const lines = [
    `${got.platform}: ${how}, verified by ${got.verifiedBy}`,
    `  cache entry:    ${got.binaryPath}`,
  ];
  if (got.archivePath === null) {
    lines.push(
      "  mirror archive: none (a GitHub release archive; use the folder as a cache directory)",
    );
  } else {
    lines.push(`  mirror archive: ${got.archivePath}`);
    if (got.mirrorNeedsIntegrity) {
      lines.push(`  as a mirror, pass integrity ${got.archiveIntegrity}`);
    }
  }
  return lines;
}

/**
 * The download reporter: a redrawn bar on a terminal (`createProgressReporter`),
 * else one plain line per finished download.
 *
 * @param stream Where progress goes (stderr).
 * @param env The environment (`CI` turns the bar off).
 * @returns The `onProgress` callback.
 *
 * @example Usage
 * ```ts
 * import { progressReporter } from "./fetch.ts";
 * const lines: string[] = [];
 * const report = progressReporter({ isTTY: false, write: (t) => lines.push(t) }, {});
 * report({ url: "https://x/a.tgz", received: 10, total: 10 });
 * console.log(lines); // ["downloaded a.tgz (10 B)\n"]
 * ```
 */
export function progressReporter(
  stream: ProgressStream,
  env?: Record<string, string | undefined>,
): (progress: DownloadProgress) => void {
  const bar = createProgressReporter(stream, env);
  if (bar) return bar;
  const done = new Set<string>();
  return (progress) => {
    const complete = progress.total !== undefined && progress.received >= progress.total;
    if (!complete || done.has(progress.url)) return;
    done.add(progress.url);
    const name = decodeURIComponent(progress.url.replace(/[?#].*$/, "").split("/").pop() || "");
    stream.write(`downloaded ${name} (${formatBytes(progress.received)})\n`);
  };
}
