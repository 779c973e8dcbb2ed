/**
 * `GET /metrics`: the services' counters and gauges in the Prometheus text
 * exposition format 0.0.4, written by hand (prom-client's default process
 * metrics fail on Deno and Bun, and a dozen families need no library).
 *
 * Every family has `# HELP` and `# TYPE` lines and samples labelled
 * `database="<name>"`. The only other labels are fixed values (`state`,
 * `outcome`): nothing a service reports as text, such as an error message,
 * ever becomes a label. Label values are escaped (`\\`, `"`, newline) as the
 * format requires.
 *
 * Alert on `sqlite_sync_health` (the class of `_health.ts`, the same as
 * `/status` and the page), not on `/healthz`, which is liveness only.
 *
 * @module
 */
import type { AttemptOutcome, SyncServiceState } from "../scheduler/status.ts";
import { HEADLINE_ORDER } from "./_health.ts";
import type { DatabaseSnapshot } from "./_snapshot.ts";

/** The `Content-Type` of the text exposition format 0.0.4. */
export const METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** The states of `sqlite_sync_state`, one sample each (1 for the current state). */
export const STATES: readonly SyncServiceState[] = [
  "idle",
  "syncing",
  "backing-off",
  "offline",
  "failed",
  "stopped",
];

/** The outcomes of `sqlite_sync_attempts_total`, one sample each. */
export const OUTCOMES: readonly Exclude<AttemptOutcome, "running">[] = [
  "success",
  "empty",
  "retry",
  "dead-letter",
  "interrupted",
];

type Labels = Record<string, string>;

interface Family {
  name: string;
  type: "counter" | "gauge";
  help: string;
  samples: { labels: Labels; value: number }[];
}

/**
 * Escapes a label value: backslash, double quote and line feed.
 *
 * @param value The raw value.
 * @returns The escaped value, without the quotes.
 */
export function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

function formatValue(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  return String(value);
}

function formatFamily(family: Family): string {
  const lines = [`# HELP ${family.name} ${family.help}`, `# TYPE ${family.name} ${family.type}`];
  for (const { labels, value } of family.samples) {
    const pairs = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabelValue(v)}"`);
    lines.push(`${family.name}{${pairs.join(",")}} ${formatValue(value)}`);
  }
  return lines.join("\n");
}

/**
 * Renders the metrics of every database. A database whose status could not
 * be read has only `sqlite_sync_health` (`failed` 1); a value that does not
 * exist yet (no success so far, no adaptive polling) has no sample rather than
 * a made-up one.
 *
 * @param snapshots The databases, read once for this request.
 * @param now The time they were read at, ms since the epoch (for the job age).
 * @returns The exposition text, ending with a line feed.
 *
 * @example Usage
 * ```ts ignore
 * import { renderMetrics } from "./metrics.ts";
 * console.log(renderMetrics([], Date.now())); // HELP and TYPE lines only
 * ```
 */
export function renderMetrics(snapshots: readonly DatabaseSnapshot[], now: number): string {
  const families: Family[] = [];
  const family = (
    name: string,
    type: Family["type"],
    help: string,
    pick: (s: DatabaseSnapshot) => { labels?: Labels; value: number | null }[],
  ): void => {
    const samples = snapshots.flatMap((s) =>
      pick(s)
        .filter((p): p is { labels?: Labels; value: number } => p.value !== null)
        .map((p) => ({ labels: { database: s.name, ...p.labels }, value: p.value }))
    );
    families.push({ name, type, help, samples });
  };
  const of =
    (read: (st: NonNullable<DatabaseSnapshot["status"]>) => number | null) =>
    (s: DatabaseSnapshot) => s.status === null ? [] : [{ value: read(s.status) }];

  family(
    "sqlite_sync_health",
    "gauge",
    "The database's health class (ok, degraded, failed, stopped; as on /status and the page): " +
      "1 for its class, 0 for the others.",
    (s) =>
      HEADLINE_ORDER.map((state) => ({
        labels: { state },
        value: s.health.state === state ? 1 : 0,
      })),
  );
  family(
    "sqlite_sync_state",
    "gauge",
    "The service's state: 1 for the current state, 0 for the others.",
    (s) =>
      s.status === null
        ? []
        : STATES.map((state) => ({ labels: { state }, value: s.status!.state === state ? 1 : 0 })),
  );
  family(
    "sqlite_sync_attempts_total",
    "counter",
    "Finished sync attempts since the service started, by outcome (every run of every job).",
    (s) =>
      s.status === null ? [] : OUTCOMES.map((outcome) => ({
        labels: { outcome },
        value: s.status!.totals.attempts[outcome],
      })),
  );
  family(
    "sqlite_sync_rows_received_total",
    "counter",
    "Rows received and applied since the service started.",
    of((st) => st.totals.rowsReceived),
  );
  family(
    "sqlite_sync_chunks_sent_total",
    "counter",
    "Payload chunks sent since the service started.",
    of((st) => st.totals.chunksSent),
  );
  family(
    "sqlite_sync_bytes_sent_total",
    "counter",
    "Uncompressed payload bytes sent since the service started.",
    of((st) => st.totals.bytesSent),
  );
  family(
    "sqlite_sync_bytes_received_total",
    "counter",
    "Bytes received since the service started.",
    of((st) => st.totals.bytesReceived),
  );
  family(
    "sqlite_sync_last_success_timestamp_seconds",
    "gauge",
    "When the last successful sync ended, in seconds since the epoch (no sample before the first).",
    of((st) => st.lastSuccessAt === null ? null : st.lastSuccessAt / 1000),
  );
  family(
    "sqlite_sync_consecutive_errors",
    "gauge",
    "Failed syncs in a row.",
    of((st) => st.consecutiveErrors),
  );
  family(
    "sqlite_sync_current_interval_seconds",
    "gauge",
    "The adaptive polling interval before jitter, in seconds (no sample without polling).",
    of((st) => st.currentIntervalMs === null ? null : st.currentIntervalMs / 1000),
  );
  family(
    "sqlite_sync_queue_depth",
    "gauge",
    "Sync jobs pending or running in the queue.",
    of((st) => st.queueDepth),
  );
  family(
    "sqlite_sync_oldest_job_age_seconds",
    "gauge",
    "How long the oldest pending or running sync job has waited since it was requested, in " +
      "seconds (0 when the queue is empty).",
    of((st) => st.oldestJobAt === null ? 0 : Math.max(0, now - st.oldestJobAt) / 1000),
  );
  family(
    "sqlite_sync_unsent_changes",
    "gauge",
    "Local changes not yet sent, counted locally.",
    of((st) => st.unsentChanges),
  );
  return families.map(formatFamily).join("\n") + "\n";
}
