#!/usr/bin/env node
// The project's one test command (`npm test`): static checks, then the same
// test files in Deno and in Bun. Ends with the plain line "N passed, N failed".
// Plain Node (>= 20) with no dependencies, so it runs before anything else works.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const bin = (name) => join(root, "node_modules", ".bin", name);
const reports = join(root, ".cache", "junit");

if (!existsSync(bin("deno")) || !existsSync(bin("bun"))) {
  step("npm install", "npm", ["install", "--no-audit", "--no-fund"]);
}
rmSync(reports, { recursive: true, force: true });
mkdirSync(reports, { recursive: true });

let passed = 0;
let failed = 0;
let skipped = 0;
const failures = [];

function step(label, cmd, args, env = {}) {
  console.log(`\n$ ${label}`);
  const started = Date.now();
  const r = spawnSync(cmd, args, {
    cwd: root,
    stdio: "inherit",
    env: { ...process.env, NO_COLOR: "1", ...env },
  });
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  console.log(`# ${label}: exit ${r.status ?? r.signal} in ${seconds} s`);
  return r.status === 0;
}

function check(label, cmd, args) {
  if (step(label, cmd, args)) passed++;
  else {
    failed++;
    failures.push(label);
  }
}

/** Counts leaf test cases of a JUnit file (Deno lists describe groups as cases too). */
function countJunit(file, runner) {
  if (!existsSync(file)) return { passed: 0, failed: 0, skipped: 0, names: [] };
  const xml = readFileSync(file, "utf8");
  const cases = [];
  const re = /<testcase\b([^>]*?)(\/>|>([\s\S]*?)<\/testcase>)/g;
  for (let m; (m = re.exec(xml));) {
    const name = /name="([^"]*)"/.exec(m[1])?.[1] ?? "?";
    const body = m[3] ?? "";
    cases.push({ name, failed: /<failure\b/.test(body), skipped: /<skipped\b/.test(body) });
  }
  const groups = new Set();
  for (const c of cases) {
    const parts = c.name.split(" &gt; ");
    for (let i = 1; i < parts.length; i++) groups.add(parts.slice(0, i).join(" &gt; "));
  }
  const leaves = runner === "deno" ? cases.filter((c) => !groups.has(c.name)) : cases;
  const out = { passed: 0, failed: 0, skipped: 0, names: [] };
  for (const c of leaves) {
    if (c.skipped) out.skipped++;
    else if (c.failed) {
      out.failed++;
      out.names.push(`${runner}: ${c.name.replaceAll("&gt;", ">")}`);
    } else out.passed++;
  }
  return out;
}

function suite(runner, args, env) {
  const file = join(reports, `${runner}.xml`);
  const ok = step(`${runner} test`, bin(runner), [...args(file)], env);
  const counts = countJunit(file, runner);
  if (!ok && counts.failed === 0) {
    counts.failed = 1;
    counts.names.push(`${runner}: the test runner failed outside any test (see its output above)`);
  }
  passed += counts.passed;
  failed += counts.failed;
  skipped += counts.skipped;
  failures.push(...counts.names);
}

check("deno fmt --check", bin("deno"), ["fmt", "--check"]);
check("deno lint", bin("deno"), ["lint"]);
check("deno check", bin("deno"), ["check", "mod.ts", "tests/", "bench/", "examples/"]);
check("deno doc --lint", bin("deno"), ["doc", "--lint", "mod.ts"]);
check("deno publish --dry-run", bin("deno"), ["publish", "--dry-run", "--allow-dirty"]);
suite("deno", (f) => ["test", "-A", "--no-check", `--junit-path=${f}`, "tests/"]);
suite(
  "bun",
  (f) => ["test", "--timeout=120000", "--reporter=junit", `--reporter-outfile=${f}`, "tests/"],
);

if (failures.length) console.log(`\nFailed:\n${failures.map((f) => `- ${f}`).join("\n")}`);
if (skipped) console.log(`(${skipped} skipped; each skip says why in the output above)`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
