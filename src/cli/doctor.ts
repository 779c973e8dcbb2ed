/**
 * `sqlite-sync doctor`: what decides whether sqlite-sync loads here
 * (platform, runtime, driver, SQLite and extension versions, where the
 * binary came from and whether it was verified, the cache, the host checks,
 * the connection settings), as text or `--json`. It reads no credential and
 * writes nothing: `--database` is opened read-only, without the extension.
 * Exit code 0 when everything passes, 1 when a problem was found; 2 for bad
 * input (a `--database` that is missing or is not a SQLite database).
 *
 * @module
 */
import { defineCommand } from "citty";
import { type Diagnostics, diagnostics } from "../../ffi/diagnostics.ts";
import { type CliArgDef, parseCli } from "./_args.ts";
import {
  databaseFile,
  readOnlyPath,
  syncedTablesOf,
  withReadOnlyConnection,
} from "./_database_file.ts";
import { UsageError } from "./_usage.ts";
import { labelled, type Output, printJson, printLines, processOutput } from "./_output.ts";

const args = {
  json: { type: "boolean", description: "Print the report as JSON" },
  "cache-dir": {
    type: "string",
    valueHint: "dir",
    description: "The extension cache to use (default: SQLITE_SYNC_CACHE_DIR, else per user)",
  },
  offline: { type: "boolean", description: "Never download: report what the cache holds" },
  database: {
    type: "string",
    valueHint: "file",
    description: "Also open this database file read-only and report its journal mode",
  },
} satisfies Record<string, CliArgDef>;

/** The `doctor` command. */
export const doctorCommand = defineCommand({
  meta: {
    name: "doctor",
    description: "Report platform, runtime, driver, versions, cache, verification and host checks",
  },
  args,
  run: async ({ rawArgs }) => {
    const a = parseCli("doctor", rawArgs, args);
    return await doctor({
      json: a.flag("json"),
      cacheDir: a.string("cache-dir"),
      offline: a.flag("offline"),
      database: a.string("database"),
    });
  },
});

/** Options of {@linkcode doctor}. */
export interface DoctorOptions {
  /** Print JSON. @default false */
  json?: boolean;
  /** The cache directory. @default the library's default */
  cacheDir?: string;
  /** Never download. @default false */
  offline?: boolean;
  /** A database file to inspect. */
  database?: string;
}

/**
 * Runs the checks and prints the report.
 *
 * @param options What to print and where to look.
 * @param out The streams.
 * @returns The exit code: 0 when `ok`, 1 otherwise.
 * @throws {UsageError} for a `database` that is missing or that SQLite cannot read as a database.
 */
export async function doctor(options: DoctorOptions, out: Output = processOutput): Promise<number> {
  // A missing file, or one SQLite cannot read as a database, is bad input: refused first.
  const file = options.database === undefined
    ? undefined
    : databaseFile(options.database, "doctor");
  if (file !== undefined) {
    try {
      await withReadOnlyConnection(file, syncedTablesOf);
    } catch (err) {
      // Another failure (permissions, locks) is the report's to name.
      if (err instanceof UsageError) throw err;
    }
  }
  const databasePath = file === undefined ? undefined : readOnlyPath(file);
  const report = await diagnostics({
    cacheDir: options.cacheDir,
    offline: options.offline || undefined,
    // Read-only, without the extension; as immutable when no connection has it open.
    databasePath,
  });
  if (report.database && file) {
    // SQLite reads an immutable WAL file as if it had no journal: the header tells its mode.
    if (databasePath !== file.path && file.wal && report.database.journalMode !== null) {
      report.database.journalMode = "wal";
    }
    report.database.path = file.path;
  }
  if (options.json) printJson(report, out);
  else printLines(describeReport(report), out);
  return report.ok ? 0 : 1;
}

/**
 * The report as text for people.
 *
 * @param r The report.
 * @returns Its lines.
 */
export function describeReport(r: Diagnostics): string[] {
  const yesNo = (v: boolean | null | undefined) =>
    v === null || v === undefined ? null : v ? "yes" : "no";
  const c = r.connection;
  const lines = [
    `sqlite-sync doctor: ${r.ok ? "ok" : "problems found"}`,
    ...labelled([
      ["platform", r.platform ?? "none (no prebuilt extension for this host)"],
      [
        "runtime",
        `${r.runtime.name} ${r.runtime.version}${r.runtime.denoDeploy ? " (Deno Deploy)" : ""}`,
      ],
      ["driver", r.driver],
      ["sqlite", r.sqliteVersion],
      ["extension", r.extension.version],
      ["binary", r.extension.path],
      ["source", r.extension.source],
      ["verified", yesNo(r.extension.verified)],
      ["cache", r.extension.cacheDir],
      [
        "recursive_triggers",
        c ? (c.recursiveTriggers ? "on" : "off (REPLACE deletes are not synced)") : null,
      ],
      ["journal_mode", c?.journalMode],
      ["busy_timeout", c?.busyTimeoutMs === null || c === null ? null : `${c.busyTimeoutMs} ms`],
      ...(r.database
        ? [
          [
            "database",
            `${r.database.path} (journal_mode ${r.database.journalMode ?? "?"})`,
          ] as const,
        ]
        : []),
      [
        "host checks",
        r.preflight === null
          ? null
          : r.preflight.checks.length === 0
          ? "none for this platform"
          : r.preflight.ok
          ? "pass"
          : "FAIL",
      ],
    ]),
  ];
  for (const check of r.preflight?.checks ?? []) {
    lines.push(
      `  ${check.ok ? "ok  " : "FAIL"} ${check.name}: ${check.detail}${
        check.fix ? ` (fix: ${check.fix})` : ""
      }`,
    );
  }
  for (const p of r.problems) {
    lines.push(`problem (${p.step}, ${p.kind}): ${p.message.replace(/\s*\n\s*/g, " ")}`);
  }
  return lines;
}
