/**
 * What a {@linkcode SyncService} reports: its status snapshot and its typed
 * events. Plain data only: nothing here ever holds a credential.
 *
 * @module
 */
import type { SqliteSyncErrorKind } from "../../common/errors.ts";
import type { SyncResult } from "../../common/sync_result.ts";
import type { ExecutorKind } from "./executor.ts";
import type { PermanentReason } from "./retry.ts";

/** What the service is doing. */
export type SyncServiceState =
  /** Waiting for the next trigger. */
  | "idle"
  /** A sync is running. */
  | "syncing"
  /** The last sync failed; a retry is scheduled. */
  | "backing-off"
  /** The last sync could not reach the server; a retry is scheduled. */
  | "offline"
  /** A permanent failure: no retries until `syncNow()`, new credentials or the next probe. */
  | "failed"
  /** `stop()` ran. */
  | "stopped";

/** An error as the service reports it: kind, redacted message and HTTP status. */
export interface SyncErrorSummary {
  /** The error kind. */
  kind: SqliteSyncErrorKind;
  /** The message (never contains a secret). */
  message: string;
  /** The HTTP status, when the server answered with one. */
  status?: number;
}

/** A snapshot of the service, from {@linkcode SyncService.status}. */
export interface SyncServiceStatus {
  /** What the service is doing. */
  state: SyncServiceState;
  /** Where syncs run. */
  executor: ExecutorKind;
  /**
   * How many times the executor serving this database died and was replaced
   * (the pool reopens the database at once; a sync it was running is retried).
   */
  executorRestarts: number;
  /** When the last sync ended (ms since the epoch), or `null`. */
  lastSyncAt: number | null;
  /** When the last successful sync ended, or `null`. */
  lastSuccessAt: number | null;
  /** The last successful sync's result, or `null`. */
  lastResult: SyncResult | null;
  /** The last failure, or `null` after a success. */
  lastError: SyncErrorSummary | null;
  /** Why the service stopped retrying, while `state` is `failed`. */
  permanentReason: PermanentReason | null;
  /** Failed syncs in a row. */
  consecutiveErrors: number;
  /** Successful syncs in a row that moved nothing. */
  consecutiveEmptySyncs: number;
  /** The adaptive polling interval before jitter, in milliseconds (`null` without polling). */
  currentIntervalMs: number | null;
  /**
   * When the next sync really starts (ms since the epoch), or `null` when none is scheduled:
   * a waiting job's due time (a retry's back-off holds: triggers merge into it), else the
   * earliest trigger. While `failed` only the probe starts one (every maximum polling
   * interval, 300 s by default): its time, never a trigger's.
   */
  nextRunAt: number | null;
  /** Jobs pending or running in the queue. */
  queueDepth: number;
  /** Local changes not yet sent, counted locally (no network call). */
  unsentChanges: number;
  /** Counters since the service started (for metrics). */
  totals: SyncTotals;
  /** The managed database id the service syncs (not a secret). */
  databaseId: string;
  /** The CloudSync address it syncs with (the extension's default when none was given). */
  address: string;
  /**
   * What starts scheduled syncs (besides local changes and `syncNow()`), from the options as
   * resolved. With several (cron and an interval, or either with explicit polling) the first
   * of cron, interval, adaptive.
   */
  schedule: SyncSchedule;
  /** When the oldest pending or running job was first requested (ms since the epoch), or `null`. */
  oldestJobAt: number | null;
}

/** What starts scheduled syncs. */
export type SyncSchedule =
  /** A cron expression, in `timezone` (the host's when `null`). */
  | { kind: "cron"; cron: string; timezone: string | null }
  /** A fixed interval. */
  | { kind: "interval"; intervalMs: number }
  /** Adaptive polling between `baseMs` and `maxMs`. */
  | { kind: "adaptive"; baseMs: number; maxMs: number }
  /** Only local changes and `syncNow()`. */
  | { kind: "none" };

/** How one sync attempt ended. */
export type AttemptOutcome =
  /** It succeeded and moved rows. */
  | "success"
  /** It succeeded and moved nothing. */
  | "empty"
  /** It failed; the job will be retried. */
  | "retry"
  /** It failed and the job was given up (dead-lettered, or a permanent failure). */
  | "dead-letter"
  /** Its executor died or it was cut short (the job runs again). */
  | "interrupted"
  /** It is still running. */
  | "running";

