/**
 * A cross-process lock file: created with `open(path, "wx")`, holding the
 * holder's pid, host and time. A lock whose holder is dead (same host) or that
 * is older than `staleMs` is taken over. Waiters poll with a short backoff.
 *
 * @module
 */
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, statSync, writeSync } from "node:fs";
import { dirname } from "node:path";
import { hostname } from "node:os";
import process from "node:process";

/** What a lock file holds. */
export interface LockInfo {
  /** The holder's process id. */
  pid: number;
  /** The holder's host name. */
  host: string;
  /** When it was taken, in ms since the epoch. */
  time: number;
  /** A random token, so a holder only ever removes its own lock. */
  token: string;
}

/** Options of {@linkcode acquireLock}. */
export interface LockOptions {
  /**
   * A lock older than this is taken over even when its holder seems alive.
   * @default {600000}
   */
  staleMs?: number;
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
}

/** A held lock. */
export interface LockHandle {
  /** The lock file. */
  readonly path: string;
  /** Removes the lock file if it is still this holder's. Idempotent. */
  release(): void;
  /** Same as {@linkcode LockHandle.release}. */
  [Symbol.dispose](): void;
}

/**
 * Tells whether a process is alive on this host.
 *
 * @param pid The process id.
 * @returns `false` only when the process certainly does not exist.
 *
 * @example Usage
 * ```ts
 * import process from "node:process";
 * import { isProcessAlive } from "./lock.ts";
 * console.log(isProcessAlive(process.pid)); // true
 * ```
 */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as { code?: string }).code !== "ESRCH";
  }
}

/**
 * Tells whether a lock may be taken over: its holder is dead on this host, or
 * it is older than `staleMs`. An unreadable lock (being written) is stale
 * only when its file is older than `staleMs`.
 *
 * @param info The lock's content, `undefined` when unreadable.
 * @param mtimeMs The lock file's modification time.
 * @param staleMs The age after which any lock is stale.
 * @param now The current time.
 * @returns `true` when the lock may be taken over.
 *
 * @example Usage
 * ```ts
 * import { isLockStale } from "./lock.ts";
 * console.log(isLockStale(undefined, 0, 600_000, 700_000)); // true
 * ```
 */
export function isLockStale(
  info: LockInfo | undefined,
  mtimeMs: number,
  staleMs: number,
  now: number = Date.now(),
): boolean {
  if (!info) return now - mtimeMs > staleMs;
  if (now - info.time > staleMs) return true;
  return info.host === hostname() && !isProcessAlive(info.pid);
}

/**
 * Takes a lock file, waiting while another live process holds it.
 *
 * @param path The lock file (its directory must exist).
 * @param options Staleness, polling, and a check that may end the wait.
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
  const { staleMs = 600_000, pollMs = 20, maxPollMs = 250, whileWaiting } = options;
  let delay = pollMs;
  for (;;) {
    const handle = tryCreate(path);
    if (handle) return handle;
    if (takeOverIfStale(path, staleMs)) continue;
    if (whileWaiting && await whileWaiting()) return undefined;
    await new Promise((resolve) => setTimeout(resolve, delay));
    delay = Math.min(maxPollMs, Math.ceil(delay * 1.5));
  }
}

function tryCreate(path: string): LockHandle | undefined {
  const info: LockInfo = {
    pid: process.pid,
    host: hostname(),
    time: Date.now(),
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
  let released = false;
  const release = (): void => {
    if (released) return;
    released = true;
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
function takeOverIfStale(path: string, staleMs: number): boolean {
  let mtimeMs: number;
  try {
    mtimeMs = statSync(path).mtimeMs;
  } catch {
    return true; // Released meanwhile.
  }
  const info = readLock(path);
  if (!isLockStale(info, mtimeMs, staleMs)) return false;
  // Re-read right before removing, so a lock another waiter just re-created is kept.
  if (readLock(path)?.token !== info?.token) return false;
  rmSync(path, { force: true });
  return true;
}
