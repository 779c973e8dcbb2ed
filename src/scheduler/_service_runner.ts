/**
 * The machinery behind `SyncService`: triggers into the queue, the queue
 * into the executor, outcomes into retries, status and events.
 *
 * @module
 */
import { SqliteSyncError } from "../../common/errors.ts";
import type { SyncResult } from "../../common/sync_result.ts";
import type { DriverName } from "../../ffi/drivers/driver.ts";
import { AdaptivePolling } from "./adaptive.ts";
import { retryDelay } from "./backoff.ts";
import type { Clock, TimerHandle } from "./clock.ts";
import { cronTrigger } from "./cron.ts";
import { debounce, type Debouncer } from "./debounce.ts";
import type { createExecutor, Executor } from "./executor.ts";
import { FailurePolicy, receiveErrorOf } from "./failure_policy.ts";
import type { JobHistoryEntry, SyncQueue } from "./queue.ts";
import type { ServiceSettings } from "./service_options.ts";
import type {
  ExecutorKind,
  ServiceEvents,
  SyncErrorSummary,
  SyncServiceState,
  SyncServiceStatus,
} from "./status.ts";
import { TokenSource } from "./token.ts";
import { intervalTrigger, type ScheduledTrigger, type TriggerReason } from "./triggers.ts";

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

interface Waiter {
  resolve(result: SyncResult): void;
  reject(err: unknown): void;
}

const OFFLINE_KINDS = new Set(["offline", "timeout"]);

function summaryOf(err: unknown): SyncErrorSummary {
  if (err instanceof SqliteSyncError) {
    return {
      kind: err.kind,
      message: err.message,
      ...(err.status !== undefined ? { status: err.status } : {}),
    };
  }
  return { kind: "sql", message: err instanceof Error ? err.message : String(err) };
}

