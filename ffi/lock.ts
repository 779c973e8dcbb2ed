/**
 * A cross-process lock file: created with `open(path, "wx")`, holding the
 * holder's pid, host, time and a random token. While it holds the lock, the
 * holder renews a lease by touching the file's mtime every `leaseMs`. A lock
 * whose lease has lapsed (no renewal for 3 × `leaseMs`: its holder crashed or
 * hangs), whose holder is certainly dead (same host), or that is older than
 * `staleMs` is taken over — atomically: renamed aside, re-read, and only then
 * replaced. Waiters poll with a short backoff. Time, waits and the lease timer
 * come from a {@linkcode LockClock} (tests inject one; the default is the system's).
 *
 * @module
 */
import {
  closeSync,
  linkSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  utimesSync,
  writeSync,
} from "node:fs";
import { dirname } from "node:path";
import { hostname } from "node:os";
import process from "node:process";
import { clearInterval, setInterval } from "node:timers";

/** What a lock file holds. */
export interface LockInfo {
  /** The holder's process id. */
  pid: number;
  /** The holder's host name (`""` when the runtime may not read it). */
  host: string;
  /** When it was taken, in ms since the epoch. */
  time: number;
  /** A random token, so a holder only ever removes its own lock. */
  token: string;
}

/** The time source and timers of {@linkcode acquireLock}: the system's by default. */
export interface LockClock {
  /** The current time, in ms since the epoch. */
  now(): number;
  /** Resolves after `ms` milliseconds. */
  sleep(ms: number): Promise<void>;
  /**
   * Calls `fn` every `ms` milliseconds, without keeping the process alive for it.
   * @returns A function that stops the calls.
   */
  every(ms: number, fn: () => void): () => void;
}

/** The system clock: `Date.now()`, `setTimeout` and an unref'd `setInterval`. */
export const systemClock: LockClock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  every: (ms, fn) => {
    const timer = setInterval(fn, ms);
    // The lease must not keep a process alive that has nothing else to do.
    timer.unref();
    return () => clearInterval(timer);
  },
};

/** Options of {@linkcode acquireLock}. */
export interface LockOptions {
  /**
   * A lock older than this is taken over even when its holder seems alive.
   * @default {600000}
   */
  staleMs?: number;
  /**
   * The holder touches the lock file this often; a lock left untouched for three times as long
   * is taken over whatever its pid says (a crashed holder, or one whose liveness cannot be
   * checked, as in Deno without `--allow-run`).
   * @default {5000}
   */
  leaseMs?: number;
  /**
   * The first wait between polls; it grows ×1.5 up to `maxPollMs`.
   * @default {20}
   */
  pollMs?: number;
  /**
   * The longest wait between polls.
   * @default {250}
   */
  maxPollMs?: number;
  /**
   * Called between polls; returning `true` stops waiting (for example because
   * another process has already produced what the lock protects).
   */
  whileWaiting?: () => boolean | Promise<boolean>;
  /**
   * The time source and timers: lock times, staleness, waits between polls and
   * the lease renewal.
   * @default systemClock
   */
  clock?: LockClock;
}

/** How {@linkcode isLockStale} judges a lock. */
export interface StalenessOptions {
  /**
   * A lock whose recorded time is older than this is stale.
   * @default {600000}
   */
  staleMs?: number;
  /**
   * A lock whose file was not touched for 3 × `leaseMs` is stale.
   * @default {5000}
   */
  leaseMs?: number;
  /**
   * The current time.
   * @default {Date.now()}
   */
  now?: number;
}

/** A held lock. */
export interface LockHandle {
  /** The lock file. */
  readonly path: string;
  /** Stops renewing the lease and removes the lock file if it is still this holder's. Idempotent. */
  release(): void;
  /** Same as {@linkcode LockHandle.release}. */
  [Symbol.dispose](): void;
}

/**
 * Tells whether a process is alive on this host.
 *
 * @param pid The process id.
 * @returns `false` only when the process certainly does not exist (`ESRCH`), `true` when it
 * exists, `undefined` when this cannot be told (Deno without `--allow-run`, other errors).
 *
 * @example Usage
 * ```ts
 * import process from "node:process";
 * import { isProcessAlive } from "./lock.ts";
 * console.log(isProcessAlive(process.pid)); // true
 * ```
 */
export function isProcessAlive(pid: number): boolean | undefined {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    const code = (err as { code?: string }).code;
    return code === "ESRCH" ? false : code === "EPERM" ? true : undefined;
  }
}

let localHost: string | undefined;

/** This host's name, or `""` when the runtime may not read it (Deno without `--allow-sys`). */
function hostName(): string {
  if (localHost === undefined) {
    try {
      localHost = hostname();
    } catch {
      localHost = "";
    }
  }
  return localHost;
}

/**
 * Tells whether a lock may be taken over: its lease lapsed (the file was not
 * touched for 3 × `leaseMs`), it is older than `staleMs`, or its holder is
 * certainly dead on this host. An unreadable lock (being written) is judged by
 * its lease alone.
 *
 * @param info The lock's content, `undefined` when unreadable.
 * @param mtimeMs The lock file's modification time.
 * @param options The lease, the age limit and the current time.
 * @returns `true` when the lock may be taken over.
 *
 * @example Usage
 * ```ts
 * import { isLockStale } from "./lock.ts";
 * console.log(isLockStale(undefined, 0, { now: 20_000 })); // true
 * ```
 */
