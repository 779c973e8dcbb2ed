/**
 * One read of every service per request: its status, its recent attempts and its health, so a
 * response never mixes two moments. A service whose `status()` or `attempts()` throws is
 * reported, never allowed to break the other databases' answer.
 *
 * @module
 */
import { Cron } from "croner";
import type { SyncService } from "../scheduler/service.ts";
import type { SyncAttempt, SyncSchedule, SyncServiceStatus } from "../scheduler/status.ts";
import { type Health, healthOf } from "./_health.ts";

/** What the app needs of a service: a {@linkcode SyncService}, or a fake in tests. */
export type SyncServiceLike = Pick<SyncService, "status" | "attempts" | "syncNow">;

/** A service and the name it is shown under (labels, `?database=`, the page). */
export interface NamedService {
  /** The database's name. */
  readonly name: string;
  /** Its service. */
  readonly service: SyncServiceLike;
}

/** How far back the app reads attempts: the timeline's window. */
export const ATTEMPTS_WINDOW_MS = 24 * 60 * 60 * 1000;
/** The most attempts the app reads per database (the newest). */
export const ATTEMPTS_LIMIT = 500;

/** One database at one moment. */
export interface DatabaseSnapshot {
  /** Its name. */
  name: string;
  /** Its health class, why, and what unblocks it. */
  health: Health;
  /** What `status()` returned, or `null` when it threw. */
  status: SyncServiceStatus | null;
  /** Its attempts of the last 24 hours, oldest first (empty when not read or it threw). */
  attempts: SyncAttempt[];
  /** Attempts that started in the last hour. */
  attemptsLastHour: number;
}

/**
 * Reads every service once.
 *
 * @param services The services.
 * @param now The current time, ms since the epoch.
 * @param withAttempts Whether to read the attempts (the page and `/status` do).
 * @returns One snapshot per service, in order.
 */
export function snapshotAll(
  services: readonly NamedService[],
  now: number,
  withAttempts: boolean,
): DatabaseSnapshot[] {
  return services.map(({ name, service }) => {
    let status: SyncServiceStatus | null = null;
    try {
      status = service.status();
    } catch {
      // Reported as failed by healthOf(null).
    }
    let attempts: SyncAttempt[] = [];
    if (withAttempts) {
      try {
        attempts = [
          ...service.attempts({ since: now - ATTEMPTS_WINDOW_MS, limit: ATTEMPTS_LIMIT }),
        ].sort((a, b) => a.startedAt - b.startedAt);
      } catch {
        // Informative only; the status says what matters.
      }
    }
    const periodMs = status === null ? null : schedulePeriodMs(status.schedule, status, now);
    return {
      name,
      health: healthOf(status, { now, periodMs }),
      status,
      attempts,
      attemptsLastHour: attempts.filter((a) => a.startedAt >= now - 3_600_000).length,
    };
  });
}

/**
 * The period of a schedule in ms: cron, the gap between its next two fires; interval; adaptive,
 * the current interval (else its base); `null` without a schedule or for an invalid cron.
 *
 * @param schedule The schedule.
 * @param status Where the current adaptive interval is read.
 * @param now The current time.
 * @returns The period, or `null`.
 */
export function schedulePeriodMs(
  schedule: SyncSchedule,
  status: Pick<SyncServiceStatus, "currentIntervalMs">,
  now: number,
): number | null {
  switch (schedule.kind) {
    case "interval":
      return schedule.intervalMs;
    case "adaptive":
      return status.currentIntervalMs ?? schedule.baseMs;
    case "none":
      return null;
    case "cron": {
      try {
        const cron = new Cron(schedule.cron, {
          timezone: schedule.timezone ?? undefined,
          paused: true,
        });
        const [a, b] = cron.nextRuns(2, new Date(now));
        return a && b ? b.getTime() - a.getTime() : null;
      } catch {
        return null;
      }
    }
  }
}
