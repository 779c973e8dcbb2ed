/**
 * The daemon's config file: JSON with comments validated with valibot, read by parseConfig()
 * (defaults, relative paths, credentials from files and variables, hosts, ${NAME} expanded, a
 * UTF-8 BOM skipped, the nesting limit, symlinked folders), and the daemon's answer to bad
 * input end to end in child processes: exit 2 with one line, no secret echoed. The table of bad
 * configs is config_refusals_test.ts's part.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { isLoopback } from "../../../common/hosts.ts";
import { DEFAULT_HOST, loadConfig, MAX_DEPTH, parseConfig } from "../../../src/cli/config.ts";
import { MAX_SECRET_LENGTH } from "../../../src/cli/_secret_file.ts";
import { API_KEY, TOKEN } from "../../_canary.ts";
import { run } from "../../_helpers.ts";
import { daemonArgv, writeSecret } from "./_daemon_harness.ts";
import { cfg, configFolder, db, ENV } from "./_config_fixtures.ts";

const { dir, FILE } = configFolder();

describe("parseConfig()", () => {
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
