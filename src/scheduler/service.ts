/**
 * `SyncService`: scheduled sync off the main thread. Triggers (cron, a fixed
 * interval, adaptive polling, local changes, `syncNow()`) feed one durable
 * queue in a sidecar file; one sync at a time per database file runs in the
 * process's executor pool (Workers shared by every service, one connection
 * per database); failures retry with capped, jittered backoff until they are
 * judged permanent (`retry.ts`).
 *
 * @module
 */
import { SqliteSyncError } from "../../common/errors.ts";
import { rememberSecret } from "../../common/redact.ts";
import type { SyncResult } from "../../common/sync_result.ts";
import type { DriverName } from "../../ffi/drivers/driver.ts";
import { assertRuntimeSupported } from "../../ffi/drivers/open_driver.ts";
import { isMemory } from "../../ffi/open.ts";
import { resolveExtension } from "../../ffi/resolve.ts";
import { detectRuntime } from "../../ffi/runtime.ts";
import type { SyncDatabase } from "../database.ts";
import { type Clock, systemClock } from "./clock.ts";
import { createExecutor, type Executor } from "./executor.ts";
import { executorStatus } from "./executor.ts";
import { makeOwner } from "./_queue_owner.ts";
import { queuePathFor } from "./_queue_path.ts";
import { type JobHistoryEntry, SyncQueue } from "./queue.ts";
import {
  type AttemptsOptions,
  ServiceEvents,
  type SyncAttempt,
  type SyncServiceEvents,
  type SyncServiceListener,
  type SyncServiceStatus,
} from "./status.ts";
import {
  type ServiceSettings,
  serviceSettings,
  type SyncServiceOptions,
} from "./service_options.ts";
import { ServiceRunner } from "./_service_runner.ts";

/** Options of {@linkcode SyncService.stop}. */
export interface StopOptions {
  /**
   * How long a sync in flight may take to finish before the executor is ended, in ms.
   * @default the service's `stopGraceMs` (2000)
   */
  graceMs?: number;
}

/** What the service is built from; tests replace the clock, randomness and the executor. */
export interface ServiceParts {
  clock: Clock;
  random: () => number;
  createExecutor: typeof createExecutor;
}

const INTERNAL = Symbol("SyncService.internal");

interface Target {
  path: string;
  extensionPath: string;
  driver: DriverName;
  database?: SyncDatabase;
}

async function targetOf(
  database: string | SyncDatabase,
  settings: ServiceSettings,
): Promise<Target> {
  if (typeof database === "string") {
    if (database.length === 0 || isMemory(database)) {
      throw new SqliteSyncError(
        "state",
        "The sync service needs a database file: an in-memory database cannot be shared with " +
          "the executor's connection. Pass a file path.",
      );
    }
    const extension = await resolveExtension({
      extensionPath: settings.extensionPath,
      cacheDir: settings.cacheDir,
    });
    const driver: DriverName = detectRuntime().name === "bun" ? "bun:sqlite" : "node:sqlite";
    return { path: database, extensionPath: extension.path, driver };
  }
  if (typeof database !== "object" || database === null || !("extension" in database)) {
    throw new TypeError(
      "Cannot start the sync service as 'database' must be a file path or an open SyncDatabase",
    );
  }
  if (database.closed) {
    throw new SqliteSyncError("state", "The SyncDatabase given to the sync service is closed.");
  }
  const path = database.driver.path;
  if (!path || isMemory(path)) {
    throw new SqliteSyncError(
      "state",
      "The sync service needs a database file: this SyncDatabase is in memory, and the " +
        "executor's connection cannot share it. Open a file.",
    );
  }
  return { path, extensionPath: database.extension.path, driver: database.driver.name, database };
}

/**
 * Scheduled sync for one database file, off the main thread.
 *
 * @example Usage
 * ```ts
 * import { SyncService } from "@sqliteai/sync";
 * await using service = await SyncService.start("app.db", {
 *   databaseId: process.env.SQLITE_SYNC_DATABASE_ID!,
 *   apiKey: process.env.SQLITE_SYNC_API_KEY!,
 *   tables: ["notes"],
 *   cron: "0 * * * *", // every hour; local writes are also sent a second after commit
 * });
 * service.on("failed", (e) => console.error(e.error.kind, e.error.message));
 * console.log(service.status().state);
 * ```
 */
