/**
 * Runs a test file with `deno test` in a child process and registers one test
 * per case it ran, so each keeps its name and fails when its case failed.
 * For the @db/sqlite tests that load sqlite-sync: the extension serves one
 * SQLite library per process, and `deno test tests/` runs every file in one
 * process next to node:sqlite connections (see ffi/drivers/_process_library.ts).
 */
import { it } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { ROOT, run, tempDir, testExtensionPath } from "../../_helpers.ts";

/** One case of the child run. */
export interface ChildCase {
  /** The case's name, without its groups. */
  name: string;
  status: "passed" | "failed" | "skipped";
  /** The failure text, when it failed. */
  failure?: string;
}

/** A finished child `deno test` run. */
export interface ChildSuite {
  code: number | null;
  signal: string | null;
  /** Its output, for failure messages. */
  output: string;
  cases: ChildCase[];
}

function decode(text: string): string {
  return text.replaceAll("&lt;", "<").replaceAll("&gt;", ">").replaceAll("&quot;", '"')
    .replaceAll("&apos;", "'").replaceAll("&amp;", "&");
}

/** Leaf cases of a Deno JUnit report (Deno also lists each group as a case). */
function parseJunit(xml: string): ChildCase[] {
  const all: { path: string[]; status: ChildCase["status"]; failure?: string }[] = [];
  const re = /<testcase\b([^>]*?)(\/>|>([\s\S]*?)<\/testcase>)/g;
  for (let m; (m = re.exec(xml));) {
    const name = decode(/name="([^"]*)"/.exec(m[1])?.[1] ?? "?");
    const body = m[3] ?? "";
    const failure = /<failure\b[^>]*>([\s\S]*?)<\/failure>/.exec(body)?.[1];
    all.push({
      path: name.split(" > "),
      status: failure !== undefined ? "failed" : /<skipped\b/.test(body) ? "skipped" : "passed",
      ...(failure !== undefined ? { failure: decode(failure) } : {}),
    });
  }
  const groups = new Set(
    all.flatMap((c) => c.path.slice(0, -1).map((_, i) => c.path.slice(0, i + 1).join(" > "))),
  );
  return all.filter((c) => !groups.has(c.path.join(" > "))).map((c) => ({
    name: c.path.slice(1).join(" > ") || c.path[0],
    status: c.status,
    ...(c.failure !== undefined ? { failure: c.failure } : {}),
  }));
}

/**
 * Runs `file` (relative to the repository) with `deno test` in a child process.
 * The extension is resolved here once and handed down.
 */
export async function runChildSuite(file: string): Promise<ChildSuite> {
  const dir = tempDir("sqlite-sync-child-suite-");
  const junit = join(dir.path, "junit.xml");
  try {
    const result = await run(
      [process.execPath, "test", "-A", "--no-check", `--junit-path=${junit}`, join(ROOT, file)],
      {
        // The parent records its own skips; the child's would be counted twice.
        env: { SQLITE_SYNC_TEST_EXTENSION: await testExtensionPath(), SQLITE_SYNC_SKIP_LOG: "" },
        timeoutMs: 120_000,
      },
    );
    const cases = existsSync(junit) ? parseJunit(readFileSync(junit, "utf8")) : [];
    return {
      code: result.code,
      signal: result.signal,
      output: `${result.stdout}\n${result.stderr}`.slice(-4000),
      cases,
    };
  } finally {
    dir.cleanup();
  }
}

/**
 * Registers, in the current group, one test that the child ran at least
 * `minCases` cases and exited 0 without a signal, and one test per case.
 */
export function registerChildCases(suite: ChildSuite, minCases: number): void {
  it(`the child process ran at least ${minCases} case${minCases === 1 ? "" : "s"} and exited 0 without a signal`, () => {
    assert.equal(suite.signal, null, suite.output);
    assert.equal(suite.code, 0, suite.output);
    assert.ok(suite.cases.length >= minCases, `${suite.cases.length} cases\n${suite.output}`);
  });
  for (const c of suite.cases) {
    it(c.name, () => assert.equal(c.status, "passed", c.failure ?? suite.output));
  }
}