/** One sync attempt (a run of a queued job), finished or not. */
export interface SyncAttempt {
  /** The job it belongs to. */
  jobId: number;
  /** When it started (ms since the epoch). */
  startedAt: number;
  /** When it ended, or `null` while running (and for a run whose holder was lost: unknown). */
  finishedAt: number | null;
  /** How it ended. */
  outcome: AttemptOutcome;
  /** Payload chunks sent (1.1.4 reports chunks sent, not rows). */
  chunksSent: number;
  /** Rows received, when known. */
  rowsReceived: number;
  /** Its error, for `retry`, `dead-letter` and `interrupted` (redacted, as in `status()`). */
  error: SyncErrorSummary | null;
}

/** Options of {@linkcode SyncService.attempts}. */
export interface AttemptsOptions {
  /** Only attempts that started at or after this time (ms since the epoch). @default 24 h ago */
  since?: number;
  /** At most this many, the newest. @default 500 */
  limit?: number;
}

/** Counters since a service started. */
export interface SyncTotals {
  /** Syncs that succeeded. */
  succeeded: number;
  /** Syncs that failed (each attempt counts). */
  failed: number;
  /** Rows received and applied. */
  rowsReceived: number;
  /** Payload chunks sent. */
  chunksSent: number;
  /** Uncompressed payload bytes sent. */
  bytesSent: number;
  /** Bytes received. */
  bytesReceived: number;
  /** Finished attempts by outcome (every run of every job; `running` is never counted). */
  attempts: Record<Exclude<AttemptOutcome, "running">, number>;
}

/** The events of a {@linkcode SyncService} and their payloads. */
export interface SyncServiceEvents {
  /** A sync started. */
  started: { jobId: number; reasons: string[] };
  /** A sync succeeded. */
  succeeded: { jobId: number; result: SyncResult; durationMs: number };
  /** A sync failed. */
  failed: { jobId: number; error: SyncErrorSummary; permanent: PermanentReason | null };
  /** A failed sync will be retried at `at`. */
  "retry-scheduled": { jobId: number; attempt: number; at: number };
  /** A job was given up and moved to the dead-letter list. */
  "dead-lettered": { jobId: number; reason: string };
  /** The state changed. */
  "state-changed": { from: SyncServiceState; to: SyncServiceState };
}

/** A listener of one event type. */
export type SyncServiceListener<K extends keyof SyncServiceEvents> = (
  event: SyncServiceEvents[K],
) => void;

/**
 * A small typed event emitter. A listener that throws does not stop the
 * others or the service; its error is reported through `onListenerError`.
 *
 * @example Usage
 * ```ts
 * import { ServiceEvents } from "./status.ts";
 * const events = new ServiceEvents();
 * const off = events.on("state-changed", (e) => console.log(e.from, "→", e.to));
 * events.emit("state-changed", { from: "idle", to: "syncing" });
 * off();
 * ```
 */
export class ServiceEvents {
  #listeners = new Map<keyof SyncServiceEvents, Set<(event: never) => void>>();
  #onListenerError: (err: unknown) => void;

  /**
   * Creates an emitter.
   *
   * @param onListenerError Called with what a listener threw.
   */
  constructor(onListenerError: (err: unknown) => void = () => {}) {
    this.#onListenerError = onListenerError;
  }

  /**
   * Adds a listener.
   *
   * @param type The event.
   * @param listener Called with the event's payload.
   * @returns A function that removes the listener.
   */
  on<K extends keyof SyncServiceEvents>(type: K, listener: SyncServiceListener<K>): () => void {
    if (typeof listener !== "function") {
      throw new TypeError(`Cannot listen to '${type}' as the listener must be a function`);
    }
    let set = this.#listeners.get(type);
    if (!set) this.#listeners.set(type, set = new Set());
    set.add(listener as (event: never) => void);
    return () => set.delete(listener as (event: never) => void);
  }

  /**
   * Calls the listeners of `type`.
   *
   * @param type The event.
   * @param event Its payload.
   */
  emit<K extends keyof SyncServiceEvents>(type: K, event: SyncServiceEvents[K]): void {
    for (const listener of [...(this.#listeners.get(type) ?? [])]) {
      try {
        (listener as SyncServiceListener<K>)(event);
      } catch (err) {
        this.#onListenerError(err);
      }
    }
  }

  /** Removes every listener. */
  clear(): void {
    this.#listeners.clear();
  }
}
