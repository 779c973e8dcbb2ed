#!/usr/bin/env node
// `npm run release:check`: what a maintainer runs before publishing (docs/releasing.md), and what
// CI runs in `npm test`. It publishes nothing. It checks the JSR package (`deno publish
// --dry-run`), builds and packs lib/dist, inspects the tarball, installs it in a temporary project
// outside the repository, and runs a small consumer there in Bun, Node 22, the newest Node on the
// registry and Deno (bare and `npm:` specifiers), the README's Quick start, the `sqlite-sync` bin,
// and Deno from a checkout (`--config`). It measures the bundle and checks the figures quoted in
// docs/benchmarks.md (`--update` rewrites them). Ends with one line: passed or FAILED.
//
// Plain Node (>= 20), no dependencies. Usage: node scripts/release-check.mjs [--update] [--keep]
import { spawnSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const bin = (name) => join(root, "node_modules", ".bin", name);
const update = process.argv.includes("--update");
const keep = process.argv.includes("--keep");
const work = mkdtempSync(join(tmpdir(), "sqlite-sync-release-"));
const results = [];

/** A fresh environment: no credentials, a cache of its own (the first open downloads, verified). */
const env = Object.fromEntries(
  Object.entries(process.env).filter(([k]) =>
    !/^SQLITE_SYNC_|^SQLITE_CLOUD_|^NODE_OPTIONS$|^npm_/.test(k)
  ),
);
env.SQLITE_SYNC_CACHE_DIR = join(work, "extension-cache");
env.NO_COLOR = "1";

function sh(argv, options = {}) {
  const r = spawnSync(argv[0], argv.slice(1), {
    cwd: options.cwd ?? root,
    env: { ...env, ...options.env },
    encoding: "utf8",
    timeout: options.timeoutMs ?? 300_000,
    maxBuffer: 64 * 1024 * 1024,
  });
  const output = `${r.stdout ?? ""}${r.stderr ?? ""}${r.error ? String(r.error) : ""}`;
  return { code: r.status ?? -1, stdout: r.stdout ?? "", stderr: r.stderr ?? "", output };
}

function must(r, what) {
  if (r.code !== 0) throw new Error(`${what} exited ${r.code}:\n${r.output.trim().slice(-3000)}`);
  return r;
}

async function step(name, fn) {
  const started = Date.now();
  try {
    const detail = await fn();
    const s = ((Date.now() - started) / 1000).toFixed(1);
    console.log(`ok   ${name} (${s} s)${detail ? `: ${detail}` : ""}`);
    results.push({ name, ok: true });
  } catch (err) {
    console.log(`FAIL ${name}: ${err instanceof Error ? err.message : String(err)}`);
    results.push({ name, ok: false });
  }
}

/** The consumer: open, init, write, encode/apply between two files, a SyncService started and stopped. */
const CONSUMER = `import { SyncDatabase, SyncService } from "@sqliteai/sync";
const [a, b] = [await SyncDatabase.open("a.db"), await SyncDatabase.open("b.db")];
for (const db of [a, b]) db.exec("CREATE TABLE IF NOT EXISTS notes (id TEXT PRIMARY KEY NOT NULL, body TEXT)");
for (const db of [a, b]) db.init("notes");
a.run("INSERT INTO notes (id, body) VALUES (?, ?)", a.uuid(), "hello from a");
const applied = b.applyChanges(a.encodeChanges());
const service = await SyncService.start(b, { databaseId: "db_release_check", apiKey: "unused", tables: ["notes"], syncOnStart: false, cron: "0 0 1 1 *" });
const state = service.status().state;
await service.stop();
console.log(JSON.stringify({ version: a.version(), applied, rows: b.all("SELECT body FROM notes").map((r) => r.body), state }));
a.close(); b.close();
`;

function consumerRuns(argv, cwd) {
  const dir = mkdtempSync(join(cwd, "run-"));
  const r = must(sh(argv.map((a) => a === "$DIR" ? dir : a), { cwd: dir }), argv[0]);
  const line = r.stdout.trim().split("\n").at(-1);
  let out;
  try {
    out = JSON.parse(line);
  } catch {
    throw new Error(`the consumer printed no JSON line:\n${r.output.slice(-2000)}`);
  }
  const want = { version: "1.1.4", applied: 1, rows: ["hello from a"], state: "idle" };
  if (JSON.stringify(out) !== JSON.stringify(want)) {
    throw new Error(`printed ${JSON.stringify(out)}, expected ${JSON.stringify(want)}`);
  }
  if (/ExperimentalWarning: SQLite/.test(r.stderr)) {
    throw new Error("node:sqlite's ExperimentalWarning reached the consumer's stderr");
  }
  return `${out.rows.length} row merged, service ${out.state}`;
}

/** `node-<os>-<arch>` at a version: from node_modules for Node 22, else fetched from npm into .cache/node/. */
function newestNode() {
  const pkg = `node-${process.platform}-${process.arch}`;
  const version = must(sh(["npm", "view", pkg, "version"]), `npm view ${pkg}`).stdout.trim();
  const dir = join(root, ".cache", "node", version);
  const exe = join(dir, "package", "bin", "node");
  if (!existsSync(exe)) {
    mkdirSync(dir, { recursive: true });
    must(
      sh(["npm", "pack", `${pkg}@${version}`, "--pack-destination", dir], { cwd: dir }),
      "npm pack",
    );
    must(sh(["tar", "xzf", `${pkg}-${version}.tgz`], { cwd: dir }), "tar");
    rmSync(join(dir, `${pkg}-${version}.tgz`));
  }
  return exe;
}

/** The README's Quick start blocks: ```ts run (Deno, Bun, Node ≥ 24) and ```js run (Node 22). */
function quickStartBlocks() {
  const readme = readFileSync(join(root, "README.md"), "utf8");
  const section = readme.split(/^## /m).find((s) => s.startsWith("Quick start"));
  if (!section) throw new Error("README.md has no '## Quick start' section");
  const blocks = [...section.matchAll(/^```(\w+) run\n([\s\S]*?)^```/gm)].map((m) => ({
    lang: m[1],
    code: m[2],
  }));
  const ts = blocks.find((b) => b.lang === "ts");
  const js = blocks.find((b) => b.lang === "js");
  if (!ts || !js) throw new Error("Quick start needs a ```ts run block and a ```js run block");
  return { ts: ts.code, js: js.code };
}

function quickStartRuns(argv, file, code, project) {
  const dir = mkdtempSync(join(project, "quick-"));
  writeFileSync(join(dir, file), code);
  const r = must(sh([...argv, file], { cwd: dir }), `${argv[0]} ${file}`);
  if (/ExperimentalWarning: SQLite/.test(r.stderr)) {
    throw new Error("node:sqlite's ExperimentalWarning reached stderr");
  }
  return r.stdout.trim().split("\n").at(-1);
}

// --- the steps ---
const deno = bin("deno");
const bun = bin("bun");
const node22 = bin("node");
const project = join(work, "consumer");
let tarball = "";
let packed;
let node = "";

await step("deno publish --dry-run (the JSR package)", () => {
  const r = must(sh([deno, "publish", "--dry-run", "--allow-dirty"]), "deno publish --dry-run");
  // deno-lint-ignore no-control-regex
  const text = r.output.replace(/\x1b\[[0-9;]*m/g, "");
  const files = (text.match(/^\s+file:\/\/\S+/gm) ?? []).length;
  // Only the runtime-chosen imports (bun:sqlite, bun:ffi, @db/sqlite's jsr: specifier) may be
  // unanalyzable; they are full specifiers that resolve without an import map.
  const warnings = [...text.matchAll(/warning\[([\w-]+)\][^\n]*\n\s*--> (\S+?):\d+/g)];
  const unexpected = warnings.filter(([, kind, file]) =>
    kind !== "unanalyzable-dynamic-import" ||
    !/(bun_sqlite|db_sqlite|_unix_dgram)\.ts$/.test(file)
  );
  if (unexpected.length || !/Success Dry run complete/.test(text)) {
    throw new Error(`unexpected warnings or no success:\n${text.slice(-3000)}`);
  }
  return `${files} files, ${warnings.length} known runtime-only dynamic imports`;
});

await step("npm run build (lib/dist)", () => {
  must(sh(["node", join(root, "lib", "build.mjs")]), "lib/build.mjs");
});

await step("npm pack ./lib/dist", () => {
  const r = must(
    sh(["npm", "pack", "./lib/dist", "--json", "--pack-destination", work]),
    "npm pack",
  );
  packed = JSON.parse(r.stdout)[0];
  tarball = join(work, packed.filename);
  return `${packed.filename}, ${packed.entryCount} files`;
});

await step("the tarball: no dependencies, no Node binary, engines as the code requires", () => {
  const pkg = JSON.parse(readFileSync(join(root, "lib", "dist", "package.json"), "utf8"));
  for (const key of ["dependencies", "optionalDependencies", "peerDependencies"]) {
    if (pkg[key] && Object.keys(pkg[key]).length) {
      throw new Error(`${key}: ${Object.keys(pkg[key]).join(", ")} would reach consumers`);
    }
  }
  const paths = packed.files.map((f) => f.path);
  const stray = paths.filter((p) => /(^|\/)node$|node-linux|\.ts$(?<!\.d\.ts)|\.map$/.test(p));
  if (stray.length) throw new Error(`unexpected files: ${stray.join(", ")}`);
  const driver = readFileSync(join(root, "ffi", "drivers", "node_sqlite.ts"), "utf8");
  const min = /MIN_NODE_VERSION = "(\d+)\.(\d+)\.\d+"/.exec(driver);
  if (!min) throw new Error("MIN_NODE_VERSION not found in ffi/drivers/node_sqlite.ts");
  const want = `>=${min[1]}.${min[2]}`;
  if (pkg.engines?.node !== want) {
    throw new Error(`engines.node is ${pkg.engines?.node}, the code requires ${want}`);
  }
  const rootPkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
  const denoJson = JSON.parse(readFileSync(join(root, "deno.json"), "utf8"));
  if (rootPkg.version !== denoJson.version || pkg.version !== denoJson.version) {
    throw new Error(
      `versions differ: deno.json ${denoJson.version}, package.json ${rootPkg.version}, ` +
        `lib/dist ${pkg.version}`,
    );
  }
  const cli = /CLI_VERSION = "([^"]+)"/.exec(
    readFileSync(join(root, "src", "cli", "main.ts"), "utf8"),
  )?.[1];
  if (cli !== denoJson.version) {
    throw new Error(`CLI_VERSION in src/cli/main.ts is ${cli}, deno.json says ${denoJson.version}`);
  }
  const readme = readFileSync(join(root, "README.md"), "utf8");
  if (!readme.includes(packed.filename)) {
    throw new Error(`README.md does not name the tarball ${packed.filename}`);
  }
  for (const file of ["mod.js", "cli.js", "_executor_entry.js", "_executor_host.js"]) {
    if (!paths.includes(file)) throw new Error(`${file} is missing`);
  }
  return `engines.node ${want}`;
});

