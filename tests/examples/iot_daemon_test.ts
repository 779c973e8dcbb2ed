// Smoke test of examples/iot_daemon/ (Deno and Bun each run it): the sensor
// writer and the daemon, with the example's own config (rewritten only for the
// paths, a refused-port address and a free HTTP port; its key comes through
// ${CREDENTIALS_DIRECTORY} as under systemd's LoadCredential=), for a few
// seconds: /healthz answers, readings are written and queued (unsent changes
// > 0 in /status), SIGTERM exits 0. The unit file is checked for what the
// example promises and by `systemd-analyze verify`.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parse as parseJsonc } from "jsonc-parser";
import { parseConfig } from "../../src/cli/config.ts";
import { API_KEY, FORMS } from "../_canary.ts";
import {
  itUnless,
  refusedPort,
  ROOT,
  run,
  runtimeArgv,
  tempDir,
  testExtensionPath,
} from "../_helpers.ts";
import { daemonArgv, DaemonChild, get, until, writeSecret } from "../src/cli/_daemon_harness.ts";

const EXAMPLE = join(ROOT, "examples", "iot_daemon");
const GRACE_MS = 2000;

let dir: ReturnType<typeof tempDir>;
let extension = "";
let configFile = "";
let creds = "";
const daemons: DaemonChild[] = [];

before(async () => {
  extension = await testExtensionPath();
  dir = tempDir("sqlite-sync-iot-");
  creds = join(dir.path, "credentials");
  mkdirSync(creds);
  writeSecret(join(creds, "sensors-api-key"), API_KEY, 0o400);
  writeSecret(join(creds, "http-token"), "local-http-token-for-the-test", 0o400);
  const example = parseJsonc(readFileSync(join(EXAMPLE, "sqlite-sync.jsonc"), "utf8"));
  const db = example.databases[0];
  db.path = join(dir.path, "sensors.db");
  db.address = `http://127.0.0.1:${await refusedPort()}`;
  example.http.port = 0;
  example.stopGraceMs = GRACE_MS;
  configFile = join(dir.path, "sqlite-sync.jsonc");
  writeFileSync(configFile, JSON.stringify(example, null, 2));
});
after(() => {
  for (const d of daemons) d.kill();
  dir?.cleanup();
});

