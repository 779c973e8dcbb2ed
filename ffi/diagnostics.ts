/**
 * One report of everything that decides whether sqlite-sync can load here:
 * platform, runtime, driver, SQLite and extension versions, where the binary
 * came from, and the host checks. Never throws for what it reports on, and
 * never contains secrets: it reads only the options it needs and echoes none.
 *
 * @module
 */
import { SqliteSyncError } from "../common/errors.ts";
import { redact } from "../common/redact.ts";
import type { DriverName } from "./drivers/driver.ts";
import { defaultDriverName, openDriver } from "./drivers/open_driver.ts";
import {
  closeConnection,
  type OpenHooks,
  type OpenOptions,
  openWithExtensionWithHooks,
} from "./open.ts";
import { currentPlatformId, type PlatformId } from "./platform.ts";
import { checkHost, hostProbe, type PreflightReport } from "./preflight.ts";
import { resolveExtension, type ResolveOptions } from "./resolve.ts";
import { detectRuntime, type RuntimeName } from "./runtime.ts";

/** Options of {@linkcode diagnostics}: those of `openDatabase`, plus a database to inspect. */
export type DiagnosticsOptions = OpenOptions & {
  /**
   * A database file to inspect (opened read-only, without the extension).
   * @default undefined
   */
  databasePath?: string;
};

/** A step that failed, with its error. */
export interface DiagnosticsProblem {
  /** Which step failed. */
  step: "platform" | "resolve" | "load" | "database";
  /** The error kind (`SqliteSyncError.kind`), or the error's name. */
  kind: string;
  /** The message, redacted like every error's (see common/redact.ts). */
  message: string;
}

/** What {@linkcode diagnostics} found. */
export interface Diagnostics {
  /** Whether the extension loaded and every host check passed. */
  ok: boolean;
  /** The platform id, or `null` when the host has no prebuilt extension. */
  platform: PlatformId | null;
  /** The JavaScript runtime. */
  runtime: { name: RuntimeName; version: string; denoDeploy: boolean };
  /** The driver used. */
  driver: DriverName;
  /** `sqlite_version()` of that driver, when a connection opened. */
  sqliteVersion: string | null;
  /** The extension. */
  extension: {
    /** `cloudsync_version()`, measured on an in-memory connection. */
    version: string | null;
    /** The version resolution asked for. */
    resolvedVersion: string | null;
    /** The binary's path. */
    path: string | null;
    /** Whether its hash was checked. */
    verified: boolean | null;
    /** Where it came from. */
    source: string | null;
    /** The cache directory. */
    cacheDir: string | null;
  };
  /**
   * The settings every connection gets, measured on the same in-memory connection (its journal
   * mode is `memory`: files get WAL), or `null` when no connection opened.
   */
  connection: {
    /** `PRAGMA recursive_triggers`: must be `true`, or REPLACE deletes are not synced. */
    recursiveTriggers: boolean;
    /** `PRAGMA journal_mode`. */
    journalMode: string | null;
    /** `PRAGMA busy_timeout`, in milliseconds. */
    busyTimeoutMs: number | null;
  } | null;
  /** The inspected database, when `databasePath` was given. */
  database: { path: string; journalMode: string | null } | null;
  /** The host checks (empty outside Linux glibc). */
  preflight: PreflightReport | null;
  /** What failed. */
  problems: DiagnosticsProblem[];
}

function problem(step: DiagnosticsProblem["step"], err: unknown): DiagnosticsProblem {
  const kind = err instanceof SqliteSyncError
    ? err.kind
    : err instanceof Error
    ? err.name
    : "error";
  const message = err instanceof Error ? err.message : String(err);
  return { step, kind, message: redact(message) };
}

/**
 * Reports what decides whether sqlite-sync can load on this host.
 *
 * @param options The options you would pass to `openDatabase`; only the fields that locate
 *   the extension and pick the driver are read, and none is echoed.
 * @returns The report; failures are in `problems`, never thrown.
 *
 * @example Usage
 * ```ts
 * import { diagnostics } from "@sqliteai/sync";
 * console.log(JSON.stringify(await diagnostics(), null, 2));
 * ```
 */
export function diagnostics(options: DiagnosticsOptions = {}): Promise<Diagnostics> {
  return diagnosticsWithHooks(options, {});
}

