// The code users copy from README.md, docs/**/*.md and examples/**/README.md works: every
// fenced block has a known language; ```ts and ```js blocks import "@sqliteai/sync" and type-check
// against the checkout (Deno run); ```ts run blocks exit 0 in Deno and in Bun, and ```js run
// blocks in Node 22 against the built bundle (Bun run), with no credentials and nothing
// downloaded; JSON parses and daemon configs pass the daemon's own schema; shell is valid bash.
// README.md stays short with a table of contents, and every relative link (and .md anchor)
// resolves. Each check also requires at least one block of its kind, so a broken extraction
// cannot pass vacuously. Failures list every broken block as <file>:<line> with the tool's error.
//
// SQLITE_SYNC_DOCS_ROOT=<dir> points the checks at another folder (a manual check of the test
// against fixture markdown); the suite runs them on the checkout.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import {
  itUnless,
  node22Missing,
  node22Path,
  ROOT,
  run,
  RUNTIME,
  SHARED_TEST_CACHE,
  tempDir,
  testExtensionPath,
} from "../_helpers.ts";
import {
  badImports,
  bashSyntax,
  checkDaemonConfig,
  fenceProblems,
  isDaemonConfig,
  parseBlock,
  runEach,
  typeCheck,
} from "./_blocks.ts";
import {
  at,
  type Block,
  brokenLinks,
  type Failure,
  type Page,
  readDocs,
  tocProblems,
} from "./_markdown.ts";

const DOCS_ROOT: string = process.env.SQLITE_SYNC_DOCS_ROOT ?? ROOT;
const WHERE = "README.md, docs/ and examples/*/README.md";
const README_MAX_BYTES = 15 * 1024;

const pages: Page[] = readDocs(DOCS_ROOT);
const blocks: Block[] = pages.flatMap((p) => p.blocks);
const withInfo = (...infos: string[]): Block[] => blocks.filter((b) => infos.includes(b.info));

/** What a block run sees: no credentials, the suite's extension, nothing to download. */
async function runEnv(): Promise<Record<string, string | undefined>> {
  return {
    SQLITE_SYNC_DATABASE_ID: undefined,
    SQLITE_SYNC_API_KEY: undefined,
    SQLITE_SYNC_TOKEN: undefined,
    SQLITE_SYNC_ADDRESS: undefined,
    SQLITE_SYNC_EXTENSION_PATH: await testExtensionPath(),
    SQLITE_SYNC_CACHE_DIR: SHARED_TEST_CACHE,
    NO_COLOR: "1",
  };
}

/** Requires at least one block of a kind (an extraction bug must not pass vacuously). */
function found(list: readonly Block[], kind: string): void {
  assert.ok(
    list.length > 0,
    `no ${kind} block found in ${WHERE} under ${DOCS_ROOT}: the extraction is broken, or the ` +
      "docs lost every example of this kind",
  );
}

/** Fails listing every failure as `<file>:<line>: <error>`. */
function none(failures: readonly Failure[], what: string): void {
  if (failures.length === 0) return;
  const list = failures.map((f) => `${f.where}: ${f.error.replaceAll("\n", "\n    ")}`);
  assert.fail(`${what} (${failures.length}):\n${list.join("\n")}`);
}

