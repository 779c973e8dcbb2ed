import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { acquireLock, isLockStale, isProcessAlive } from "../../ffi/lock.ts";
import { tempDir } from "../_helpers.ts";

const DEAD_PID = 2_147_483_646;

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = tempDir("sqlite-sync-lock-");
  try {
    await fn(dir.path);
  } finally {
    dir.cleanup();
  }
}

describe("acquireLock()", () => {
  it("acquireLock() creates the lock file with pid, host and time, and release() removes it", async () => {
    await withDir(async (dir) => {
      const path = join(dir, "x.lock");
      const lock = await acquireLock(path);
      assert.ok(lock);
      const info = JSON.parse(readFileSync(path, "utf8"));
      assert.equal(info.pid, process.pid);
      assert.equal(info.host, hostname());
      assert.ok(Math.abs(Date.now() - info.time) < 5000);
      lock.release();
      lock.release();
      assert.ok(!existsSync(path));
    });
  });

  it("acquireLock() waits while a live holder keeps the lock, polling with backoff", async () => {
    await withDir(async (dir) => {
      const path = join(dir, "x.lock");
      const first = await acquireLock(path);
      assert.ok(first);
      let polls = 0;
      setTimeout(() => first.release(), 150);
      const started = Date.now();
      const second = await acquireLock(path, { whileWaiting: () => (polls++, false) });
      assert.ok(second);
      assert.ok(Date.now() - started >= 140);
      assert.ok(polls >= 2 && polls < 20, `polls: ${polls}`);
      second.release();
    });
  });

  it("acquireLock() stops waiting when whileWaiting() returns true", async () => {
    await withDir(async (dir) => {
      const path = join(dir, "x.lock");
      const first = await acquireLock(path);
      assert.equal(await acquireLock(path, { whileWaiting: () => true }), undefined);
      first?.release();
    });
  });

  it("acquireLock() takes over a lock whose holder process is dead", async () => {
    await withDir(async (dir) => {
      const path = join(dir, "x.lock");
      writeFileSync(
        path,
        JSON.stringify({ pid: DEAD_PID, host: hostname(), time: Date.now(), token: "t" }),
      );
      const lock = await acquireLock(path, { whileWaiting: () => assert.fail("should not wait") });
      assert.equal(JSON.parse(readFileSync(path, "utf8")).pid, process.pid);
      lock?.release();
    });
  });

  it("acquireLock() takes over a lock older than staleMs even if its holder lives", async () => {
    await withDir(async (dir) => {
      const path = join(dir, "x.lock");
      const old = Date.now() - 11 * 60_000;
      writeFileSync(
        path,
        JSON.stringify({ pid: process.pid, host: hostname(), time: old, token: "t" }),
      );
      const lock = await acquireLock(path, { whileWaiting: () => assert.fail("should not wait") });
      assert.ok(lock);
      lock.release();
    });
  });

  it("acquireLock() recreates its directory when it was removed meanwhile", async () => {
    await withDir(async (dir) => {
      const path = join(dir, "gone", "x.lock");
      const lock = await acquireLock(path);
      assert.ok(lock && existsSync(path));
      lock.release();
      rmSync(join(dir, "gone"), { recursive: true });
    });
  });

  it("release() leaves a lock that another process has taken over", async () => {
    await withDir(async (dir) => {
      const path = join(dir, "x.lock");
      const lock = await acquireLock(path);
      const foreign = JSON.stringify({
        pid: DEAD_PID,
        host: "elsewhere",
        time: Date.now(),
        token: "other",
      });
      writeFileSync(path, foreign);
      lock?.release();
      assert.equal(readFileSync(path, "utf8"), foreign);
    });
  });
});

describe("isLockStale() and isProcessAlive()", () => {
  const now = 1_000_000_000;
  it("isLockStale() is true for a dead local holder or an old lock, false for a live or remote one", () => {
    const info = (pid: number, host: string, time = now) => ({ pid, host, time, token: "t" });
    assert.equal(isLockStale(info(process.pid, hostname()), now, 600_000, now), false);
    assert.equal(isLockStale(info(DEAD_PID, hostname()), now, 600_000, now), true);
    assert.equal(isLockStale(info(DEAD_PID, "other-host"), now, 600_000, now), false);
    assert.equal(
      isLockStale(info(process.pid, hostname(), now - 600_001), now, 600_000, now),
      true,
    );
  });

  it("isLockStale() judges an unreadable lock by its file age", () => {
    assert.equal(isLockStale(undefined, now - 1000, 600_000, now), false);
    assert.equal(isLockStale(undefined, now - 600_001, 600_000, now), true);
  });

  it("isProcessAlive() knows this process and a pid that cannot exist", () => {
    assert.equal(isProcessAlive(process.pid), true);
    assert.equal(isProcessAlive(DEAD_PID), false);
  });
});