/**
 * {@linkcode diagnostics} on a substituted host (tests).
 *
 * @param options As {@linkcode diagnostics}.
 * @param hooks The runtime and the host probe to use instead of the real ones.
 * @returns The report.
 *
 * @example Usage
 * ```ts ignore
 * import { diagnosticsWithHooks } from "./diagnostics.ts";
 * const deploy = { name: "deno", version: "2.9.6", denoDeploy: true } as const;
 * console.log((await diagnosticsWithHooks({}, { runtime: deploy })).problems[0].kind);
 * ```
 */
export async function diagnosticsWithHooks(
  options: DiagnosticsOptions,
  hooks: OpenHooks,
): Promise<Diagnostics> {
  // Copy only what is needed: anything else the caller passed (tokens, keys) stays out.
  const resolveOptions: ResolveOptions = {
    extensionPath: options.extensionPath,
    version: options.version,
    platform: options.platform,
    cacheDir: options.cacheDir,
    sources: options.sources,
    npmRegistry: options.npmRegistry,
    githubBaseUrl: options.githubBaseUrl,
    mirror: options.mirror,
    integrity: options.integrity,
    offline: options.offline,
    timeoutMs: options.timeoutMs,
    deadlineMs: options.deadlineMs,
    env: options.env,
  };
  const runtime = hooks.runtime ?? detectRuntime();
  const driverName = options.driver ?? defaultDriverName(runtime);
  const report: Diagnostics = {
    ok: false,
    platform: null,
    runtime: { name: runtime.name, version: runtime.version, denoDeploy: runtime.denoDeploy },
    driver: driverName,
    sqliteVersion: null,
    extension: {
      version: null,
      resolvedVersion: null,
      path: null,
      verified: null,
      source: null,
      cacheDir: null,
    },
    connection: null,
    database: null,
    preflight: null,
    problems: [],
  };

  try {
    report.platform = options.platform ?? currentPlatformId();
    report.preflight = checkHost(report.platform, hooks.preflightProbe ?? hostProbe);
  } catch (err) {
    report.problems.push(problem("platform", err));
  }

  if (report.platform !== null) {
    try {
      const ext = await resolveExtension(resolveOptions);
      report.extension = {
        ...report.extension,
        resolvedVersion: ext.version,
        path: ext.path,
        verified: ext.verified,
        source: ext.source,
        cacheDir: ext.cacheDir ?? null,
      };
      const driver = await openWithExtensionWithHooks(":memory:", ext, {
        driver: options.driver,
        customSQLite: options.customSQLite,
      }, { runtime, preflightProbe: hooks.preflightProbe });
      try {
        const row = driver.prepare("select sqlite_version() as s, cloudsync_version() as v").get();
        report.sqliteVersion = String(row?.s ?? "") || null;
        report.extension.version = String(row?.v ?? "") || null;
        const pragma = (name: string) => {
          const stmt = driver.prepare(`PRAGMA ${name}`);
          try {
            return Object.values(stmt.get() ?? {})[0] ?? null;
          } finally {
            stmt.finalize();
          }
        };
        const timeout = pragma("busy_timeout");
        report.connection = {
          recursiveTriggers: Number(pragma("recursive_triggers")) === 1,
          journalMode: String(pragma("journal_mode") ?? "") || null,
          busyTimeoutMs: timeout === null ? null : Number(timeout),
        };
      } finally {
        closeConnection(driver);
      }
    } catch (err) {
      report.problems.push(problem(report.extension.path === null ? "resolve" : "load", err));
    }
  }

  if (options.databasePath !== undefined) {
    report.database = { path: options.databasePath, journalMode: null };
    try {
      const db = await openDriver(options.databasePath, {
        driver: options.driver,
        customSQLite: options.customSQLite,
        readOnly: true,
        runtime,
      });
      try {
        const row = db.prepare("PRAGMA journal_mode").get();
        report.database.journalMode = String(row?.journal_mode ?? "") || null;
      } finally {
        db.close();
      }
    } catch (err) {
      report.problems.push(problem("database", err));
    }
  }

  report.ok = report.problems.length === 0 && (report.preflight?.ok ?? false);
  return report;
}
