// The daemon's config file: JSON with comments validated with valibot. Every
// bad config is one line naming the key path and what is expected (a table,
// in process), and the command answers exit 2 with that one line (end to end
// in child processes). Secret files and variables are read, checked and never
// echoed. Beyond the schema: a non-loopback http.host needs tokenFile or
// "public": true; nesting is limited before parsing; a UTF-8 BOM is skipped;
// ${NAME} in paths is expanded (unset or empty: refused); one database file
// listed twice (symlink, hard link, ./a.db) is refused.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { linkSync, mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { isLoopback } from "../../../common/hosts.ts";
import { DEFAULT_HOST, loadConfig, MAX_DEPTH, parseConfig } from "../../../src/cli/config.ts";
import { MAX_SECRET_LENGTH } from "../../../src/cli/_secret_file.ts";
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
// Secrets that could not be sent as written; each holds a canary, so an echo is caught.
writeSecret(join(dir.path, "spaced-token"), `${TOKEN} ${API_KEY}`);
writeSecret(join(dir.path, "tab-token"), `${TOKEN}\t${API_KEY}`);
writeSecret(join(dir.path, "control-key"), `${API_KEY}\u0001`);
writeSecret(join(dir.path, "non-ascii-key"), `${API_KEY}é`);
writeSecret(join(dir.path, "long-key"), API_KEY + "x".repeat(MAX_SECRET_LENGTH));
writeSecret(join(dir.path, "huge-key"), API_KEY + "x".repeat(8 * MAX_SECRET_LENGTH));
writeSecret(join(dir.path, "bom-only"), "\uFEFF");
// One database file reached by several paths.
mkdirSync(join(dir.path, "data"));
writeFileSync(join(dir.path, "data", "y.db"), "");
symlinkSync(join(dir.path, "data"), join(dir.path, "data-link"));
symlinkSync(join(dir.path, "data", "y.db"), join(dir.path, "y-link.db"));
linkSync(join(dir.path, "data", "y.db"), join(dir.path, "z-hard.db"));
const ENV = { SQLITE_SYNC_API_KEY: API_KEY };
/** `{"databases": [{ … "tables": [[…]] }]}` nested `depth` levels in all. */
const nested = (depth: number) =>
  `{ "databases": [{ "path": "a.db", "databaseId": "db_1", "tables": ${"[".repeat(depth - 3)}${
    "]".repeat(depth - 3)
  } }] }`;

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
    /'databases\[1\]\.path' \S+\/a\.db is the same file as 'databases\[0\]\.path': list each/,
  ],
  [
    "same new file through a symlinked folder",
    cfg({}, [db({ name: "x", path: "data/new.db" }), db({ name: "y", path: "data-link/new.db" })]),
    ENV,
    /'databases\[1\]\.path' \S+data-link\/new\.db is the same file as 'databases\[0\]\.path' \(both reach \S+\/data\/new\.db\)/,
  ],
  [
    "same file through a symlink",
    cfg({}, [db({ name: "x", path: "y-link.db" }), db({ name: "y", path: "data/y.db" })]),
    ENV,
    /'databases\[1\]\.path' \S+\/data\/y\.db is the same file as 'databases\[0\]\.path' \(both reach/,
  ],
  [
    "same file through a hard link",
    cfg({}, [db({ name: "x", path: "data/y.db" }), db({ name: "y", path: "z-hard.db" })]),
    ENV,
    /'databases\[1\]\.path' \S+\/z-hard\.db is the same file as 'databases\[0\]\.path' \(a hard link to \S+\/data\/y\.db\)/,
  ],
  [
    "unset variable in path",
    cfg({}, [db({ path: "${STATE_DIRECTORY}/a.db" })]),
    ENV,
    /'databases\[0\]\.path' uses \$\{STATE_DIRECTORY\}, which is not set: run under systemd with StateDirectory=, or export STATE_DIRECTORY, or write the path without it/,
  ],
  [
    "empty variable in path",
    cfg({}, [db({ path: "${DATA}/a.db" })]),
    { ...ENV, DATA: "" },
    /'databases\[0\]\.path' uses \$\{DATA\}, which is empty \(that would make it another path\): export DATA/,
  ],
  [
    "unset variable in a key file",
    cfg({}, [db({ apiKeyFile: "${KEYS}/key" })]),
    ENV,
    /'databases\[0\]\.apiKeyFile' uses \$\{KEYS\}, which is not set: export KEYS/,
  ],
  [
    "unset variable in http.tokenFile",
    cfg({ http: { tokenFile: "${CREDENTIALS_DIRECTORY}/http-token" } }),
    ENV,
    /'http\.tokenFile' uses \$\{CREDENTIALS_DIRECTORY\}, which is not set: run under systemd with LoadCredential=/,
  ],
  [
    "a '${' that is no variable",
    cfg({}, [db({ path: "data/${1}.db" })]),
    ENV,
    /'databases\[0\]\.path' has a '\$\{' at character 6 that is not a variable reference: write \$\{NAME\}/,
  ],
  [
    "a variable in databaseId",
    cfg({}, [db({ databaseId: "${SQLITE_SYNC_DATABASE_ID}" })]),
    { ...ENV, SQLITE_SYNC_DATABASE_ID: "db_1" },
    /'databases\[0\]\.databaseId' must be a value without \$\{…\} \(variables are expanded only in path, apiKeyFile, tokenFile and http\.tokenFile\)/,
  ],
  [
    "a variable in address",
    cfg({}, [db({ address: "https://${HOST}/" })]),
    ENV,
    /'databases\[0\]\.address' must be a value without \$\{…\}/,
  ],
  [
    "a database entry that is a list",
    cfg({}, [[]]),
    ENV,
    /'databases\[0\]' must be an object \{ path, databaseId, … \}: got a list/,
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
  [
    "key file only a BOM",
    cfg({}, [db({ apiKeyFile: "bom-only" })]),
    ENV,
    /'databases\[0\]\.apiKeyFile' .* is empty: write the secret into it/,
  ],
  [
    "token file with a space",
    cfg({}, [db({ tokenFile: "spaced-token" })]),
    ENV,
    /'databases\[0\]\.tokenFile' \(\S+spaced-token\) has whitespace inside: keep only the secret in it, on one line$/,
  ],
  [
    "http token file with a tab",
    cfg({ http: { tokenFile: "tab-token" } }),
    ENV,
    /'http\.tokenFile' \(\S+tab-token\) has whitespace inside/,
  ],
  [
    "key file with a control character",
    cfg({}, [db({ apiKeyFile: "control-key" })]),
    ENV,
    /'databases\[0\]\.apiKeyFile' \(\S+control-key\) holds a character that is not printable ASCII/,
  ],
  [
    "key file with a non-ASCII letter",
    cfg({}, [db({ apiKeyFile: "non-ascii-key" })]),
    ENV,
    /'databases\[0\]\.apiKeyFile' \(\S+non-ascii-key\) holds a character that is not printable ASCII/,
  ],
  [
    "key file too long",
    cfg({}, [db({ apiKeyFile: "long-key" })]),
    ENV,
    /'databases\[0\]\.apiKeyFile' \(\S+long-key\) is longer than 8192 characters/,
  ],
  [
    "key file far too long (not read)",
    cfg({}, [db({ apiKeyFile: "huge-key" })]),
    ENV,
    /'databases\[0\]\.apiKeyFile' \(\S+huge-key\) is longer than 8192 characters/,
  ],
  [
    "env credential with a space",
    cfg({}, [db({ apiKeyEnv: "SENSOR_KEY" })]),
    { SENSOR_KEY: `${API_KEY} ${TOKEN}` },
    /'databases\[0\]\.apiKeyEnv' names SENSOR_KEY, whose value has whitespace inside: set it to the secret alone/,
  ],
  [
    "default env credential with a control character",
    cfg(),
    { SQLITE_SYNC_TOKEN: `${TOKEN}\u0007` },
    /'databases\[0\]' uses SQLITE_SYNC_TOKEN, whose value holds a character that is not printable ASCII/,
  ],
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
    /'http' must be an object \{ host, port, tokenFile\?, public\? \}: got 8080/,
  ],
  ["http a list", cfg({ http: [] }), ENV, /'http' must be an object \{ host, .*\}: got a list/],
  ["http a string", cfg({ http: "x" }), ENV, /'http' must be an object \{ host, .*\}: got "x"/],
  [
    "executors a list",
    cfg({ executors: [] }),
    ENV,
    /'executors' must be an object \{ kind\?, .*\}: got a list/,
  ],
  ...["0.0.0.0", "::", "192.168.1.20", "sensors.lan", "::ffff:127.0.0.1"].map((host) =>
    [
      `network host ${host} without a token`,
      cfg({ http: { host } }),
      ENV,
      new RegExp(
        `'http\\.host' "${host.replaceAll(".", "\\.")}" can be reached from the network and ` +
          `'http\\.tokenFile' is not set: add "tokenFile" .* or "public": true .* or listen on "127\\.0\\.0\\.1"$`,
      ),
    ] as [string, string, Record<string, string>, RegExp]
  ),
  [
    "network host with public false",
    cfg({ http: { host: "0.0.0.0", public: false } }),
    ENV,
    /'http\.host' "0\.0\.0\.0" can be reached from the network/,
  ],
  [
    "public not a boolean",
    cfg({ http: { host: "0.0.0.0", public: "yes" } }),
    ENV,
    /'http\.public' must be true or false: got "yes"/,
  ],
  [
    "host in brackets",
    cfg({ http: { host: "[::1]" } }),
    ENV,
    /'http\.host' must be an IP address or a host name such as "127\.0\.0\.1", "::1" or "localhost" \(no brackets, no port/,
  ],
  [
    "host with a port",
    cfg({ http: { host: "127.0.0.1:8080" } }),
    ENV,
    /'http\.host' must be an IP address or a host name/,
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
    "unknown http key (public is known)",
    cfg({ http: { open: true } }),
    ENV,
    /unknown key 'http\.open': known keys are host, port, tokenFile, public/,
  ],
  [
    "50,000 nested brackets",
    "[".repeat(50_000),
    ENV,
    /line 1, column 33: brackets nested deeper than 32 levels \(a valid config has at most 4\)/,
  ],
  [
    "nesting one level too deep",
    nested(MAX_DEPTH + 1),
    ENV,
    /line 1, column \d+: brackets nested deeper than 32 levels/,
  ],
  [
    // The deepest nesting allowed reaches the schema, which names the key.
    "nesting at the limit",
    nested(MAX_DEPTH),
    ENV,
    /'databases\[0\]\.tables\[0\]' must be a string \(a table name\): got a list/,
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
      public: false,
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
    assert.equal(config.http.public, false);
  });

  it('serves on a loopback host without a token, and on any host with "public": true', () => {
    const loopback = [
      "127.0.0.1",
      "127.8.9.10",
      "::1",
      "0:0:0:0:0:0:0:1",
      "localhost",
      "LOCALHOST",
    ];
    for (const host of loopback) {
      assert.equal(isLoopback(host), true, host);
      const config = parseConfig(cfg({ http: { host } }), FILE, { env: ENV });
      assert.deepEqual(config.http, {
        host,
        port: 0,
        public: false,
        tokenFile: undefined,
        token: undefined,
      });
    }
    const network = [
      "0.0.0.0",
      "::",
      "192.168.1.20",
      "128.0.0.1",
      "sensors.lan",
      "::ffff:127.0.0.1",
    ];
    for (const host of network) {
      assert.equal(isLoopback(host), false, host);
      const config = parseConfig(cfg({ http: { host, public: true } }), FILE, { env: ENV });
      assert.equal(config.http.host, host);
      assert.equal(config.http.public, true, host);
    }
    writeSecret(join(dir.path, "lan-token"), TOKEN);
    const config = parseConfig(
      cfg({ http: { host: "0.0.0.0", tokenFile: "lan-token" } }),
      FILE,
      { env: ENV },
    );
    assert.deepEqual(config.http, {
      host: "0.0.0.0",
      port: 0,
      public: false,
      tokenFile: join(dir.path, "lan-token"),
      token: TOKEN,
    });
  });

  it("expands ${NAME} in path, apiKeyFile, tokenFile and http.tokenFile", () => {
    const state = join(dir.path, "state");
    const creds = join(dir.path, "creds-vars");
    mkdirSync(creds, { recursive: true });
    writeSecret(join(creds, "api-key"), API_KEY);
    writeSecret(join(creds, "http-token"), TOKEN);
    const config = parseConfig(
      cfg({ http: { host: "0.0.0.0", tokenFile: "${CREDENTIALS_DIRECTORY}/http-token" } }, [
        db({
          path: "${STATE_DIRECTORY}/sensors.db",
          apiKeyFile: "${CREDENTIALS_DIRECTORY}/api-key",
        }),
        db({
          path: "${STATE_DIRECTORY}/${NAME}.db",
          tokenFile: "${CREDENTIALS_DIRECTORY}/http-token",
        }),
      ]),
      FILE,
      { env: { STATE_DIRECTORY: state, CREDENTIALS_DIRECTORY: creds, NAME: "kitchen" } },
    );
    assert.deepEqual(config.databases.map((d) => [d.name, d.path, d.credential]), [
      ["sensors", join(state, "sensors.db"), API_KEY],
      ["kitchen", join(state, "kitchen.db"), TOKEN],
    ]);
    assert.equal(config.http.tokenFile, join(creds, "http-token"));
    assert.equal(config.http.token, TOKEN);
  });

  it("skips a UTF-8 byte order mark, in the config file and in a secret file", () => {
    writeSecret(join(dir.path, "bom-key"), `\uFEFF${API_KEY}`);
    const file = join(dir.path, "bom.jsonc");
    const text = `// saved by an editor that writes a BOM\n${
      cfg({}, [db({ apiKeyFile: "bom-key" })])
    }`;
    writeFileSync(file, Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(text)]));
    const config = loadConfig(file, { env: {} });
    assert.equal(config.databases[0].credential, API_KEY);
    assert.equal(parseConfig(`\uFEFF${cfg()}`, FILE, { env: ENV }).databases.length, 1);
  });

  it("counts only real brackets toward the nesting limit (not those in strings or comments)", () => {
    const deep = "[".repeat(10 * MAX_DEPTH);
    const config = parseConfig(
      `// ${deep}\n/* ${"{".repeat(10 * MAX_DEPTH)} */\n` +
        cfg({}, [db({ name: "brackets", path: `${"[".repeat(40)}.db` })]),
      FILE,
      { env: ENV },
    );
    assert.equal(config.databases[0].path, join(dir.path, `${"[".repeat(40)}.db`));
  });

  it("accepts a secret of exactly MAX_SECRET_LENGTH printable characters", () => {
    writeSecret(join(dir.path, "max-key"), "k".repeat(MAX_SECRET_LENGTH));
    const config = parseConfig(cfg({}, [db({ apiKeyFile: "max-key" })]), FILE, { env: {} });
    assert.equal(config.databases[0].credential.length, MAX_SECRET_LENGTH);
  });

  it("lets two databases share a folder reached through a symlink when their files differ", () => {
    const config = parseConfig(
      cfg({}, [
        db({ name: "x", path: "data/one.db" }),
        db({ name: "y", path: "data-link/two.db" }),
      ]),
      FILE,
      { env: ENV },
    );
    // The path is kept as written (resolved, not the real path): it is what is opened and logged.
    assert.deepEqual(config.databases.map((d) => d.path), [
      join(dir.path, "data", "one.db"),
      join(dir.path, "data-link", "two.db"),
    ]);
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
    [
      "0.0.0.0 without a token file",
      ["daemon", "--config", "@open-host"],
      /'http\.host' "0\.0\.0\.0" can be reached from the network and 'http\.tokenFile' is not set/,
    ],
    [
      "50,000 nested brackets",
      ["daemon", "--config", "@deep"],
      /line 1, column 33: brackets nested deeper than 32 levels/,
    ],
    [
      "a token file with a space",
      ["daemon", "--config", "@spaced-token"],
      /'databases\[0\]\.tokenFile' \(\S+spaced-token\) has whitespace inside/,
    ],
  ];
  const files: Record<string, string> = {
    "bad-json": `{\n  "databases": [ { "path": "a.db" "databaseId": "x" } ]\n}`,
    "bad-cron": cfg({}, [db({ cron: "61 * * * *", apiKeyFile: "key" })]),
    "open-key": cfg({}, [db({ apiKeyFile: "open-key" })]),
    "inline-key": cfg({}, [db({ apiKey: API_KEY })]),
    "open-host": cfg({ http: { host: "0.0.0.0", port: 0 } }, [db({ apiKeyFile: "key" })]),
    "deep": "[".repeat(50_000),
    "spaced-token": cfg({}, [db({ tokenFile: "spaced-token" })]),
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
      for (const secret of [API_KEY, TOKEN]) {
        assert.ok(!(r.stdout + r.stderr).includes(secret), "no secret ever appears");
      }
    });
  }
});

// The temp dir holds only small files; it is removed when the process ends.
process.on("exit", () => dir.cleanup());
