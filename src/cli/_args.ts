/**
 * Strict reading of a command's arguments. citty declares the arguments and
 * renders the help, but it ignores unknown flags, keeps only the last value
 * of a repeated one and takes `--out --json` as `out = "--json"`; this reads
 * the same declarations with `node:util`'s `parseArgs` (tokens) and refuses
 * all of that with one line naming the flag and the fix. A value is never
 * echoed: it may be a credential typed in the wrong place.
 *
 * @module
 */
import { parseArgs } from "node:util";
import type { ArgDef, ArgsDef } from "citty";
import { UsageError, usageLine } from "./_usage.ts";

/** A citty argument declaration, plus `multiple` for an option that may be repeated. */
export type CliArgDef = ArgDef & {
  /** The option may be given more than once; every value is kept, in order. */
  multiple?: boolean;
};

/** Option names that would carry a credential: always refused, with where secrets go instead. */
const SECRET_FLAGS = /^(api-?key|apikey|token|password|secret|key)$/i;

/** The arguments of one command, read strictly. */
export class CliArgs {
  readonly #values: Record<string, string | string[] | boolean | undefined>;
  readonly #positionals: Record<string, string | undefined>;

  /** @internal Built by {@linkcode parseCli}. */
  constructor(
    values: Record<string, string | string[] | boolean | undefined>,
    positionals: Record<string, string | undefined>,
  ) {
    this.#values = values;
    this.#positionals = positionals;
  }

  /** A string option's value, or `undefined` when absent. */
  string(name: string): string | undefined {
    const value = this.#values[name];
    return typeof value === "string" ? value : undefined;
  }

  /** A repeatable option's values (empty when absent). */
  list(name: string): string[] {
    const value = this.#values[name];
    return Array.isArray(value) ? value : typeof value === "string" ? [value] : [];
  }

  /** Whether a boolean flag was given. */
  flag(name: string): boolean {
    return this.#values[name] === true;
  }

  /** A positional argument, or `undefined` when absent. */
  positional(name: string): string | undefined {
    return this.#positionals[name];
  }
}

/**
 * Reads a command's raw arguments against its citty declarations, strictly.
 *
 * @param command The command's name (for messages).
 * @param rawArgs The arguments after the command's name.
 * @param defs The command's citty argument declarations (`multiple` marks a repeatable option).
 * @returns The arguments.
 * @throws {UsageError} naming an unknown option, an option without its value, a flag given a
 *   value, a repeated option, an extra argument, or a missing required argument.
 *
 * @example Usage
 * ```ts
 * import { parseCli } from "./_args.ts";
 * const args = parseCli("init", ["app.db", "--table", "a", "--table=b"], {
 *   db: { type: "positional" },
 *   table: { type: "string", multiple: true },
 * });
 * console.log(args.positional("db"), args.list("table")); // "app.db" ["a", "b"]
 * ```
 */
export function parseCli(command: string, rawArgs: readonly string[], defs: ArgsDef): CliArgs {
  const usage = usageLine(command, defs as Record<string, CliArgDef>);
  const help = `sqlite-sync ${command} --help`;
  const options: Record<string, { type: "string" | "boolean"; multiple: true; short?: string }> =
    {};
  const shorts = new Map<string, string>();
  const positionalNames: string[] = [];
  for (const [name, def] of Object.entries(defs)) {
    if (def.type === "positional") {
      positionalNames.push(name);
      continue;
    }
    const type = def.type === "boolean" ? "boolean" : "string";
    options[name] = { type, multiple: true };
    for (const alias of [("alias" in def ? def.alias : undefined) ?? []].flat()) {
      if (alias.length === 1) {
        options[name].short = alias;
        shorts.set(alias, name);
      }
    }
  }
  const known = Object.keys(options).map((n) => `--${n}`).join(", ") || "none";
  const { tokens } = parseArgs({
    args: [...rawArgs],
    options,
    strict: false,
    allowPositionals: true,
    tokens: true,
  });

  const values: Record<string, string | string[] | boolean | undefined> = {};
  const positionals: string[] = [];
  for (const token of tokens ?? []) {
    if (token.kind === "positional") {
      positionals.push(token.value);
      continue;
    }
    if (token.kind !== "option") continue;
    const name = shorts.get(token.name) ?? token.name;
    const def = defs[name] as CliArgDef | undefined;
    const shown = shownFlag(token.rawName);
    if (def === undefined || def.type === "positional") {
      if (SECRET_FLAGS.test(token.name)) {
        throw new UsageError(
          `${shown} is refused: secrets never go on the command line (it is visible to other ` +
            `users and kept in shell history); set SQLITE_SYNC_API_KEY or SQLITE_SYNC_TOKEN, or ` +
            `use --api-key-file/--token-file with 'sqlite-sync sync'`,
        );
      }
      throw new UsageError(
        `unknown option '${shown}' for 'sqlite-sync ${command}': its options are ${known} (${help})`,
      );
    }
    const valueHint = `<${def.valueHint ?? name}>`;
    if (def.type === "boolean") {
      if (token.value !== undefined) {
        throw new UsageError(`${shown} takes no value: write ${shown} alone (${help})`);
      }
      values[name] = true;
      continue;
    }
    // `--out --json` would take "--json" as the folder: a value must not look like an option.
    if (
      token.value === undefined || token.value === "" ||
      (!token.inlineValue && token.value.startsWith("-"))
    ) {
      throw new UsageError(
        `${shown} needs a value: ${shown} ${valueHint} (or ${shown}=${valueHint}) (${help})`,
      );
    }
    const previous = values[name];
    if (previous !== undefined && !def.multiple) {
      throw new UsageError(`${shown} is given more than once: give it once (${help})`);
    }
    values[name] = def.multiple
      ? [...(Array.isArray(previous) ? previous : []), token.value]
      : token.value;
  }

  if (positionals.length > positionalNames.length) {
    const takes = positionalNames.length === 0
      ? "no argument"
      : positionalNames.map((n) => `<${n}>`).join(" ");
    throw new UsageError(
      `unexpected extra argument (argument ${positionalNames.length + 1}; the value is not ` +
        `shown): 'sqlite-sync ${command}' takes ${takes}: ${usage}`,
    );
  }
  const byName: Record<string, string | undefined> = {};
  positionalNames.forEach((name, i) => {
    byName[name] = positionals[i];
    const def = defs[name];
    if (positionals[i] === undefined && def.required !== false && def.default === undefined) {
      throw new UsageError(`missing <${name}>: ${usage}`);
    }
    if (positionals[i] === "") throw new UsageError(`<${name}> is empty: ${usage}`);
  });
  for (const [name, def] of Object.entries(defs)) {
    if (def.type !== "positional" && def.required && values[name] === undefined) {
      throw new UsageError(`missing --${name}: ${usage}`);
    }
  }
  return new CliArgs(values, byName);
}

/** The option as typed, without any inline value, and cut short (never a whole value). */
function shownFlag(rawName: string): string {
  const name = rawName.split("=")[0];
  return name.length > 40 ? `${name.slice(0, 40)}…` : name;
}