export class SyncService {
  #runner: ServiceRunner;
  #events: ServiceEvents;

  /** @internal Use {@linkcode SyncService.start}. */
  constructor(token: typeof INTERNAL, runner: ServiceRunner, events: ServiceEvents) {
    if (token !== INTERNAL) throw new TypeError("Use SyncService.start() to create a sync service");
    this.#runner = runner;
    this.#events = events;
  }

  /**
   * Starts a service: validates the options, resolves the extension, opens
   * the queue file (`<database>.sync-queue`) and the executor, initializes
   * the network and tables in the executor, and arms the triggers.
   *
   * @param database A database file path, or an open `SyncDatabase` (its own writes then
   *   trigger a change-sync directly).
   * @param options Network id, credentials, tables, schedule, retries, time-outs.
   * @returns The running service.
   * @throws {TypeError} {RangeError} For bad options (credentials are never echoed).
   * @throws {SqliteSyncError} `unsupported-runtime` on Deno Deploy; `state` for an in-memory
   *   database; resolution, open and network-init errors.
   */
  static start(database: string | SyncDatabase, options: SyncServiceOptions): Promise<SyncService> {
    return startSyncService(database, options, {});
  }

  /**
   * Syncs now: starts a sync, or joins the one pending or running, and
   * returns its result. Also retries at once after a permanent failure.
   *
   * @returns The typed result.
   * @throws {SqliteSyncError} The sync's error (`offline`, `timeout`, `http`, `auth`…), or
   *   `state` after `stop()`, `interrupted` when the service stops during the sync.
   */
  syncNow(): Promise<SyncResult> {
    return this.#runner.syncNow();
  }

  /**
   * A snapshot of the service (never holds a secret).
   *
   * @returns The status.
   */
  status(): SyncServiceStatus {
    return this.#runner.status();
  }

  /**
   * The recent sync history from the queue: finished jobs (succeeded or
   * dead-lettered), newest first, each with its runs (start and end times,
   * outcome, rows received, error summary). Shared by every process syncing
   * this file. Empty after `stop()`.
   *
   * @param limit How many jobs.
   * @returns The jobs.
   * @throws {RangeError} For a limit that is not an integer from 1 to 500.
   */
  history(limit = 20): JobHistoryEntry[] {
    if (!Number.isInteger(limit) || limit < 1 || limit > 500) {
      throw new RangeError(
        `history(): 'limit' must be an integer from 1 to 500: current value is ${limit}`,
      );
    }
    return this.#runner.history(limit);
  }

  /**
   * Every sync attempt (every run of every job: pending, running and finished)
   * that started at or after `since`, oldest first: for a timeline of what the
   * service did. Read from the queue in one query, so it also shows attempts of
   * other processes syncing this file and of earlier runs of the service.
   * Bounded by what the queue keeps: the last 20 runs of each job and the last
   * 500 finished jobs (about 10,000 runs at most). Empty after `stop()`.
   *
   * Outcomes: `success` (it succeeded and received rows or sent changes),
   * `empty` (it succeeded and moved nothing), `retry` (it failed; the job runs
   * again after its back-off), `dead-letter` (it failed and the job was given
   * up: attempts used up, or a permanent failure such as a refused credential),
   * `interrupted` (its executor died, its holder was lost, or `stop()` cut it
   * short; the job runs again), `running`.
   *
   * @param options `since` (ms since the epoch; 24 hours ago by the service's clock by
   *   default) and `limit` (at most this many, the newest; 500 by default).
   * @returns The attempts, by start time, oldest first. Errors are redacted, their messages
   *   cut at 1,000 characters (`status().lastError` keeps the whole message).
   * @throws {RangeError} For a `since` that is not a finite number, or a `limit` that is not
   *   an integer from 1 to 5000.
   *
   * @example Usage
   * ```ts
   * import { SyncService } from "@sqliteai/sync";
   * await using service = await SyncService.start("app.db", {
   *   databaseId: process.env.SQLITE_SYNC_DATABASE_ID!,
   *   apiKey: process.env.SQLITE_SYNC_API_KEY!,
   * });
   * const lastHour = service.attempts({ since: Date.now() - 3_600_000 });
   * for (const a of lastHour) {
   *   console.log(new Date(a.startedAt).toISOString(), a.outcome, a.error?.message ?? "");
   * }
   * ```
   */
  attempts(options: AttemptsOptions = {}): SyncAttempt[] {
    const { since, limit = 500 } = options ?? {};
    if (since !== undefined && (typeof since !== "number" || !Number.isFinite(since))) {
      throw new RangeError(
        `attempts(): 'since' must be a time in ms since the epoch (a finite number): ` +
          `current value is ${String(since)}`,
      );
    }
    if (!Number.isInteger(limit) || limit < 1 || limit > 5000) {
      throw new RangeError(
        `attempts(): 'limit' must be an integer from 1 to 5000: current value is ${String(limit)}`,
      );
    }
    return this.#runner.attempts(since, limit);
  }

