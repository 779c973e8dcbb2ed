/**
 * One database of the daemon: its {@linkcode SyncService} once started, the
 * start retried with back-off while it fails (an extension that cannot be
 * resolved yet, a database file on a disk not mounted yet), its events
 * logged, and a stand-in status for the status app while it is not running.
 *
 * @module
 */
import { SqliteSyncError } from "../../common/errors.ts";
import type { SyncResult } from "../../common/sync_result.ts";
import { existsSync } from "node:fs";
import { type ExecutorPoolOptions, executorStatus } from "../scheduler/executor.ts";
import { nextRetry, type RetryPolicy } from "../scheduler/retry.ts";
import { SyncService } from "../scheduler/service.ts";
import {
  DEFAULT_CLOUDSYNC_ADDRESS,
  scheduleOf,
  serviceSettings,
  type SyncServiceOptions,
} from "../scheduler/service_options.ts";
import type {
  AttemptsOptions,
  SyncAttempt,
  SyncSchedule,
  SyncServiceStatus,
} from "../scheduler/status.ts";
import type { SyncServiceLike } from "../http/app.ts";
import type { DaemonConfig, DatabaseConfig } from "./_config_types.ts";
import { errorField, type Logger } from "./_log.ts";

/**
 * How a failed start is retried: 5 s, doubling up to 5 min, without jitter
 * (one process: nothing to spread). The rule itself is `retry.ts`'s.
 */
export const START_RETRY: RetryPolicy = { baseMs: 5000, capMs: 300_000, jitter: "none" };

/** What decides whether a changed database must restart (everything but name and credential). */
export function restartKey(db: DatabaseConfig): string {
  const { name: _n, credential: _c, credentialSource: _s, ...rest } = db;
  return JSON.stringify(rest);
}

/** Where this code runs from a `bun build --compile` binary (embedded files). */
export function compiledBinary(url: string = import.meta.url): boolean {
  return url.includes("/$bunfs/") || url.includes("/~BUN/");
}

/**
 * Where a compiled binary embeds the executor's entry: `bun build --compile src/cli/main.ts
 * src/scheduler/_executor_entry.ts` (scripts/build-daemon.sh) stores it under the entries'
 * common folder, `src/`.
 */
const EMBEDDED_ENTRIES = [
  "/$bunfs/root/scheduler/_executor_entry.js",
  "/$bunfs/root/src/scheduler/_executor_entry.js",
  "/$bunfs/root/_executor_entry.js",
];

/**
 * The executor settings of the daemon's process: the config's `executors`;
 * a compiled binary cannot start itself as a script, so its executors are
 * Workers on the embedded entry.
 *
 * @param executors The config's `executors` key.
 * @returns What `configureExecutors()` takes.
 */
export function daemonExecutors(executors: DaemonConfig["executors"]): ExecutorPoolOptions {
  if (!compiledBinary()) return { ...executors };
  const found = EMBEDDED_ENTRIES.find((p) => existsSync(p));
  if (found === undefined) {
    throw new SqliteSyncError(
      "state",
      "This compiled binary has no executor entry: build it with scripts/build-daemon.sh " +
        "(bun build --compile src/cli/main.ts src/scheduler/_executor_entry.ts).",
    );
  }
  return { ...executors, kind: "worker", entry: new URL(`file://${found}`) };
}

function serviceOptions(db: DatabaseConfig, stopGraceMs: number): SyncServiceOptions {
  return {
    databaseId: db.databaseId,
    ...(db.address !== undefined ? { address: db.address } : {}),
    ...(db.credentialSource.kind === "apiKey"
      ? { apiKey: db.credential }
      : { token: db.credential }),
    tables: db.tables,
    ...(db.cron !== undefined ? { cron: db.cron } : {}),
    ...(db.timezone !== undefined ? { timezone: db.timezone } : {}),
    ...(db.intervalMs !== undefined ? { intervalMs: db.intervalMs } : {}),
    ...(db.syncOnStart !== undefined ? { syncOnStart: db.syncOnStart } : {}),
    ...(db.requestTimeoutS !== undefined ? { requestTimeoutS: db.requestTimeoutS } : {}),
    ...(db.connectTimeoutS !== undefined ? { connectTimeoutS: db.connectTimeoutS } : {}),
    stopGraceMs,
  };
}

