/**
 * The `@example`s of the public API, as `deno doc mod.ts` shows them (and JSR
 * renders them): they import the package as users do, `@sqliteai/sync`, never
 * a path of this checkout or a `jsr:`/`npm:` specifier; every exported function,
 * class and const has one; and each checked one (a ```` ```ts ```` block without
 * `ignore`) type-checks as a file of its own. `deno check --doc` alone would not
 * show a missing import: it adds the documented file's exports to every snippet.
 *
 * Deno only (it runs `deno doc` and `deno check`): neither run nor skipped in Bun.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { ROOT, run, RUNTIME, tempDir } from "./_helpers.ts";

/** One fenced block of one `@example`. */
interface Example {
  /** The symbol path, e.g. `SyncDatabase.open`, or `(module)` for mod.ts's own doc. */
  symbol: string;
  /** The file it is written in, relative to the repository. */
  file: string;
  /** The fence's info string, e.g. `ts ignore`. */
  info: string;
  /** The block's text. */
  code: string;
}

/** An exported declaration of mod.ts and whether its JSDoc has an `@example`. */
interface Exported {
  symbol: string;
  file: string;
  kind: string;
  hasExample: boolean;
}

type Json = Record<string, unknown>;

const MOD_URL = new URL("../mod.ts", import.meta.url).href;
const ROOT_URL = new URL("../", import.meta.url).href;
/** Languages `deno check --doc` type-checks (an empty info string means the file's own, TS). */
const CHECKED_LANGUAGES = new Set(["", "ts", "typescript", "mts", "cts", "tsx", "js", "jsx"]);
/** Kinds of declaration that must carry an `@example`. */
const NEEDS_EXAMPLE = new Set(["function", "class", "variable"]);

function relativeFile(location: unknown): string {
  const filename = (location as { filename?: string } | undefined)?.filename ?? MOD_URL;
  return filename.startsWith(ROOT_URL) ? filename.slice(ROOT_URL.length) : filename;
}

function tagsOf(node: Json): Json[] {
  const jsDoc = node.jsDoc as { tags?: Json[] } | undefined;
  return jsDoc?.tags ?? [];
}

/** The fenced blocks of one `@example` tag's text. */
function blocksOf(doc: string): { info: string; code: string }[] {
  return [...doc.matchAll(/^```([^\n]*)\n([\s\S]*?)^```/gm)].map((m) => ({
    info: m[1].trim(),
    code: m[2],
  }));
}

/** Every example and exported declaration in `deno doc --json <entry>`. */
function collect(doc: Json, entryUrl: string): { examples: Example[]; exported: Exported[] } {
  const examples: Example[] = [];
  const exported: Exported[] = [];
  const mod = (doc.nodes as Record<string, Json>)[entryUrl];
  assert.ok(mod, `deno doc --json has no node for ${entryUrl}`);
  const add = (tags: Json[], symbol: string, file: string): void => {
    for (const tag of tags) {
      if (tag.kind !== "example") continue;
      for (const block of blocksOf(String(tag.doc))) examples.push({ symbol, file, ...block });
    }
  };
  add(
    (mod.module_doc as { tags?: Json[] } | undefined)?.tags ?? [],
    "(module)",
    relativeFile({ filename: entryUrl }),
  );
  // Walks a declaration and its members (class methods, interface properties…).
  const walk = (value: unknown, path: string, file: string): void => {
    if (Array.isArray(value)) {
      for (const item of value) walk(item, path, file);
      return;
    }
    if (typeof value !== "object" || value === null) return;
    const node = value as Json;
    const here = node.location === undefined ? file : relativeFile(node.location);
    const name = typeof node.name === "string" ? node.name : undefined;
    const symbol = name === undefined || name === path ? path : `${path}.${name}`;
    add(tagsOf(node), symbol, here);
    for (const [key, child] of Object.entries(node)) {
      if (key !== "jsDoc" && key !== "location") walk(child, symbol, here);
    }
  };
  for (const symbol of mod.symbols as Json[]) {
    const name = String(symbol.name);
    const declarations = symbol.declarations as Json[];
    for (const declaration of declarations) {
      const file = relativeFile(declaration.location);
      add(tagsOf(declaration), name, file);
      walk(declaration.def, name, file);
    }
    const kinds = new Set(declarations.map((d) => String(d.kind)));
    for (const kind of kinds) {
      if (!NEEDS_EXAMPLE.has(kind)) continue;
      const ofKind = declarations.filter((d) => d.kind === kind);
      exported.push({
        symbol: name,
        file: relativeFile(ofKind[0].location),
        kind,
        hasExample: ofKind.some((d) => tagsOf(d).some((tag) => tag.kind === "example")),
      });
    }
  }
  return { examples, exported };
}

