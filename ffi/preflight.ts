/**
 * Host checks for the Linux glibc build of the extension: OpenSSL 3, glibc ≥
 * 2.34 and the CA bundle path compiled into it. Run only when loading fails or
 * on request: `getconf` costs a process spawn.
 *
 * @module
 */
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import process from "node:process";
import { currentPlatformId, type PlatformId } from "./platform.ts";

/** The oldest glibc the Linux glibc build runs on. */
export const MIN_GLIBC = "2.34";

/** The CA bundle path compiled into the extension's libcurl. */
export const CA_BUNDLE_PATH = "/etc/ssl/certs/ca-certificates.crt";

/** What the checks read from the host: {@linkcode hostProbe}, or a fake host in tests. */
export interface PreflightProbe {
  /** Whether a file exists. */
  exists(path: string): boolean;
  /** A file's bytes as latin1 text (for the binary `/etc/ld.so.cache`), or `undefined`. */
  readText(path: string): string | undefined;
  /** An environment variable. */
  env(name: string): string | undefined;
  /** The glibc version, e.g. `2.36`, or `undefined` when it cannot be told. */
  glibcVersion(): string | undefined;
}

/** One check's outcome. */
export interface PreflightCheck {
  /** What was checked: `libssl.so.3`, `libcrypto.so.3`, `glibc` or `ca-bundle`. */
  name: string;
  /** Whether the host passes. */
  ok: boolean;
  /** What was found, in words. */
  detail: string;
  /** How to fix it; empty when ok. */
  fix: string;
  /** Whether a failure stops the extension from loading (`load`) or only its network calls. */
  affects: "load" | "network";
}

/** The outcome of {@linkcode preflight}. */
export interface PreflightReport {
  /** The platform checked. */
  platform: PlatformId;
  /** Whether every check passed (also `true` when the platform has no checks). */
  ok: boolean;
  /** The checks run; empty outside Linux glibc. */
  checks: PreflightCheck[];
}

/** Options of {@linkcode preflight}. */
export interface PreflightOptions {
  /**
   * The platform to check for.
   * @default currentPlatformId()
   */
  platform?: PlatformId;
}

/** The real host: files, environment, `getconf`, then `process.report`. */
export const hostProbe: PreflightProbe = {
  exists: (path) => existsSync(path),
  readText: (path) => {
    try {
      return readFileSync(path, "latin1");
    } catch {
      return undefined;
    }
  },
  env: (name) => process.env[name],
  glibcVersion: () => {
    // getconf first: Deno's process.report may report its build's glibc, not the host's.
    try {
      const r = spawnSync("getconf", ["GNU_LIBC_VERSION"], { encoding: "utf8", timeout: 2000 });
      const m = /glibc\s+(\d+\.\d+)/.exec(r.stdout ?? "");
      if (m) return m[1];
    } catch {
      // No getconf (distroless): fall through.
    }
    try {
      // deno-lint-ignore no-explicit-any
      const v = (process as any).report?.getReport?.()?.header?.glibcVersionRuntime;
      return typeof v === "string" && v !== "" ? v : undefined;
    } catch {
      return undefined;
    }
  },
};

function libDirs(platform: PlatformId, probe: PreflightProbe): string[] {
  const triple = platform === "linux-arm64" ? "aarch64-linux-gnu" : "x86_64-linux-gnu";
  const fromEnv = (probe.env("LD_LIBRARY_PATH") ?? "").split(":").filter((d) => d !== "");
  return [
    ...fromEnv,
    `/lib/${triple}`,
    `/usr/lib/${triple}`,
    "/lib64",
    "/usr/lib64",
    "/lib",
    "/usr/lib",
    "/usr/local/lib",
    "/usr/local/lib64",
  ];
}

