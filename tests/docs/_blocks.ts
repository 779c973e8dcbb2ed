/**
 * Private helper of code_blocks_test.ts: checks each fenced block with the tool that owns its
 * language. Every check returns failures as `<file>:<line>` with the tool's error, so one run
 * lists every broken block.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { dirname, isAbsolute, join, resolve, sep } from "node:path";
import { applyEdits, type JSONPath, modify, parse, type ParseError } from "jsonc-parser";
import { printParseErrorCode } from "jsonc-parser";
import { parseConfig } from "../../src/cli/config.ts";
import { run } from "../_helpers.ts";
import { at, type Block, type Failure, FENCES } from "./_markdown.ts";

export function fenceProblems(blocks: readonly Block[]): Failure[] {
  return blocks.flatMap((b) => [
    ...(FENCES.includes(b.info) ? [] : [{
      where: at(b),
      error: (b.info === "" ? "a fence with no language" : `unknown fence language '${b.info}'`) +
        ` (known: ${FENCES.join(", ")})`,
    }]),
    ...(b.closed ? [] : [{ where: at(b), error: "the fence is never closed" }]),
  ]);
}

/** Imports users could not copy: `jsr:`/`npm:`/URL specifiers and relative paths. */
export function badImports(blocks: readonly Block[]): Failure[] {
  const IMPORT = /(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+)(["'])([^"']+)\1/gm;
  return blocks.flatMap((b) =>
    [...b.code.matchAll(IMPORT)].map((m) => m[2])
      .filter((s) => /^(?:jsr:|npm:|https?:|\.{0,2}\/)/.test(s))
      .map((s) => ({
        where: at(b),
        error: `imports '${s}': import "@sqliteai/sync" (or "@sqliteai/sync/cli")`,
      }))
  );
}

/** Rewrites `[file://]<dir>/block_<n>.<ext>:<line>[:<col>]` to the markdown's `<file>:<line>[:<col>]`. */
function relocate(text: string, dir: string, blocks: readonly Block[], shift: number[]): string {
  const escaped = dir.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const re = new RegExp(`(?:file://)?${escaped}/block_(\\d+)\\.\\w+(?::(\\d+))?`, "g");
  return text.replace(re, (_, n: string, line: string | undefined) => {
    const b = blocks[Number(n)];
    return line === undefined ? at(b) : `${b.file}:${b.line + Number(line) - shift[Number(n)]}`;
  });
}

/**
 * Type-checks every ```ts and ```js block with `deno check --config <deno.json>`, each block
 * its own module in `dir` (js ones as .mjs under `// @ts-check`), all in one call. Diagnostics
 * are attributed to their block, positions rewritten to `<file>:<line>:<column>`. A block that
 * does not parse stops deno before any type check, so the others are checked again without it.
 */
export async function typeCheck(
  blocks: readonly Block[],
  dir: string,
  deno: string,
  config: string,
): Promise<Failure[]> {
  const shift = blocks.map((b) => b.info.startsWith("js") ? 1 : 0);
  const names = blocks.map((b, i) => {
    const name = `block_${i}.${shift[i] ? "mjs" : "ts"}`;
    writeFileSync(join(dir, name), shift[i] ? `// @ts-check\n${b.code}` : b.code);
    return name;
  });
  const noise =
    /^(?:Check |Found \d+ errors?\.|error: Type checking failed|Stack backtrace:|\s+\d+: )/;
  const failures: [number, Failure][] = [];
  let left = blocks.map((_, i) => i);
  while (left.length > 0) {
    const r = await run([deno, "check", "--config", config, ...left.map((i) => names[i])], {
      cwd: dir,
      env: { NO_COLOR: "1", RUST_BACKTRACE: undefined },
      timeoutMs: 300_000,
    });
    if (r.code === 0) break;
    const output = (r.stdout + r.stderr).split("\n").filter((l) => !noise.test(l)).join("\n");
    const byBlock = new Map<number, string[]>();
    const other: string[] = [];
    for (const chunk of output.split(/\n\s*\n/).map((c) => c.trim()).filter((c) => c !== "")) {
      const owner = /\/block_(\d+)\.(?:ts|mjs)\b/.exec(chunk)?.[1];
      const text = relocate(chunk, dir, blocks, shift);
      if (owner === undefined) other.push(text);
      else byBlock.set(Number(owner), [...(byBlock.get(Number(owner)) ?? []), text]);
    }
    for (const [n, chunks] of byBlock) {
      failures.push([n, { where: at(blocks[n]), error: chunks.join("\n") }]);
    }
    if (other.length > 0 || byBlock.size === 0) {
      const error = `exit ${r.code}: ${other.join("\n") || output}`;
      failures.push([Infinity, { where: "deno check", error }]);
    }
    const typeChecked = /\bTS\d+ \[ERROR\]/.test(output);
    left = typeChecked || byBlock.size === 0 ? [] : left.filter((i) => !byBlock.has(i));
  }
  return failures.sort(([a], [b]) => a - b).map(([, f]) => f);
}

/**
 * Runs each block as `block_<n>.<ext>` in `dir`, from an empty working directory of its
 * own, with `argv(file)`; a block fails unless it exits 0.
 */
export async function runEach(
  blocks: readonly Block[],
  dir: string,
  ext: string,
  argv: (file: string) => string[],
  env: Record<string, string | undefined>,
): Promise<Failure[]> {
  const failures: Failure[] = [];
  for (const [i, b] of blocks.entries()) {
    const file = join(dir, `block_${i}.${ext}`);
    writeFileSync(file, b.code);
    const cwd = mkdtempSync(join(dir, `cwd_${i}_`));
    const r = await run(argv(file), { cwd, env, timeoutMs: 60_000 });
    if (r.code !== 0) {
      const output = relocate(r.stderr.trim() || r.stdout.trim(), dir, blocks, blocks.map(() => 0));
      failures.push({ where: at(b), error: `exit ${r.code ?? r.signal}: ${output}` });
    }
  }
  return failures;
}

/** `<file>:<line>:<column>` in the markdown of an offset in a block's code. */
function position(b: Block, offset: number): string {
  const before = b.code.slice(0, offset).split("\n");
  return `${b.file}:${b.line + before.length}:${before.at(-1)!.length + 1}`;
}

/** Parses a ```json (strict) or ```jsonc (comments, trailing commas) block. */
export function parseBlock(b: Block): { value: unknown; error?: string } {
  const errors: ParseError[] = [];
  const jsonc = b.info === "jsonc";
  const value: unknown = parse(b.code, errors, {
    allowTrailingComma: jsonc,
    disallowComments: !jsonc,
    allowEmptyContent: false,
  });
  if (errors.length === 0) return { value };
  const e = errors[0];
  return { value, error: `${printParseErrorCode(e.error)} at ${position(b, e.offset)}` };
}

/** A JSON value is a daemon config when it is an object with a `databases` key. */
export function isDaemonConfig(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value) &&
    "databases" in value;
}

/**
 * Validates a daemon config block with the daemon's own `parseConfig`, as the file
 * `<dir>/config-*\/sqlite-sync.jsonc`. parseConfig reads every secret file it names (it must
 * exist, hold one line and not be world-readable), so each one is created in that folder:
 * relative paths resolve there, `${CREDENTIALS_DIRECTORY}` is set to a folder inside it, and
 * absolute paths (`/etc/sqlite-sync/key`) are rewritten to the same path under it; variables
 * named by `apiKeyEnv`/`tokenEnv`, and SQLITE_SYNC_API_KEY, are set. What is checked is the
 * schema (keys, types, cron, time zones, one credential per database), not the host.
 */
export function checkDaemonConfig(
  b: Block,
  value: Record<string, unknown>,
  dir: string,
): string | undefined {
  const folder = mkdtempSync(join(dir, "config-"));
  const credentials = join(folder, "credentials");
  const env: Record<string, string> = {
    CREDENTIALS_DIRECTORY: credentials,
    SQLITE_SYNC_API_KEY: "doc-api-key",
  };
  const secrets: { path: JSONPath; value: string }[] = [];
  const record = (v: unknown): Record<string, unknown> =>
    typeof v === "object" && v !== null ? v as Record<string, unknown> : {};
  const databases = Array.isArray(value.databases) ? value.databases : [];
  databases.forEach((db, i) => {
    for (const [key, v] of Object.entries(record(db))) {
      if (typeof v !== "string") continue;
      if (key === "apiKeyFile" || key === "tokenFile") {
        secrets.push({ path: ["databases", i, key], value: v });
      }
      if (key === "apiKeyEnv" || key === "tokenEnv") env[v] = "doc-secret";
    }
  });
  const httpToken = record(value.http).tokenFile;
  if (typeof httpToken === "string") {
    secrets.push({ path: ["http", "tokenFile"], value: httpToken });
  }
  let text = b.code;
  for (const secret of secrets) {
    let path = secret.value.replaceAll("${CREDENTIALS_DIRECTORY}", credentials);
    if (isAbsolute(path) && !path.startsWith(folder + sep)) {
      path = join(folder, "root", path);
      text = applyEdits(text, modify(text, secret.path, path, {}));
    }
    const file = resolve(folder, path);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, "doc-secret\n", { mode: 0o600 });
  }
  const file = join(folder, "sqlite-sync.jsonc");
  try {
    parseConfig(text, file, { env });
    return undefined;
  } catch (err) {
    return (err instanceof Error ? err.message : String(err)).replace(`config ${file}: `, "");
  }
}

/** `bash -n` on one block; the error with its line rewritten to `<file>:<line>`. */
export async function bashSyntax(b: Block, dir: string, n: number): Promise<string | undefined> {
  const file = join(dir, `block_${n}.sh`);
  writeFileSync(file, b.code);
  const r = await run(["bash", "-n", file], { cwd: dir });
  if (r.code === 0) return undefined;
  return r.stderr.trim().replace(
    new RegExp(`${file.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}: line (\\d+)`, "g"),
    (_, line: string) => `${b.file}:${b.line + Number(line)}`,
  );
}

/** Relative links that point nowhere: a missing file, or a missing heading of a .md file. */