await step("npm install <tarball> in a new project outside the repository", () => {
  mkdirSync(project);
  writeFileSync(
    join(project, "package.json"),
    JSON.stringify({ name: "consumer", private: true, type: "module" }, null, 2) + "\n",
  );
  must(sh(["npm", "install", tarball, "--no-audit", "--no-fund"], { cwd: project }), "npm install");
  const binDir = join(project, "node_modules", ".bin");
  const bins = readdirSync(binDir);
  if (bins.includes("node")) throw new Error("a `node` binary reached node_modules/.bin");
  if (!bins.includes("sqlite-sync")) throw new Error("node_modules/.bin/sqlite-sync is missing");
  const installed = readdirSync(join(project, "node_modules")).filter((n) => !n.startsWith("."));
  if (installed.join() !== "@sqliteai") throw new Error(`installed: ${installed.join(", ")}`);
  writeFileSync(join(project, "consumer.mjs"), CONSUMER);
  writeFileSync(
    join(project, "consumer_npm.mjs"),
    CONSUMER.replace('from "@sqliteai/sync"', 'from "npm:@sqliteai/sync"'),
  );
  return `node_modules: ${installed.join(", ")}; bin: ${bins.join(", ")}`;
});

await step("consumer in Bun", () => consumerRuns([bun, join(project, "consumer.mjs")], project));
await step(
  "consumer in Node 22",
  () => consumerRuns([node22, join(project, "consumer.mjs")], project),
);
await step("the newest Node on the registry", () => {
  node = newestNode();
  return must(sh([node, "--version"]), "node --version").stdout.trim();
});
await step(
  "consumer in the newest Node",
  () => consumerRuns([node, join(project, "consumer.mjs")], project),
);
await step(
  "consumer in Deno (bare specifier, the project's package.json)",
  () => consumerRuns([deno, "run", "-A", join(project, "consumer.mjs")], project),
);
await step(
  "consumer in Deno (npm:@sqliteai/sync)",
  () => consumerRuns([deno, "run", "-A", join(project, "consumer_npm.mjs")], project),
);

