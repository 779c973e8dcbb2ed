// Smoke test of examples/iot_daemon/ (Deno and Bun each run it): the sensor
// writer and the daemon, with the example's own config (rewritten only for the
// paths, a refused-port address and a free HTTP port; its key comes through
// ${CREDENTIALS_DIRECTORY} as under systemd's LoadCredential=), for a few
// seconds: /healthz answers, readings are written and queued (unsent changes
// > 0 in /status), SIGTERM exits 0. The unit file is checked for what the
// example promises and by `systemd-analyze verify`. The README's "Try it
// locally" block runs exactly as written (bash, from the checkout, with local.jsonc).
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect, createServer } from "node:net";
import { delimiter, join, sep } from "node:path";
import process from "node:process";
import { parse as parseJsonc } from "jsonc-parser";
import { parseConfig } from "../../src/cli/config.ts";
import { API_KEY, FORMS } from "../_canary.ts";
import {
  itUnless,
  refusedPort,
  ROOT,
  run,
  runtimeArgv,
  SKIP_LOG_ENV,
  tempDir,
  testExtensionPath,
} from "../_helpers.ts";
import { daemonArgv, DaemonChild, get, writeSecret } from "../src/cli/_daemon_harness.ts";

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

  it("local.jsonc validates: no account, an address on a closed loopback port, the status app on 127.0.0.1:8787 without a token", () => {
    const config = parseConfig(
      readFileSync(join(EXAMPLE, "local.jsonc"), "utf8"),
      join(EXAMPLE, "local.jsonc"),
      { env: { SQLITE_SYNC_API_KEY: "dummy" } },
    );
    const [sensors] = config.databases;
    assert.equal(sensors.path, "/tmp/sqlite-sync-iot/sensors.db");
    assert.equal(sensors.address, "http://127.0.0.1:9");
    assert.deepEqual(sensors.tables, ["readings"]);
    assert.deepEqual(sensors.credentialSource, { kind: "apiKey", from: "env:SQLITE_SYNC_API_KEY" });
    assert.equal(config.http.host, "127.0.0.1");
    assert.equal(config.http.port, 8787);
    assert.equal(config.http.token, undefined);
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
      const status = await daemon.until(
        async () => {
          // Between attempts, not during one (a log line may wake this while a retry runs).
          const s = JSON.parse((await get(port, "/status")).text).databases[0];
          return s.status?.unsentChanges > 0 && s.status.state !== "syncing" ? s : undefined;
        },
        30_000,
        "unsent changes in /status, between attempts",
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

// ---- README.md, "Try it locally" ----------------------------------------------------

const README = join(EXAMPLE, "README.md");
/** What the block and local.jsonc use: the status app's port, the closed address, the folder. */
const STATUS_PORT = 8787;
const CLOSED_PORT = 9;
const SCRATCH = "/tmp/sqlite-sync-iot";

/** The fenced blocks of a Markdown text, with their info string. */
function fences(markdown: string): { lang: string; body: string; at: number }[] {
  const blocks: { lang: string; body: string; at: number }[] = [];
  const re = /^```([^\n]*)\n([\s\S]*?)^```$/gm;
  for (let m; (m = re.exec(markdown));) blocks.push({ lang: m[1].trim(), body: m[2], at: m.index });
  return blocks;
}

/** The first ```sh block under the "## Try it locally" heading. */
function tryItLocally(): string {
  const text = readFileSync(README, "utf8");
  const start = text.search(/^## Try it locally/m);
  assert.ok(start >= 0, "README.md has a '## Try it locally' section");
  const next = text.slice(start + 1).search(/^## /m);
  const end = next < 0 ? text.length : start + 1 + next;
  const block = fences(text).find((b) => b.lang === "sh" && b.at > start && b.at < end);
  assert.ok(block, "the 'Try it locally' section has a sh block");
  return block.body;
}

function bashSyntax(script: string): { status: number | null; stderr: string } {
  const r = spawnSync("bash", ["-n"], { input: script });
  return { status: r.status, stderr: String(r.stderr) };
}

/** Fails naming the port when something already listens on 127.0.0.1:`port`. */
async function assertPortFree(port: number, why: string): Promise<void> {
  const server = createServer();
  const error = await new Promise<Error | undefined>((resolve) => {
    server.once("error", resolve);
    server.listen(port, "127.0.0.1", () => resolve(undefined));
  });
  if (error === undefined) await new Promise((resolve) => server.close(resolve));
  else {
    assert.fail(
      `port ${port} on 127.0.0.1 is in use (${(error as { code?: string }).code}): ${why}; ` +
        `stop what listens there and run the test again`,
    );
  }
}

/** Fails naming the port when a connection to 127.0.0.1:`port` is not refused. */
async function assertPortRefused(port: number, why: string): Promise<void> {
  const code = await new Promise<string>((resolve) => {
    const socket = connect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      resolve("connected");
    });
    socket.once("error", (err: Error & { code?: string }) => resolve(err.code ?? String(err)));
  });
  assert.equal(code, "ECONNREFUSED", `127.0.0.1:${port} must refuse connections (${why})`);
}

/** Whether any process is left in the process group `pgid`. */
function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Ends every process of the group `pgid` (the block's own group), if any is left. */
function killGroup(pgid: number): void {
  try {
    process.kill(-pgid, "SIGKILL");
  } catch {
    // Already empty.
  }
}

/**
 * The processes left in the group `pgid`, one per line (empty when none). Zombies do not
 * count: they have ended, and where PID 1 does not reap orphans they linger.
 */
function leftInGroup(pgid: number): string {
  if (!groupAlive(pgid)) return "";
  const r = spawnSync("ps", ["-e", "-o", "pid=,pgid=,stat=,args="]);
  if (r.status !== 0) return `(the group is not empty, and ps could not list it)`;
  return String(r.stdout)
    .split("\n")
    .filter((l) => {
      const [, group, stat] = l.trim().split(/\s+/);
      return group === String(pgid) && !stat.startsWith("Z");
    })
    .join("\n");
}

describe("examples/iot_daemon/README.md", () => {
  it("uses only the sh, jsonc, ini and text fences, and every sh block passes bash -n", () => {
    for (const block of fences(readFileSync(README, "utf8"))) {
      assert.ok(["sh", "jsonc", "ini", "text"].includes(block.lang), `fence '${block.lang}'`);
      if (block.lang !== "sh") continue;
      const r = bashSyntax(block.body);
      assert.equal(r.status, 0, `bash -n:\n${r.stderr}\n${block.body}`);
    }
  });

  it(
    "'Try it locally' runs as written: the readings stay queued (offline, unsent changes > 0), and its last line stops everything it started",
    { timeout: 180_000 },
    async () => {
      const block = tryItLocally();
      await assertPortFree(STATUS_PORT, "the README's daemon serves its status app there");
      await assertPortRefused(CLOSED_PORT, "local.jsonc's address must be a closed port");
      const created = !existsSync(SCRATCH);
      // A shell as a newcomer has it: deno not on PATH (the block adds node_modules/.bin itself).
      const path = (process.env.PATH ?? "").split(delimiter)
        .filter((d) => !d.endsWith(`${sep}node_modules${sep}.bin`))
        .join(delimiter);
      const env: Record<string, string | undefined> = {
        ...process.env,
        [SKIP_LOG_ENV]: undefined,
        PATH: path,
        // The suite's extension instead of a download; no credential of the developer's.
        SQLITE_SYNC_EXTENSION_PATH: extension,
        SQLITE_SYNC_API_KEY: undefined,
        SQLITE_SYNC_TOKEN: undefined,
        NO_COLOR: "1",
      };
      for (const [k, v] of Object.entries(env)) if (v === undefined) delete env[k];
      // Its own process group, so that whatever the block leaves behind can be found and ended.
      const child = spawn("bash", ["-c", block], {
        cwd: ROOT,
        env: env as Record<string, string>,
        stdio: ["ignore", "pipe", "pipe"],
        detached: true,
      });
      const pgid = child.pid!;
      let stdout = "";
      let stderr = "";
      child.stdout!.on("data", (d) => (stdout += d));
      child.stderr!.on("data", (d) => (stderr += d));
      let timer: ReturnType<typeof setTimeout> | undefined;
      try {
        const exit = await new Promise<{ code: number | null; signal: string | null }>(
          (resolve, reject) => {
            child.once("error", reject);
            child.once("exit", (code, signal) => resolve({ code, signal }));
            timer = setTimeout(() => killGroup(pgid), 150_000);
          },
        );
        clearTimeout(timer);
        const shown = `exit ${
          exit.code ?? exit.signal
        }\n--- stdout\n${stdout}\n--- stderr\n${stderr}`;
        // Nothing may outlive the block: its last line stops the sensor and the daemon.
        const left = leftInGroup(pgid);
        assert.equal(left, "", `processes left running after the block:\n${left}\n${shown}`);
        assert.equal(exit.code, 0, shown);
        assert.equal(stderr, "", shown);

        const lines = stdout.trim().split("\n");
        assert.equal(lines.length, 2, shown);
        assert.equal(JSON.parse(lines[0]).event, "reading", shown);
        const status = JSON.parse(lines[1]);
        // The promise: the sync failed as 'offline' and the readings stay queued. The state is
        // 'offline' between retries, 'syncing' only for the milliseconds a retry runs.
        assert.equal(status.lastError, "offline", shown);
        assert.ok(status.unsentChanges > 0, shown);
        assert.ok(["offline", "backing-off", "syncing"].includes(status.state), shown);
        console.log(`iot README: ${lines[1]}`);

        const log = readFileSync(join(SCRATCH, "daemon.log"), "utf8").trim().split("\n")
          .map((l) => JSON.parse(l));
        assert.equal(log.at(-1)?.event, "daemon.stopped", "the daemon stopped gracefully");
        assert.ok(log.some((l) => l.event === "sync.failed" && l.error?.kind === "offline"));
        assert.ok(!readFileSync(join(SCRATCH, "daemon.log"), "utf8").includes("dummy"));
      } finally {
        clearTimeout(timer);
        killGroup(pgid);
        if (created) rmSync(SCRATCH, { recursive: true, force: true });
      }
    },
  );
});
