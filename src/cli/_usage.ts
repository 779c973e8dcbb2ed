/**
 * How the CLI reports bad input: one line naming the problem and the fix,
 * exit code 2, never a stack trace. Every command throws {@linkcode UsageError}
 * for what the user got wrong; the entry point turns it into that line.
 *
 * @module
 */

/** Exit code for bad input (unknown command or flag, bad config, missing database…). */
export const USAGE_EXIT_CODE = 2;

/**
 * Bad input from the user: the message is printed as one line, and the
 * process exits with code 2.
 *
 * @example Usage
 * ```ts
 * import { UsageError } from "./_usage.ts";
 * const err = new UsageError("unknown platform 'linux-mips': use one of linux-x86_64, linux-arm64, …");
 * console.log(err.exitCode); // 2
 * ```
 */
export class UsageError extends Error {
  /** Always {@linkcode USAGE_EXIT_CODE}. */
  readonly exitCode: number = USAGE_EXIT_CODE;

  /**
   * Creates the error.
   *
   * @param message One line: what is wrong and how to fix it (never a secret).
   */
  constructor(message: string) {
    super(message.replace(/\s*\n\s*/g, " "));
    this.name = "UsageError";
  }
}

/**
 * The one line printed for an error that ends the CLI: the message of a
 * `UsageError` or a `SqliteSyncError` (already redacted), without a stack.
 *
 * @param err What was thrown.
 * @returns `sqlite-sync: <message>`, on one line.
 *
 * @example Usage
 * ```ts
 * import { errorLine, UsageError } from "./_usage.ts";
 * console.log(errorLine(new UsageError("missing --out"))); // "sqlite-sync: missing --out"
 * ```
 */
export function errorLine(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return `sqlite-sync: ${message.replace(/\s*\n\s*/g, " ")}`;
}

/** The width help is wrapped at. */
export const HELP_WIDTH = 80;

/** One argument declaration, as the help reads it (citty's shape, plus `multiple`). */
export interface HelpArg {
  /** `positional`, `string` or `boolean`. */
  type?: string;
  /** One line: what it is; defaults in parentheses. */
  description?: string;
  /** The value's name, e.g. `file`. */
  valueHint?: string;
  /** Short aliases (`c` for `-c`). */
  alias?: string | string[];
  /** A required option (positionals are required unless `false`). */
  required?: boolean;
  /** The option may be repeated. */
  multiple?: boolean;
  /** citty's default. */
  default?: unknown;
}

/** A command as the help reads it: citty's `meta` and `args` (plain objects). */
export interface HelpCommand {
  /** Name and one-line description. */
  meta?: { name?: string; description?: string; version?: string };
  /** The argument declarations. */
  args?: Record<string, HelpArg>;
}

/**
 * The usage line of a command: `sqlite-sync <command> <positional>… --required <hint>…`.
 *
 * @param command The command's name.
 * @param defs Its argument declarations.
 * @returns The line.
 *
 * @example Usage
 * ```ts
 * import { usageLine } from "./_usage.ts";
 * console.log(usageLine("status", { db: { type: "positional" } })); // "sqlite-sync status <db>"
 * ```
 */
export function usageLine(command: string, defs: Record<string, HelpArg>): string {
  const parts = [`sqlite-sync ${command}`];
  for (const [name, def] of Object.entries(defs)) {
    if (def.type === "positional") parts.push(`<${name}>`);
  }
  for (const [name, def] of Object.entries(defs)) {
    if (def.type !== "positional" && def.required) {
      parts.push(`--${name} <${def.valueHint ?? name}>${def.multiple ? "…" : ""}`);
    }
  }
  return parts.join(" ");
}

/** Examples shown by `sqlite-sync <command> --help`: each fits in {@linkcode HELP_WIDTH}. */
export const EXAMPLES: Readonly<Record<string, readonly string[]>> = {
  "": [
    "sqlite-sync doctor",
    "sqlite-sync init app.db --table notes",
    "SQLITE_SYNC_API_KEY=… sqlite-sync sync app.db --database-id db_123",
    "sqlite-sync status app.db --json",
  ],
  doctor: [
    "sqlite-sync doctor",
    "sqlite-sync doctor --json --database app.db",
    "sqlite-sync doctor --offline --cache-dir ./sqlite-sync-cache",
  ],
  fetch: [
    "sqlite-sync fetch --platform linux-arm64 --out ./sqlite-sync-cache",
    "sqlite-sync fetch --platform linux-arm64 --platform darwin-arm64 --out ./c",
    "SQLITE_SYNC_CACHE_DIR=./sqlite-sync-cache sqlite-sync doctor --offline",
  ],
  init: [
    "sqlite-sync init app.db --table notes",
    "sqlite-sync init app.db --table notes --table tags --json",
    "sqlite-sync init app.db --table '*'",
  ],
  sync: [
    "SQLITE_SYNC_API_KEY=… sqlite-sync sync app.db --database-id db_123",
    "sqlite-sync sync app.db --database-id db_123 --api-key-file ./api-key",
    "SQLITE_SYNC_TOKEN=… sqlite-sync sync app.db --database-id db_123 --json",
  ],
  status: [
    "sqlite-sync status app.db",
    "sqlite-sync status app.db --json",
  ],
  daemon: [
    "sqlite-sync daemon --config /etc/sqlite-sync/daemon.jsonc",
    "sqlite-sync daemon -c ./daemon.jsonc",
  ],
};

