/**
 * `sqlite-sync daemon` in child processes of the running runtime (Deno and Bun each run this
 * file): start → /healthz → SIGHUP reloads (added database, then a bad config that keeps the
 * old one) → SIGTERM stops every service and exits 0 without the forced exit, also while a sync
 * is blocked on a listener that never answers (how long that takes: bench/latency_bench.ts); a
 * database whose extension cannot be resolved is reported, not fatal; a taken port is one
 * line; the daemon's helpers (its logger, restart key, watchdog). Network fixtures: a refused
 * port and a listener that never answers only. systemd's notify protocol is
 * daemon_systemd_test.ts's part, the compiled ARM64 binary daemon_arm64_test.ts's.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { join } from "node:path";
import { Logger } from "../../../src/cli/_log.ts";
import { restartKey } from "../../../src/cli/_daemon_slot.ts";
import { watchdogUsec } from "../../../src/cli/_notify.ts";
import { API_KEY, TOKEN } from "../../_canary.ts";
import { listen } from "../../_helpers.ts";
import {
  createTable,
  type DaemonChild,
  get,
  guard,
  type LogLine,
  writeSecret,
} from "./_daemon_harness.ts";
import { assertNoSecret, daemonSuite, GRACE_MS, TABLE } from "./_daemon_fixtures.ts";

const { dir, database, writeConfig, startDaemon } = daemonSuite();

/**
 * The daemon's stop after a signal sent when its log had `mark` lines: `daemon.stopping`,
 * then `service.stopped` for each of `databases`, then `daemon.stopped`, and never
 * `daemon.stop-forced` (the daemon's own guard, at the grace period + 500 ms).
 */
function assertStoppedInOrder(child: DaemonChild, mark: number, databases: string[]): void {
  const after = child.lines.slice(mark);
  const at = (match: (l: LogLine) => boolean, what: string) => {
    const i = after.findIndex(match);
    assert.ok(i >= 0, `no ${what} after the signal:\n${child.stdout}`);
    return i;
  };
  const stopping = at((l) => l.event === "daemon.stopping", "daemon.stopping");
  const stopped = at((l) => l.event === "daemon.stopped", "daemon.stopped");
  for (const name of databases) {
    const service = at(
      (l) => l.event === "service.stopped" && l.database === name,
      `service.stopped for ${name}`,
    );
    assert.ok(stopping < service && service < stopped, `out of order:\n${child.stdout}`);
  }
  assert.equal(after.find((l) => l.event === "daemon.stop-forced"), undefined, child.stdout);
}

