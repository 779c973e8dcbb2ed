/**
 * The three download sources (npm registry, GitHub releases, mirror) and the
 * verification every archive goes through before it may reach the cache;
 * the validation of `resolveExtension` options. Private to `resolve.ts`.
 *
 * @module
 */
import { isAbsolute, resolve as resolvePath } from "node:path";
import { pathToFileURL } from "node:url";
import process from "node:process";
import { SqliteSyncError } from "../src/errors.ts";
import { EXTENSION_VERSION, PINS, type PlatformPin } from "./pins.ts";
import {
  currentPlatformId,
  isPlatformId,
  PLATFORM_IDS,
  type PlatformAsset,
  platformAsset,
  type PlatformId,
} from "./platform.ts";
import type { ResolveOptions, SourceName } from "./resolve.ts";
import { type ExtensionFiles, extractVerified, type IntegrityCheck } from "./archive.ts";
import {
  type DownloadProgress,
  fetchBytes,
  fetchJson,
  parseIntegrity,
  redactUrl,
} from "./download.ts";

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
  onProgress?: (progress: DownloadProgress) => void;
}

/** A verified download. */
export interface Downloaded {
  /** The archive URL, without credentials. */
  url: string;
  /** sha512 SRI of the archive. */
  archiveIntegrity: string;
  /** sha512 SRI of the binary. */
  binaryIntegrity: string;
  /** The binary and its licence. */
  files: ExtensionFiles;
  /** What the download was verified against. */
  verifiedBy: string[];
}

type Source = (s: SourceSettings) => Promise<Downloaded>;

const NPM_ACCEPT = "application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*";

const npm: Source = async (s) => {
  const metaUrl = `${s.npmRegistry}/${s.asset.npmPackage.replace("/", "%2f")}`;
  // deno-lint-ignore no-explicit-any
  const meta = await fetchJson(metaUrl, { timeoutMs: s.timeoutMs, accept: NPM_ACCEPT }) as any;
  const dist = meta?.versions?.[s.version]?.dist;
  if (typeof dist?.tarball !== "string") {
    const known = Object.keys(meta?.versions ?? {}).slice(-5).join(", ") || "none";
    throw new SqliteSyncError(
      "not-found",
      `${
        redactUrl(metaUrl)
      }: ${s.asset.npmPackage} has no version ${s.version} (latest published: ${known})`,
    );
  }
  const tarball = new URL(dist.tarball, metaUrl);
  const registry = new URL(s.npmRegistry);
  if (tarball.host === registry.host && !tarball.username) {
    tarball.username = registry.username;
    tarball.password = registry.password;
  }
  const checks: IntegrityCheck[] = [];
  if (s.pin?.npmTarball) {
    checks.push({
      label: "the pinned npm tarball integrity",
      sri: s.pin.npmTarball,
      target: "archive",
    });
  }
  if (s.integrity) {
    checks.push({ label: "the 'integrity' option", sri: s.integrity, target: "either" });
  }
  if (dist.integrity !== undefined) {
    const sri = remoteIntegrity(
      dist.integrity,
      `${redactUrl(metaUrl)}: the registry's dist.integrity`,
    );
    checks.push({ label: "the registry's dist.integrity", sri, target: "archive" });
  }
  if (s.pin?.binary) {
    checks.push({ label: "the pinned binary integrity", sri: s.pin.binary, target: "binary" });
  }
  const archive = await fetchBytes(tarball.href, {
    timeoutMs: s.timeoutMs,
    onProgress: s.onProgress,
  });
  return await verify(s, tarball.href, archive, checks, `package/${s.asset.binaryName}`);
};

const github: Source = async (s) => {
  const base = `${s.githubBaseUrl}/${s.version}/cloudsync-${s.asset.releasePlatform}-${s.version}`;
  let url = `${base}.tar.gz`;
  let archive: Uint8Array;
  try {
    archive = await fetchBytes(url, { timeoutMs: s.timeoutMs, onProgress: s.onProgress });
  } catch (err) {
    if (!(err instanceof SqliteSyncError && err.status === 404)) throw err;
    url = `${base}.zip`;
    try {
      archive = await fetchBytes(url, { timeoutMs: s.timeoutMs, onProgress: s.onProgress });
    } catch (second) {
      if (!(second instanceof SqliteSyncError)) throw second;
      throw new SqliteSyncError(second.kind, `${err.message}; ${second.message}`, {
        cause: second,
        status: second.status,
        code: second.code,
      });
    }
  }
  const checks: IntegrityCheck[] = [];
  if (s.pin?.releaseArchive && url.endsWith(".tar.gz")) {
    checks.push({
      label: "the pinned release archive integrity",
      sri: s.pin.releaseArchive,
      target: "archive",
    });
  }
  if (s.integrity) {
    checks.push({ label: "the 'integrity' option", sri: s.integrity, target: "either" });
  }
  if (s.pin?.binary) {
    checks.push({ label: "the pinned binary integrity", sri: s.pin.binary, target: "binary" });
  }
  return await verify(s, url, archive, checks);
};