/** What each command's exit codes mean, as its help says. */
const EXIT_CODES: Readonly<Record<string, string>> = {
  doctor: "0 every check passes; 1 a problem was found (listed); 2 bad input",
  fetch: "0 fetched and verified; 1 a download or verification failed; 2 bad input",
  init: "0 enabled; 1 a failure that is not your input; 2 bad input (nothing enabled)",
  sync: "0 synced; 1 the network, server or credential failed (its kind is named); " +
    "2 bad input (nothing sent or written)",
  status: "0 shown; 1 a failure that is not your input; 2 bad input",
  daemon: "0 stopped by a signal; 1 the HTTP port cannot be bound or the systemd " +
    "watchdog cannot be fed; 2 bad flags, config or secrets",
};

/**
 * Wraps text into lines of at most `width` characters, breaking at spaces (a
 * word longer than the width gets a line of its own).
 *
 * @param text The text.
 * @param width The width.
 * @returns The lines.
 *
 * @example Usage
 * ```ts
 * import { wrap } from "./_usage.ts";
 * console.log(wrap("one two three", 7)); // ["one two", "three"]
 * ```
 */
export function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line === "") line = word;
    else if (line.length + 1 + word.length <= width) line += ` ${word}`;
    else {
      lines.push(line);
      line = word;
    }
  }
  if (line !== "" || lines.length === 0) lines.push(line);
  return lines;
}

/** `label  description` rows, the description wrapped in its column (or below, when narrow). */
function table(rows: readonly (readonly [string, string])[]): string[] {
  const indent = "  ";
  const labelWidth = Math.max(0, ...rows.map(([label]) => label.length));
  const column = indent.length + labelWidth + 2;
  const below = HELP_WIDTH - column < 32;
  const out: string[] = [];
  for (const [label, description] of rows) {
    if (below) {
      out.push(`${indent}${label}`);
      for (const l of wrap(description, HELP_WIDTH - 6)) out.push(`      ${l}`);
      continue;
    }
    const lines = wrap(description, HELP_WIDTH - column);
    out.push(`${indent}${label.padEnd(labelWidth)}  ${lines[0]}`.trimEnd());
    for (const l of lines.slice(1)) out.push(`${" ".repeat(column)}${l}`);
  }
  return out;
}

/** How an option is shown: `-c, --config <file>`, `--table <table>…`, `--json`. */
function optionLabel(name: string, def: HelpArg): string {
  const short = [def.alias ?? []].flat().filter((a) => a.length === 1).map((a) => `-${a}, `);
  const value = def.type === "boolean"
    ? ""
    : ` <${def.valueHint ?? name}>${def.multiple ? "…" : ""}`;
  return `${short.join("")}--${name}${value}`;
}

/**
 * The help of the CLI (`command` undefined: the list of commands) or of one
 * command: usage, arguments, options, examples, wrapped at
 * {@linkcode HELP_WIDTH} columns, without colours.
 *
 * @param program The root command (its `meta` names the CLI and its version).
 * @param commands The commands, by name.
 * @param command The command whose help to render, or `undefined` for the root's.
 * @returns The text, without a final newline.
 *
 * @example Usage
 * ```ts
 * import { renderHelp } from "./_usage.ts";
 * const status = { meta: { description: "Show the local state" }, args: { db: { type: "positional" } } };
 * console.log(renderHelp({ meta: { name: "sqlite-sync" } }, { status }, "status"));
 * ```
 */
export function renderHelp(
  program: HelpCommand,
  commands: Readonly<Record<string, HelpCommand>>,
  command?: string,
): string {
  const out: string[] = [];
  const para = (text: string) => out.push(...wrap(text, HELP_WIDTH));
  if (command === undefined) {
    para(`sqlite-sync ${program.meta?.version ?? ""}: ${program.meta?.description ?? ""}`);
    out.push("", "Usage: sqlite-sync <command> [options]", "", "Commands:");
    out.push(
      ...table(Object.entries(commands).map(([n, c]) => [n, c.meta?.description ?? ""] as const)),
    );
    out.push("", "Options:");
    out.push(...table([
      ["-h, --help", "Show this help (sqlite-sync <command> --help: a command's options)"],
      ["-v, --version", "Show the versions of sqlite-sync and of the extension"],
    ]));
  } else {
    const def = commands[command];
    const args = Object.entries(def.args ?? {});
    para(`sqlite-sync ${command}: ${def.meta?.description ?? ""}`);
    out.push("");
    const hasOptional = args.some(([, a]) => a.type !== "positional" && !a.required);
    para(`Usage: ${usageLine(command, def.args ?? {})}${hasOptional ? " [options]" : ""}`);
    const positionals = args.filter(([, a]) => a.type === "positional");
    if (positionals.length > 0) {
      out.push("", "Arguments:");
      out.push(...table(positionals.map(([n, a]) => [`<${n}>`, a.description ?? ""] as const)));
    }
    out.push("", "Options:");
    out.push(...table([
      ...args.filter(([, a]) => a.type !== "positional").map(([n, a]) =>
        [
          optionLabel(n, a),
          `${a.description ?? ""}${a.required ? " (required)" : ""}`,
        ] as const
      ),
      ["-h, --help", "Show this help"],
    ]));
  }
  const examples = EXAMPLES[command ?? ""] ?? [];
  if (examples.length > 0) {
    out.push("", "Examples:");
    for (const example of examples) out.push(`  ${example}`);
  }
  out.push("");
  if (command === undefined) {
    para(
      "Exit codes: 0 success; 1 a failure that is not your input (network, server, host; " +
        "doctor found a problem); 2 bad input, with one line naming the problem and the fix. " +
        "With --json, a failure prints {ok: false, kind, message, exitCode} on stdout.",
    );
  } else {
    para(`Exit codes: ${EXIT_CODES[command] ?? EXIT_CODES.sync}.`);
  }
  return out.join("\n");
}