await step("README Quick start: the ts block in Deno, Bun and the newest Node", () => {
  const { ts } = quickStartBlocks();
  const outs = [
    quickStartRuns([deno, "run", "-A"], "app.ts", ts, project),
    quickStartRuns([bun], "app.ts", ts, project),
    quickStartRuns([node], "app.ts", ts, project),
  ];
  return outs[0];
});
await step("README Quick start: the js block (try/finally) in Node 22 and the newest Node", () => {
  const { js } = quickStartBlocks();
  quickStartRuns([node22], "app.mjs", js, project);
  return quickStartRuns([node], "app.mjs", js, project);
});

await step("the sqlite-sync bin (doctor --json) under Node 22", () => {
  const path = `${dirname(node22)}:${env.PATH}`;
  const r = must(
    sh([join(project, "node_modules", ".bin", "sqlite-sync"), "doctor", "--json"], {
      cwd: project,
      env: { PATH: path },
    }),
    "sqlite-sync doctor",
  );
  const report = JSON.parse(r.stdout);
  if (report.extension?.version !== "1.1.4") throw new Error(`doctor: ${r.stdout.slice(0, 500)}`);
  if (r.stderr.trim() !== "") throw new Error(`stderr was not empty: ${r.stderr.slice(0, 500)}`);
  return `runtime ${report.runtime?.name ?? "?"} ${report.runtime?.version ?? ""}`.trim();
});