describe("sqlite-sync daemon", () => {
  it(
    "starts, answers /healthz, reloads on SIGHUP (and keeps the old config when the new one is bad), on SIGTERM stops its service and exits 0 (no forced exit)",
    { timeout: 120_000 },
    async () => {
      for (const name of ["alpha", "beta"]) await createTable(join(dir.path, `${name}.db`), TABLE);
      const config = {
        databases: [database("alpha")],
        http: { host: "127.0.0.1", port: 0, tokenFile: "http-token" },
        stopGraceMs: GRACE_MS,
      };
      const file = writeConfig("reload.jsonc", config);
      const daemon = startDaemon(file);
      const port = await daemon.port();
      await daemon.waitFor((l) => l.event === "service.started" && l.database === "alpha");
      const health = await daemon.until<{ status: number; text: string }>(
        async () => {
          const r = await get(port, "/healthz");
          return r.status === 200 ? r : undefined;
        },
        30_000,
        "/healthz 200",
      );
      // Liveness holds; the database has not synced yet, so it is degraded, not ok.
      assert.match(health.text, /^1 degraded\n"alpha": degraded: /);
      // The refused port makes every sync fail: logged with the database's name.
      await daemon.waitFor((l) => l.event === "sync.failed" && l.database === "alpha");

      // SIGHUP with a second database.
      writeConfig("reload.jsonc", { ...config, databases: [database("alpha"), database("beta")] });
      let mark = daemon.lines.length;
      daemon.send("SIGHUP");
      const reloaded = await daemon.waitFor((l) => l.event === "config.reloaded", { from: mark });
      assert.deepEqual(reloaded.added, ["beta"]);
      assert.deepEqual(reloaded.restarted, []);
      await daemon.waitFor((l) => l.event === "service.started" && l.database === "beta", {
        from: mark,
      });
      const status = JSON.parse((await get(port, "/status")).text);
      assert.deepEqual(status.databases.map((d: { name: string }) => d.name), ["alpha", "beta"]);

      // SIGHUP with a bad config: logged, nothing changes.
      writeFileSync(
        file,
        `{ "databases": [ { "path": "alpha.db", "databaseId": "x", "cron": "sometimes" } ] }`,
      );
      mark = daemon.lines.length;
      daemon.send("SIGHUP");
      const rejected = await daemon.waitFor((l) => l.event === "config.rejected", { from: mark });
      assert.match(
        (rejected.error as { message: string }).message,
        /'databases\[0\]\.cron' must be/,
      );
      const still = JSON.parse((await get(port, "/status")).text);
      assert.equal(still.databases.length, 2);

      // SIGHUP that removes beta, changes alpha's schedule (a restart) and rotates the key file.
      writeConfig("reload.jsonc", {
        ...config,
        databases: [database("alpha", { intervalMs: 30_000 })],
      });
      writeSecret(join(dir.path, "api-key"), API_KEY.toUpperCase());
      mark = daemon.lines.length;
      daemon.send("SIGHUP");
      const changed = await daemon.waitFor((l) => l.event === "config.reloaded", { from: mark });
      assert.deepEqual([changed.removed, changed.restarted], [["beta"], ["alpha"]]);
      await daemon.waitFor((l) => l.event === "service.started" && l.database === "alpha", {
        from: mark,
      });
      assert.deepEqual(
        JSON.parse((await get(port, "/status")).text).databases.map((d: { name: string }) =>
          d.name
        ),
        ["alpha"],
      );
      // The key alone changes: handed to the running service, no restart.
      writeSecret(join(dir.path, "api-key"), API_KEY);
      mark = daemon.lines.length;
      daemon.send("SIGHUP");
      const rotated = await daemon.waitFor((l) => l.event === "config.reloaded", { from: mark });
      assert.deepEqual([rotated.restarted, rotated.credentialUpdated], [[], ["alpha"]]);

      // POST /sync with the token from the file works (the sync fails: refused port).
      const sync = await fetch(`http://127.0.0.1:${port}/sync?database=alpha`, {
        method: "POST",
        headers: { Authorization: `Bearer ${TOKEN}` },
      });
      assert.equal(sync.status, 502);
      assert.equal((await sync.json()).results[0].error.kind, "offline");

      mark = daemon.lines.length;
      const exit = await daemon.signal("SIGTERM");
      assert.equal(exit.code, 0, daemon.stderr);
      assertStoppedInOrder(daemon, mark, ["alpha"]);
      assert.equal(daemon.stderr, "");
      for (const line of daemon.lines) {
        assert.notEqual(line.event, "unparsed", JSON.stringify(line));
      }
      assertNoSecret(daemon);
    },
  );

  it(
    "SIGTERM while a sync is blocked on a listener that never answers (300 s request time-out): the service's stop ends it (service.stopped, no forced exit) and the daemon exits 0",
    { timeout: 120_000 },
    async () => {
      const sockets: Socket[] = [];
      let connected = () => {};
      const connection = new Promise<void>((resolve) => (connected = resolve));
      const silent: Server = createServer((s) => {
        sockets.push(s);
        s.on("error", () => {});
        connected();
      });
      const port = await listen(silent);
      try {
        await createTable(join(dir.path, "blocked.db"), TABLE);
        const file = writeConfig("blocked.jsonc", {
          databases: [
            database("blocked", { address: `http://127.0.0.1:${port}`, requestTimeoutS: 300 }),
          ],
          stopGraceMs: GRACE_MS,
        });
        const daemon = startDaemon(file);
        // The start-up sync is in its request once it started and the listener holds its connection.
        await daemon.waitFor((l) => l.event === "sync.started" && l.database === "blocked", {
          timeoutMs: 60_000,
        });
        await guard(connection, "the sync's connection on the listener", 60_000);
        const mark = daemon.lines.length;
        const exit = await daemon.signal("SIGTERM");
        assert.equal(exit.code, 0, daemon.stderr);
        assertStoppedInOrder(daemon, mark, ["blocked"]);
        // The request was still hanging when the daemon exited: nothing answered or ended it.
        assert.equal(
          daemon.lines.slice(0, mark).find((l) =>
            l.event === "sync.failed" || l.event === "sync.succeeded"
          ),
          undefined,
        );
        assertNoSecret(daemon);
      } finally {
        for (const s of sockets) s.destroy();
        silent.close();
      }
    },
  );

  it(
    "reports a database whose extension cannot be resolved on /healthz as degraded (its start retried) and keeps serving",
    {
      timeout: 120_000,
    },
    async () => {
      const file = writeConfig("unresolved.jsonc", {
        databases: [database("lost")],
        stopGraceMs: GRACE_MS,
      });
      const daemon = startDaemon(file, {
        SQLITE_SYNC_EXTENSION_PATH: join(dir.path, "no-such-extension.so"),
      });
      const port = await daemon.port();
      const failed = await daemon.waitFor((l) => l.event === "service.start-failed");
      assert.equal(failed.database, "lost");
      // Liveness holds (a restart cannot bring the extension); the database is degraded: its start
      // is retried with back-off, and the line names the error.
      const health = await get(port, "/healthz");
      assert.equal(health.status, 200);
      assert.match(health.text, /"lost": degraded: backing off.*could not start/);
      const mark = daemon.lines.length;
      const exit = await daemon.signal("SIGTERM");
      assert.equal(exit.code, 0, daemon.stderr);
      assert.ok(daemon.lines.slice(mark).some((l) => l.event === "daemon.stopped"), daemon.stdout);
      assert.ok(!daemon.lines.some((l) => l.event === "daemon.stop-forced"), daemon.stdout);
    },
  );

  it("exits 1 with one line when the HTTP port is taken", { timeout: 60_000 }, async () => {
    const busy = createServer();
    const port = await listen(busy);
    try {
      const file = writeConfig("busy.jsonc", { databases: [database("busy")], http: { port } });
      const daemon = startDaemon(file);
      const exit = await daemon.exited;
      assert.equal(exit.code, 1, daemon.stdout + daemon.stderr);
      const lines = daemon.stderr.trim().split("\n");
      assert.equal(lines.length, 1, daemon.stderr);
      assert.match(
        lines[0],
        new RegExp(`^sqlite-sync: cannot listen on 127\\.0\\.0\\.1:${port} \\(EADDRINUSE\\)`),
      );
    } finally {
      busy.close();
    }
  });
});