/** Runs one service; see `SyncService` for the public contract. */
export class ServiceRunner {
  #p: RunnerParts;
  #s: ServiceSettings;
  #executor: Executor | undefined;
  #state: SyncServiceState = "idle";
  #triggers: ScheduledTrigger[] = [];
  #debouncer: Debouncer | undefined;
  #polling: AdaptivePolling | undefined;
  #policy = new FailurePolicy();
  #tokens: TokenSource | undefined;
  #lastToken: string | undefined;
  #apiKey: string | undefined;
  #wake: { at: number; handle: TimerHandle } | undefined;
  #poll: { at: number; handle: TimerHandle } | undefined;
  #current: { jobId: number; done: Promise<void> } | undefined;
  #waiters = new Map<number, Waiter[]>();
  #stopping: Promise<void> | undefined;
  #offLocalWrite: (() => void) | undefined;
  #heardVersion = -1;
  #status = {
    lastSyncAt: null as number | null,
    lastSuccessAt: null as number | null,
    lastResult: null as SyncResult | null,
    lastError: null as SyncErrorSummary | null,
    permanentReason: null as SyncServiceStatus["permanentReason"],
    consecutiveErrors: 0,
    consecutiveEmptySyncs: 0,
    unsentChanges: 0,
  };
  #totals = {
    succeeded: 0,
    failed: 0,
    rowsReceived: 0,
    chunksSent: 0,
    bytesSent: 0,
    bytesReceived: 0,
  };

  constructor(parts: RunnerParts) {
    this.#p = parts;
    this.#s = parts.settings;
    this.#apiKey = parts.settings.apiKey;
    if (parts.settings.getToken) this.#tokens = new TokenSource(parts.settings.getToken);
    if (parts.settings.polling) {
      this.#polling = new AdaptivePolling({ random: parts.random, ...parts.settings.polling });
    }
  }

  /** Opens the executor, initializes the network and tables, arms the triggers. */
  async start(): Promise<void> {
    const s = this.#s;
    const token = this.#tokens ? await this.#tokens.current(this.#now()) : s.token;
    this.#lastToken = token;
    this.#executor = await this.#openExecutor(this.#apiKey, token);
    await this.#refreshUnsent();
    const fire = (reason: TriggerReason) => this.request(reason);
    if (s.cron) {
      this.#triggers.push(
        cronTrigger(s.cron, { timezone: s.timezone, clock: this.#p.clock }, fire),
      );
    }
    if (s.intervalMs) {
      this.#triggers.push(intervalTrigger(s.intervalMs, { clock: this.#p.clock }, fire));
    }
    if (s.changeDebounceMs !== false) {
      this.#debouncer = debounce(s.changeDebounceMs, { clock: this.#p.clock }, (reason) => {
        void this.#refreshUnsent();
        fire(reason);
      });
    }
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

  async #openExecutor(apiKey: string | undefined, token: string | undefined): Promise<Executor> {
    const s = this.#s;
    const executor = await this.#p.createExecutor({
      kind: this.#p.executorKind,
      path: this.#p.target.path,
      extensionPath: this.#p.target.extensionPath,
      driver: this.#p.target.driver,
      connection: { connectTimeoutS: s.connectTimeoutS, requestTimeoutS: s.requestTimeoutS },
      pollMs: s.changeDebounceMs === false ? 0 : s.changePollMs,
      // The caller's own SyncDatabase already told us about versions up to #heardVersion; the
      // executor sees those commits too (another connection to it): do not sync twice.
      onDataVersionChange: ({ dbVersion }) => {
        if (dbVersion > this.#heardVersion) this.localChange();
      },
    });
    try {
      await executor.init({
        databaseId: s.databaseId,
        address: s.address,
        ...(apiKey !== undefined ? { apiKey } : { token }),
        tables: s.tables,
      });
    } catch (err) {
      await executor.close({ graceMs: 0 }).catch(() => {});
      throw err;
    }
    return executor;
  }

  /** A local commit (this process's `SyncDatabase`, or seen through `data_version`). */
  localChange(): void {
    if (this.#stopping) return;
    this.#polling?.recordLocalChange();
    if (this.#debouncer) this.#debouncer.notify();
    else void this.#refreshUnsent();
  }

  /** Puts a sync request into the queue and runs what is due. */
  request(reason: TriggerReason): void {
    if (this.#stopping) return;
    // While failed, only syncNow(), new credentials and the probe try again (also while the
    // probe itself runs: the state is then "syncing", the permanent reason still stands).
    if (this.#permanent() && reason !== "manual" && reason !== "probe") return;
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
    if (this.#permanent()) this.#clearPermanent();
    const { jobId } = this.#p.queue.request("manual", {
      now: this.#now(),
      urgent: true,
      joinRunning: true,
    });
    const promise = new Promise<SyncResult>((resolve, reject) => {
      const list = this.#waiters.get(jobId) ?? [];
      list.push({ resolve, reject });
      this.#waiters.set(jobId, list);
    });
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
    if (this.#permanent()) this.#clearPermanent();
    this.request("manual");
  }

  /** `SyncService.status()`. */
  status(): SyncServiceStatus {
    const candidates = [
      this.#wake?.at,
      this.#poll?.at,
      this.#debouncer?.nextRunAt() ?? undefined,
      ...this.#triggers.map((t) => t.nextRunAt() ?? undefined),
    ].filter((v): v is number => typeof v === "number");
    let queueDepth = 0;
    try {
      queueDepth = this.#p.queue.depth();
    } catch {
      // Closed after stop().
    }
    return {
      state: this.#state,
      executor: this.#p.executorKind,
      ...this.#status,
      lastResult: this.#status.lastResult,
      currentIntervalMs: this.#polling?.interval ?? null,
      nextRunAt: this.#stopping || candidates.length === 0 ? null : Math.min(...candidates),
      queueDepth,
      totals: { ...this.#totals },
    };
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
    for (const t of this.#triggers) t.stop();
    this.#debouncer?.stop();
    this.#clearTimer("wake");
    this.#clearTimer("poll");
    // The executor waits up to graceMs for a call in flight, then ends it; the job's handler
    // then hands the job back to the queue (release), so it runs again on the next start.
    await this.#executor?.close({ graceMs }).catch(() => {});
    await this.#current?.done;
    const stopped = new SqliteSyncError(
      "interrupted",
      "The sync service stopped before the sync finished.",
    );
    for (const list of this.#waiters.values()) for (const w of list) w.reject(stopped);
    this.#waiters.clear();
    this.#p.queue.close();
    this.#setState("stopped");
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
    if (this.#permanent() && !this.#p.queue.current().pending?.urgent) return;
    const claim = this.#p.queue.claim({
      owner: this.#p.owner,
      now: this.#now(),
      leaseMs: this.#s.leaseMs,
    });
    if (!claim.claimed) {
      // Another process' lease: look again every second rather than at its expiry, which a
      // sync that ends early would leave idle for up to leaseMs.
      const cap = claim.reason === "leased" ? this.#now() + 1000 : Infinity;
      if (claim.retryAt !== undefined) this.#armWake(Math.min(claim.retryAt, cap));
      return;
    }
    const { job, fence } = claim;
    const done = this.#run(job.id, job.attempts, [...job.reasons], fence).finally(() => {
      this.#current = undefined;
      if (!this.#stopping) {
        this.#schedulePoll();
        this.#pump();
      }
    });
    this.#current = { jobId: job.id, done };
  }

  async #run(jobId: number, attempts: number, reasons: string[], fence: number): Promise<void> {
    const startedAt = this.#now();
    this.#setState("syncing");
    this.#p.events.emit("started", { jobId, reasons });
    const renew = () => {
      this.#p.queue.renew(jobId, fence, this.#now(), this.#s.leaseMs);
      renewal = this.#p.clock.setTimeout(renew, this.#s.leaseMs / 3);
    };
    let renewal = this.#p.clock.setTimeout(renew, this.#s.leaseMs / 3);
    try {
      let token: string | undefined;
      if (this.#tokens) {
        const fresh = await this.#tokens.current(this.#now());
        if (fresh !== this.#lastToken) token = this.#lastToken = fresh;
      }
      const result = await this.#executor!.sync({ jobId, token });
      this.#p.clock.clearTimeout(renewal);
      const receiveError = receiveErrorOf(result);
      if (receiveError === undefined) this.#succeeded(jobId, fence, result, startedAt);
      else {
        const err = new SqliteSyncError(
          "apply",
          `Received changes could not be applied: ${receiveError}`,
          {
            partial: result,
          },
        );
        await this.#failed(jobId, fence, attempts, err, startedAt);
      }
    } catch (err) {
      this.#p.clock.clearTimeout(renewal);
      await this.#failed(jobId, fence, attempts, err, startedAt);
    }
    await this.#refreshUnsent();
  }

  #succeeded(jobId: number, fence: number, result: SyncResult, startedAt: number): void {
    const now = this.#now();
    this.#p.queue.complete(jobId, fence, { now, startedAt, rowsReceived: result.receive.rows });
    this.#tokens?.succeeded();
    this.#policy.judgeResult(result);
    const moved = result.receive.rows > 0 || result.send.chunks > 0;
    const t = this.#totals;
    t.succeeded++;
    t.rowsReceived += result.receive.rows;
    t.chunksSent += result.send.chunks;
    t.bytesSent += result.send.bytes;
    t.bytesReceived += result.receive.bytes;
    Object.assign(this.#status, {
      lastSyncAt: now,
      lastSuccessAt: now,
      lastResult: result,
      lastError: null,
      permanentReason: null,
      consecutiveErrors: 0,
      consecutiveEmptySyncs: moved ? 0 : this.#status.consecutiveEmptySyncs + 1,
    });
    this.#polling?.recordSuccess({
      rowsReceived: result.receive.rows,
      localChanges: result.send.chunks,
    });
    this.#setState("idle");
    this.#p.events.emit("succeeded", { jobId, result, durationMs: now - startedAt });
    this.#settle(jobId, (w) => w.resolve(result));
  }

  async #failed(
    jobId: number,
    fence: number,
    attempts: number,
    err: unknown,
    startedAt: number,
  ): Promise<void> {
    const error = err instanceof SqliteSyncError
      ? err
      : new SqliteSyncError("sql", summaryOf(err).message, { cause: err });
    if (this.#stopping) {
      // Cut short by stop(): not the job's fault; it runs again on the next start.
      this.#p.queue.release(jobId, fence, { now: this.#now() });
      this.#settle(jobId, (w) => w.reject(error));
      return;
    }
    if (error.kind === "interrupted") await this.#executor?.restart().catch(() => {});
    let refreshed = false;
    if (error.kind === "auth" && this.#tokens) {
      refreshed = await this.#tokens.refreshAfterAuthError().catch(() => false);
    }
    const summary = summaryOf(error);
    const verdict = this.#policy.judge({ ...summary, partial: error.partial }, {
      canRefreshAuth: refreshed,
    });
    const now = this.#now();
    const report = { now, startedAt };
    Object.assign(this.#status, {
      lastSyncAt: now,
      lastError: summary,
      consecutiveErrors: this.#status.consecutiveErrors + 1,
    });
    this.#polling?.recordError();
    this.#totals.failed++;
    if (verdict.permanent) {
      this.#p.queue.fail(jobId, fence, summary, { ...report, dead: `permanent:${verdict.reason}` });
      this.#status.permanentReason = verdict.reason;
      this.#setState("failed");
      this.#p.events.emit("failed", { jobId, error: summary, permanent: verdict.reason });
      this.#p.events.emit("dead-lettered", { jobId, reason: `permanent:${verdict.reason}` });
    } else {
      const retryAt = refreshed
        ? now
        // `attempts` counts this claim: the first retry (attempts 1) waits up to baseMs.
        : now +
          Math.round(
            retryDelay(Math.max(0, attempts - 1), { ...this.#s.retry, random: this.#p.random }),
          );
      const outcome = this.#p.queue.fail(jobId, fence, summary, { ...report, retryAt });
      this.#setState(OFFLINE_KINDS.has(summary.kind) ? "offline" : "backing-off");
      this.#p.events.emit("failed", { jobId, error: summary, permanent: null });
      if (outcome.ok && outcome.state === "pending") {
        this.#p.events.emit("retry-scheduled", {
          jobId,
          attempt: attempts + 1,
          at: outcome.retryAt,
        });
        this.#armWake(outcome.retryAt);
      } else if (outcome.ok && outcome.state === "dead") {
        this.#p.events.emit("dead-lettered", { jobId, reason: outcome.reason });
      }
    }
    this.#settle(jobId, (w) => w.reject(error));
  }

  /** Settles the waiters of a job, and of requests that were merged into it. */
  #settle(jobId: number, fn: (w: Waiter) => void): void {
    for (const [id, list] of [...this.#waiters]) {
      if (id !== jobId && this.#p.queue.get(id)?.id !== jobId) continue;
      this.#waiters.delete(id);
      for (const w of list) fn(w);
    }
  }

  #permanent(): boolean {
    return this.#status.permanentReason !== null;
  }

  #clearPermanent(): void {
    this.#policy.reset();
    this.#tokens?.reset();
    this.#status.permanentReason = null;
    this.#setState("idle");
  }

  #setState(to: SyncServiceState): void {
    const from = this.#state;
    if (from === to) return;
    this.#state = to;
    this.#p.events.emit("state-changed", { from, to });
  }

  async #refreshUnsent(): Promise<void> {
    try {
      if (this.#executor && !this.#stopping) {
        this.#status.unsentChanges = await this.#executor.unsentChanges();
      }
    } catch {
      // A busy or restarting executor: keep the last count.
    }
  }

  // ---- timers --------------------------------------------------------------------

  #armWake(at: number): void {
    if (this.#stopping || (this.#wake && this.#wake.at <= at)) return;
    this.#clearTimer("wake");
    const handle = this.#p.clock.setTimeout(() => {
      this.#wake = undefined;
      this.#pump();
    }, Math.max(0, at - this.#now()));
    this.#wake = { at, handle };
  }

  #schedulePoll(): void {
    this.#clearTimer("poll");
    if (this.#stopping) return;
    // While failed: one probe per maximum polling interval, never more (also without polling).
    const failed = this.#state === "failed";
    if (!failed && !this.#polling) return;
    const probeMs = (this.#s.polling && this.#s.polling.maxIntervalMs) || 300_000;
    const delay = failed ? probeMs : this.#polling!.nextDelay();
    const at = this.#now() + delay;
    const handle = this.#p.clock.setTimeout(() => {
      this.#poll = undefined;
      this.request(failed ? "probe" : "adaptive");
    }, delay);
    this.#poll = { at, handle };
  }

  #clearTimer(which: "wake" | "poll"): void {
    const timer = which === "wake" ? this.#wake : this.#poll;
    if (timer) this.#p.clock.clearTimeout(timer.handle);
    if (which === "wake") this.#wake = undefined;
    else this.#poll = undefined;
  }
}
