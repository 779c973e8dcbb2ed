/**
 * The validation of `resolveExtension` options, with their defaults
 * (environment included). Private to `resolve.ts`; kept apart from
 * `_sources.ts` so that resolving from a warm cache loads no download,
 * archive or lock code.
 *
 * @module
 */
import { isAbsolute, resolve as resolvePath } from "node:path";
import { pathToFileURL } from "node:url";
import process from "node:process";
import { EXTENSION_VERSION, PINS, type PlatformPin } from "./pins.ts";
import {
  currentPlatformId,
  isPlatformId,
  PLATFORM_IDS,
  type PlatformAsset,
  platformAsset,
  type PlatformId,
} from "./platform.ts";
import type { DownloadProgress } from "./download.ts";
import type { ResolveOptions, SourceName } from "./resolve_options.ts";

/** What the sources need from the resolver's settings. */
export interface SourceSettings {
  version: string;
  platform: PlatformId;
  asset: PlatformAsset;
  pin?: PlatformPin;
  npmRegistry: string;
  githubBaseUrl: string;
  mirror?: string;
  integrity?: string;
  timeoutMs: number;
  deadlineMs: number;
  onProgress?: (progress: DownloadProgress) => void;
}

const ENV_NAMES = [
  "SQLITE_SYNC_EXTENSION_PATH",
  "SQLITE_SYNC_CACHE_DIR",
  "SQLITE_SYNC_MIRROR",
  "SQLITE_SYNC_NPM_REGISTRY",
  "SQLITE_SYNC_OFFLINE",
  "HOME",
  "XDG_CACHE_HOME",
  "LOCALAPPDATA",
] as const;

/** Validated options of `resolveExtension`, with defaults applied. */
export interface ResolveSettings extends SourceSettings {
  extensionPath?: string;
  cacheDir?: string;
  sources: SourceName[];
  offline: boolean;
  env: Record<string, string | undefined>;
}

/**
 * Validates `resolveExtension` options and applies their defaults (environment included).
 * `integrity` is only checked to be a string here: `resolveExtension` parses it
 * with `parseIntegrity` (download.ts), loaded only when an integrity is given.
 *
 * @param options The options.
 * @returns The settings.
 * @throws {TypeError} for a malformed option; a URL option's value is never echoed (it may hold
 * credentials).
 * @throws {RangeError} for a non-positive `timeoutMs` or `deadlineMs`.
 *
 * @example Usage
 * ```ts ignore
 * import { settingsOf } from "./_settings.ts";
 * console.log(settingsOf({ platform: "linux-arm64", env: {} }).sources); // ["npm", "github"]
 * ```
 */
