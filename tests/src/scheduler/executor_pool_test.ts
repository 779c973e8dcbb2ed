/**
 * The executor pool, for real (Workers or child processes with the real
 * extension, against a refused port or a listener that never answers):
 * databases share a bounded set of Workers, a hung database does not hold up
 * another, and a Worker or host process that dies is heard, replaced, and its
 * database reopened.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { refusedPort, ROOT, tempDir, testExtensionPath } from "../../_helpers.ts";
import { silentListener } from "../_error_servers.ts";
import { writeDirtyNotes } from "./_service_real.ts";
import { createExecutor, type Executor } from "../../../src/scheduler/executor.ts";
import { ExecutorPool } from "../../../src/scheduler/_executor_config.ts";
import type { ExecutorCrash } from "../../../src/scheduler/_executor_options.ts";
import type { SqliteSyncError } from "../../../common/errors.ts";
import { assertSyncError, KINDS, next, withExecutor } from "./_executor_fixtures.ts";

const HERE = join(ROOT, "tests", "src", "scheduler");
const FAKE_ENTRY = join(HERE, "_executor_fake_entry.ts");
const CRASHY_ENTRY = join(HERE, "_executor_crashy_entry.ts");

for (const kind of KINDS) {
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
