#!/usr/bin/env node
// Builds the npm/Bun distribution: one ESM bundle of mod.ts with its small
// dependencies inlined, runtime modules (node:*, bun:*) left external.
// Usage: node lib/build.mjs [outdir]   (default lib/dist)
import { build } from "esbuild";
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
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
      exports: { ".": "./mod.js" },
      engines: { node: ">=22.13", bun: ">=1.1" },
    },
    null,
    2,
  ) + "\n",
);
for (const f of ["README.md", "LICENSE"]) copyFileSync(join(root, f), join(outdir, f));
console.log(`built ${join(outdir, "mod.js")}`);
