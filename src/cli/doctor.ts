/**
 * `sqlite-sync doctor`: what decides whether sqlite-sync loads here
 * (platform, runtime, driver, SQLite and extension versions, where the
 * binary came from and whether it was verified, the cache, the host checks,
 * the connection settings), as text or `--json`. It reads no credential.
 * Exit code 0 when everything passes, 1 when a problem was found.
 *
 * @module
 */
import { defineCommand } from "citty";
import { type Diagnostics, diagnostics } from "../../ffi/diagnostics.ts";
import { type CliArgDef, parseCli } from "./_args.ts";
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
 */
export async function doctor(options: DoctorOptions, out: Output = processOutput): Promise<number> {
  const report = await diagnostics({
    cacheDir: options.cacheDir,
    offline: options.offline || undefined,
    databasePath: options.database,
  });
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