export function settingsOf(options: ResolveOptions): ResolveSettings {
  if (typeof options !== "object" || options === null) {
    throw new TypeError(`Cannot resolve the extension: options must be an object, got ${options}`);
  }
  const env = readEnv(options.env ?? process.env);
  const version = options.version ?? EXTENSION_VERSION;
  if (typeof version !== "string" || !/^[0-9A-Za-z][0-9A-Za-z.+_-]*$/.test(version)) {
    throw new TypeError(
      `Cannot resolve the extension: 'version' must be like "1.1.4", got '${version}'`,
    );
  }
  let platform: PlatformId;
  if (options.platform === undefined) {
    platform = currentPlatformId();
  } else if (typeof options.platform === "string" && isPlatformId(options.platform)) {
    platform = options.platform;
  } else {
    throw new TypeError(
      `Cannot resolve the extension: unknown 'platform' '${options.platform}'; ` +
        `expected one of ${PLATFORM_IDS.join(", ")}`,
    );
  }
  const mirror = optionalLocation(
    "mirror",
    options.mirror ?? (env.SQLITE_SYNC_MIRROR || undefined),
  );
  const sources = options.sources ?? (mirror ? ["mirror"] : ["npm", "github"]);
  if (
    !Array.isArray(sources) || sources.length === 0 ||
    sources.some((x) => !(["npm", "github", "mirror"] as unknown[]).includes(x))
  ) {
    throw new TypeError(
      `Cannot resolve the extension: 'sources' must be a non-empty list of "npm", "github", "mirror", ` +
        `got ${JSON.stringify(sources)}`,
    );
  }
  const timeoutMs = positiveMs("timeoutMs", options.timeoutMs ?? 30_000);
  const deadlineMs = positiveMs("deadlineMs", options.deadlineMs ?? 600_000);
  if (options.onProgress !== undefined && typeof options.onProgress !== "function") {
    throw new TypeError("Cannot resolve the extension: 'onProgress' must be a function");
  }
  if (options.integrity !== undefined && typeof options.integrity !== "string") {
    throw new TypeError(
      `Cannot use integrity '${options.integrity}': expected an SRI string such as 'sha512-<base64>'`,
    );
  }
  for (const key of ["extensionPath", "cacheDir"] as const) {
    const value = options[key];
    if (value !== undefined && (typeof value !== "string" || value === "")) {
      throw new TypeError(`Cannot resolve the extension: '${key}' must be a non-empty string`);
    }
  }
  const asset: PlatformAsset = platformAsset(platform);
  const pin: PlatformPin | undefined = PINS[version]?.[platform];
  return {
    extensionPath: options.extensionPath,
    cacheDir: options.cacheDir === undefined ? undefined : resolvePath(options.cacheDir),
    version,
    platform,
    asset,
    pin,
    env,
    sources: [...sources],
    offline: options.offline ?? /^(1|true|yes)$/i.test(env.SQLITE_SYNC_OFFLINE ?? ""),
    npmRegistry: httpUrl(
      "npmRegistry",
      options.npmRegistry ?? (env.SQLITE_SYNC_NPM_REGISTRY || "https://registry.npmjs.org"),
    ),
    githubBaseUrl: httpUrl(
      "githubBaseUrl",
      options.githubBaseUrl ?? "https://github.com/sqliteai/sqlite-sync/releases/download",
    ),
    mirror,
    integrity: options.integrity,
    timeoutMs,
    deadlineMs,
    onProgress: options.onProgress,
  };
}

/** Reads only the variables used, tolerating runtimes that deny environment access. */
function readEnv(env: Record<string, string | undefined>): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const name of ENV_NAMES) {
    try {
      out[name] = env[name];
    } catch {
      out[name] = undefined;
    }
  }
  return out;
}

function positiveMs(name: string, value: unknown): number {
  if (typeof value !== "number" || !(value > 0) || !Number.isFinite(value)) {
    throw new RangeError(
      `Cannot resolve the extension: '${name}' must be a positive number of milliseconds, got ${
        typeof value === "number" ? value : typeof value
      }`,
    );
  }
  return value;
}

/** Validates an http(s) URL option. The value is never echoed: it may carry a token. */
function httpUrl(name: string, value: string, also = ""): string {
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== "http:" && url.protocol !== "https:")) {
    // Name the scheme only when the value plainly has one (`ftp://…`): in `user:token@host`
    // what parses as a scheme is the user name.
    const scheme = typeof value === "string" ? /^([a-z][a-z0-9+.-]*:)\/\//i.exec(value)?.[1] : "";
    const why = typeof value !== "string"
      ? `it is a ${typeof value}`
      : scheme
      ? `its protocol is '${scheme.toLowerCase()}'`
      : "it does not start with http:// or https://";
    throw new TypeError(
      `Cannot resolve the extension: '${name}' must be an http(s) URL${also}, but ${why} ` +
        `(the value is not shown, as it may hold credentials)`,
    );
  }
  return value.replace(/\/+$/, "");
}

function optionalLocation(name: string, value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value === "string" && isAbsolute(value) && !/^[a-z][a-z0-9+.-]+:\/\//i.test(value)) {
    return pathToFileURL(value).href.replace(/\/+$/, "");
  }
  if (typeof value === "string" && /^file:\/\//i.test(value)) return value.replace(/\/+$/, "");
  return httpUrl(name, value, ", a file:// URL or an absolute directory");
}
