/**
 * Who holds the sync queue's lease, and whether that holder still lives; where
 * a database's queue file goes.
 *
 * @module
 */
import { hostname } from "node:os";
import process from "node:process";
import { isProcessAlive } from "../../ffi/lock.ts";

/**
 * The sidecar path of a database's queue.
 *
 * @param databasePath The synced database's path.
 * @returns `<databasePath>.sync-queue`, or `:memory:` for an in-memory database (not durable).
 *
 * @example Usage
 * ```ts
 * import { queuePathFor } from "./queue.ts";
 * console.log(queuePathFor("data/app.db")); // "data/app.db.sync-queue"
 * ```
 */
export function queuePathFor(databasePath: string): string {
  return databasePath === "" || databasePath === ":memory:"
    ? ":memory:"
    : `${databasePath}.sync-queue`;
}

let localHost: string | undefined;
function hostName(): string {
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
 * import { makeOwner } from "./queue.ts";
 * console.log(makeOwner()); // e.g. "edge-7:4242:9f3c01ab"
 * ```
 */
export function makeOwner(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(4));
  const random = [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
  return `${hostName() || "unknown-host"}:${process.pid}:${random}`;
}

/**
 * Tells whether a lease owner is certainly gone: it names this host and its
 * pid no longer exists. Unknown hosts, live or unreadable pids (EPERM, no
 * permission) count as alive: their lease must expire instead.
 *
 * @param owner A {@linkcode makeOwner} string.
 * @returns `true` only when the holder's process certainly does not exist.
 *
 * @example Usage
 * ```ts
 * import { isOwnerGone, makeOwner } from "./queue.ts";
 * console.log(isOwnerGone(makeOwner())); // false: this process is alive
 * ```
 */
export function isOwnerGone(owner: string): boolean {
  const match = /^(.*):(\d+):[^:]*$/.exec(owner);
  if (match === null) return false;
  const host = hostName();
  return host !== "" && match[1] === host && isProcessAlive(Number(match[2])) === false;
}