describe("examples/iot_daemon", () => {
  it("its config validates and syncs the readings table every minute", () => {
    const config = parseConfig(
      readFileSync(join(EXAMPLE, "sqlite-sync.jsonc"), "utf8"),
      "/etc/sqlite-sync/x.jsonc",
      {
        env: { CREDENTIALS_DIRECTORY: creds },
      },
    );
    const [sensors] = config.databases;
    assert.equal(sensors.cron, "* * * * *");
    assert.deepEqual(sensors.tables, ["readings"]);
    assert.equal(sensors.path, "/var/lib/sqlite-sync/sensors.db");
    assert.deepEqual(sensors.credentialSource, {
      kind: "apiKey",
      from: `file:${creds}/sensors-api-key`,
    });
    assert.equal(config.http.host, "127.0.0.1");
  });

  it(
    "the sensor writes readings, the daemon serves /healthz and queues them against a refused port, SIGTERM exits 0",
    { timeout: 180_000 },
    async () => {
      const env = { SQLITE_SYNC_EXTENSION_PATH: extension };
      const sensor = (count: number) =>
        run(
          runtimeArgv(join(EXAMPLE, "sensor.ts"), [
            join(dir.path, "sensors.db"),
            "--every",
            "100",
            "--count",
            String(count),
          ]),
          { env, timeoutMs: 120_000 },
        );
      // The sensor creates the table and enables sync on it; then the daemon starts.
      const first = await sensor(5);
      assert.equal(first.code, 0, first.stderr);
      assert.equal(first.stdout.trim().split("\n").length, 5);
      const daemon = new DaemonChild(daemonArgv(configFile), {
        ...env,
        CREDENTIALS_DIRECTORY: creds,
        NOTIFY_SOCKET: undefined,
        WATCHDOG_USEC: undefined,
      });
      daemons.push(daemon);
      const port = await daemon.port();
      await daemon.waitFor((l) => l.event === "service.started" && l.database === "sensors");
      // More readings while the daemon runs (its change trigger tries to send them).
      const second = await sensor(3);
      assert.equal(second.code, 0, second.stderr);
      await daemon.waitFor((l) => l.event === "sync.failed" && l.database === "sensors");

      const health = await get(port, "/healthz");
      assert.equal(health.status, 200, health.text);
      const status = await until(
        async () => {
          const s = JSON.parse((await get(port, "/status")).text).databases[0];
          return s.status?.unsentChanges > 0 ? s : undefined;
        },
        30_000,
        "unsent changes in /status",
      );
      assert.equal(status.name, "sensors");
      assert.equal(status.status.state, "offline");
      assert.equal(status.status.lastError.kind, "offline");
      console.log(
        `iot example: state ${status.status.state}, unsent changes ${status.status.unsentChanges}`,
      );

      const count = spawnSync("python3", [
        "-c",
        "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('select count(*) from readings').fetchone()[0])",
        join(dir.path, "sensors.db"),
      ]);
      if (count.status === 0) assert.equal(Number(String(count.stdout).trim()), 8);

      const exit = await daemon.signal("SIGTERM");
      assert.equal(exit.code, 0, daemon.stderr);
      assert.ok(exit.ms < GRACE_MS + 1000, `exit took ${exit.ms} ms`);
      const all = (daemon.stdout + daemon.stderr).toLowerCase();
      for (const form of FORMS) assert.ok(!all.includes(form.toLowerCase()), "the API key leaked");
    },
  );

  it("its unit file: notify + watchdog, restart on failure but not on a bad config, a dedicated user, state and cache directories, credentials, no W^X ban", () => {
    const unit = readFileSync(join(EXAMPLE, "sqlite-sync.service"), "utf8");
    const keys = new Map<string, string[]>();
    for (const line of unit.split("\n")) {
      const m = /^([A-Za-z]+)=(.*)$/.exec(line);
      if (m) keys.set(m[1], [...(keys.get(m[1]) ?? []), m[2]]);
    }
    const one = (k: string) => keys.get(k)?.[0];
    assert.equal(one("Type"), "notify");
    assert.equal(one("NotifyAccess"), "main");
    assert.ok(Number(one("WatchdogSec")) > 0);
    assert.equal(one("Restart"), "on-failure");
    assert.equal(one("RestartPreventExitStatus"), "2");
    assert.equal(one("User"), "sqlite-sync");
    assert.equal(one("StateDirectory"), "sqlite-sync");
    assert.equal(one("CacheDirectory"), "sqlite-sync");
    assert.ok(keys.get("Environment")?.includes("SQLITE_SYNC_CACHE_DIR=/var/cache/sqlite-sync"));
    assert.deepEqual(keys.get("LoadCredential"), [
      "sensors-api-key:/etc/sqlite-sync/sensors-api-key",
      "http-token:/etc/sqlite-sync/http-token",
    ]);
    assert.match(
      one("ExecStart")!,
      /sqlite-sync daemon --config \/etc\/sqlite-sync\/sqlite-sync\.jsonc$/,
    );
    assert.equal(one("ExecReload"), "/bin/kill -HUP $MAINPID");
    assert.equal(keys.get("MemoryDenyWriteExecute"), undefined, "the JIT and FFI need W+X memory");
    const stopGraceMs = JSON.stringify(
      parseJsonc(readFileSync(join(EXAMPLE, "sqlite-sync.jsonc"), "utf8")).stopGraceMs,
    );
    assert.ok(
      Number(stopGraceMs) < Number(one("TimeoutStopSec")) * 1000,
      "the grace period fits TimeoutStopSec",
    );
  });

  const analyze = spawnSync("systemd-analyze", ["--version"]).status === 0
    ? undefined
    : "systemd-analyze is not installed";
  itUnless(
    analyze,
    "its unit file passes systemd-analyze verify",
    { timeout: 60_000 },
    async () => {
      const unit = readFileSync(join(EXAMPLE, "sqlite-sync.service"), "utf8")
        .replace(/^ExecStart=\/usr\/local\/bin\/sqlite-sync /m, "ExecStart=/bin/true ");
      const path = join(dir.path, "sqlite-sync.service");
      writeFileSync(path, unit);
      const r = await run(["systemd-analyze", "verify", path], { timeoutMs: 30_000 });
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.doesNotMatch(r.stderr, /sqlite-sync\.service:\d+: /, r.stderr);
    },
  );
});
