/**
 * The daemon's config file refused: a table of bad configs, each answered by parseConfig() with
 * one UsageError line naming the key path and what is expected, and never a secret. The file is
 * JSON with comments validated with valibot; beyond the schema, a non-loopback http.host needs
 * tokenFile or "public": true, nesting is limited before parsing, ${NAME} in paths must be set
 * and not empty, and one database file listed twice (symlink, hard link, ./a.db) is refused.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { MAX_DEPTH, parseConfig } from "../../../src/cli/config.ts";
import { UsageError } from "../../../src/cli/_usage.ts";
import { API_KEY, TOKEN } from "../../_canary.ts";
import { BAD_CREDENTIALS, cfg, configFolder, db, ENV, nested } from "./_config_fixtures.ts";

const { FILE } = configFolder();

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
  ...BAD_CREDENTIALS,
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
});