/** The module specifiers a block imports or re-exports (static, side-effect and dynamic). */
function specifiersOf(code: string): string[] {
  const found: string[] = [];
  const patterns = [
    /\b(?:import|export)\s[^;]*?\bfrom\s*["']([^"']+)["']/g,
    /\bimport\s*["']([^"']+)["']/g,
    /\bimport\s*\(\s*["']([^"']+)["']/g,
  ];
  for (const pattern of patterns) for (const m of code.matchAll(pattern)) found.push(m[1]);
  return found;
}

function where(example: Example): string {
  return `${example.symbol} (${example.file})`;
}

function isChecked(example: Example): boolean {
  const [language = "", ...attributes] = example.info.split(/\s+/);
  return CHECKED_LANGUAGES.has(language) && !attributes.includes("ignore");
}

// Bun has no `deno doc`: the suite is Deno's only, neither run nor skipped in Bun.
if (RUNTIME === "deno") {
  describe("the examples deno doc shows for mod.ts and ./cli", () => {
    let collected: Promise<{ examples: Example[]; exported: Exported[] }> | undefined;
    const docs = () =>
      collected ??= (async () => {
        // Every entry point JSR documents: deno.json's exports ("." and "./cli").
        const exports = JSON.parse(readFileSync(join(ROOT, "deno.json"), "utf8")).exports;
        const all = { examples: [] as Example[], exported: [] as Exported[] };
        for (const file of Object.values(exports) as string[]) {
          const r = await run([process.execPath, "doc", "--json", file], { timeoutMs: 120_000 });
          assert.equal(r.code, 0, `deno doc --json ${file} failed:\n${r.stderr}`);
          const one = collect(JSON.parse(r.stdout), new URL(file, ROOT_URL).href);
          all.examples.push(...one.examples);
          all.exported.push(...one.exported);
        }
        return all;
      })();

    it("every example imports the package as @sqliteai/sync, never a relative path or a jsr:/npm: specifier", async () => {
      const { examples } = await docs();
      assert.ok(
        examples.length >= 20,
        `only ${examples.length} examples found: is the walk broken?`,
      );
      const wrong: string[] = [];
      for (const example of examples) {
        const specifiers = specifiersOf(example.code);
        for (const specifier of specifiers) {
          if (/^(\.{0,2}\/|jsr:|npm:|file:|https?:)/.test(specifier)) {
            wrong.push(`${where(example)} imports ${JSON.stringify(specifier)}`);
          }
        }
        if (!specifiers.some((s) => s === "@sqliteai/sync" || s.startsWith("@sqliteai/sync/"))) {
          wrong.push(`${where(example)} does not import @sqliteai/sync`);
        }
      }
      assert.deepEqual(
        wrong,
        [],
        `examples that do not import the public package:\n${wrong.join("\n")}`,
      );
    });

    it("every exported function, class and const has at least one @example", async () => {
      const { exported } = await docs();
      assert.ok(
        exported.length >= 10,
        `only ${exported.length} exports found: is the walk broken?`,
      );
      const missing = exported.filter((e) => !e.hasExample).map((e) =>
        `${e.symbol} (${e.kind}, ${e.file})`
      );
      assert.deepEqual(missing, [], `exports without an @example:\n${missing.join("\n")}`);
    });

    it("every checked example (```ts without ignore) type-checks as a file of its own", async () => {
      const { examples } = await docs();
      const checked = examples.filter(isChecked);
      assert.ok(checked.length > 0, "no checked example found");
      const dir = tempDir("sqlite-sync-doc-examples-");
      try {
        // Named after the symbol and its file, so deno check's errors say whose example failed.
        const files = checked.map((example, i) => {
          const name = `${String(i).padStart(2, "0")}_${example.symbol}__${example.file}`
            .replace(/[^A-Za-z0-9_.-]/g, "_").replace(/\.ts$/, "");
          writeFileSync(join(dir.path, `${name}.ts`), example.code);
          return `${name}.ts`;
        });
        const r = await run(
          [process.execPath, "check", "--quiet", "--config", join(ROOT, "deno.json"), ...files],
          { cwd: dir.path, timeoutMs: 180_000, env: { NO_COLOR: "1" } },
        );
        assert.equal(
          r.code,
          0,
          `deno check of the examples failed (files are named <n>_<symbol>__<file>):\n` +
            r.stderr + r.stdout,
        );
      } finally {
        dir.cleanup();
      }
    });
  });
}
