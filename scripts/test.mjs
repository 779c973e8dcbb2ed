#!/usr/bin/env node
// The project's one test command (`npm test`): static checks, then the same
// test files in Deno and in Bun. Ends with the plain line "N passed, N failed".
// Plain Node (>= 20) with no dependencies, so it runs before anything else works.
//
// Skips: tests register them through tests/_helpers.ts (itUnless/describeUnless),
// which append {runner, file, name, reason, optIn} lines to the file named by
// SQLITE_SYNC_SKIP_LOG. Each runner's skips are listed with their reasons and
// checked against the JUnit report's count; under CI=true every skip that is not
// an opt-in suite's is a failure.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const bin = (name) => join(root, "node_modules", ".bin", name);
const reports = join(root, ".cache", "junit");

if (!existsSync(bin("deno")) || !existsSync(bin("bun"))) {
  step("npm install", "npm", ["install", "--no-audit", "--no-fund"]);
}
rmSync(reports, { recursive: true, force: true });
mkdirSync(reports, { recursive: true });

const ci = /^(1|true|yes)$/i.test(process.env.CI ?? "");
let passed = 0;
let failed = 0;
const failures = [];
/** Every registered skip, per runner. */
const skips = [];

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

function readSkipLog(file) {
  if (!existsSync(file)) return [];
  return readFileSync(file, "utf8").split("\n").filter((l) => l.trim() !== "").map((l) =>
    JSON.parse(l)
  );
}

function suite(runner, args, env = {}) {
  const file = join(reports, `${runner}.xml`);
  const log = join(reports, `${runner}-skips.jsonl`);
  const ok = step(`${runner} test`, bin(runner), [...args(file)], {
    ...env,
    SQLITE_SYNC_SKIP_LOG: log,
  });
  const counts = countJunit(file, runner);
  if (!ok && counts.failed === 0) {
    counts.failed = 1;
    counts.names.push(`${runner}: the test runner failed outside any test (see its output above)`);
  }
  const registered = readSkipLog(log).filter((s) => s.runner === runner);
  if (registered.length !== counts.skipped) {
    counts.failed++;
    counts.names.push(
      `${runner}: the JUnit report has ${counts.skipped} skipped test(s) but ${registered.length} ` +
        "went through tests/_helpers.ts (itUnless/describeUnless): a skip nobody can see",
    );
  }
  for (const s of registered) {
    if (ci && !s.optIn) {
      counts.failed++;
      counts.names.push(
        `${runner}: CI=true and ${s.file}: "${s.name}" was skipped (${s.reason}); ` +
          "CI always has what it needs, so this skip is a failure",
      );
    }
  }
  passed += counts.passed;
  failed += counts.failed;
  skips.push(...registered);
  failures.push(...counts.names);
}

/** Test files must skip through tests/_helpers.ts, so every skip is counted and explained. */
function noRawSkips() {
  const label = "no raw skips in tests/ (use itUnless/describeUnless from tests/_helpers.ts)";
  console.log(`\n$ ${label}`);
  const offenders = [];
  const walk = (dir) => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (path.endsWith("_test.ts")) {
        readFileSync(path, "utf8").split("\n").forEach((line, i) => {
          const code = line.replace(/\/\/.*$/, "");
          if (/\bskip\s*:|\.skip\s*\(|\btodo\s*:|\.todo\s*\(|\.only\s*\(|\bonly\s*:/.test(code)) {
            offenders.push(`${relative(root, path)}:${i + 1}: ${line.trim()}`);
          }
        });
      }
    }
  };
  walk(join(root, "tests"));
  for (const o of offenders) console.log(o);
  console.log(`# ${label}: ${offenders.length === 0 ? "ok" : `${offenders.length} found`}`);
  if (offenders.length === 0) passed++;
  else {
    failed++;
    failures.push(`${label}: ${offenders.length} found`);
  }
}

check("deno fmt --check", bin("deno"), ["fmt", "--check"]);
check("deno lint", bin("deno"), ["lint"]);
check("deno check", bin("deno"), ["check", "mod.ts", "tests/", "bench/", "examples/"]);
check("deno doc --lint", bin("deno"), ["doc", "--lint", "mod.ts"]);
// deno publish --dry-run, the packed lib/dist installed and used in Bun, Node 22, the newest
// Node and Deno, the README's Quick start, bundle figures (scripts/release-check.mjs).
check("npm run release:check", "node", [join(root, "scripts", "release-check.mjs")]);
noRawSkips();
suite("deno", (f) => ["test", "-A", "--no-check", `--junit-path=${f}`, "tests/"]);
suite(
  "bun",
  (f) => ["test", "--timeout=120000", "--reporter=junit", `--reporter-outfile=${f}`, "tests/"],
);

for (const runner of ["deno", "bun"]) {
  const mine = skips.filter((s) => s.runner === runner);
  console.log(`\nSkipped in ${runner}: ${mine.length}`);
  for (const s of mine) {
    console.log(`- ${s.file}: ${s.name} — ${s.reason}${s.optIn ? " (opt-in)" : ""}`);
  }
}
if (failures.length) console.log(`\nFailed:\n${failures.map((f) => `- ${f}`).join("\n")}`);
if (skips.length) {
  const byReason = new Map();
  for (const s of skips) byReason.set(s.reason, (byReason.get(s.reason) ?? 0) + 1);
  const perRunner = ["deno", "bun"].map((r) =>
    `${r} ${skips.filter((s) => s.runner === r).length}`
  );
  const reasons = [...byReason].map(([reason, n]) => `${n} × ${reason}`).join("; ");
  console.log(`(${skips.length} skipped [${perRunner.join(", ")}]: ${reasons})`);
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
