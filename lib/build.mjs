#!/usr/bin/env node
// Builds the npm/Bun distribution: ESM bundles with their small dependencies
// inlined and runtime modules (node:*, bun:*) left external, code shared
// between them in chunks beside them; declarations (tsc) whose relative
// imports point at .js like the bundle's; and its package.json.
//
//   mod.js               the library (mod.ts)
//   cli.js               the `sqlite-sync` command (bin), `#!/usr/bin/env node`
//   _executor_entry.js   the executor pool's Worker entry, and
//   _executor_host.js    its host process (the "process" kind): _executor_config.ts looks for both
//                        next to the module holding its code (mod.js, cli.js or a chunk)
//   chunk-<hash>.js      shared code, in the same folder for that reason
//   types/               declarations of mod.ts
//
// Usage: node lib/build.mjs [outdir]   (default lib/dist)
import { build } from "esbuild";
import { execFileSync } from "node:child_process";
import {
  chmodSync,
  copyFileSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const outdir = resolve(process.argv[2] ?? join(root, "lib", "dist"));
// Nothing of an older build (a chunk with another hash) may linger.
for (const file of readdirSafe(outdir)) {
  if (file.endsWith(".js") || file.endsWith(".js.map")) rmSync(join(outdir, file));
}
mkdirSync(outdir, { recursive: true });

const CLI_ENTRY = "sqlite-sync:cli";
await build({
  entryPoints: {
    mod: join(root, "mod.ts"),
    cli: CLI_ENTRY,
    _executor_entry: join(root, "src", "scheduler", "_executor_entry.ts"),
    _executor_host: join(root, "src", "scheduler", "_executor_host.ts"),
  },
  outdir,
  entryNames: "[name]",
  chunkNames: "chunk-[hash]",
  splitting: true,
  bundle: true,
  format: "esm",
  platform: "node",
  target: "es2022",
  external: ["node:*", "bun:*"],
  // ESM builds first: jsonc-parser's "main" is a UMD build whose require() calls esbuild cannot
  // follow in an ESM bundle.
  mainFields: ["module", "main"],
  // src/cli/main.ts runs itself when it is the main module; in the bundle cli.js does (below),
  // and Node 22 has no import.meta.main.
  define: { "import.meta.main": "false" },
  plugins: [{
    name: "cli-entry",
    setup(b) {
      b.onResolve({ filter: /^sqlite-sync:cli$/ }, () => ({ path: CLI_ENTRY, namespace: "cli" }));
      b.onLoad({ filter: /.*/, namespace: "cli" }, () => ({
        contents: `#!/usr/bin/env node
import process from "node:process";
import { main } from "./src/cli/main.ts";
process.exitCode = await main(process.argv.slice(2));
`,
        loader: "ts",
        resolveDir: root,
      }));
    },
  }],
  legalComments: "eof",
  logLevel: "warning",
});
chmodSync(join(outdir, "cli.js"), 0o755);

function readdirSafe(dir) {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

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

// The root package.json describes the package with paths under lib/dist/; the built one is
// that folder, so the prefix goes.
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
// engines.node is the oldest Node the code accepts (the node:sqlite driver refuses older ones).
const minNode = /MIN_NODE_VERSION = "(\d+\.\d+)\.\d+"/.exec(
  readFileSync(join(root, "ffi", "drivers", "node_sqlite.ts"), "utf8"),
)[1];
const deno = JSON.parse(readFileSync(join(root, "deno.json"), "utf8"));
const local = (value) =>
  typeof value === "string"
    ? value.replace(/^\.\/lib\/dist\//, "./")
    : Object.fromEntries(Object.entries(value).map(([k, v]) => [k, local(v)]));
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
      bin: local(pkg.bin),
      exports: local(pkg.exports),
      files: pkg.files.map((f) => f.replace(/^lib\/dist\//, "")).filter(Boolean),
      engines: { node: `>=${minNode}`, bun: ">=1.1" },
    },
    null,
    2,
  ) + "\n",
);
for (const f of ["README.md", "LICENSE"]) copyFileSync(join(root, f), join(outdir, f));
console.log(`built ${outdir}: ${readdirSync(outdir).filter((f) => f.endsWith(".js")).join(", ")}`);
