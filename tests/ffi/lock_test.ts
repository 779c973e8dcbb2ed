import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  existsSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import process from "node:process";
import {
  acquireLock,
  isLockStale,
  isProcessAlive,
  type LockClock,
  removeStaleLock,
} from "../../ffi/lock.ts";
import { tempDir } from "../_helpers.ts";

const DEAD_PID = 2_147_483_646;

/**
 * A clock the test drives: `sleep(ms)` advances the time at once (recording `ms`) and
 * runs the lease timers that fall due on the way, so waits and leases are exact.
 */
function fakeClock(start = Date.now()): LockClock & {
  slept: number[];
  advance(ms: number): void;
} {
  let now = start;
  const timers = new Set<{ every: number; next: number; fn: () => void }>();
  const slept: number[] = [];
  const advance = (ms: number) => {
    const end = now + ms;
    for (;;) {
      const due = [...timers].filter((t) => t.next <= end).sort((a, b) => a.next - b.next)[0];
      if (!due) break;
      now = due.next;
      due.next += due.every;
      due.fn();
    }
    now = end;
  };
  return {
    slept,
    advance,
    now: () => now,
    sleep: async (ms) => {
      slept.push(ms);
      advance(ms);
      await Promise.resolve();
    },
    every: (ms, fn) => {
      const timer = { every: ms, next: now + ms, fn };
      timers.add(timer);
      return () => void timers.delete(timer);
    },
  };
}

/** Sets a file's modification time, in ms since the epoch. */
function touch(path: string, ms: number): void {
  utimesSync(path, ms / 1000, ms / 1000);
}