/**
 * A database slot.
 */
export class DatabaseSlot {
  #config: DatabaseConfig;
  #log: Logger;
  #stopGraceMs: number;
  #service: SyncService | undefined;
  #state: "starting" | "running" | "start-failed" | "stopped" = "starting";
  #error: unknown;
  #attempts = 0;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  #nextStartAt: number | null = null;
  #starting: Promise<void> | undefined;
  #offs: (() => void)[] = [];
  #onChange: () => void;
  /** What the status app reads: the service once running, a stand-in before. */
  readonly view: SyncServiceLike;

  /**
   * Creates the slot and starts its service.
   *
   * @param config The database.
   * @param options The log, the grace period and a callback run when the slot's state changes.
   */
  constructor(
    config: DatabaseConfig,
    options: { log: Logger; stopGraceMs: number; onChange?: () => void },
  ) {
    this.#config = config;
    this.#log = options.log;
    this.#stopGraceMs = options.stopGraceMs;
    this.#onChange = options.onChange ?? (() => {});
    this.view = {
      status: () => this.#service?.status() ?? this.#standInStatus(),
      attempts: (options?: AttemptsOptions): SyncAttempt[] =>
        this.#service?.attempts(options) ?? [],
      syncNow: (): Promise<SyncResult> => this.#service?.syncNow() ?? this.#notRunning(),
    };
    this.#start();
  }

  /** The database's config. */
  get config(): DatabaseConfig {
    return this.#config;
  }

  /** Its name. */
  get name(): string {
    return this.#config.name;
  }

  /** Where it stands. */
  get state(): "starting" | "running" | "start-failed" | "stopped" {
    return this.#state;
  }

  /** Settles once the current start attempt has (successfully or not). */
  get started(): Promise<void> {
    return this.#starting ?? Promise.resolve();
  }