describe("daemon helpers", () => {
  it("Logger writes one JSON object per line, honours the level and scrubs registered secrets", () => {
    const lines: string[] = [];
    const log = new Logger("info", (l) => lines.push(l));
    log.setSecrets([API_KEY]);
    log.debug("hidden");
    log.warn("leak", { message: `key=${API_KEY} url=${encodeURIComponent(API_KEY)}` });
    assert.equal(lines.length, 1);
    assert.ok(lines[0].endsWith("\n"));
    const parsed = JSON.parse(lines[0]);
    assert.equal(parsed.event, "leak");
    assert.equal(parsed.level, "warn");
    assert.ok(!lines[0].includes(API_KEY));
  });

  it("restartKey() ignores the credential: a rotated key is handed over, not restarted", () => {
    const base = {
      name: "a",
      path: "/a.db",
      databaseId: "x",
      credentialSource: { kind: "apiKey" as const, from: "file:/k" },
      credential: "one",
      tables: [],
    };
    assert.equal(restartKey(base), restartKey({ ...base, credential: "two" }));
    assert.notEqual(restartKey(base), restartKey({ ...base, intervalMs: 5000 }));
  });

  it("watchdogUsec() follows sd_watchdog_enabled: WATCHDOG_PID must be ours", () => {
    assert.equal(watchdogUsec({ WATCHDOG_USEC: "2000000" }, 10), 2_000_000);
    assert.equal(watchdogUsec({ WATCHDOG_USEC: "2000000", WATCHDOG_PID: "10" }, 10), 2_000_000);
    assert.equal(watchdogUsec({ WATCHDOG_USEC: "2000000", WATCHDOG_PID: "11" }, 10), 0);
    assert.equal(watchdogUsec({ WATCHDOG_USEC: "soon" }, 10), 0);
    assert.equal(watchdogUsec({}, 10), 0);
  });
});
