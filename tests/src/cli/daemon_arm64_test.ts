/**
 * The single-file ARM64 daemon (`bun build --compile --target=bun-linux-arm64`) under qemu, built
 * and run once, from Bun (the binary is the same whichever runtime runs the tests): it prints
 * its version, and where no arm64 extension binary is reachable it serves /healthz naming the
 * database as degraded and exits 0 on SIGTERM.
 */
import { describe } from "node:test";
import assert from "node:assert/strict";
import { closeSync, existsSync, openSync, readSync, statSync } from "node:fs";
import { join } from "node:path";
import { itUnless, RUNTIME } from "../../_helpers.ts";
import { createTable, DaemonChild, get } from "./_daemon_harness.ts";
import { ARM64_MISSING, buildDaemon, QEMU } from "./_daemon_arm64.ts";
import { assertNoSecret, daemonSuite, GRACE_MS, TABLE } from "./_daemon_fixtures.ts";

/** The ELF machine of a file (183 = aarch64, 62 = x86-64). */
function elfMachine(path: string): number {
  const fd = openSync(path, "r");
  const head = new Uint8Array(20);
  readSync(fd, head, 0, 20, 0);
  closeSync(fd);
  return head[18] | (head[19] << 8);
}

// The compiled binary is the same whichever runtime runs the tests: built and run once, from Bun.
if (RUNTIME === "bun") {
  const suite = daemonSuite();
  const { dir, children, database, writeConfig } = suite;

  describe("the single-file ARM64 daemon (bun build --compile --target=bun-linux-arm64) under qemu", () => {
    const binary = () => join(dir.path, "sqlite-sync-arm64");

    itUnless(ARM64_MISSING, "builds an aarch64 executable that prints its version", {
      timeout: 300_000,
    }, async () => {
      await buildDaemon(binary(), "bun-linux-arm64");
      assert.equal(elfMachine(binary()), 183, "ELF machine aarch64");
      console.log(`arm64 binary: ${(statSync(binary()).size / 1e6).toFixed(1)} MB`);
      const daemon = new DaemonChild([QEMU!, binary(), "--version"]);
      children.push(daemon);
      const exit = await daemon.exited;
      assert.equal(exit.code, 0, daemon.stderr);
      assert.match(daemon.stdout, /^sqlite-sync \d+\.\d+\.\d+ \(cloudsync 1\.1\.4\)/);
    });

    // No arm64 extension binary is reachable here: each case ends where that binary is needed,
    // and the daemon must report it and keep serving.
    const cases: [string, Record<string, string>, RegExp][] = [
      [
        "offline with an empty cache: resolution for linux-arm64 fails",
        { SQLITE_SYNC_OFFLINE: "1", SQLITE_SYNC_CACHE_DIR: "@cache" },
        /not-found: the service could not start .*linux-arm64/,
      ],
      [
        "given the x86-64 extension: the executor Worker (embedded entry) opens the database and SQLite refuses the load",
        { SQLITE_SYNC_EXTENSION_PATH: "@x64" },
        /load: the service could not start .*SQLite refused to load the sqlite-sync extension/,
      ],
    ];
    for (const [what, env, pattern] of cases) {
      itUnless(
        ARM64_MISSING,
        `serves /healthz (200, naming the database as degraded, its start failing) and exits 0 on SIGTERM (daemon.stopped, no forced exit): ${what}`,
        {
          timeout: 300_000,
        },
        async () => {
          if (!existsSync(binary())) await buildDaemon(binary(), "bun-linux-arm64");
          await createTable(join(dir.path, "pi.db"), TABLE);
          const file = writeConfig("arm64.jsonc", {
            databases: [database("pi", { cron: "* * * * *", intervalMs: undefined })],
            stopGraceMs: GRACE_MS,
          });
          const resolved: Record<string, string> = {};
          for (const [k, v] of Object.entries(env)) {
            resolved[k] = v === "@cache"
              ? join(dir.path, "empty-cache")
              : v === "@x64"
              ? suite.extension
              : v;
          }
          const started = performance.now();
          const daemon = new DaemonChild([QEMU!, binary(), "daemon", "--config", file], {
            SQLITE_SYNC_EXTENSION_PATH: undefined,
            ...resolved,
          });
          children.push(daemon);
          const port = await daemon.port(120_000);
          const failed = await daemon.waitFor((l) => l.event === "service.start-failed", {
            timeoutMs: 120_000,
          });
          assert.equal(failed.database, "pi");
          const health = await get(port, "/healthz");
          console.log(
            `arm64 under qemu: /healthz after ${(performance.now() - started).toFixed(0)} ms: ${
              health.text.split("\n")[1]?.slice(0, 160)
            }`,
          );
          assert.equal(health.status, 200);
          assert.match(health.text, /"pi": degraded: /);
          assert.match(health.text, pattern);
          const mark = daemon.lines.length;
          const exit = await daemon.signal("SIGTERM");
          console.log(`arm64 under qemu: SIGTERM → exit ${exit.code} in ${exit.ms.toFixed(0)} ms`);
          assert.equal(exit.code, 0, daemon.stderr);
          assert.ok(daemon.lines.slice(mark).some((l) => l.event === "daemon.stopped"));
          assert.ok(!daemon.lines.some((l) => l.event === "daemon.stop-forced"), daemon.stdout);
          assertNoSecret(daemon);
        },
      );
    }
  });
}
