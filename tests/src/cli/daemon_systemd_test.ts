/**
 * `sqlite-sync daemon` under systemd's notify protocol, over a real Unix datagram socket (a
 * python3 receiver, at a path and at an abstract address): READY=1 once started, the watchdog
 * fed at half WATCHDOG_USEC, STOPPING=1 on SIGTERM; exit 1 with one line at start when a
 * watchdog is configured and NOTIFY_SOCKET cannot be used.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { join } from "node:path";
import process from "node:process";
import { itUnless, ROOT } from "../../_helpers.ts";
import { createTable, Wakeups } from "./_daemon_harness.ts";
import { daemonSuite, GRACE_MS, TABLE } from "./_daemon_fixtures.ts";

const { dir, database, writeConfig, startDaemon } = daemonSuite();

const python = spawnSync("python3", ["-c", "import socket; socket.AF_UNIX"]).status === 0;
const noPython = python ? undefined : "python3 (the Unix datagram receiver) is not installed";
const RECEIVER = join(ROOT, "tests", "src", "cli", "_daemon_notify_receiver.py");

/**
 * A python3 Unix datagram socket that prints each message as a JSON line; `until()` re-checks a
 * condition on the messages as each arrives.
 */
async function receiver(address: string): Promise<{
  messages: string[];
  stop(): void;
  proc: ChildProcess;
  until(holds: () => boolean, timeoutMs: number, what: string): Promise<boolean>;
}> {
  const proc = spawn("python3", [RECEIVER, address], { stdio: ["pipe", "pipe", "inherit"] });
  const messages: string[] = [];
  const arrived = new Wakeups();
  let buffer = "";
  let ready: () => void;
  const bound = new Promise<void>((r) => (ready = r));
  proc.stdout!.setEncoding("utf8");
  proc.stdout!.on("data", (chunk: string) => {
    buffer += chunk;
    let i;
    while ((i = buffer.indexOf("\n")) >= 0) {
      const line = buffer.slice(0, i);
      buffer = buffer.slice(i + 1);
      if (line === "BOUND") ready();
      else messages.push(JSON.parse(line));
    }
    arrived.notify();
  });
  proc.on("close", () => arrived.end("the receiver exited"));
  await bound;
  return {
    messages,
    proc,
    stop: () => proc.kill("SIGKILL"),
    until: (holds, timeoutMs, what) => arrived.until(holds, timeoutMs, what),
  };
}

describe("sqlite-sync daemon under systemd's notify protocol", () => {
  for (const [label, address] of [["a socket path", "path"], ["an abstract address", "abstract"]]) {
    itUnless(
      noPython,
      `sends READY=1, feeds the watchdog at half WATCHDOG_USEC and sends STOPPING=1 (${label})`,
      { timeout: 120_000 },
      async () => {
        const socket = address === "path"
          ? join(dir.path, "notify.sock")
          : `@sqlite-sync-test-${process.pid}-${Date.now()}`;
        const rx = await receiver(socket);
        try {
          await createTable(join(dir.path, `notify-${address}.db`), TABLE);
          const file = writeConfig(`notify-${address}.jsonc`, {
            databases: [database(`notify-${address}`)],
            stopGraceMs: GRACE_MS,
          });
          const daemon = startDaemon(file, { NOTIFY_SOCKET: socket, WATCHDOG_USEC: "600000" });
          await daemon.waitFor((l) => l.event === "systemd.ready");
          await rx.until(
            () => rx.messages.filter((m) => m === "WATCHDOG=1").length >= 3,
            10_000,
            "3 WATCHDOG=1",
          );
          const exit = await daemon.signal("SIGTERM");
          assert.equal(exit.code, 0, daemon.stderr);
          await rx.until(
            () => rx.messages.some((m) => m.startsWith("STOPPING=1")),
            5_000,
            "STOPPING=1",
          );
          assert.equal(rx.messages[0], "STATUS=starting");
          const ready = rx.messages.findIndex((m) => m.startsWith("READY=1\nSTATUS="));
          assert.ok(ready > 0, JSON.stringify(rx.messages));
          assert.match(
            rx.messages[ready],
            /STATUS=1 of 1 database\(s\) running; http 127\.0\.0\.1:\d+/,
          );
          assert.ok(rx.messages.indexOf("WATCHDOG=1") > ready, "the watchdog is fed after READY=1");
        } finally {
          rx.stop();
        }
      },
    );
  }

  it(
    "exits 1 at start with one line when a watchdog is configured and NOTIFY_SOCKET cannot be used",
    {
      timeout: 60_000,
    },
    async () => {
      const file = writeConfig("no-notify.jsonc", { databases: [database("nonotify")] });
      const daemon = startDaemon(file, {
        NOTIFY_SOCKET: join(dir.path, "nobody-listens.sock"),
        WATCHDOG_USEC: "2000000",
      });
      const exit = await daemon.exited;
      assert.equal(exit.code, 1, daemon.stdout + daemon.stderr);
      const lines = daemon.stderr.trim().split("\n");
      assert.equal(lines.length, 1, daemon.stderr);
      assert.match(
        lines[0],
        /^sqlite-sync: systemd watchdog configured \(WATCHDOG_USEC=2000000\) but NOTIFY_SOCKET cannot be used: .*ENOENT/,
      );
    },
  );
});