export function isLockStale(
  info: LockInfo | undefined,
  mtimeMs: number,
  options: StalenessOptions = {},
): boolean {
  const { staleMs = 600_000, leaseMs = 5000, now = Date.now() } = options;
  if (now - mtimeMs > 3 * leaseMs) return true;
  if (!info) return false;
  if (now - info.time > staleMs) return true;
  const host = hostName();
  return host !== "" && info.host === host && isProcessAlive(info.pid) === false;
}

/**
 * Takes a lock file, waiting while another live process holds it.
 *
 * @param path The lock file (its directory must exist).
 * @param options Staleness, lease, polling, and a check that may end the wait.
 * @returns The held lock, or `undefined` when `whileWaiting` returned `true`.
 * @throws {Error} the file-system error when the lock cannot be created (not `EEXIST`).
 *
 * @example Usage
 * ```ts ignore
 * import { acquireLock } from "./lock.ts";
 * using lock = await acquireLock("/tmp/x.lock");
 * ```
 */
export async function acquireLock(
  path: string,
  options: LockOptions = {},
): Promise<LockHandle | undefined> {
  const {
    staleMs = 600_000,
    leaseMs = 5000,
    pollMs = 20,
    maxPollMs = 250,
    whileWaiting,
    clock = systemClock,
  } = options;
  let delay = pollMs;
  for (;;) {
    const handle = tryCreate(path, leaseMs, clock);
    if (handle) return handle;
    if (takeOverIfStale(path, { staleMs, leaseMs, now: clock.now() })) continue;
    if (whileWaiting && await whileWaiting()) return undefined;
    await clock.sleep(delay);
    delay = Math.min(maxPollMs, Math.ceil(delay * 1.5));
  }
}

function tryCreate(path: string, leaseMs: number, clock: LockClock): LockHandle | undefined {
  const info: LockInfo = {
    pid: process.pid,
    host: hostName(),
    time: clock.now(),
    token: Math.random().toString(36).slice(2),
  };
  let fd: number;
  try {
    fd = openExclusive(path);
  } catch (err) {
    if ((err as { code?: string }).code === "EEXIST") return undefined;
    throw err;
  }
  try {
    writeSync(fd, JSON.stringify(info));
  } finally {
    closeSync(fd);
  }
  const stopRenewing = clock.every(leaseMs, () => {
    try {
      // Not ours at this instant (taken over, or briefly renamed aside by a waiter that will put
      // it back): skip this tick and keep renewing until release().
      if (readLock(path)?.token !== info.token) return;
      const now = new Date(clock.now());
      utimesSync(path, now, now);
    } catch {
      // Unwritable for now: the next tick tries again.
    }
  });
  let released = false;
  const release = (): void => {
    if (released) return;
    released = true;
    stopRenewing();
    if (readLock(path)?.token === info.token) rmSync(path, { force: true });
  };
  return { path, release, [Symbol.dispose]: release };
}

function openExclusive(path: string): number {
  try {
    return openSync(path, "wx");
  } catch (err) {
    if ((err as { code?: string }).code !== "ENOENT") throw err;
    // The directory was removed meanwhile (a failed download cleans up after itself): recreate it once.
    mkdirSync(dirname(path), { recursive: true });
    return openSync(path, "wx");
  }
}

function readLock(path: string): LockInfo | undefined {
  try {
    const info = JSON.parse(readFileSync(path, "utf8"));
    return typeof info?.pid === "number" && typeof info?.time === "number" ? info : undefined;
  } catch {
    return undefined;
  }
}

/** Removes a stale lock; `true` when the caller should try to create it again at once. */
function takeOverIfStale(path: string, options: StalenessOptions): boolean {
  let judged: { token?: string; ino?: number };
  try {
    const st = statSync(path);
    const info = readLock(path);
    if (!isLockStale(info, st.mtimeMs, options)) return false;
    judged = { token: info?.token, ino: st.ino };
  } catch {
    return true; // Released meanwhile.
  }
  removeStaleLock(path, judged);
  return true;
}

/**
 * Removes a lock judged stale without ever deleting a fresh one that another
 * waiter created in the meantime: the file is renamed aside (atomic), re-read,
 * and deleted only when it is still the lock that was judged — the same token,
 * or for an unreadable lock, still unreadable and the same inode. Otherwise it
 * is linked back into place (a link never overwrites, so a lock created since
 * is kept instead) and nothing is removed.
 *
 * @param path The lock file.
 * @param judged The token of the lock judged stale (`undefined` when it was unreadable) and its inode.
 * @returns `true` when the stale lock was removed; `false` when it was gone or had been replaced.
 * @throws {Error} the file-system error when the lock cannot be renamed (not `ENOENT`).
 *
 * @example Usage
 * ```ts ignore
 * import { removeStaleLock } from "./lock.ts";
 * removeStaleLock("/tmp/x.lock", { token: "abc" });
 * ```
 */
export function removeStaleLock(path: string, judged: { token?: string; ino?: number }): boolean {
  const aside = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}.stale`;
  try {
    renameSync(path, aside);
  } catch (err) {
    if ((err as { code?: string }).code === "ENOENT") return false;
    throw err;
  }
  const moved = readLock(aside);
  let same: boolean;
  if (judged.token !== undefined) {
    same = moved?.token === judged.token;
  } else {
    let ino: number | undefined;
    try {
      ino = statSync(aside).ino;
    } catch {
      ino = undefined;
    }
    same = moved === undefined && (!judged.ino || !ino || ino === judged.ino);
  }
  if (!same) {
    try {
      linkSync(aside, path);
    } catch {
      // A newer lock is in place (EEXIST), or the file system has no hard links.
    }
  }
  rmSync(aside, { force: true });
  return same;
}
