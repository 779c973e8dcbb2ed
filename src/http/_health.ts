/**
 * The health rule of the status app, shared by `/healthz`, `/status`,
 * `sqlite_sync_up` and the status page, so they never disagree.
 *
 * A database is **unhealthy** when
 * - its status cannot be read (`status()` threw),
 * - it is `failed` (a permanent failure: refused credentials, a schema the
 *   peers do not share, a receive error that repeats; only a person fixes it),
 * - it is `stopped`, or
 * - it has **no success for too long**: the last sync failed
 *   (`consecutiveErrors > 0`) and the last success, or the app's start when
 *   there was none, is older than `staleAfterMs` (one hour by default).
 *
 * `offline` and `backing-off` are **degraded but healthy**: the service
 * retries on its own with capped back-off, local reads and writes go on (the
 * point of a local-first replica), and a health check that failed on the first
 * network blip would flap, or get a daemon restarted that a restart cannot
 * help. Once such a state lasts past `staleAfterMs` the stale rule fails it.
 * A service that never failed is never stale, however rarely its schedule
 * runs (a daily cron is not an outage).
 *
 * @module
 */
import type { SyncServiceStatus } from "../scheduler/status.ts";

/** A database's health, as `/status` and the page show it. */
export interface Health {
  /** Whether the database passes the rule. */
  healthy: boolean;
  /** Why it fails (unhealthy) or what is wrong while it still passes (degraded). */
  reason?: string;
}

/** What the rule needs to know besides the status. */
export interface HealthContext {
  /** The current time, ms since the epoch. */
  now: number;
  /** When the app was created: the reference while a database never succeeded. */
  since: number;
  /** How long without a success, with failures, makes a database unhealthy, in ms. */
  staleAfterMs: number;
}

/**
 * Judges one database.
 *
 * @param status Its status, or `null` when `status()` threw.
 * @param context The time, the app's start and the staleness limit.
 * @returns Its health.
 */
export function healthOf(status: SyncServiceStatus | null, context: HealthContext): Health {
  if (status === null) return { healthy: false, reason: "status unavailable (status() threw)" };
  const error = status.lastError ? `; last error ${errorText(status.lastError)}` : "";
  if (status.state === "failed") {
    const why = status.permanentReason ? ` (${status.permanentReason})` : "";
    return { healthy: false, reason: `failed${why}: retries stopped until fixed${error}` };
  }
  if (status.state === "stopped") return { healthy: false, reason: "stopped" };
  const since = status.lastSuccessAt ?? context.since;
  const quiet = context.now - since;
  if (status.consecutiveErrors > 0 && quiet > context.staleAfterMs) {
    const last = status.lastSuccessAt === null
      ? "no successful sync since start"
      : "no successful sync";
    return {
      healthy: false,
      reason: `${last} for ${duration(quiet)} (${status.consecutiveErrors} failed in a row, ` +
        `${status.state})${error}`,
    };
  }
  if (status.state === "offline" || status.state === "backing-off") {
    return { healthy: true, reason: `${status.state}, retrying${error}` };
  }
  return { healthy: true };
}

/**
 * An error summary on one line: kind, HTTP status, message (at most 200 characters).
 *
 * @param error The summary.
 * @returns The text.
 */
export function errorText(error: { kind: string; message: string; status?: number }): string {
  const status = error.status === undefined ? "" : ` (HTTP ${error.status})`;
  const message = error.message.replace(/\s+/g, " ").trim();
  const short = message.length > 200 ? `${message.slice(0, 199)}…` : message;
  return `${error.kind}${status}: ${short}`;
}

/**
 * A duration for people: `45 s`, `12 min`, `3 h 5 min`, `2 d 4 h`.
 *
 * @param ms The duration, in ms (negative counts as 0).
 * @returns The text.
 */
export function duration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s} s`;
  const min = Math.floor(s / 60);
  if (min < 60) return `${min} min`;
  const h = Math.floor(min / 60);
  if (h < 48) return min % 60 === 0 ? `${h} h` : `${h} h ${min % 60} min`;
  const d = Math.floor(h / 24);
  return h % 24 === 0 ? `${d} d` : `${d} d ${h % 24} h`;
}