  #start(): void {
    this.#state = "starting";
    this.#retryTimer = undefined;
    this.#nextStartAt = null;
    const db = this.#config;
    this.#starting = (async () => {
      let service: SyncService;
      try {
        service = await SyncService.start(db.path, serviceOptions(db, this.#stopGraceMs));
      } catch (err) {
        if (this.#state === "stopped") return;
        this.#error = err;
        this.#attempts++;
        const wait = nextRetry(this.#attempts, START_RETRY);
        this.#state = "start-failed";
        this.#nextStartAt = Date.now() + wait;
        this.#retryTimer = setTimeout(() => this.#start(), wait);
        this.#log.error("service.start-failed", {
          database: db.name,
          attempt: this.#attempts,
          retryInMs: wait,
          error: errorField(err),
        });
        this.#onChange();
        return;
      }
      if (this.#state === "stopped") {
        await service.stop({ graceMs: this.#stopGraceMs }).catch(() => {});
        return;
      }
      this.#service = service;
      this.#state = "running";
      this.#attempts = 0;
      this.#error = undefined;
      this.#listen(service);
      const status = service.status();
      this.#log.info("service.started", {
        database: db.name,
        path: db.path,
        credential: db.credentialSource,
        executor: status.executor,
        schedule: db.cron ??
          (db.intervalMs !== undefined ? `every ${db.intervalMs} ms` : "adaptive"),
        tables: db.tables,
      });
      this.#onChange();
    })();
  }

  #listen(service: SyncService): void {
    const name = this.#config.name;
    const safe = <T>(fn: (event: T) => void) => (event: T) => {
      try {
        fn(event);
      } catch {
        // A log line that cannot be written must not take the service down.
      }
    };
    this.#offs = [
      service.on("started", safe((e) => this.#log.info("sync.started", { database: name, ...e }))),
      service.on(
        "succeeded",
        safe((e) =>
          this.#log.info("sync.succeeded", {
            database: name,
            jobId: e.jobId,
            durationMs: e.durationMs,
            sent: {
              status: e.result.send.status,
              chunks: e.result.send.chunks,
              bytes: e.result.send.bytes,
            },
            received: { rows: e.result.receive.rows, bytes: e.result.receive.bytes },
          })
        ),
      ),
      service.on("failed", safe((e) => this.#log.warn("sync.failed", { database: name, ...e }))),
      service.on(
        "retry-scheduled",
        safe((e) =>
          this.#log.info("sync.retry-scheduled", {
            database: name,
            ...e,
            at: new Date(e.at).toISOString(),
          })
        ),
      ),
      service.on(
        "dead-lettered",
        safe((e) => this.#log.error("sync.dead-lettered", { database: name, ...e })),
      ),
      service.on(
        "state-changed",
        safe((e) => this.#log.info("sync.state-changed", { database: name, ...e })),
      ),
    ];
  }

  /**
   * Replaces the credential of a running service (a rotated key), or of the next start attempt.
   *
   * @param config The new config (same restart key).
   */
  async updateCredential(config: DatabaseConfig): Promise<void> {
    this.#config = config;
    if (this.#service) {
      await this.#service.setCredentials(
        config.credentialSource.kind === "apiKey"
          ? { apiKey: config.credential }
          : { token: config.credential },
      );
    } else if (this.#state === "start-failed") {
      clearTimeout(this.#retryTimer);
      this.#start();
    }
  }

  /**
   * Stops the service (waits for a start in progress first). Idempotent.
   *
   * @param graceMs How long a sync in flight may take to finish.
   */
  async stop(graceMs: number): Promise<void> {
    if (this.#state === "stopped") return;
    const wasStarting = this.#state === "starting";
    this.#state = "stopped";
    clearTimeout(this.#retryTimer);
    if (wasStarting) await this.#starting;
    const service = this.#service;
    if (!service) return;
    await service.stop({ graceMs });
    for (const off of this.#offs) off();
    this.#service = undefined;
    this.#log.info("service.stopped", { database: this.#config.name });
  }

  #standInStatus(): SyncServiceStatus {
    const err = this.#error as { kind?: string; message?: string; status?: number } | undefined;
    const starting = this.#state === "starting";
    return {
      // A start that failed is retried with back-off: degraded, not failed (retries go on).
      state: starting ? "idle" : this.#state === "stopped" ? "stopped" : "backing-off",
      executor: executorStatus().kind,
      executorRestarts: 0,
      lastSyncAt: null,
      lastSuccessAt: null,
      lastResult: null,
      lastError: err === undefined ? null : {
        kind: (err.kind ?? "state") as never,
        message: `the service could not start (attempt ${this.#attempts}, retried on its own): ${
          err.message ?? String(err)
        }`,
        ...(err.status !== undefined ? { status: err.status } : {}),
      },
      permanentReason: null,
      consecutiveErrors: this.#attempts,
      consecutiveEmptySyncs: 0,
      currentIntervalMs: null,
      nextRunAt: this.#nextStartAt,
      queueDepth: 0,
      unsentChanges: 0,
      totals: {
        succeeded: 0,
        failed: 0,
        rowsReceived: 0,
        chunksSent: 0,
        bytesSent: 0,
        bytesReceived: 0,
        attempts: { success: 0, empty: 0, retry: 0, "dead-letter": 0, interrupted: 0 },
      },
      databaseId: this.#config.databaseId,
      address: this.#config.address ?? DEFAULT_CLOUDSYNC_ADDRESS,
      schedule: this.#schedule(),
      oldestJobAt: null,
    };
  }

  /** The schedule the service has (or will have) once running. */
  #schedule(): SyncSchedule {
    try {
      return scheduleOf(serviceSettings(serviceOptions(this.#config, this.#stopGraceMs)));
    } catch {
      return { kind: "none" };
    }
  }

  #notRunning(): Promise<SyncResult> {
    const why = this.#state === "starting"
      ? "is still starting"
      : this.#state === "stopped"
      ? "is stopped"
      : `could not start (${
        (this.#error as Error | undefined)?.message ?? "unknown error"
      }); retrying now`;
    if (this.#state === "start-failed") {
      clearTimeout(this.#retryTimer);
      this.#start();
    }
    return Promise.reject(
      new SqliteSyncError("state", `The database '${this.#config.name}' ${why}.`),
    );
  }
}
