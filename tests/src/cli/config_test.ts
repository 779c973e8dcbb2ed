// The daemon's config file: JSON with comments validated with valibot. Every
// bad config is one line naming the key path and what is expected (a table of
// 27, in process), and the command answers exit 2 with that one line (7 end
// to end in child processes). Secret files are read, checked and never echoed.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { DEFAULT_HOST, parseConfig } from "../../../src/cli/config.ts";
import { UsageError } from "../../../src/cli/_usage.ts";
import { API_KEY, TOKEN } from "../../_canary.ts";
import { run, tempDir } from "../../_helpers.ts";
import { daemonArgv, writeSecret } from "./_daemon_harness.ts";

const dir = tempDir("sqlite-sync-config-");
const FILE = join(dir.path, "sqlite-sync.jsonc");
writeSecret(join(dir.path, "key"), API_KEY);
writeSecret(join(dir.path, "open-key"), API_KEY, 0o644);
writeSecret(join(dir.path, "empty"), "");
writeSecret(join(dir.path, "two-lines"), `${API_KEY}\nsecond`);
mkdirSync(join(dir.path, "folder"));
const ENV = { SQLITE_SYNC_API_KEY: API_KEY };

const db = (extra: Record<string, unknown> = {}) => ({
  path: "a.db",
  databaseId: "db_1",
  ...extra,
});
const cfg = (extra: Record<string, unknown> = {}, dbs: unknown[] = [db()]) =>
  JSON.stringify({ databases: dbs, ...extra });

