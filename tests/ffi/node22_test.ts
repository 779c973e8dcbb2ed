/** openDatabase() under Node 22 (node:sqlite), in a child process running TypeScript natively. */
import { describe } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import {
  itUnless,
  node22Missing,
  node22Path,
  ROOT,
  run,
  tempDir,
  testExtensionPath,
} from "../_helpers.ts";

const node = node22Path();
const noNode = node22Missing();

describe("Node 22", () => {
  itUnless(noNode, "openDatabase() loads the extension under Node 22's node:sqlite", async () => {
    const dir = tempDir();
    try {
      const child = join(ROOT, "tests", "ffi", "_node22_child.ts");
      const r = await run(
        [node!, "--no-warnings", child, join(dir.path, "node.db"), await testExtensionPath()],
        { timeoutMs: 30_000 },
      );
      assert.equal(r.code, 0, r.stderr);
      const out = JSON.parse(r.stdout.trim().split("\n").at(-1)!);
      assert.equal(out.version, "1.1.4");
      assert.equal(out.driver, "node:sqlite");
      assert.equal(out.journal, "wal");
      assert.equal(out.source, "option");
    } finally {
      dir.cleanup();
    }
  });

  itUnless(
    noNode ??
      (process.platform !== "linux" || process.arch !== "x64"
        ? "only linux-x86_64's binary is reachable from CI"
        : undefined),
    "openDatabase() downloads 1.1.4 from the npm registry into an empty cache under Node 22, verified",
    async () => {
      const dir = tempDir();
      try {
        const cache = join(dir.path, "cache");
        const child = join(ROOT, "tests", "ffi", "_node22_child.ts");
        const r = await run([
          node!,
          "--no-warnings",
          child,
          join(dir.path, "node.db"),
          `cache:${cache}`,
        ], {
          timeoutMs: 60_000,
          env: { SQLITE_SYNC_EXTENSION_PATH: undefined },
        });
        assert.equal(r.code, 0, r.stderr);
        const out = JSON.parse(r.stdout.trim().split("\n").at(-1)!);
        assert.deepEqual(
          { version: out.version, source: out.source, verified: out.verified },
          { version: "1.1.4", source: "npm", verified: true },
        );
        assert.ok(existsSync(join(cache, "1.1.4", "linux-x86_64", "LICENSE.md")));
      } finally {
        dir.cleanup();
      }
    },
  );

  itUnless(
    noNode,
    "under Node 22 the library keeps node:sqlite's ExperimentalWarning off stderr and lets the program's own warnings through",
    async () => {
      const child = join(ROOT, "tests", "ffi", "_node_warning_child.ts");
      const r = await run([node!, child, await testExtensionPath()], { timeoutMs: 30_000 });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.trim(), "opened");
      assert.doesNotMatch(r.stderr, /SQLite is an experimental feature/);
      assert.match(r.stderr, /ExperimentalWarning: the program's own warning/);
    },
  );
});
