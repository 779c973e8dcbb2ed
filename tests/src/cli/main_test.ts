/**
 * `sqlite-sync` (src/cli/main.ts) end to end in child processes: help (80 columns, with
 * examples) and version; with --json, a failure is exactly one JSON document on stdout; no
 * command shows a credential. The table of bad inputs (exit 2, one line) is
 * main_bad_input_test.ts's part.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { API_KEY, PASSWORD, TOKEN } from "../../_canary.ts";
import { refusedPort, tempDir } from "../../_helpers.ts";
import {
  assertJsonFailure,
  assertNoCanaryOutput,
  cli,
  makeDatabase,
  secretFile,
  shown,
} from "./_cli.ts";

const COMMANDS = ["doctor", "fetch", "init", "sync", "status", "daemon"];

describe("sqlite-sync help and version", () => {
  it("sqlite-sync --help lists every command on stdout and exits 0", async () => {
    const r = await cli(["--help"]);
    assert.equal(r.code, 0, shown(r));
    for (const command of COMMANDS) assert.match(r.stdout, new RegExp(`^\\s*${command}\\s`, "m"));
    assert.ok(!r.stdout.includes("\u001b["), "no colour codes when stdout is not a terminal");
  });

  it("sqlite-sync sync --help shows the command's options, and no option takes a secret", async () => {
    const r = await cli(["sync", "--help"]);
    assert.equal(r.code, 0, shown(r));
    for (const flag of ["--database-id", "--address", "--api-key-file", "--token-file", "--json"]) {
      assert.ok(r.stdout.includes(flag), `${flag} missing:\n${r.stdout}`);
    }
    assert.doesNotMatch(r.stdout, /--(api-key|token|password)[=\s]/);
  });

  it("every help (sqlite-sync --help and each command's) fits in 80 columns and ends with an Examples section using that command", async () => {
    for (const command of ["", ...COMMANDS]) {
      const r = await cli(command === "" ? ["--help"] : [command, "--help"]);
      assert.equal(r.code, 0, shown(r));
      assert.equal(r.stderr, "", shown(r));
      for (const line of r.stdout.split("\n")) {
        assert.ok(line.length <= 80, `${command || "root"}: ${line.length} columns: ${line}`);
        assert.equal(line, line.trimEnd(), `${command || "root"}: trailing spaces: '${line}'`);
      }
      const examples = /\nExamples:\n((?: {2}\S.*\n)+)/.exec(r.stdout);
      assert.ok(examples, `${command || "root"} has no Examples section:\n${r.stdout}`);
      const lines = examples[1].trimEnd().split("\n");
      assert.ok(lines.length >= 2, r.stdout);
      if (command !== "") {
        assert.ok(
          lines.every((l) => l.includes(`sqlite-sync ${command}`) || l.includes("sqlite-sync ")),
          r.stdout,
        );
        assert.ok(lines.some((l) => l.includes(`sqlite-sync ${command} `)), r.stdout);
      }
    }
  });

  it("sqlite-sync --version prints the library and extension versions", async () => {
    const r = await cli(["--version"]);
    assert.equal(r.code, 0, shown(r));
    assert.match(r.stdout, /^sqlite-sync \d+\.\d+\.\d+ \(cloudsync 1\.1\.4\)\n$/);
  });
});

describe("sqlite-sync --json: exactly one JSON document on stdout, { ok: false, kind, message, exitCode } on failure", () => {
  let dir: { path: string; cleanup: () => void };
  before(() => {
    dir = tempDir();
  });
  after(() => dir.cleanup());

  const missing = () => join(dir.path, "missing.db");
  const cases: [string, () => string[], RegExp][] = [
    ["an unknown command", () => ["syncc", "--json"], /^unknown command 'syncc'/],
    ["an option before the command", () => ["--json", "doctor"], /^unknown option '--json'/],
    [
      "doctor without an option's value",
      () => ["doctor", "--json", "--cache-dir"],
      /^--cache-dir needs a value/,
    ],
    ["doctor --json=yes", () => ["doctor", "--json=yes"], /^--json takes no value/],
    [
      "doctor --database of a missing file",
      () => ["doctor", "--json", "--database", missing()],
      /^no database file '.*missing\.db': check the path/,
    ],
    [
      "fetch of an unknown platform",
      () => ["fetch", "--json", "--platform", "linux-mips", "--out", dir.path],
      /^unknown platform 'linux-mips'/,
    ],
    [
      "init of a missing database file",
      () => ["init", missing(), "--table", "notes", "--json"],
      /^no database file /,
    ],
    ["sync without --database-id", () => ["sync", missing(), "--json"], /^missing --database-id: /],
    [
      "status of a missing database file",
      () => ["status", missing(), "--json"],
      /^no database file /,
    ],
    [
      "daemon, which takes no --json",
      () => ["daemon", "--json"],
      /^unknown option '--json' for 'sqlite-sync daemon'/,
    ],
  ];
  for (const [what, argv, pattern] of cases) {
    it(`${what} prints one JSON failure (kind 'usage', exit 2) and the same line on stderr`, async () => {
      assertJsonFailure(await cli(argv()), 2, "usage", pattern);
    });
  }
});

describe("sqlite-sync never shows a secret", () => {
  let dir: { path: string; cleanup: () => void };
  before(() => {
    dir = tempDir();
  });
  after(() => dir.cleanup());

  it("no command prints the canaries of SQLITE_SYNC_API_KEY, a --token-file or a mirror URL's password, in results or errors", async () => {
    const db = await makeDatabase(join(dir.path, "app.db"), { init: true, rows: 1 });
    const bare = await makeDatabase(join(dir.path, "bare.db"));
    const tokenFile = secretFile(join(dir.path, "token"), TOKEN);
    const port = await refusedPort();
    const env = {
      SQLITE_SYNC_API_KEY: API_KEY,
      // Used by fetch only (a mirror with a password); the password must not show in its error.
      SQLITE_SYNC_MIRROR: `http://me:${encodeURIComponent(PASSWORD)}@127.0.0.1:${port}/m`,
    };
    const address = `http://127.0.0.1:${port}`;
    const runs: [string[], number][] = [
      [["--help"], 0],
      [["doctor"], 0],
      [["doctor", "--json"], 0],
      [["init", db, "--table", "notes", "--json"], 0],
      [["init", bare, "--table", "nope"], 2],
      [["status", db], 0],
      [["status", db, "--json"], 0],
      [["sync", db, "--database-id", "db_1", "--address", address], 1],
      [[
        "sync",
        db,
        "--database-id",
        "db_1",
        "--address",
        address,
        "--token-file",
        tokenFile,
        "--json",
      ], 1],
      [["sync", bare, "--database-id", "db_1"], 2],
      [["fetch", "--platform", "linux-x86_64", "--out", join(dir.path, "out")], 1],
      [["fetch", "--platform", "linux-mips", "--out", join(dir.path, "out")], 2],
      [["daemon"], 2],
    ];
    for (const [args, code] of runs) {
      const r = await cli(args, { env });
      assert.equal(r.code, code, `${args.join(" ")}: ${shown(r)}`);
      assertNoCanaryOutput(r, args.join(" "));
    }
  });
});