const mirror: Source = async (s) => {
  if (!s.mirror) {
    throw new SqliteSyncError(
      "not-found",
      "no mirror configured (the 'mirror' option or SQLITE_SYNC_MIRROR)",
    );
  }
  const url = `${s.mirror}/${s.version}/sqlite-sync-${s.platform}-${s.version}.tgz`;
  const archive = await fetchBytes(url, { timeoutMs: s.timeoutMs, onProgress: s.onProgress });
  const checks: IntegrityCheck[] = [];
  if (s.pin?.npmTarball) {
    checks.push({
      label: "the pinned npm tarball integrity",
      sri: s.pin.npmTarball,
      target: "archive",
    });
  }
  if (s.integrity) {
    checks.push({ label: "the 'integrity' option", sri: s.integrity, target: "either" });
  }
  if (checks.length === 0) {
    // Only consulted when nothing stronger is known: it guards against corruption, not a hostile mirror.
    const sidecar = await fetchBytes(`${url}.integrity`, { timeoutMs: s.timeoutMs }).catch(
      (err) => {
        if (err instanceof SqliteSyncError && err.status === 404) return undefined;
        throw err;
      },
    );
    if (sidecar) {
      const sri = remoteIntegrity(new TextDecoder().decode(sidecar), `${redactUrl(url)}.integrity`);
      checks.push({ label: "the mirror's .integrity file", sri, target: "archive" });
    }
  }
  if (s.pin?.binary) {
    checks.push({ label: "the pinned binary integrity", sri: s.pin.binary, target: "binary" });
  }
  return await verify(s, url, archive, checks, `package/${s.asset.binaryName}`);
};

/** The download sources by name. */
export const SOURCES: Readonly<Record<"npm" | "github" | "mirror", Source>> = {
  npm,
  github,
  mirror,
};

function remoteIntegrity(value: unknown, where: string): string {
  const text = typeof value === "string" ? value.trim() : "";
  try {
    parseIntegrity(text);
  } catch {
    throw new SqliteSyncError(
      "integrity",
      `${where} is not a valid SRI string: '${text.slice(0, 80)}'`,
    );
  }
  return text;
}

async function verify(
  s: SourceSettings,
  url: string,
  archive: Uint8Array,
  checks: IntegrityCheck[],
  preferred?: string,
): Promise<Downloaded> {
  const where = redactUrl(url);
  const verified = await extractVerified(archive, checks, {
    where,
    what: `${s.version} on ${s.platform}`,
    binaryName: s.asset.binaryName,
    preferred,
  });
  return { url: where, ...verified };
}

// ---- options ----

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

let hostPlatform: PlatformId | undefined;

/**
 * Validates `resolveExtension` options and applies their defaults (environment included).
 *
 * @param options The options.
 * @returns The settings.
 * @throws {TypeError} for a malformed option.
 * @throws {RangeError} for a non-positive `timeoutMs`.
 *
 * @example Usage
 * ```ts ignore
 * import { settingsOf } from "./_sources.ts";
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
    platform = hostPlatform ??= currentPlatformId();
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
  if (options.integrity !== undefined) parseIntegrity(options.integrity);
  const timeoutMs = options.timeoutMs ?? 30_000;
  if (typeof timeoutMs !== "number" || !(timeoutMs > 0) || !Number.isFinite(timeoutMs)) {
    throw new RangeError(
      `Cannot resolve the extension: 'timeoutMs' must be a positive number, got ${timeoutMs}`,
    );
  }
  if (options.onProgress !== undefined && typeof options.onProgress !== "function") {
    throw new TypeError("Cannot resolve the extension: 'onProgress' must be a function");
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

function httpUrl(name: string, value: string): string {
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== "http:" && url.protocol !== "https:")) {
    throw new TypeError(
      `Cannot resolve the extension: '${name}' must be an http(s) URL, got '${value}'`,
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
  return httpUrl(name, value);
}
