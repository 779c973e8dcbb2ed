/**
 * The three download sources (npm registry, GitHub releases, mirror) and the
 * verification every archive goes through before it may reach the cache.
 * Private to `resolve.ts`, which loads it only on a cache miss.
 *
 * @module
 */
import { SqliteSyncError } from "../common/errors.ts";
import type { SourceSettings } from "./_settings.ts";
import { type ExtensionFiles, extractVerified, type IntegrityCheck } from "./archive.ts";
import { type CacheMeta, MIRROR_SIDECAR_LABEL } from "./cache.ts";
import { redact } from "../common/redact.ts";
import { fetchBytes, fetchJson, parseIntegrity } from "./download.ts";

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
  /** The verified archive itself (kept by `prefetch.ts`, which writes mirror folders). */
  archive: Uint8Array;
}

type Source = (s: SourceSettings) => Promise<Downloaded>;

/** The `meta.json` of a cache entry filled from `source`'s verified download, stamped now. */
export function downloadedMeta(s: SourceSettings, source: string, got: Downloaded): CacheMeta {
  return {
    version: s.version,
    platform: s.platform,
    source,
    url: got.url,
    archiveIntegrity: got.archiveIntegrity,
    binaryIntegrity: got.binaryIntegrity,
    verifiedBy: got.verifiedBy.join(", "),
    fetchedAt: new Date().toISOString(),
  };
}

const NPM_ACCEPT = "application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*";

const npm: Source = async (s) => {
  const metaUrl = `${s.npmRegistry}/${s.asset.npmPackage.replace("/", "%2f")}`;
  // deno-lint-ignore no-explicit-any
  const meta = await fetchJson(metaUrl, { ...timing(s), accept: NPM_ACCEPT }) as any;
  const dist = meta?.versions?.[s.version]?.dist;
  if (typeof dist?.tarball !== "string") {
    const known = Object.keys(meta?.versions ?? {}).slice(-5).join(", ") || "none";
    throw new SqliteSyncError(
      "not-found",
      `${
        redact(metaUrl)
      }: ${s.asset.npmPackage} has no version ${s.version} (latest published: ${known})`,
    );
  }
  let tarball: URL;
  try {
    tarball = new URL(dist.tarball, metaUrl);
  } catch {
    // Not shown, and no cause: URL parsing echoes the value and the base (the registry URL).
    throw new SqliteSyncError(
      "download",
      `${redact(metaUrl)}: the registry's dist.tarball for ${s.asset.npmPackage}@${s.version} ` +
        `is not a valid URL`,
    );
  }
  const registry = new URL(s.npmRegistry);
  if (tarball.host === registry.host && !tarball.username) {
    tarball.username = registry.username;
    tarball.password = registry.password;
  }
  const checks = archiveChecks(s, "the pinned npm tarball integrity", s.pin?.npmTarball);
  if (dist.integrity !== undefined) {
    const sri = remoteIntegrity(
      dist.integrity,
      `${redact(metaUrl)}: the registry's dist.integrity`,
    );
    checks.push({ label: "the registry's dist.integrity", sri, target: "archive" });
  }
  const archive = await fetchArchive(s, tarball.href);
  return await verify(s, tarball.href, archive, checks, `package/${s.asset.binaryName}`);
};

const github: Source = async (s) => {
  const base = `${s.githubBaseUrl}/${s.version}/cloudsync-${s.asset.releasePlatform}-${s.version}`;
  let url = `${base}.tar.gz`;
  let archive: Uint8Array;
  try {
    archive = await fetchArchive(s, url);
  } catch (err) {
    if (!(err instanceof SqliteSyncError && err.status === 404)) throw err;
    url = `${base}.zip`;
    try {
      archive = await fetchArchive(s, url);
    } catch (second) {
      if (!(second instanceof SqliteSyncError)) throw second;
      throw new SqliteSyncError(second.kind, `${err.message}; ${second.message}`, {
        cause: second,
        status: second.status,
        code: second.code,
      });
    }
  }
  const checks = archiveChecks(
    s,
    "the pinned release archive integrity",
    url.endsWith(".tar.gz") ? s.pin?.releaseArchive : undefined,
  );
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
  const checks = archiveChecks(s, "the pinned npm tarball integrity", s.pin?.npmTarball);
  if (checks.length === 0 && !s.pin?.binary) {
    // A mirror vouches for nothing: whoever controls it also controls its .integrity file.
    throw new SqliteSyncError(
      "integrity",
      `${
        redact(url)
      }: no integrity is known for ${s.version} on ${s.platform} (a mirror's .integrity ` +
        `file only guards against corruption), so the download was refused. Pass the archive's ` +
        `SRI (sha512-…) as the 'integrity' option to accept it.`,
    );
  }
  const archive = await fetchArchive(s, url);
  // An extra check against corruption, never enough alone: a mismatch refuses the download.
  const sidecar = await fetchBytes(`${url}.integrity`, timing(s)).catch((err) => {
    if (err instanceof SqliteSyncError && err.status === 404) return undefined;
    throw err;
  });
  if (sidecar) {
    const sri = remoteIntegrity(new TextDecoder().decode(sidecar), `${redact(url)}.integrity`);
    checks.push({ label: MIRROR_SIDECAR_LABEL, sri, target: "archive" });
  }
  return await verify(s, url, archive, checks, `package/${s.asset.binaryName}`);
};

/** The download sources by name. */
export const SOURCES: Readonly<Record<"npm" | "github" | "mirror", Source>> = {
  npm,
  github,
  mirror,
};

function fetchArchive(s: SourceSettings, url: string): Promise<Uint8Array> {
  return fetchBytes(url, { ...timing(s), onProgress: s.onProgress });
}

function timing(s: SourceSettings): { timeoutMs: number; deadlineMs: number } {
  return { timeoutMs: s.timeoutMs, deadlineMs: s.deadlineMs };
}

/** The checks a source starts with: its pinned archive integrity, then the 'integrity' option. */
function archiveChecks(s: SourceSettings, label: string, pinned?: string): IntegrityCheck[] {
  const checks: IntegrityCheck[] = [];
  if (pinned) checks.push({ label, sri: pinned, target: "archive" });
  if (s.integrity) {
    checks.push({ label: "the 'integrity' option", sri: s.integrity, target: "either" });
  }
  return checks;
}

function remoteIntegrity(value: unknown, where: string): string {
  const text = typeof value === "string" ? value.trim() : "";
  try {
    parseIntegrity(text);
  } catch {
    // Redacted before it is cut short: a secret cut in half could not be recognised later.
    throw new SqliteSyncError(
      "integrity",
      `${where} is not a valid SRI string: '${redact(text).slice(0, 80)}'`,
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
  // Every source ends with the pinned binary integrity.
  if (s.pin?.binary) {
    checks.push({ label: "the pinned binary integrity", sri: s.pin.binary, target: "binary" });
  }
  const where = redact(url);
  const verified = await extractVerified(archive, checks, {
    where,
    what: `${s.version} on ${s.platform}`,
    binaryName: s.asset.binaryName,
    preferred,
  });
  return { url: where, ...verified, archive };
}