await step("Deno from a checkout: deno run --config <checkout>/deno.json (library and CLI)", () => {
  const dir = join(work, "from-checkout");
  mkdirSync(dir);
  writeFileSync(join(dir, "app.ts"), CONSUMER);
  const config = join(root, "deno.json");
  const result = consumerRuns([deno, "run", "-A", "--config", config, join(dir, "app.ts")], dir);
  const cli = [deno, "run", "-A", "--config", config, join(root, "src", "cli", "main.ts")];
  const r = must(sh([...cli, "doctor", "--json"], { cwd: dir }), "sqlite-sync doctor (Deno)");
  const version = JSON.parse(r.stdout).extension?.version;
  if (version !== "1.1.4") throw new Error(`doctor under Deno: ${r.stdout.slice(0, 500)}`);
  return `${result}; doctor: extension ${version}`;
});

await step("bundle figures in docs/benchmarks.md match the build", () => {
  const dist = join(root, "lib", "dist");
  const kb = (n) => `${(n / 1024).toFixed(1)} KB`;
  const js = readdirSync(dist).filter((f) => f.endsWith(".js"));
  const size = (f) => statSync(join(dist, f)).size;
  const gz = (f) => gzipSync(readFileSync(join(dist, f))).length;
  const library = js.filter((f) => f === "mod.js" || f.startsWith("chunk-"));
  const figures = [
    ["`npm pack` tarball", `${kb(packed.size)} packed, ${kb(packed.unpackedSize)} unpacked`],
    ["files in the tarball", String(packed.entryCount)],
    ["`cli.js` (the `sqlite-sync` bin)", `${kb(size("cli.js"))} (${kb(gz("cli.js"))} gzip)`],
    [
      "`mod.js` and its chunks (the library)",
      `${kb(library.reduce((n, f) => n + size(f), 0))} (${
        kb(library.reduce((n, f) => n + gz(f), 0))
      } gzip)`,
    ],
    [
      "`_executor_entry.js` + `_executor_host.js`",
      kb(size("_executor_entry.js") + size("_executor_host.js")),
    ],
  ];
  const block = [
    "Measured by `npm run release:check` (rewritten by `npm run release:check -- --update`):",
    "",
    "| what | size |",
    "| --- | --- |",
    ...figures.map(([k, v]) => `| ${k} | ${v} |`),
  ].join("\n");
  const file = join(root, "docs", "benchmarks.md");
  const text = readFileSync(file, "utf8");
  const re = /(<!-- bundle-size:start -->\n)([\s\S]*?)(<!-- bundle-size:end -->)/;
  if (!re.test(text)) throw new Error("docs/benchmarks.md has no bundle-size markers");
  const quoted = re.exec(text)[2];
  if (update) {
    writeFileSync(file, text.replace(re, `$1${block}\n$3`));
    sh([deno, "fmt", file]);
    return "rewritten";
  }
  const numbers = (s) => [...s.matchAll(/(\d+(?:\.\d+)?) KB/g)].map((m) => Number(m[1]));
  const want = numbers(block);
  const have = numbers(quoted);
  const off = want.length !== have.length ||
    want.some((n, i) => Math.abs(n - have[i]) > Math.max(0.05 * n, 1));
  if (off) {
    throw new Error(
      `the quoted figures are stale (more than 5 % off): run \`npm run release:check -- --update\`\n${block}`,
    );
  }
  return figures.map(([k, v]) => `${k.replaceAll("`", "")} ${v}`).join("; ");
});

if (!keep) rmSync(work, { recursive: true, force: true });
const failed = results.filter((r) => !r.ok);
console.log(
  failed.length === 0
    ? `release check: passed (${results.length} steps)`
    : `release check: FAILED (${failed.length} of ${results.length} steps: ${
      failed.map((f) => f.name).join("; ")
    })`,
);
process.exit(failed.length === 0 ? 0 : 1);
