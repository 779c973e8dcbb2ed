/**
 * The `sqlite-sync` command line: `doctor`, `fetch`, `init`, `sync`, `status`
 * and `daemon`. Each command parses its arguments and calls the library.
 *
 * ```sh
 * deno run -A jsr:@sqliteai/sync/cli doctor
 * bunx -p @sqliteai/sync sqlite-sync doctor --json   # npm's bin, also: npx -p @sqliteai/sync sqlite-sync …
 * sqlite-sync fetch --platform linux-arm64 --out ./sqlite-sync-cache
 * sqlite-sync init app.db --table notes
 * SQLITE_SYNC_API_KEY=… sqlite-sync sync app.db --database-id db_123 --json
 * SQLITE_SYNC_DATABASE_ID=db_123 SQLITE_SYNC_API_KEY=… sqlite-sync sync app.db
 * sqlite-sync status app.db
 * ```
 *
 * Exit codes: 0 success; 1 a failure that is not the user's input (network,
 * server, host; `doctor` found a problem); 2 bad input (unknown command or
 * option, a missing value or credential, a missing database or a file that
 * is not one, an unknown platform, a hostile table name), with exactly one
 * line on stderr naming the problem and the fix. With `--json` among the
 * arguments, stdout holds exactly one JSON document: the result, or on
 * failure `{ "ok": false, "kind", "message", "exitCode" }` (the same line
 * goes to stderr too). Refusals write nothing, and `status` and `doctor`
 * only read.
 * Secrets come from environment variables or files, never from arguments.
 * The variables: `SQLITE_SYNC_API_KEY` or `SQLITE_SYNC_TOKEN` (the credential
 * of `sync`), `SQLITE_SYNC_DATABASE_ID` (`sync`'s database id when
 * `--database-id` is not given).
 *
 * @module
 */
import process from "node:process";
import { type ArgsDef, type CommandDef, defineCommand, runCommand } from "citty";
import { SqliteSyncError } from "../../common/errors.ts";
import { redact } from "../../common/redact.ts";
import { EXTENSION_VERSION } from "../../ffi/pins.ts";
import { parseCli } from "./_args.ts";
import { CommandFailure, FAILURE_EXIT_CODE } from "./_failure.ts";
import { stripAnsi } from "./_output.ts";
import { errorLine, type HelpCommand, renderHelp, USAGE_EXIT_CODE, UsageError } from "./_usage.ts";
import { daemonCommand } from "./daemon.ts";
import { doctorCommand } from "./doctor.ts";
import { fetchCommand } from "./fetch.ts";
import { initCommand } from "./init.ts";
import { statusCommand } from "./status.ts";
import { syncCommand } from "./sync.ts";

/**
 * The version printed by `--version`: this library's (`npm run release:check` checks that it
 * equals deno.json's).
 *
 * @example Usage
 * ```ts
 * import { CLI_VERSION } from "@sqliteai/sync/cli";
 * console.log(`sqlite-sync ${CLI_VERSION}`);
 * ```
 */
export const CLI_VERSION = "0.1.0";

// deno-lint-ignore no-explicit-any
const COMMANDS: Record<string, CommandDef<any>> = {
  doctor: doctorCommand,
  fetch: fetchCommand,
  init: initCommand,
  sync: syncCommand,
  status: statusCommand,
  daemon: daemonCommand,
};

/** The citty root command: `sqlite-sync <command>` (its help lists the commands). */
const mainCommand: CommandDef = defineCommand({
  meta: {
    name: "sqlite-sync",
    version: CLI_VERSION,
    description: `SQLite Sync (cloudsync ${EXTENSION_VERSION}) from the command line`,
  },
  subCommands: COMMANDS,
});

const HELP = new Set(["--help", "-h"]);

/**
 * Runs the CLI on `argv` (without the runtime and script) and returns the
 * exit code. Never throws: every error becomes one line on stderr and, when
 * `--json` is among the arguments, one JSON document on stdout.
 *
 * @param argv The arguments, e.g. `["status", "app.db", "--json"]`.
 * @returns 0, 1 or 2 (see the module documentation).
 *
 * @example Usage
 * ```ts
 * import process from "node:process";
 * import { main } from "@sqliteai/sync/cli";
 * process.exitCode = await main(["doctor", "--json"]);
 * ```
 */
