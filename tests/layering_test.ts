/**
 * The import graph of the library itself: layers depend one way
 * (`common/` ← `ffi/` ← `src/`), nothing forms a cycle, and only the files
 * that adapt a runtime touch `Deno.*` or `Bun.*`.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const LAYERS = ["common", "ffi", "src"] as const;
const RANK: Record<string, number> = { common: 0, ffi: 1, src: 2 };
/** Files allowed to call runtime globals: the runtime probe and the runtime-specific drivers. */
const RUNTIME_ADAPTERS = new Set([
  "ffi/runtime.ts",
  "ffi/drivers/bun_sqlite.ts",
  // libc socket()/sendto() for systemd's NOTIFY_SOCKET: Deno.dlopen or bun:ffi.
  "src/cli/_unix_dgram.ts",
  // The status app's server: Deno.serve, Bun.serve (src/http/serve.ts picks one).
  "src/http/_serve_deno.ts",
  "src/http/_serve_deno_front.ts",
  "src/http/_serve_bun.ts",
]);

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(join(root, dir))) {
    const rel = `${dir}/${name}`;
    if (statSync(join(root, rel)).isDirectory()) out.push(...sourceFiles(rel));
    else if (name.endsWith(".ts")) out.push(rel);
  }
  return out;
}

/**
 * Relative imports of a file (static and dynamic, types included), as
 * root-relative paths. One kind of edge is left out: a module's private file
 * (`_queue_store.ts`) naming types of its own public file (`queue.ts`) with
 * `import type`. A module is one concept; its public file defines the types
 * its callers see, its private files may name them, and type imports leave
 * no trace at run time. Every other cycle, typed or not, is a defect.
 */
function importsOf(file: string): string[] {
  const text = readFileSync(join(root, file), "utf8")
    // JSDoc examples import the module they document; they are not part of the graph.
    .replace(/\/\*\*[\s\S]*?\*\//g, "");
  const found: string[] = [];
  const statements =
    /(?:^|\n)\s*(?:import|export)\s+(type\s)?[^;]*?from\s*["'](\.{1,2}\/[^"']+)["']/g;
  for (const m of text.matchAll(statements)) {
    const dep = relative(root, resolve(root, dirname(file), m[2])).replaceAll("\\", "/");
    if (m[1] && isOwnPublicFile(file, dep)) continue;
    found.push(dep);
  }
  for (const m of text.matchAll(/import\s*\(\s*["'](\.{1,2}\/[^"']+)["']/g)) {
    found.push(relative(root, resolve(root, dirname(file), m[1])).replaceAll("\\", "/"));
  }
  return found;
}

/** Whether `dep` is the public file of the module `file` is private to (`x.ts` for `_x_*.ts`). */
function isOwnPublicFile(file: string, dep: string): boolean {
  const name = file.split("/").at(-1)!;
  const module = /^_([a-z]+)_/.exec(name)?.[1];
  return module !== undefined && dep === `${dirname(file)}/${module}.ts`;
}

const files = LAYERS.flatMap((layer) => sourceFiles(layer));
const graph = new Map(files.map((f) => [f, importsOf(f)]));

describe("library layering", () => {
  it("finds the library's files and their imports (the checks below see real data)", () => {
    assert.ok(files.includes("common/errors.ts"));
    assert.ok(files.includes("src/database.ts"));
    assert.ok(graph.get("src/database.ts")!.includes("ffi/open.ts"));
  });

  it("imports run one way: common/ imports no layer above it, ffi/ never imports src/", () => {
    const violations: string[] = [];
    for (const [file, deps] of graph) {
      const rank = RANK[file.split("/")[0]];
      for (const dep of deps) {
        const depRank = RANK[dep.split("/")[0]];
        if (depRank === undefined || depRank > rank) violations.push(`${file} → ${dep}`);
      }
    }
    assert.deepEqual(violations, []);
  });

  it("the library's modules form no import cycle", () => {
    const cycles: string[] = [];
    const state = new Map<string, "active" | "done">();
    const stack: string[] = [];
    const visit = (file: string): void => {
      state.set(file, "active");
      stack.push(file);
      for (const dep of graph.get(file) ?? []) {
        if (state.get(dep) === "active") {
          cycles.push([...stack.slice(stack.indexOf(dep)), dep].join(" → "));
        } else if (!state.has(dep)) visit(dep);
      }
      stack.pop();
      state.set(file, "done");
    };
    for (const file of files) if (!state.has(file)) visit(file);
    assert.deepEqual(cycles, []);
  });

  it("only runtime adapters call Deno.* or Bun.*", () => {
    const offenders = files.filter((file) => {
      if (RUNTIME_ADAPTERS.has(file)) return false;
      const code = readFileSync(join(root, file), "utf8")
        .replace(/\/\*[\s\S]*?\*\//g, "")
        .replace(/\/\/[^\n]*/g, "");
      return /\b(?:Deno|Bun)\s*\.\s*[a-zA-Z]/.test(code);
    });
    assert.deepEqual(offenders, []);
  });
});