/** [what is wrong, config text, env, pattern the one line must match]. */
const BAD: [string, string, Record<string, string>, RegExp][] = [
  ["empty file", "  \n", ENV, /is empty: it needs at least/],
  [
    "malformed JSON",
    `{ "databases": [ { "path": "a.db" } "http": {} }`,
    ENV,
    /line 1, column \d+: comma expected/,
  ],
  ["not an object", "[1, 2]", ENV, /the config must be an object \{ databases/],
  ["no databases", "{}", ENV, /'databases' is missing: add it/],
  ["databases empty", `{ "databases": [] }`, ENV, /'databases' must be a non-empty list/],
  ["databases not a list", `{ "databases": {} }`, ENV, /'databases' must be a list: got an object/],
  ["no path", cfg({}, [{ databaseId: "x" }]), ENV, /'databases\[0\]\.path' is missing/],
  ["no databaseId", cfg({}, [{ path: "a.db" }]), ENV, /'databases\[0\]\.databaseId' is missing/],
  [
    "databaseId a number",
    cfg({}, [db({ databaseId: 7 })]),
    ENV,
    /'databases\[0\]\.databaseId' must be a string .*: got 7/,
  ],
  [
    "unknown database key",
    cfg({}, [db({ interval: 5 })]),
    ENV,
    /unknown key 'databases\[0\]\.interval': known keys are name, path/,
  ],
  [
    "API key inline",
    cfg({}, [db({ apiKey: API_KEY })]),
    ENV,
    /unknown key 'databases\[0\]\.apiKey': secrets go in a file/,
  ],
  [
    "bad cron",
    cfg({}, [db(), db({ path: "b.db", cron: "every minute" })]),
    ENV,
    /'databases\[1\]\.cron' must be a 5- or 6-field cron expression/,
  ],
  [
    "bad time zone",
    cfg({}, [db({ cron: "* * * * *", timezone: "Mars/Olympus" })]),
    ENV,
    /'databases\[0\]\.timezone' must be an IANA time zone/,
  ],
  [
    "time zone without cron",
    cfg({}, [db({ timezone: "UTC" })]),
    ENV,
    /'databases\[0\]\.timezone' applies to 'cron', which is not set/,
  ],
  [
    "interval too short",
    cfg({}, [db({ intervalMs: 10 })]),
    ENV,
    /'databases\[0\]\.intervalMs' must be an integer from 1000 to/,
  ],
  [
    "request timeout 0",
    cfg({}, [db({ requestTimeoutS: 0 })]),
    ENV,
    /'databases\[0\]\.requestTimeoutS' must be an integer from 1 to 3600: got 0/,
  ],
  [
    "tables a string",
    cfg({}, [db({ tables: "readings" })]),
    ENV,
    /'databases\[0\]\.tables' must be a list of table names/,
  ],
  [
    "address not http",
    cfg({}, [db({ address: "ftp://example.org" })]),
    ENV,
    /'databases\[0\]\.address' must be an http\(s\) URL/,
  ],
  [
    "bad name",
    cfg({}, [db({ name: "a b" })]),
    ENV,
    /'databases\[0\]\.name' must be a name of letters/,
  ],
  [
    "same name twice",
    cfg({}, [db({ name: "x" }), db({ name: "x", path: "b.db" })]),
    ENV,
    /'databases\[1\]\.name' "x" is also the name of databases\[0\]/,
  ],
  [
    "same file twice",
    cfg({}, [db({ name: "x" }), db({ name: "y", path: "./a.db" })]),
    ENV,
    /'databases\[1\]\.path' is the same file as databases\[0\]\.path/,
  ],
  [
    "two credentials",
    cfg({}, [db({ apiKeyFile: "key", tokenEnv: "T" })]),
    ENV,
    /'databases\[0\]' names 2 credentials \(apiKeyFile, tokenEnv\)/,
  ],
  ["no credential", cfg(), {}, /'databases\[0\]' has no credential: add apiKeyFile or tokenFile/],
  [
    "both default env credentials",
    cfg(),
    { ...ENV, SQLITE_SYNC_TOKEN: TOKEN },
    /both SQLITE_SYNC_API_KEY and SQLITE_SYNC_TOKEN are set/,
  ],
  [
    "env credential unset",
    cfg({}, [db({ tokenEnv: "SENSOR_TOKEN" })]),
    {},
    /'databases\[0\]\.tokenEnv' names SENSOR_TOKEN, which is not set/,
  ],
  [
    "bad env name",
    cfg({}, [db({ apiKeyEnv: "1KEY" })]),
    ENV,
    /'databases\[0\]\.apiKeyEnv' must be an environment variable name/,
  ],
  [
    "key file missing",
    cfg({}, [db({ apiKeyFile: "missing-key" })]),
    ENV,
    /'databases\[0\]\.apiKeyFile' \(.*missing-key\) does not exist/,
  ],
  [
    "key file world-readable",
    cfg({}, [db({ apiKeyFile: "open-key" })]),
    ENV,
    /is readable by every user \(mode 644\): chmod 600/,
  ],
  [
    "key file empty",
    cfg({}, [db({ apiKeyFile: "empty" })]),
    ENV,
    /'databases\[0\]\.apiKeyFile' .* is empty/,
  ],
  ["key file two lines", cfg({}, [db({ apiKeyFile: "two-lines" })]), ENV, /has more than one line/],
  ["key file a folder", cfg({}, [db({ apiKeyFile: "folder" })]), ENV, /is not a file/],
  [
    "key file under a file",
    cfg({}, [db({ apiKeyFile: "key/inner" })]),
    ENV,
    /cannot be read \(ENOTDIR\)/,
  ],
  [
    "credentials dir unset",
    cfg({}, [db({ apiKeyFile: "${CREDENTIALS_DIRECTORY}/k" })]),
    ENV,
    /uses \$\{CREDENTIALS_DIRECTORY\}, which is not set/,
  ],
  [
    "http not an object",
    cfg({ http: 8080 }),
    ENV,
    /'http' must be an object \{ host, port, tokenFile\? \}: got 8080/,
  ],
  [
    "port out of range",
    cfg({ http: { port: 70000 } }),
    ENV,
    /'http\.port' must be an integer from 0 to 65535: got 70000/,
  ],
  [
    "port a string",
    cfg({ http: { port: "8080" } }),
    ENV,
    /'http\.port' must be an integer from 0 to 65535 .*: got "8080"/,
  ],
  [
    "unknown http key",
    cfg({ http: { token: TOKEN } }),
    ENV,
    /unknown key 'http\.token': secrets go in a file/,
  ],
  [
    "http token file missing",
    cfg({ http: { tokenFile: "nope" } }),
    ENV,
    /'http\.tokenFile' \(.*nope\) does not exist/,
  ],
  [
    "bad log level",
    cfg({ logLevel: "verbose" }),
    ENV,
    /'logLevel' must be one of debug, info, warn, error: got "verbose"/,
  ],
  [
    "negative grace",
    cfg({ stopGraceMs: -1 }),
    ENV,
    /'stopGraceMs' must be an integer from 0 to 600000: got -1/,
  ],
  [
    "unknown top-level key",
    cfg({ database: [] }),
    ENV,
    /unknown key 'database': known keys are databases, http, logLevel, stopGraceMs, executors/,
  ],
  [
    "executors maxSize below size",
    cfg({ executors: { size: 4, maxSize: 2 } }),
    ENV,
    /'executors'.*'maxSize' at least 'size'/,
  ],
  [
    "unknown executor kind",
    cfg({ executors: { kind: "thread" } }),
    ENV,
    /'executors\.kind' must be one of "worker", "process"/,
  ],
];

describe("parseConfig()", () => {
  it(`answers each of ${BAD.length} bad configs with one UsageError line naming the key and the fix`, () => {
    assert.ok(BAD.length >= 20);
    const wrong: string[] = [];
    for (const [what, text, env, pattern] of BAD) {
      let caught: unknown;
      try {
        parseConfig(text, FILE, { env });
      } catch (err) {
        caught = err;
      }
      assert.ok(caught instanceof UsageError, `${what}: expected a UsageError, got ${caught}`);
      assert.equal(caught.exitCode, 2, what);
      assert.doesNotMatch(caught.message, /\n/, what);
      assert.match(
        caught.message,
        new RegExp(`^config ${FILE.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}: `),
        what,
      );
      if (!pattern.test(caught.message)) wrong.push(`${what}: ${caught.message}`);
      for (const secret of [API_KEY, TOKEN]) {
        assert.ok(
          !caught.message.toLowerCase().includes(secret.toLowerCase()),
          `${what} leaks a secret`,
        );
      }
    }
    assert.deepEqual(wrong, []);
  });

  it("applies defaults and resolves relative paths against the config's folder", () => {
    const config = parseConfig(
      `// comments and trailing commas are fine
      { "databases": [{ "path": "data/sensors.db", "databaseId": "db_1", "apiKeyFile": "key", }], }`,
      FILE,
      { env: {} },
    );
    assert.deepEqual(config.http, {
      host: DEFAULT_HOST,
      port: 0,
      tokenFile: undefined,
      token: undefined,
    });
    assert.equal(config.logLevel, "info");
    assert.equal(config.stopGraceMs, 5000);
    assert.deepEqual(config.executors, {});
    const [first] = config.databases;
    assert.equal(first.name, "sensors");
    assert.equal(first.path, join(dir.path, "data", "sensors.db"));
    assert.deepEqual(first.credentialSource, {
      kind: "apiKey",
      from: `file:${join(dir.path, "key")}`,
    });
    assert.equal(first.credential, API_KEY);
    assert.deepEqual(first.tables, []);
  });

  it("reads credentials from a named variable, the default variables and ${CREDENTIALS_DIRECTORY}", () => {
    const creds = join(dir.path, "creds");
    mkdirSync(creds, { recursive: true });
    writeSecret(join(creds, "sensors-token"), TOKEN, 0o400);
    writeSecret(join(dir.path, "http-token"), TOKEN, 0o640);
    const config = parseConfig(
      JSON.stringify({
        databases: [
          db({ name: "one", tokenEnv: "SENSOR_TOKEN" }),
          db({ name: "two", path: "b.db" }),
          db({ name: "three", path: "c.db", tokenFile: "${CREDENTIALS_DIRECTORY}/sensors-token" }),
        ],
        http: { host: "0.0.0.0", port: 8787, tokenFile: "http-token" },
      }),
      FILE,
      {
        env: {
          SENSOR_TOKEN: ` ${TOKEN}\n`,
          SQLITE_SYNC_TOKEN: TOKEN,
          CREDENTIALS_DIRECTORY: creds,
        },
      },
    );
    assert.deepEqual(config.databases.map((d) => [d.credentialSource, d.credential]), [
      [{ kind: "token", from: "env:SENSOR_TOKEN" }, TOKEN],
      [{ kind: "token", from: "env:SQLITE_SYNC_TOKEN" }, TOKEN],
      [{ kind: "token", from: `file:${join(creds, "sensors-token")}` }, TOKEN],
    ]);
    assert.equal(config.http.token, TOKEN);
    assert.equal(config.http.port, 8787);
  });
});

describe("sqlite-sync daemon with bad input (child processes)", () => {
  const cases: [string, string[], RegExp][] = [
    ["no --config", ["daemon"], /missing --config <file>/],
    [
      "an unknown flag",
      ["daemon", "--config", FILE, "--verbose"],
      /unknown (flag|option) '?--verbose/,
    ],
    [
      "a missing config file",
      ["daemon", "--config", join(dir.path, "none.jsonc")],
      /none\.jsonc: not found/,
    ],
    ["malformed JSON", ["daemon", "--config", "@bad-json"], /line 2, column \d+: /],
    [
      "a bad cron",
      ["daemon", "--config", "@bad-cron"],
      /'databases\[0\]\.cron' must be a 5- or 6-field/,
    ],
    ["a world-readable key file", ["daemon", "--config", "@open-key"], /is readable by every user/],
    [
      "an inline API key",
      ["daemon", "--config", "@inline-key"],
      /unknown key 'databases\[0\]\.apiKey'/,
    ],
  ];
  const files: Record<string, string> = {
    "bad-json": `{\n  "databases": [ { "path": "a.db" "databaseId": "x" } ]\n}`,
    "bad-cron": cfg({}, [db({ cron: "61 * * * *", apiKeyFile: "key" })]),
    "open-key": cfg({}, [db({ apiKeyFile: "open-key" })]),
    "inline-key": cfg({}, [db({ apiKey: API_KEY })]),
  };
  for (const [name, text] of Object.entries(files)) {
    writeFileSync(join(dir.path, `${name}.jsonc`), text);
  }

  for (const [what, args, pattern] of cases) {
    it(`exits 2 with one stderr line for ${what}`, { timeout: 60_000 }, async () => {
      const argv = args.map((a) => (a.startsWith("@") ? join(dir.path, `${a.slice(1)}.jsonc`) : a));
      const [, , config] = argv;
      const r = await run(daemonArgv(config ?? "").slice(0, -3).concat(argv), {
        env: { SQLITE_SYNC_API_KEY: undefined, SQLITE_SYNC_TOKEN: undefined },
      });
      assert.equal(r.code, 2, `${what}: ${r.stdout}${r.stderr}`);
      const lines = r.stderr.split("\n").filter((l) => l !== "");
      assert.equal(lines.length, 1, `${what}: ${r.stderr}`);
      assert.match(lines[0], /^sqlite-sync: /);
      assert.match(lines[0], pattern);
      assert.doesNotMatch(r.stderr, /\bat .*:\d+:\d+/, "no stack trace");
      assert.equal(r.stdout, "", "nothing logged before the config is valid");
      assert.ok(!(r.stdout + r.stderr).includes(API_KEY), "the key never appears");
    });
  }
});

// The temp dir holds only small files; it is removed when the process ends.
process.on("exit", () => dir.cleanup());