describe(`code blocks and links in ${WHERE}`, () => {
  let dir: { path: string; cleanup: () => void } | undefined;
  before(() => {
    dir = tempDir("sqlite-sync-docs-");
  });
  after(() => dir?.cleanup());

  /** A fresh folder in the temp dir, outside the repository. */
  function folder(name: string): string {
    assert.ok(dir, "no temp dir");
    const path = join(dir.path, name);
    mkdirSync(path, { recursive: true });
    return path;
  }

  it("every fenced block has a known language (ts, ts run, js, js run, json, jsonc, sh, text, ini) and is closed", () => {
    found(blocks, "fenced");
    none(fenceProblems(blocks), "blocks with an unknown or missing language, or never closed");
  });

  it("every ```ts and ```js block imports the package as @sqliteai/sync: no jsr:, npm:, URL or relative specifier", () => {
    const code = withInfo("ts", "ts run", "js", "js run");
    found(code, "```ts or ```js");
    none(badImports(code), "imports users cannot copy");
  });

  if (RUNTIME === "deno") {
    it(
      `every \`\`\`ts and \`\`\`js block in ${WHERE} type-checks against the checkout's mod.ts (deno check)`,
      { timeout: 300_000 },
      async () => {
        const ts = withInfo("ts", "ts run");
        const js = withInfo("js", "js run");
        const code = [...ts, ...js];
        const check = code.length === 0
          ? []
          : await typeCheck(code, folder("check"), process.execPath, join(ROOT, "deno.json"));
        none(check, "blocks that fail deno check");
        found(ts, "```ts");
        found(js, "```js");
      },
    );
  }

  it(
    `every \`\`\`ts run block exits 0 in ${RUNTIME}, from an empty folder with no credentials`,
    { timeout: 300_000 },
    async () => {
      const runnable = withInfo("ts run");
      found(runnable, "```ts run");
      const project = folder("ts-run");
      let argv: (file: string) => string[];
      if (RUNTIME === "deno") {
        argv = (file) => [process.execPath, "run", "-A", "--config", join(ROOT, "deno.json"), file];
      } else {
        // "@sqliteai/sync" resolves to the checkout: a package whose files link to it (Bun
        // follows the links, so the checkout's own imports and node_modules are used).
        const pkg = join(project, "node_modules", "@sqliteai", "sync");
        mkdirSync(pkg, { recursive: true });
        writeFileSync(
          join(pkg, "package.json"),
          JSON.stringify({
            name: "@sqliteai/sync",
            type: "module",
            exports: { ".": "./mod.ts", "./cli": "./cli.ts" },
          }),
        );
        symlinkSync(join(ROOT, "mod.ts"), join(pkg, "mod.ts"));
        symlinkSync(join(ROOT, "src", "cli", "main.ts"), join(pkg, "cli.ts"));
        argv = (file) => [process.execPath, "run", file];
      }
      none(
        await runEach(runnable, project, "ts", argv, await runEnv()),
        "blocks that do not exit 0",
      );
    },
  );

  if (RUNTIME === "bun") {
    itUnless(
      node22Missing(),
      "every ```js run block exits 0 in Node 22 against the built bundle, with no credentials",
      { timeout: 300_000 },
      async () => {
        const runnable = withInfo("js run");
        found(runnable, "```js run");
        const project = folder("js-run");
        const dist = join(project, "dist");
        const built = await run(["node", join(ROOT, "lib", "build.mjs"), dist]);
        assert.equal(built.code, 0, built.stdout + built.stderr);
        mkdirSync(join(project, "node_modules", "@sqliteai"), { recursive: true });
        symlinkSync(dist, join(project, "node_modules", "@sqliteai", "sync"), "dir");
        writeFileSync(join(project, "package.json"), '{ "type": "module" }\n');
        const argv = (file: string): string[] => [node22Path()!, "--no-warnings", file];
        none(
          await runEach(runnable, project, "mjs", argv, await runEnv()),
          "blocks that do not exit 0",
        );
      },
    );
  }

  it("every ```json block parses as JSON and every ```jsonc block as JSON with comments", () => {
    const json = withInfo("json", "jsonc");
    found(json, "```json or ```jsonc");
    const failures = json.flatMap((b) => {
      const { error } = parseBlock(b);
      return error === undefined ? [] : [{ where: at(b), error }];
    });
    none(failures, "blocks that do not parse");
  });

  it('every daemon config block (a JSON object with "databases") passes the daemon\'s schema (parseConfig)', () => {
    const configs = withInfo("json", "jsonc")
      .map((b) => ({ b, value: parseBlock(b).value }))
      .filter((c): c is { b: Block; value: Record<string, unknown> } => isDaemonConfig(c.value));
    found(configs.map((c) => c.b), "daemon config");
    const work = folder("configs");
    const failures = configs.flatMap(({ b, value }) => {
      const error = checkDaemonConfig(b, value, work);
      return error === undefined ? [] : [{ where: at(b), error }];
    });
    none(failures, "daemon configs the schema refuses");
  });

  it("every ```sh block is valid bash (bash -n)", async () => {
    const sh = withInfo("sh");
    found(sh, "```sh");
    const work = folder("sh");
    const failures: Failure[] = [];
    for (const [i, b] of sh.entries()) {
      const error = await bashSyntax(b, work, i);
      if (error !== undefined) failures.push({ where: at(b), error });
    }
    none(failures, "blocks that are not valid bash");
  });

  it("README.md stays under 15 KB and has a table of contents linking every ## section", () => {
    const readme = pages.find((p) => p.file === "README.md");
    assert.ok(readme, `no README.md in ${DOCS_ROOT}`);
    const problems = [
      ...(readme.bytes <= README_MAX_BYTES ? [] : [
        `README.md is ${readme.bytes} bytes (${(readme.bytes / 1024).toFixed(1)} KB), over ` +
        `${README_MAX_BYTES}: move detail to docs/`,
      ]),
      ...tocProblems(readme),
    ];
    assert.deepEqual(problems, [], problems.join("\n"));
  });

  it(`every relative link in ${WHERE} points to an existing file (and anchor, for .md#anchor links)`, () => {
    assert.ok(pages.some((p) => p.links.length > 0), `no link found in ${WHERE}`);
    none(brokenLinks(DOCS_ROOT, pages), "links that point nowhere");
  });
});