async function withDir(fn: (dir: string) => Promise<void> | void): Promise<void> {
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
      const lock = await acquireLock(path, { clock: fakeClock(1_700_000_000_000) });
      assert.ok(lock);
      const info = JSON.parse(readFileSync(path, "utf8"));
      assert.equal(info.pid, process.pid);
      assert.equal(info.host, hostname());
      assert.equal(info.time, 1_700_000_000_000);
      lock.release();
      lock.release();
      assert.ok(!existsSync(path));
    });
  });

  it("acquireLock() waits while a live holder keeps the lock, polling with a backoff capped at maxPollMs", async () => {
    await withDir(async (dir) => {
      const path = join(dir, "x.lock");
      const clock = fakeClock();
      const first = await acquireLock(path, { clock });
      assert.ok(first);
      let polls = 0;
      const second = await acquireLock(path, {
        clock,
        // The holder lets go during the 10th wait.
        whileWaiting: () => {
          if (++polls === 10) first.release();
          return false;
        },
      });
      assert.ok(second);
      assert.equal(polls, 10);
      // ×1.5 from pollMs (20), rounded up, capped at maxPollMs (250); then the lock was free.
      assert.deepEqual(clock.slept, [20, 30, 45, 68, 102, 153, 230, 250, 250, 250]);
      second.release();
      assert.ok(!existsSync(path));
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

describe("lock leases", () => {
  it("acquireLock() takes over a lock whose lease lapsed even though its pid looks alive", async () => {
    await withDir(async (dir) => {
      const path = join(dir, "x.lock");
      // A crashed holder whose pid was reused (or cannot be checked): alive by pid, silent by mtime.
      const then = Date.now() - 20_000;
      writeFileSync(
        path,
        JSON.stringify({ pid: process.pid, host: hostname(), time: then, token: "t" }),
      );
      utimesSync(path, then / 1000, then / 1000);
      const lock = await acquireLock(path, { whileWaiting: () => assert.fail("should not wait") });
      assert.ok(lock);
      assert.notEqual(JSON.parse(readFileSync(path, "utf8")).token, "t");
      lock.release();
    });
  });

  it("acquireLock() renews its lease every leaseMs, so a waiter does not take over a live holder's lock", async () => {
    await withDir(async (dir) => {
      const path = join(dir, "x.lock");
      const clock = fakeClock();
      const holder = await acquireLock(path, { leaseMs: 40, clock });
      assert.ok(holder);
      // The file looks a minute old until the holder's next renewal, one lease later.
      touch(path, clock.now() - 60_000);
      clock.advance(39);
      assert.equal(Math.round(clock.now() - statSync(path).mtimeMs), 60_039);
      clock.advance(1);
      assert.equal(Math.round(statSync(path).mtimeMs), clock.now(), "the holder touched the lock");
      // A waiter that would take over a lease lapsed for 120 ms waits 25 leases and gives up.
      const started = clock.now();
      let polls = 0;
      const waiter = await acquireLock(path, {
        leaseMs: 40,
        clock,
        whileWaiting: () => (polls++, clock.now() - started >= 1000),
      });
      assert.equal(waiter, undefined, "the waiter gave up instead of taking over");
      assert.ok(polls > 5, `polls: ${polls}`);
      holder.release();
      assert.ok(!existsSync(path));
    });
  });

  it("acquireLock() takes over a silent holder's lock once its lease lapsed (3 × leaseMs), not before", async () => {
    await withDir(async (dir) => {
      const path = join(dir, "x.lock");
      const clock = fakeClock();
      const started = clock.now();
      // Alive by pid, but never renews: a hung holder.
      writeFileSync(
        path,
        JSON.stringify({ pid: process.pid, host: hostname(), time: started, token: "hung" }),
      );
      touch(path, started);
      const polled: number[] = [];
      const lock = await acquireLock(path, {
        leaseMs: 40,
        clock,
        whileWaiting: () => (polled.push(clock.now() - started), false),
      });
      assert.ok(lock);
      // Polled at 0, 20, 50 and 95 ms (lease not lapsed); at 163 ms (> 120) it took over.
      assert.deepEqual(polled, [0, 20, 50, 95]);
      assert.equal(clock.now() - started, 163);
      assert.notEqual(JSON.parse(readFileSync(path, "utf8")).token, "hung");
      lock.release();
    });
  });
});

describe("removeStaleLock()", () => {
  const lock = (token: string): string =>
    JSON.stringify({ pid: DEAD_PID, host: hostname(), time: 0, token });

  it("removeStaleLock() removes the lock that was judged stale and leaves nothing behind", async () => {
    await withDir((dir) => {
      const path = join(dir, "x.lock");
      writeFileSync(path, lock("stale"));
      assert.equal(removeStaleLock(path, { token: "stale" }), true);
      assert.deepEqual(readdirSync(dir), []);
    });
  });

  it("removeStaleLock() keeps a fresh lock that another waiter created after the judgement", async () => {
    await withDir((dir) => {
      const path = join(dir, "x.lock");
      // The stale lock was judged, then another waiter replaced it with its own.
      writeFileSync(path, lock("fresh"));
      assert.equal(removeStaleLock(path, { token: "stale" }), false);
      assert.equal(readFileSync(path, "utf8"), lock("fresh"));
      assert.deepEqual(readdirSync(dir), ["x.lock"]);
    });
  });

  it("removeStaleLock() removes an unreadable lock only while it is still the same file", async () => {
    await withDir((dir) => {
      const path = join(dir, "x.lock");
      writeFileSync(path, "");
      const ino = statSync(path).ino;
      assert.equal(removeStaleLock(path, { ino }), true);
      assert.deepEqual(readdirSync(dir), []);
      writeFileSync(path, lock("fresh"));
      assert.equal(removeStaleLock(path, { ino }), false);
      assert.equal(readFileSync(path, "utf8"), lock("fresh"));
    });
  });

  it("removeStaleLock() reports a lock already gone", async () => {
    await withDir((dir) => {
      assert.equal(removeStaleLock(join(dir, "x.lock"), { token: "t" }), false);
    });
  });
});

describe("isLockStale() and isProcessAlive()", () => {
  const now = 1_000_000_000;
  const info = (pid: number, host: string, time = now) => ({ pid, host, time, token: "t" });

  it("isLockStale() is true for a dead local holder or an old lock, false for a live or remote one", () => {
    assert.equal(isLockStale(info(process.pid, hostname()), now, { now }), false);
    assert.equal(isLockStale(info(DEAD_PID, hostname()), now, { now }), true);
    assert.equal(isLockStale(info(DEAD_PID, "other-host"), now, { now }), false);
    assert.equal(
      isLockStale(info(process.pid, hostname(), now - 600_001), now, { staleMs: 600_000, now }),
      true,
    );
  });

  it("isLockStale() is true once the lease lapsed (3 × leaseMs), whatever the pid says", () => {
    const fresh = now - 14_000;
    const lapsed = now - 15_001;
    assert.equal(isLockStale(info(process.pid, hostname()), fresh, { leaseMs: 5000, now }), false);
    assert.equal(isLockStale(info(process.pid, hostname()), lapsed, { leaseMs: 5000, now }), true);
    assert.equal(isLockStale(info(process.pid, "other-host"), lapsed, { now }), true);
  });

  it("isLockStale() judges an unreadable lock by its lease", () => {
    assert.equal(isLockStale(undefined, now - 1000, { now }), false);
    assert.equal(isLockStale(undefined, now - 15_001, { now }), true);
  });

  it("isProcessAlive() knows this process and a pid that cannot exist", () => {
    assert.equal(isProcessAlive(process.pid), true);
    assert.equal(isProcessAlive(DEAD_PID), false);
  });
});
