/**
 * `sqlite-sync doctor` end to end in child processes: the report as JSON and
 * text, exit 0 when everything passes and 1 with the problem listed when the
 * extension cannot be had; it reads no credential, so none can show.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { currentPlatformId } from "../../../ffi/platform.ts";
import { API_KEY, TOKEN } from "../../_canary.ts";
import { RUNTIME, SHARED_TEST_CACHE, tempDir } from "../../_helpers.ts";
import { assertNoCanaryOutput, cli, jsonOf, makeDatabase, shown } from "./_cli.ts";

// deno-lint-ignore no-explicit-any
type Report = Record<string, any>;

const DRIVER = RUNTIME === "bun" ? "bun:sqlite" : "node:sqlite";

describe("sqlite-sync doctor", () => {
  let dir: { path: string; cleanup: () => void };
  before(() => {
    dir = tempDir();
  });
  after(() => dir.cleanup());

  it("doctor --json reports platform, runtime, driver, versions, the verified cached binary and recursive_triggers on", async () => {
    const r = await cli(["doctor", "--json"]);
    const report = jsonOf(r) as Report;
    assert.equal(report.ok, true, shown(r));
    assert.equal(report.platform, currentPlatformId());
    assert.equal(report.runtime.name, RUNTIME);
    assert.equal(report.driver, DRIVER);
    assert.match(report.sqliteVersion, /^3\.\d+\.\d+$/);
    assert.equal(report.extension.version, "1.1.4");
    assert.equal(report.extension.source, "cache");
    assert.equal(report.extension.verified, true);
    assert.equal(report.extension.cacheDir, SHARED_TEST_CACHE);
    assert.equal(report.connection.recursiveTriggers, true);
    assert.equal(report.preflight.ok, true);
    assert.deepEqual(report.problems, []);
  });

  it("doctor prints the same report as text and exits 0", async () => {
    const r = await cli(["doctor"]);
    assert.equal(r.code, 0, shown(r));
    assert.match(r.stdout, /^sqlite-sync doctor: ok$/m);
    assert.match(r.stdout, new RegExp(`^platform +${currentPlatformId()}$`, "m"));
    assert.match(r.stdout, new RegExp(`^driver +${DRIVER}$`, "m"));
    assert.match(r.stdout, /^extension +1\.1\.4$/m);
    assert.match(r.stdout, /^verified +yes$/m);
    assert.match(r.stdout, /^recursive_triggers +on$/m);
    assert.equal(r.stderr, "");
  });

  it("doctor exits 1 and names the problem when the extension is neither cached nor downloadable (--offline)", async () => {
    const empty = join(dir.path, "empty-cache");
    const r = await cli(["doctor", "--offline", "--cache-dir", empty, "--json"]);
    assert.equal(r.code, 1, shown(r));
    const report = JSON.parse(r.stdout);
    assert.equal(report.ok, false);
    assert.equal(report.extension.version, null);
    assert.equal(report.problems.length, 1);
    assert.equal(report.problems[0].step, "resolve");
    assert.match(report.problems[0].message, /offline mode/);
    const text = await cli(["doctor", "--offline", "--cache-dir", empty]);
    assert.equal(text.code, 1, shown(text));
    assert.match(text.stdout, /^sqlite-sync doctor: problems found$/m);
    assert.match(
      text.stdout,
      /^problem \(resolve, not-found\): Cannot get the sqlite-sync extension/m,
    );
  });

  it("doctor --database reports the journal mode of a database file", async () => {
    const db = await makeDatabase(join(dir.path, "app.db"), { init: true });
    const report = jsonOf(await cli(["doctor", "--database", db, "--json"]));
    assert.deepEqual(report.database, { path: db, journalMode: "wal" });
  });

  it("doctor shows no credential from the environment, in JSON or text", async () => {
    const env = { SQLITE_SYNC_API_KEY: API_KEY, SQLITE_SYNC_TOKEN: TOKEN };
    for (const args of [["doctor", "--json"], ["doctor"]]) {
      const r = await cli(args, { env });
      assert.equal(r.code, 0, shown(r));
      assertNoCanaryOutput(r, args.join(" "));
    }
  });
});