export async function main(argv: readonly string[]): Promise<number> {
  try {
    return await dispatch(argv);
  } catch (err) {
    const failure = failureOf(err);
    process.stderr.write(`sqlite-sync: ${failure.message}\n`);
    if (wantsJson(argv)) {
      process.stdout.write(`${JSON.stringify({ ok: false, ...failure }, null, 2)}\n`);
    }
    return failure.exitCode;
  }
}

/** `--json` (or `--json=…`, refused later) before any `--`: failures are printed as JSON too. */
function wantsJson(argv: readonly string[]): boolean {
  const end = argv.indexOf("--");
  return (end < 0 ? argv : argv.slice(0, end)).some((a) =>
    a === "--json" || a.startsWith("--json=")
  );
}

const HELP_COMMANDS = COMMANDS as Record<string, HelpCommand>;

async function dispatch(argv: readonly string[]): Promise<number> {
  const names = Object.keys(COMMANDS).join(", ");
  const [name, ...rest] = argv;
  if (name === undefined) {
    throw new UsageError(`missing command: use one of ${names} (sqlite-sync --help)`);
  }
  if (HELP.has(name) || name === "help") {
    printUsage(renderHelp(mainCommand as HelpCommand, HELP_COMMANDS));
    return 0;
  }
  if (name === "--version" || name === "-v") {
    process.stdout.write(`sqlite-sync ${CLI_VERSION} (cloudsync ${EXTENSION_VERSION})\n`);
    return 0;
  }
  if (name.startsWith("-")) {
    throw new UsageError(
      `unknown option '${name.split("=")[0].slice(0, 40)}' before the command: options go after ` +
        `it, e.g. sqlite-sync doctor --json (sqlite-sync --help)`,
    );
  }
  const command = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (command === undefined) {
    throw new UsageError(
      `unknown command '${name.slice(0, 40)}': use one of ${names} (sqlite-sync --help)`,
    );
  }
  const beforeTerminator = rest.indexOf("--") < 0 ? rest : rest.slice(0, rest.indexOf("--"));
  if (beforeTerminator.some((arg) => HELP.has(arg))) {
    printUsage(renderHelp(mainCommand as HelpCommand, HELP_COMMANDS, name));
    return 0;
  }
  // Strict first: citty would ignore unknown options and keep a repeated option's last value.
  parseCli(name, rest, (command.args ?? {}) as ArgsDef);
  const { result } = await runCommand(command, { rawArgs: [...rest] });
  return typeof result === "number" ? result : 0;
}

function printUsage(text: string): void {
  process.stdout.write(`${text}\n`);
}

/** What a failure prints: its kind, its one-line message (redacted) and the exit code. */
interface Failure {
  /** `usage` for bad input, else the error's kind (`offline`, `auth`, `schema`…). */
  kind: string;
  /** One line, without the `sqlite-sync: ` prefix; never a secret. */
  message: string;
  /** 1 or 2. */
  exitCode: number;
}

function failureOf(err: unknown): Failure {
  const line = (message: string) =>
    redact(errorLine(new Error(message))).replace(/^sqlite-sync: /, "");
  if (err instanceof UsageError) {
    return { kind: "usage", message: line(err.message), exitCode: USAGE_EXIT_CODE };
  }
  if (isCittyError(err)) {
    return { kind: "usage", message: line(stripAnsi(err.message)), exitCode: USAGE_EXIT_CODE };
  }
  if (err instanceof CommandFailure) {
    return { kind: err.kind, message: line(err.message), exitCode: FAILURE_EXIT_CODE };
  }
  if (err instanceof SqliteSyncError) {
    return {
      kind: err.kind,
      message: line(`${err.kind}: ${err.message}`),
      exitCode: FAILURE_EXIT_CODE,
    };
  }
  const name = err instanceof Error ? err.name : "error";
  const message = err instanceof Error ? err.message : String(err);
  return { kind: "internal", message: line(`${name}: ${message}`), exitCode: FAILURE_EXIT_CODE };
}

/** citty's own argument errors (a missing required argument, an unknown sub-command). */
function isCittyError(err: unknown): err is Error {
  return err instanceof Error && err.name === "CLIError";
}

if (import.meta.main) {
  process.exitCode = await main(process.argv.slice(2));
}
