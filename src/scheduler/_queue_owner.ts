/**
 * Lease owners, the `<host>:<pid>:<random>` strings a queue's lease records:
 * making one for this process, reading its pid, and telling whether its
 * processes are certainly gone (so its lease is taken over before expiry).
 *
 * @module
 */
import { hostname } from "node:os";
import process from "node:process";
import { isProcessAlive } from "../../ffi/lock.ts";

let localHost: string | undefined;

/**
 * This host's name, as lease owners carry it (read once).
 *
 * @returns The name, or `""` when it cannot be read (Deno without `--allow-sys`).
 */
export function localHostName(): string {
  if (localHost === undefined) {
    try {
      localHost = hostname();
    } catch {
      localHost = ""; // Deno without --allow-sys
    }
  }
  return localHost;
}

/**
 * A fresh lease owner for this process: `<host>:<pid>:<random>`.
 *
 * @returns The owner string.
 *
 * @example Usage
 * ```ts
 * import { makeOwner } from "./_queue_owner.ts";
 * console.log(makeOwner()); // e.g. "edge-7:4242:9f3c01ab"
 * ```
 */
export function makeOwner(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(4));
  const random = [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
  return `${localHostName() || "unknown-host"}:${process.pid}:${random}`;
}

/**
 * Tells whether a lease owner, and its executor when given, are certainly
 * gone: the owner names this host and neither its pid nor `executorPid`
 * exists. Unknown hosts, live or unreadable pids (EPERM, no permission) count
 * as alive: their lease must expire instead.
 *
 * @param owner A {@linkcode makeOwner} string.
 * @param executorPid The pid of the owner's executor, on the owner's host.
 * @returns `true` only when those processes certainly do not exist.
 *
 * @example Usage
 * ```ts
 * import process from "node:process";
 * import { isOwnerGone, makeOwner } from "./_queue_owner.ts";
 * console.log(isOwnerGone(makeOwner()), isOwnerGone(makeOwner(), process.pid)); // false false
 * ```
 */
export function isOwnerGone(owner: string, executorPid?: number): boolean {
  const match = /^(.*):(\d+):[^:]*$/.exec(owner);
  if (match === null) return false;
  const host = localHostName();
  const gone = (pid: number) => isProcessAlive(pid) === false;
  return host !== "" && match[1] === host && gone(Number(match[2])) &&
    (executorPid === undefined || gone(executorPid));
}

/**
 * The pid in a `<host>:<pid>:<random>` owner string, if any.
 *
 * @param owner A {@linkcode makeOwner} string.
 * @returns The pid, or `undefined` when the string has none.
 */
export function pidOf(owner: string): number | undefined {
  const match = /:(\d+):[^:]*$/.exec(owner);
  return match === null ? undefined : Number(match[1]);
}
