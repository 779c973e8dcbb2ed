#!/usr/bin/env node
// Builds the npm/Bun distribution: one ESM bundle of mod.ts with its small
// dependencies inlined, runtime modules (node:*, bun:*) left external, and
// declarations (tsc) whose relative imports point at .js like the bundle's.
// Usage: node lib/build.mjs [outdir]   (default lib/dist)
import { build } from "esbuild";
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const outdir = resolve(process.argv[2] ?? join(root, "lib", "dist"));
mkdirSync(outdir, { recursive: true });

await build({
  entryPoints: [join(root, "mod.ts")],
  outfile: join(outdir, "mod.js"),
  bundle: true,
  format: "esm",
  platform: "node",
  target: "es2022",
  external: ["node:*", "bun:*"],
  legalComments: "eof",
  logLevel: "warning",
});

// Declarations: tsc keeps the sources' ".ts" specifiers; rewrite them to ".js",
// which TypeScript resolves to the ".d.ts" beside them.
const types = join(outdir, "types");
rmSync(types, { recursive: true, force: true });
execFileSync(join(root, "node_modules", ".bin", "tsc"), [
  join(root, "mod.ts"),
  "--declaration",
  "--emitDeclarationOnly",
  "--allowImportingTsExtensions",
  "--outDir",
  types,
  "--target",
  "es2022",
  "--module",
  "nodenext",
  "--moduleResolution",
  "nodenext",
  "--lib",
  "es2022,dom,esnext.disposable",
  "--types",
  "node",
  "--strict",
  "--skipLibCheck",
], { stdio: "inherit" });
for (const file of readdirSync(types, { recursive: true })) {
  if (!String(file).endsWith(".d.ts")) continue;
  const path = join(types, String(file));
  const text = readFileSync(path, "utf8");
  writeFileSync(path, text.replace(/(from\s+"\.{1,2}\/[^"]*?)\.ts"/g, '$1.js"'));
}

const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
const deno = JSON.parse(readFileSync(join(root, "deno.json"), "utf8"));
writeFileSync(
  join(outdir, "package.json"),
  JSON.stringify(
    {
      name: deno.name,
      version: deno.version,
      description: pkg.description,
      license: "MIT",
      type: "module",
      main: "./mod.js",
      types: "./types/mod.d.ts",
      exports: { ".": { types: "./types/mod.d.ts", default: "./mod.js" } },
      engines: { node: ">=22.13", bun: ">=1.1" },
    },
    null,
    2,
  ) + "\n",
);
for (const f of ["README.md", "LICENSE"]) copyFileSync(join(root, f), join(outdir, f));
console.log(`built ${join(outdir, "mod.js")}`);
