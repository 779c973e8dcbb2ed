/**
 * The machinery behind `SyncService`: triggers into the queue, the queue
 * into the executor, outcomes into retries, status and events.
 *
 * @module
 */
import { SqliteSyncError } from "../../common/errors.ts";
import { rememberSecret } from "../../common/redact.ts";
import type { SyncResult } from "../../common/sync_result.ts";
import type { DriverName } from "../../ffi/drivers/driver.ts";
import { attemptOf, type FinishedJob, ServiceOutcomes, syncErrorOf } from "./_service_outcomes.ts";
import {
  JobWaiters,
  openServiceExecutor,
  ServiceTimers,
  ServiceTriggers,
} from "./_service_schedule.ts";
import { AdaptivePolling } from "./adaptive.ts";
import type { Clock } from "./clock.ts";
import type { createExecutor, Executor, ExecutorKind } from "./executor.ts";
import { receiveErrorOf } from "./retry.ts";
import type { JobHistoryEntry, QueueJob, SyncQueue } from "./queue.ts";
import { DEFAULT_CLOUDSYNC_ADDRESS, scheduleOf, type ServiceSettings } from "./service_options.ts";
import type { ServiceEvents, SyncAttempt, SyncSchedule, SyncServiceStatus } from "./status.ts";
import { TokenSource } from "./token.ts";
import type { TriggerReason } from "./triggers.ts";

/** How soon a lease whose holder died is looked at again while its executor ends, in ms. */
const ORPHAN_RECHECK_MS = 100;

/** Why a sync cut short by stop() failed (its `syncNow()` rejection, its run's error). */
const STOPPED_MESSAGE = "The sync service stopped before the sync finished.";

/** How far back `attempts()` reads by default, in ms. */
const ATTEMPTS_SINCE_MS = 24 * 60 * 60 * 1000;

/** What the runner is built from. */
export interface RunnerParts {
  settings: ServiceSettings;
  target: {
    path: string;
    extensionPath: string;
    driver: DriverName;
    database?: { onLocalWrite(listener: (dbVersion: number) => void): () => void };
  };
  queue: SyncQueue;
  owner: string;
  clock: Clock;
  random: () => number;
  events: ServiceEvents;
  executorKind: ExecutorKind;
  createExecutor: typeof createExecutor;
}

/** Runs one service; see `SyncService` for the public contract. */
export class ServiceRunner {
  #p: RunnerParts;
  #s: ServiceSettings;
  #executor: Executor | undefined;
  #outcomes: ServiceOutcomes;
  #timers: ServiceTimers;
  #triggers = new ServiceTriggers();
  #polling: AdaptivePolling | undefined;
  #tokens: TokenSource | undefined;
  #lastToken: string | undefined;
  #apiKey: string | undefined;
  #current: { jobId: number; done: Promise<void> } | undefined;
  #waiters: JobWaiters;
  #stopping: Promise<void> | undefined;
  #offLocalWrite: (() => void) | undefined;
  #heardVersion = -1;
  /** The job stop() cut short, released once the executor is closed. */
  #cutShort: FinishedJob | undefined;
  /** Jobs already run again once after their executor died. */
  #retriedAfterCrash = new Set<number>();
  #schedule: SyncSchedule;