function checkLibrary(
  lib: string,
  cache: string | undefined,
  dirs: string[],
  probe: PreflightProbe,
): PreflightCheck {
  // ld.so.cache stores names NUL-terminated; the NUL keeps libssl.so.3 from matching libssl.so.30.
  const inCache = cache?.includes(`${lib}\0`) ?? false;
  const dir = inCache ? undefined : dirs.find((d) => probe.exists(`${d}/${lib}`));
  const ok = inCache || dir !== undefined;
  return {
    name: lib,
    ok,
    detail: ok
      ? `${lib} found ${inCache ? "in /etc/ld.so.cache" : `in ${dir}`}`
      : `${lib} (OpenSSL 3) not found in /etc/ld.so.cache, the standard library directories ` +
        "or LD_LIBRARY_PATH",
    fix: ok ? "" : "Install OpenSSL 3: 'apt-get install libssl3' (Debian/Ubuntu), " +
      "'dnf install openssl-libs' (Fedora/RHEL 9), or use an image based on a distribution " +
      "released since 2022; a library outside the standard directories needs LD_LIBRARY_PATH.",
    affects: "load",
  };
}

function compareVersions(a: string, b: string): number {
  const pa = a.split(".").map(Number);
  const pb = b.split(".").map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

function checkGlibc(probe: PreflightProbe): PreflightCheck {
  const version = probe.glibcVersion();
  if (version === undefined) {
    // Not knowing is not a failure: report it and let the load speak.
    return {
      name: "glibc",
      ok: true,
      detail: "glibc version unknown (no getconf, no process.report)",
      fix: "",
      affects: "load",
    };
  }
  const ok = compareVersions(version, MIN_GLIBC) >= 0;
  return {
    name: "glibc",
    ok,
    detail: ok ? `glibc ${version} ≥ ${MIN_GLIBC}` : `glibc ${version} < ${MIN_GLIBC}`,
    fix: ok
      ? ""
      : `The extension needs glibc ${MIN_GLIBC} or newer: use Debian 12, Ubuntu 22.04, ` +
        "RHEL 9 or a newer distribution (or a musl image with the musl build).",
    affects: "load",
  };
}

function checkCaBundle(probe: PreflightProbe): PreflightCheck {
  const ok = probe.exists(CA_BUNDLE_PATH);
  return {
    name: "ca-bundle",
    ok,
    detail: ok
      ? `${CA_BUNDLE_PATH} exists`
      : `${CA_BUNDLE_PATH} not found (TLS connections will fail)`,
    fix: ok
      ? ""
      : "Install the CA certificates ('apt-get install ca-certificates'), or link your " +
        `distribution's bundle there, e.g. 'ln -s /etc/pki/tls/certs/ca-bundle.crt ${CA_BUNDLE_PATH}'.`,
    affects: "network",
  };
}

/**
 * Checks that the host has what the extension needs. Linux glibc only: the
 * other platforms report `ok` with no checks.
 *
 * @param options The platform.
 * @returns One check per requirement.
 *
 * @example Usage
 * ```ts
 * import { preflight } from "@sqliteai/sync";
 * const report = preflight();
 * for (const c of report.checks) if (!c.ok) console.log(`${c.name}: ${c.detail}. ${c.fix}`);
 * ```
 */
export function preflight(options: PreflightOptions = {}): PreflightReport {
  return checkHost(options.platform ?? currentPlatformId(), hostProbe);
}

/**
 * The checks of {@linkcode preflight}, reading the host through `probe` (tests pass a fake host).
 *
 * @param platform The platform to check for.
 * @param probe What to read the host with.
 * @returns One check per requirement; none outside Linux glibc.
 *
 * @example Usage
 * ```ts
 * import { checkHost, hostProbe } from "./preflight.ts";
 * console.log(checkHost("darwin-arm64", hostProbe)); // { platform: "darwin-arm64", ok: true, checks: [] }
 * ```
 */
export function checkHost(platform: PlatformId, probe: PreflightProbe): PreflightReport {
  if (platform !== "linux-x86_64" && platform !== "linux-arm64") {
    return { platform, ok: true, checks: [] };
  }
  const cache = probe.readText("/etc/ld.so.cache");
  const dirs = libDirs(platform, probe);
  const checks = [
    checkLibrary("libssl.so.3", cache, dirs, probe),
    checkLibrary("libcrypto.so.3", cache, dirs, probe),
    checkGlibc(probe),
    checkCaBundle(probe),
  ];
  return { platform, ok: checks.every((c) => c.ok), checks };
}
