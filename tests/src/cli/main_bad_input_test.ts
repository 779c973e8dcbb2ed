/**
 * `sqlite-sync` given bad input, end to end in child processes: a table of bad inputs for every
 * command, each answered with exit code 2, nothing on stdout and exactly one line on stderr
 * naming the problem and the fix (with --json among the arguments: one JSON failure on stdout
 * instead); no value typed in the wrong place (a credential) is ever echoed.
 */
import { after, before, describe, it } from "node:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { API_KEY, TOKEN } from "../../_canary.ts";
import { tempDir } from "../../_helpers.ts";
import {
  assertJsonFailure,
  assertNoCanaryOutput,
  assertOneLineError,
  cli,
  makeDatabase,
  secretFile,
} from "./_cli.ts";

describe("sqlite-sync bad input: exit 2, one line naming the problem and the fix", () => {
  let dir: { path: string; cleanup: () => void };
  let db = "";
  let bare = "";
  let missing = "";
  let out = "";
  let worldReadable = "";
  before(async () => {
    dir = tempDir();
    db = await makeDatabase(join(dir.path, "app.db"), { init: true });
    bare = await makeDatabase(join(dir.path, "bare.db"));
    missing = join(dir.path, "missing.db");
    out = join(dir.path, "out");
    mkdirSync(join(dir.path, "folder.db"));
    worldReadable = join(dir.path, "key.txt");
    writeFileSync(worldReadable, `${API_KEY}\n`, { mode: 0o644 });
  });
  after(() => dir.cleanup());

  const cases: [string, () => string[], RegExp][] = [
    [
      "no command",
      () => [],
      /missing command: use one of doctor, fetch, init, sync, status, daemon/,
    ],
    ["an unknown command", () => ["syncc"], /unknown command 'syncc': use one of doctor, fetch/],
    [
      "an option before the command",
      () => ["--json", "doctor"],
      /unknown option '--json' before the command: .*sqlite-sync doctor --json/,
    ],
    [
      "an unknown option",
      () => ["doctor", "--verbose"],
      /unknown option '--verbose' for 'sqlite-sync doctor': its options are --json, /,
    ],
    ["a value given to a flag", () => ["doctor", "--json=yes"], /--json takes no value/],
    [
      "an extra argument (not echoed)",
      () => ["doctor", "surplus-arg"],
      /unexpected extra argument \(argument 1; the value is not shown\)/,
    ],
    [
      "an option without its value",
      () => ["doctor", "--cache-dir"],
      /--cache-dir needs a value: --cache-dir <dir>/,
    ],
    [
      "an option whose value looks like an option",
      () => ["fetch", "--platform", "linux-arm64", "--out", "--json"],
      /--out needs a value: --out <dir>/,
    ],
    [
      "an option given twice",
      () => ["fetch", "--platform", "linux-arm64", "--out", out, "--out", out],
      /--out is given more than once/,
    ],
    [
      "fetch without --platform",
      () => ["fetch", "--out", out],
      /missing --platform: sqlite-sync fetch --platform <id>… --out <dir>/,
    ],
    ["fetch without --out", () => ["fetch", "--platform", "linux-arm64"], /missing --out/],
    [
      "fetch of an unknown platform",
      () => ["fetch", "--platform", "linux-mips", "--out", out],
      /unknown platform 'linux-mips': use one of linux-x86_64, linux-arm64, linux-x86_64-musl, linux-arm64-musl, darwin-x86_64, darwin-arm64, win32-x86_64$/,
    ],
    [
      "fetch with credentials in --registry (not echoed)",
      () => [
        "fetch",
        "--platform",
        "linux-arm64",
        "--out",
        out,
        "--registry",
        `https://me:${API_KEY}@npm.example`,
      ],
      /--registry must not carry credentials .*SQLITE_SYNC_NPM_REGISTRY environment variable instead/,
    ],
    [
      "fetch with credentials in --mirror (not echoed)",
      () => [
        "fetch",
        "--platform",
        "linux-arm64",
        "--out",
        out,
        "--mirror",
        `me:${TOKEN}@mirror.example/x`,
      ],
      /--mirror must not carry credentials .*SQLITE_SYNC_MIRROR environment variable instead/,
    ],
    [
      "fetch with a --registry that is not http(s)",
      () => ["fetch", "--platform", "linux-arm64", "--out", out, "--registry", "ftp://npm.example"],
      /--registry must be an http\(s\) URL, but its protocol is 'ftp:'/,
    ],
    [
      "init without a database",
      () => ["init"],
      /missing <db>: sqlite-sync init <db> --table <table>…/,
    ],
    [
      "init without --table",
      () => ["init", db],
      /missing --table: sqlite-sync init <db> --table <table>…/,
    ],
    [
      "init of a missing database file",
      () => ["init", missing, "--table", "notes"],
      /no database file '.*missing\.db': check the path, or create the database first .*CREATE TABLE/,
    ],
    [
      "init of an in-memory database",
      () => ["init", ":memory:", "--table", "notes"],
      /needs a database file, not an in-memory database/,
    ],
    [
      "init of a missing table",
      () => ["init", db, "--table", "nope"],
      /Cannot sync table "nope": no such table in the database\. Create it first\. \(nothing was enabled\)/,
    ],
    [
      "init of a hostile table name",
      () => ["init", db, "--table", 'notes"; DROP TABLE notes; --'],
      /Cannot sync table "notes\\"; DROP TABLE notes; --": no such table/,
    ],
    [
      "init of a reserved table name",
      () => ["init", db, "--table", "sqlite_master"],
      /Cannot sync table "sqlite_master": the name is reserved/,
    ],
    [
      "init of an overlong table name",
      () => ["init", db, "--table", "t".repeat(300)],
      /Cannot use table name: it is 300 characters long, the limit is 256/,
    ],
    [
      "sync without --database-id",
      () => ["sync", db],
      /missing --database-id: sqlite-sync sync <db> --database-id <id>/,
    ],
    [
      "an API key on the command line (not echoed)",
      () => ["sync", db, "--database-id", "db_1", "--api-key", API_KEY],
      /--api-key is refused: secrets never go on the command line .*SQLITE_SYNC_API_KEY/,
    ],
    [
      "a token inline on the command line (not echoed)",
      () => ["sync", db, "--database-id", "db_1", `--token=${TOKEN}`],
      /--token is refused: secrets never go on the command line/,
    ],
    [
      "sync of a malformed database id (not echoed)",
      () => ["sync", db, "--database-id", `key ${API_KEY}`],
      /Invalid --database-id: .*\(it contains whitespace\).*the value is not shown/,
    ],
    [
      "sync with credentials in --address (not echoed)",
      () => [
        "sync",
        db,
        "--database-id",
        "db_1",
        "--address",
        `https://u:${API_KEY}@cloud.example`,
      ],
      /--address must not carry credentials .*--api-key-file/,
    ],
    [
      "sync to plain http on a public host",
      () => ["sync", db, "--database-id", "db_1", "--address", "http://cloud.example"],
      /Invalid --address: plain http:\/\/ to a host that is not loopback/,
    ],
    [
      "sync with a missing --api-key-file",
      () => ["sync", db, "--database-id", "db_1", "--api-key-file", join(dir.path, "nokey")],
      /'--api-key-file' \(.*nokey\) does not exist: create it/,
    ],
    [
      "sync with a world-readable --api-key-file (content not echoed)",
      () => ["sync", db, "--database-id", "db_1", "--api-key-file", worldReadable],
      /'--api-key-file' \(.*key\.txt\) is readable by every user \(mode 644\): chmod 600 it/,
    ],
    [
      "sync with both an API key file and a token file",
      () => ["sync", db, "--database-id", "db_1", "--api-key-file", "a", "--token-file", "b"],
      /--api-key-file and --token-file are both given: pass one/,
    ],
    [
      "sync with a non-integer --wait-ms",
      () => ["sync", db, "--database-id", "db_1", "--wait-ms", "soon"],
      /--wait-ms must be an integer from 0 to 600000/,
    ],
    ["status without a database", () => ["status"], /missing <db>: sqlite-sync status <db>/],
    [
      "status of a missing database file (the hint: check the path; nothing suggests init)",
      () => ["status", missing],
      /^sqlite-sync: no database file '.*missing\.db': check the path \(sqlite-sync status reads an existing database and never creates one; your app creates it\)$/,
    ],
    [
      "sync of a missing database file (the hint: check the path)",
      () => ["sync", missing, "--database-id", "db_1"],
      /^sqlite-sync: no database file '.*missing\.db': check the path \(sqlite-sync sync reads an existing database/,
    ],
    [
      "status of a directory",
      () => ["status", join(dir.path, "folder.db")],
      /is not a database file \(a directory\?\)/,
    ],
    [
      "daemon with an unknown option",
      () => ["daemon", "--conf", "x.json"],
      /unknown option '--conf' for 'sqlite-sync daemon': its options are --config/,
    ],
  ];

  for (const [what, argv, pattern] of cases) {
    it(`sqlite-sync refuses ${what} with exit 2 and one line`, async () => {
      const args = argv();
      const r = await cli(args);
      // With --json among the arguments, stdout holds the failure as JSON (tested below).
      if (args.some((a) => a === "--json" || a.startsWith("--json="))) {
        assertJsonFailure(r, 2, "usage", pattern);
      } else assertOneLineError(r, 2, pattern);
      assertNoCanaryOutput(r, what);
    });
  }

  it("sqlite-sync refuses both SQLITE_SYNC_API_KEY and SQLITE_SYNC_TOKEN with exit 2 and one line", async () => {
    const r = await cli(["sync", db, "--database-id", "db_1"], {
      env: { SQLITE_SYNC_API_KEY: API_KEY, SQLITE_SYNC_TOKEN: TOKEN },
    });
    assertOneLineError(r, 2, /SQLITE_SYNC_API_KEY and SQLITE_SYNC_TOKEN are both set: unset one/);
    assertNoCanaryOutput(r, "both variables");
  });

  it("sqlite-sync refuses sync of a database without synced tables with exit 2 and one line naming init", async () => {
    const r = await cli(["sync", bare, "--database-id", "db_1"], {
      env: { SQLITE_SYNC_API_KEY: API_KEY },
    });
    assertOneLineError(
      r,
      2,
      /no table of '.*bare\.db' is synced: enable sync first with sqlite-sync init .*bare\.db --table <table>$/,
    );
  });

  it("sqlite-sync refuses an empty --token-file with exit 2 and one line", async () => {
    const empty = secretFile(join(dir.path, "empty-token"), "");
    const r = await cli(["sync", db, "--database-id", "db_1", "--token-file", empty]);
    assertOneLineError(r, 2, /'--token-file' \(.*empty-token\) is empty: write the secret into it/);
  });
});
