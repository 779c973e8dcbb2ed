/**
 * The status app's one health model, shared by `/healthz`, `/status`, `/metrics` and the page,
 * so they never disagree. Every database is in exactly one class, the first that applies:
 *
 * | class      | when                                                                            |
 * | ---------- | ------------------------------------------------------------------------------- |
 * | `failed`   | retries stopped until a person fixes the cause (state `failed`); `status()` threw |
 * | `stopped`  | `stop()` ran                                                                    |
 * | `degraded` | no success yet; failing with no success in the expected interval; a job stuck    |
 * | `ok`       | the last sync succeeded, or the last success is within the expected interval     |
 *
 * The expected interval is twice the schedule's period (cron: the gap between its next two
 * fires; interval; adaptive polling: the current interval), at least one minute. A job is
 * stuck when it has been pending or running longer than that and no sync succeeded meanwhile.
 * A database that never succeeded is never `ok`, however young; one whose syncs succeed is `ok`
 * however rarely its schedule runs (a daily cron is not an outage).
 *
 * @module
 */
import type { SyncServiceStatus } from "../scheduler/status.ts";

/** The health classes, most severe first (the page sorts by this order). */
export const HEALTH_CLASSES = ["failed", "degraded", "stopped", "ok"] as const;

/** A database's health class. */
export type HealthClass = typeof HEALTH_CLASSES[number];

/** The order of the classes in headlines and `counts`: `2 ok · 1 degraded · 1 failed`. */
export const HEADLINE_ORDER: readonly HealthClass[] = ["ok", "degraded", "failed", "stopped"];

/** A database's health, as `/status` and the page show it. */
export interface Health {
  /** Its class. */
  state: HealthClass;
  /** One line saying why: what is wrong, or what is right. Never a secret, never the error. */
  reason: string;
  /** For `failed`: what unblocks it (fix the key, then `POST /sync` or SIGHUP). */
  action?: string;
}

/** What the model needs besides the status. */
export interface HealthContext {
  /** The current time, ms since the epoch. */
  now: number;
  /**
   * The period of the database's schedule in ms (cron: the gap between its next two fires;
   * interval; adaptive: the current interval), or `null` without a schedule.
   */
  periodMs: number | null;
}

/** The floor of the expected interval. */
export const MIN_EXPECTED_MS = 60_000;

/**
 * The expected interval: twice the period, at least {@linkcode MIN_EXPECTED_MS}.
 *
 * @param periodMs The schedule's period, or `null`.
 * @returns The interval, in ms.
 */
export function expectedIntervalMs(periodMs: number | null): number {
  return Math.max(MIN_EXPECTED_MS, 2 * (periodMs ?? 0));
}

/**
 * Judges one database.
 *
 * @param status Its status, or `null` when `status()` threw.
 * @param context The time and its schedule's period.
 * @returns Its health.
 */
export function healthOf(status: SyncServiceStatus | null, context: HealthContext): Health {
  if (status === null) {
    return {
      state: "failed",
      reason: "its status cannot be read (status() threw)",
      action: "see the log; restarting the process reopens it",
    };
  }
  if (status.state === "failed") {
    const why = status.permanentReason ?? status.lastError?.kind ?? "permanent failure";
    return { state: "failed", reason: `retries stopped (${why})`, action: actionFor(status) };
  }
  if (status.state === "stopped") return { state: "stopped", reason: "stopped" };
  const expected = expectedIntervalMs(context.periodMs);
  const sinceSuccess = status.lastSuccessAt === null ? null : context.now - status.lastSuccessAt;
  const last = sinceSuccess === null
    ? "no successful sync yet"
    : `last success ${duration(sinceSuccess)} ago`;
  const waited = status.oldestJobAt === null ? 0 : context.now - status.oldestJobAt;
  if (waited > expected && (sinceSuccess === null || sinceSuccess > expected)) {
    const what = status.state === "syncing" ? "running" : "waiting";
    return {
      state: "degraded",
      reason: `a sync has been ${what} for ${duration(waited)}, longer than the expected ${
        duration(expected)
      }; ${last}`,
    };
  }
  if (sinceSuccess !== null && status.lastError === null) {
    return { state: "ok", reason: `last sync succeeded ${duration(sinceSuccess)} ago` };
  }
  if (sinceSuccess !== null && sinceSuccess <= expected) {
    return {
      state: "ok",
      reason: `last success ${duration(sinceSuccess)} ago, within the expected ${
        duration(expected)
      }; the last attempt failed`,
    };
  }
  const failures = status.consecutiveErrors === 1
    ? " after 1 failure"
    : status.consecutiveErrors > 1
    ? ` after ${status.consecutiveErrors} failures in a row`
    : "";
  const doing = status.state === "offline"
    ? `offline, retrying${failures}`
    : status.state === "backing-off"
    ? `backing off${failures}`
    : status.state === "syncing"
    ? "syncing"
    : status.lastError !== null
    ? `failing, retrying${failures}`
    : "waiting for its first sync";
  return { state: "degraded", reason: `${doing}; ${last}` };
}

/** What a person does to unblock a permanently failed database. */
function actionFor(status: SyncServiceStatus): string {
  const then = "then POST /sync (or send the daemon SIGHUP)";
  switch (status.permanentReason ?? status.lastError?.kind) {
    case "auth":
      return `fix the API key or token, ${then}`;
    case "schema":
      return `make the synced tables' schema match the cloud database's, ${then}`;
    case "unknown-schema-hash":
      return `bring this replica's synced tables to the schema its peers use, ${then}`;
    case "receive-error-repeats":
    case "apply":
      return `check the change the replica cannot apply (see the error), ${then}`;
    default:
      return `fix the cause named in the error, ${then}`;
  }
}

/**
 * How many databases are in each class.
 *
 * @param healths The databases' health.
 * @returns The count of every class (0 included), keys in {@linkcode HEADLINE_ORDER}.
 */
export function healthCounts(healths: readonly Health[]): Record<HealthClass, number> {
  const counts = Object.fromEntries(HEADLINE_ORDER.map((c) => [c, 0])) as Record<
    HealthClass,
    number
  >;
  for (const h of healths) counts[h.state]++;
  return counts;
}

/**
 * The headline: the non-zero counts in {@linkcode HEADLINE_ORDER}, e.g.
 * `2 ok · 1 degraded · 1 failed`; `no databases` without any.
 *
 * @param counts The counts of {@linkcode healthCounts}.
 * @returns The text.
 */
export function healthHeadline(counts: Record<HealthClass, number>): string {
  const parts = HEADLINE_ORDER.filter((c) => counts[c] > 0).map((c) => `${counts[c]} ${c}`);
  return parts.length === 0 ? "no databases" : parts.join(" · ");
}

/**
 * An error summary on one line: kind, HTTP status, message (whole, whitespace collapsed).
 *
 * @param error The summary.
 * @returns The text.
 */
export function errorText(error: { kind: string; message: string; status?: number }): string {
  const status = error.status === undefined ? "" : ` (HTTP ${error.status})`;
  return `${error.kind}${status}: ${error.message.replace(/\s+/g, " ").trim()}`;
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