  /**
   * Listens to an event: `started`, `succeeded`, `failed`, `retry-scheduled`,
   * `dead-lettered`, `state-changed`.
   *
   * @param type The event.
   * @param listener Called with its payload; an exception it throws is reported asynchronously.
   * @returns A function that removes the listener.
   */
  on<K extends keyof SyncServiceEvents>(type: K, listener: SyncServiceListener<K>): () => void {
    return this.#events.on(type, listener);
  }

  /**
   * Replaces the credentials (e.g. after a key rotation) and retries at once
   * when the service had stopped retrying on an `auth` error.
   *
   * @param credentials Exactly one of `apiKey` and `token`.
   * @throws {TypeError} For none or both.
   */
  setCredentials(credentials: { apiKey?: string; token?: string }): Promise<void> {
    return this.#runner.setCredentials(credentials);
  }

  /**
   * Stops the triggers, waits for a sync in flight up to the grace period,
   * then ends the executor and closes the queue. A job cut short stays in the
   * queue and runs on the next start. After it resolves nothing of the
   * service keeps the process alive. Idempotent.
   *
   * @param options The grace period.
   */
  stop(options: StopOptions = {}): Promise<void> {
    return this.#runner.stop(options.graceMs);
  }

  /** Stops the service at the end of an `await using` block. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }
}

export type { Executor, JobHistoryEntry, SyncServiceOptions };

/**
 * {@linkcode SyncService.start} with replaced parts: an injected clock, randomness or executor
 * factory (scheduler unit tests; a compiled single-file daemon whose executor entry is embedded).
 * Internal: not exported from mod.ts.
 *
 * @param database As for `SyncService.start`.
 * @param options As for `SyncService.start`.
 * @param parts The parts to replace.
 * @returns The running service.
 *
 * @example Usage
 * ```ts ignore
 * import { startSyncService } from "./service.ts";
 * const service = await startSyncService("app.db", { databaseId: "db", apiKey: "key" }, {});
 * await service.stop();
 * ```
 */
export async function startSyncService(
  database: string | SyncDatabase,
  options: SyncServiceOptions,
  parts: Partial<ServiceParts>,
): Promise<SyncService> {
  const settings = serviceSettings(options);
  // Known in this process too (not only in the executor), so every redaction here removes them.
  rememberSecret(options.apiKey);
  rememberSecret(options.token);
  assertRuntimeSupported(detectRuntime());
  const target = await targetOf(database, settings);
  const clock = parts.clock ?? systemClock;
  // A listener's bug must not stop the service or crash a daemon: report it and go on.
  const events = new ServiceEvents((err) =>
    console.error("sqlite-sync: a SyncService event listener threw:", err)
  );
  // The queue holds no extension: node:sqlite/bun:sqlite are safe next to any driver.
  const queueDriver: DriverName = target.driver === "bun:sqlite" ? "bun:sqlite" : "node:sqlite";
  const queue = await SyncQueue.open(queuePathFor(target.path), {
    driver: queueDriver,
    maxAttempts: settings.retry.maxAttempts,
  });
  // Two SQLite libraries must not share a process: with @db/sqlite the pool's Workers run in
  // its host process.
  const kind = settings.executor ??
    (target.driver === "@db/sqlite" ? "process" : executorStatus().kind);
  const runner = new ServiceRunner({
    settings,
    target,
    queue,
    owner: makeOwner(),
    clock,
    random: parts.random ?? Math.random,
    events,
    executorKind: kind,
    createExecutor: parts.createExecutor ?? createExecutor,
  });
  try {
    await runner.start();
  } catch (err) {
    await runner.stop(0).catch(() => {});
    throw err;
  }
  return new SyncService(INTERNAL, runner, events);
}
