/**
 * One read of every service per request: its status, its recent history and
 * its health, so a response never mixes two moments. A service whose
 * `status()` or `history()` throws is reported, never allowed to break the
 * other databases' answer.
 *
 * @module
 */
import type { JobHistoryEntry } from "../scheduler/queue.ts";
import type { SyncService } from "../scheduler/service.ts";
import type { SyncServiceStatus } from "../scheduler/status.ts";
import { type Health, type HealthContext, healthOf } from "./_health.ts";

/** What the app needs of a service: a {@linkcode SyncService}, or a fake in tests. */
export type SyncServiceLike = Pick<SyncService, "status" | "history" | "syncNow">;

/** A service and the name it is shown under (labels, `?database=`, the page). */
export interface NamedService {
  /** The database's name. */
  readonly name: string;
  /** Its service. */
  readonly service: SyncServiceLike;
}

/** One database at one moment. */
export interface DatabaseSnapshot {
  /** Its name. */
  name: string;
  /** Its health by the rule of `_health.ts`. */
  health: Health;
  /** What `status()` returned, or `null` when it threw. */
  status: SyncServiceStatus | null;
  /** What `history(limit)` returned (empty when it threw). */
  history: JobHistoryEntry[];
}

/**
 * Reads every service once.
 *
 * @param services The services.
 * @param historyLimit How many finished jobs to read (0: none).
 * @param context The health rule's inputs.
 * @returns One snapshot per service, in order.
 */
export function snapshotAll(
  services: readonly NamedService[],
  historyLimit: number,
  context: HealthContext,
): DatabaseSnapshot[] {
  return services.map(({ name, service }) => {
    let status: SyncServiceStatus | null = null;
    try {
      status = service.status();
    } catch {
      // Reported as unhealthy by healthOf(null).
    }
    let history: JobHistoryEntry[] = [];
    if (historyLimit > 0) {
      try {
        history = service.history(historyLimit);
      } catch {
        // The history is informative only; the status above says what matters.
      }
    }
    return { name, health: healthOf(status, context), status, history };
  });
}