  constructor(parts: RunnerParts) {
    this.#p = parts;
    this.#s = parts.settings;
    this.#schedule = scheduleOf(parts.settings);
    this.#apiKey = parts.settings.apiKey;
    if (parts.settings.getToken) this.#tokens = new TokenSource(parts.settings.getToken);
    if (parts.settings.polling) {
      this.#polling = new AdaptivePolling({ random: parts.random, ...parts.settings.polling });
    }
    this.#outcomes = new ServiceOutcomes({
      queue: parts.queue,
      events: parts.events,
      retry: parts.settings.retry,
      random: parts.random,
      now: () => this.#now(),
      tokens: this.#tokens,
      polling: this.#polling,
      // The next poll (while failed: the probe) is armed before the outcome's events, so a
      // listener's status().nextRunAt already tells it.
      onDecided: () => this.#schedulePoll(),
    });
    this.#timers = new ServiceTimers(parts.clock, this.#polling, parts.settings.polling);
    this.#waiters = new JobWaiters(parts.queue);
  }

  /** Opens the executor, initializes the network and tables, arms the triggers. */
  async start(): Promise<void> {
    const s = this.#s;
    const token = this.#tokens ? await this.#tokens.current(this.#now()) : s.token;
    this.#lastToken = token;
    this.#executor = await this.#openExecutor(this.#apiKey, token);
    await this.#refreshUnsent();
    this.#triggers.arm(s, this.#p.clock, (reason) => this.request(reason), () => {
      void this.#refreshUnsent();
    });
    // The caller's own writes through its SyncDatabase notify at once (no polling delay).
    this.#offLocalWrite = this.#p.target.database?.onLocalWrite((v) => {
      this.#heardVersion = Math.max(this.#heardVersion, v);
      this.localChange();
    });
    // After the caller's code following `await start()`, so listeners it attaches see the
    // first sync's events.
    setTimeout(() => {
      if (s.syncOnStart) this.request("startup");
      else {
        this.#schedulePoll();
        // A job a previous run left in the queue (cut short by stop(), a crash, a pending
        // retry) runs now, or its wake is armed for its due time.
        this.#pump();
      }
    }, 0);
  }

  #openExecutor(apiKey: string | undefined, token: string | undefined): Promise<Executor> {
    // The caller's own SyncDatabase already told us about versions up to #heardVersion; the
    // executor sees those commits too (another connection to it): do not sync twice.
    return openServiceExecutor(this.#p, { apiKey, token }, (dbVersion) => {
      if (dbVersion > this.#heardVersion) this.localChange();
    });
  }

  /** A local commit (this process's `SyncDatabase`, or seen through `data_version`). */
  localChange(): void {
    if (this.#stopping) return;
    this.#polling?.recordLocalChange();
    if (!this.#triggers.notifyChange()) void this.#refreshUnsent();
  }

  /** Puts a sync request into the queue and runs what is due. */
  request(reason: TriggerReason): void {
    if (this.#stopping) return;
    // While failed, only syncNow(), new credentials and the probe try again (also while the
    // probe itself runs: the state is then "syncing", the permanent reason still stands).
    if (this.#outcomes.permanent && reason !== "manual" && reason !== "probe") return;
    this.#p.queue.request(reason, {
      now: this.#now(),
      urgent: reason === "manual" || reason === "probe",
    });
    this.#pump();
  }

  /** `SyncService.syncNow()`. */
  syncNow(): Promise<SyncResult> {
    if (this.#stopping) {
      return Promise.reject(
        new SqliteSyncError("state", "syncNow(): the sync service is stopped."),
      );
    }
    if (this.#outcomes.permanent) this.#outcomes.clearPermanent();
    const { jobId } = this.#p.queue.request("manual", {
      now: this.#now(),
      urgent: true,
      joinRunning: true,
    });
    const promise = this.#waiters.wait(jobId);
    this.#pump();
    return promise;
  }

  /** `SyncService.setCredentials()`. */
  async setCredentials(credentials: { apiKey?: string; token?: string }): Promise<void> {
    const { apiKey, token } = credentials ?? {};
    const given = [apiKey, token].filter((v) => v !== undefined);
    if (given.length !== 1 || typeof given[0] !== "string" || given[0].length === 0) {
      throw new TypeError("setCredentials(): give exactly one non-empty 'apiKey' or 'token'");
    }
    rememberSecret(given[0]);
    if (this.#stopping) {
      throw new SqliteSyncError("state", "setCredentials(): the sync service is stopped.");
    }
    if (token !== undefined && this.#apiKey === undefined) {
      await this.#executor!.setToken(token);
      this.#lastToken = token;
    } else {
      // The executor's network context takes a key only at init: start a fresh executor.
      await this.#current?.done;
      const old = this.#executor!;
      this.#executor = await this.#openExecutor(apiKey, token);
      this.#apiKey = apiKey;
      this.#lastToken = token;
      await old.close({ graceMs: 0 }).catch(() => {});
    }
    this.#tokens?.reset();
    if (this.#outcomes.permanent) this.#outcomes.clearPermanent();
    this.request("manual");
  }

  /** `SyncService.status()`. */
  status(): SyncServiceStatus {
    let backlog: ReturnType<SyncQueue["backlog"]> = { depth: 0, oldestCreatedAt: null };
    try {
      backlog = this.#p.queue.backlog();
    } catch {
      // Closed after stop().
    }
    return {
      state: this.#outcomes.state,
      executor: this.#p.executorKind,
      executorRestarts: this.#executor?.restarts ?? 0,
      ...this.#outcomes.counters(),
      currentIntervalMs: this.#polling?.interval ?? null,
      nextRunAt: this.#nextRunAt(backlog.pending),
      queueDepth: backlog.depth,
      totals: this.#outcomes.totals(),
      databaseId: this.#s.databaseId,
      address: this.#s.address ?? DEFAULT_CLOUDSYNC_ADDRESS,
      schedule: { ...this.#schedule },
      oldestJobAt: backlog.oldestCreatedAt,
    };
  }

  /**
   * When the next sync really starts, as far as this service knows:
   *
   * - while failed (a permanent failure stands), only the probe, `syncNow()` and new
   *   credentials start one: the triggers' requests are dropped and a pending job waits, so
   *   it is the probe's time (an urgent pending job, from `syncNow()`, runs when due);
   * - a pending job runs at its due time (a retry waits out its back-off: triggers merge into
   *   it without making it due sooner), or when the lease frees (the wake);
   * - otherwise the earliest trigger: the poll, the cron expression, the interval, the
   *   debounced local changes. A wake with nothing pending starts nothing.
   *
   * @param pending The pending job, if any.
   * @returns The time, or `null` when nothing is scheduled (or after stop()).
   */
  #nextRunAt(pending: QueueJob | undefined): number | null {
    if (this.#stopping) return null;
    const permanent = this.#outcomes.permanent;
    if (pending && (!permanent || pending.urgent)) {
      return Math.max(pending.dueAt, this.#timers.wakeAt ?? -Infinity, this.#now());
    }
    if (permanent) return this.#timers.pollAt ?? null;
    const candidates = [this.#timers.pollAt, ...this.#triggers.nextRunAts()]
      .filter((v): v is number => typeof v === "number");
    return candidates.length === 0 ? null : Math.min(...candidates);
  }

  /** `SyncService.attempts()`: the runs since `since`, the latest `limit`, oldest first. */
  attempts(since: number | undefined, limit: number): SyncAttempt[] {
    if (this.#stopping) return [];
    const from = since ?? this.#now() - ATTEMPTS_SINCE_MS;
    return this.#p.queue.runs({ since: from, limit }).map(attemptOf);
  }

  /** `SyncService.history()`: finished jobs, newest first (empty after stop()). */
  history(limit: number): JobHistoryEntry[] {
    if (this.#stopping) return [];
    return this.#p.queue.history(limit);
  }

  /** `SyncService.stop()`. */
  stop(graceMs: number = this.#s.stopGraceMs): Promise<void> {
    this.#stopping ??= this.#stop(graceMs);
    return this.#stopping;
  }

  async #stop(graceMs: number): Promise<void> {
    this.#offLocalWrite?.();
    this.#triggers.stop();
    this.#timers.clear("wake");
    this.#timers.clear("poll");
    // The executor waits up to graceMs for a call in flight, then ends it; the job it cut short
    // goes back to the queue below, so it runs again on the next start.
    const abandonedUntil = await this.#executor?.closeAndTell({ graceMs }).catch(() => 0) ?? 0;
    await this.#current?.done;
    const job = this.#cutShort;
    if (job) {
      // It runs again on the next start (here or in another process), but not while a native
      // call the executor had to abandon may still be in a request.
      const now = this.#now();
      this.#p.queue.release(job.jobId, job.fence, {
        now,
        ...(abandonedUntil > now ? { holdUntil: abandonedUntil } : {}),
        error: { kind: "interrupted", message: STOPPED_MESSAGE },
      });
      this.#outcomes.interrupted();
    }
    const stopped = new SqliteSyncError("interrupted", STOPPED_MESSAGE);
    this.#waiters.rejectAll(stopped);
    this.#p.queue.close();
    this.#outcomes.setState("stopped");
    this.#p.events.clear();
  }

  // ---- the loop ------------------------------------------------------------------

  #now(): number {
    return this.#p.clock.now();
  }

  #pump(): void {
    if (this.#stopping || this.#current || !this.#executor) return;
    // While failed, a job left pending (a follow-up requested during the failing sync) waits
    // for the next probe or syncNow(), which make it urgent: never a second request at once.
    if (this.#outcomes.permanent && !this.#p.queue.current().pending?.urgent) return;
    const claim = this.#p.queue.claim({
      owner: this.#p.owner,
      now: this.#now(),
      leaseMs: this.#s.leaseMs,
      // Another process waits for this pid too: an executor may outlive its owner briefly.
      executorPid: this.#executor.pid,
    });
    if (!claim.claimed) {
      // Another process' lease: look again every second rather than at its expiry, which a
      // sync that ends early would leave idle for up to leaseMs.
      // An orphaned lease (its holder died, its executor is ending) frees within a moment.
      const cap = claim.reason === "leased"
        ? this.#now() + (claim.orphaned ? ORPHAN_RECHECK_MS : 1000)
        : Infinity;
      if (claim.retryAt !== undefined) this.#armWake(Math.min(claim.retryAt, cap));
      return;
    }
    const { job, fence } = claim;
    const done = this.#run(job.id, job.attempts, [...job.reasons], fence).finally(() => {
      this.#current = undefined;
      if (!this.#stopping) this.#pump();
    });
    this.#current = { jobId: job.id, done };
  }

  async #run(jobId: number, attempts: number, reasons: string[], fence: number): Promise<void> {
    const startedAt = this.#now();
    const job: FinishedJob = { jobId, fence, startedAt };
    this.#outcomes.setState("syncing");
    this.#p.events.emit("started", { jobId, reasons });
    const stopRenewal = this.#timers.repeat(this.#s.leaseMs / 3, () => {
      this.#p.queue.renew(jobId, fence, this.#now(), this.#s.leaseMs);
    });
    try {
      let token: string | undefined;
      if (this.#tokens) {
        const fresh = await this.#tokens.current(this.#now());
        if (fresh !== this.#lastToken) token = this.#lastToken = fresh;
      }
      const result = await this.#executor!.sync({ jobId, token });
      stopRenewal();
      const receiveError = receiveErrorOf(result);
      if (receiveError === undefined) {
        this.#retriedAfterCrash.delete(jobId);
        this.#outcomes.succeeded(job, result);
        this.#waiters.settle(jobId, (w) => w.resolve(result));
      } else {
        const message = `Received changes could not be applied: ${receiveError}`;
        const err = new SqliteSyncError("apply", message, { partial: result });
        await this.#failed(job, attempts, err);
      }
    } catch (err) {
      stopRenewal();
      await this.#failed(job, attempts, err);
    }
    await this.#refreshUnsent();
  }

  async #failed(job: FinishedJob, attempts: number, err: unknown): Promise<void> {
    const error = syncErrorOf(err);
    if (this.#stopping) {
      // Cut short by stop(): not the job's fault; #stop() hands it back to the queue once it
      // knows whether a native call may still be in a request.
      this.#cutShort = job;
      this.#waiters.settle(job.jobId, (w) => w.reject(error));
      return;
    }
    if (error.kind === "interrupted" && !this.#retriedAfterCrash.has(job.jobId)) {
      // Its executor died (the pool has already started another and reopened the database):
      // not the job's fault, so it runs again at once, uncounted; a second crash counts.
      this.#retriedAfterCrash.add(job.jobId);
      this.#p.queue.release(job.jobId, job.fence, {
        now: this.#now(),
        error: { kind: error.kind, message: error.message },
      });
      this.#outcomes.interrupted();
      this.#schedulePoll();
      return;
    }
    this.#retriedAfterCrash.delete(job.jobId);
    let refreshed = false;
    if (error.kind === "auth" && this.#tokens) {
      refreshed = await this.#tokens.refreshAfterAuthError().catch(() => false);
    }
    const retryAt = this.#outcomes.failed(job, attempts, error, refreshed);
    if (retryAt !== undefined) this.#armWake(retryAt);
    this.#waiters.settle(job.jobId, (w) => w.reject(error));
  }

  async #refreshUnsent(): Promise<void> {
    try {
      if (this.#executor && !this.#stopping) {
        this.#outcomes.recordUnsent(await this.#executor.unsentChanges());
      }
    } catch {
      // A busy or restarting executor: keep the last count.
    }
  }

  // ---- timers --------------------------------------------------------------------

  #armWake(at: number): void {
    if (this.#stopping) return;
    this.#timers.armWake(at, () => this.#pump());
  }

  #schedulePoll(): void {
    if (this.#stopping) return this.#timers.clear("poll");
    this.#timers.schedulePoll(this.#outcomes.state === "failed", (r) => this.request(r));
  }
}
