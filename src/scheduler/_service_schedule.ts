/**
 * When a service's syncs happen, and what they run on:
 *
 * - the triggers ({@linkcode ServiceTriggers}): the cron expression, the fixed
 *   interval, and the debounced local changes that request syncs on their own
 *   schedule;
 * - the timers ({@linkcode ServiceTimers}): the wake that runs what the queue
 *   holds at its due time (a retry, another process' lease), the next poll
 *   (adaptive polling, or the probe while failed), and the repeating lease
 *   renewal of a running job;
 * - the waiters ({@linkcode JobWaiters}): the `syncNow()` callers waiting on a
 *   job, settled when their job (or the job their request was merged into)
 *   finishes, rejected when the service stops;
 * - the executor ({@linkcode openServiceExecutor}): the database's seat in the
 *   process's executor pool, opened with the service's settings, then its
 *   network and tables initialized with the given credentials.
 *
 * @module
 */
import type { SyncResult } from "../../common/sync_result.ts";
import type { DriverName } from "../../ffi/drivers/driver.ts";
import type { AdaptivePolling, AdaptivePollingOptions } from "./adaptive.ts";
import type { Clock, TimerHandle } from "./clock.ts";
import { cronTrigger } from "./cron.ts";
import { debounce, type Debouncer } from "./debounce.ts";
import type { createExecutor, Executor, ExecutorKind } from "./executor.ts";
import type { SyncQueue } from "./queue.ts";
import type { ServiceSettings } from "./service_options.ts";
import { intervalTrigger, type ScheduledTrigger, type TriggerReason } from "./triggers.ts";

// --- The triggers ----------------------------------------------------------

/**
 * The schedule triggers and the change debouncer of one service.
 *
 * @example Usage
 * ```ts ignore
 * import { ServiceTriggers } from "./_service_schedule.ts";
 * const triggers = new ServiceTriggers();
 * triggers.arm(settings, clock, (reason) => console.log("sync:", reason), () => {});
 * triggers.notifyChange(); // "sync: change" once the debounce window ends
 * triggers.stop();
 * ```
 */
export class ServiceTriggers {
  #scheduled: ScheduledTrigger[] = [];
  #debouncer: Debouncer | undefined;

  /**
   * Arms the triggers the settings ask for: `cron`, `intervalMs`, and the change debouncer
   * unless `changeDebounceMs` is `false`.
   *
   * @param settings The service's settings.
   * @param clock The time source the triggers run on.
   * @param fire Called with the reason when a trigger fires.
   * @param onChange Called just before `fire` when the debounced local changes fire.
   */
  arm(
    settings: ServiceSettings,
    clock: Clock,
    fire: (reason: TriggerReason) => void,
    onChange: () => void,
  ): void {
    const s = settings;
    if (s.cron) {
      this.#scheduled.push(cronTrigger(s.cron, { timezone: s.timezone, clock }, fire));
    }
    if (s.intervalMs) {
      this.#scheduled.push(intervalTrigger(s.intervalMs, { clock }, fire));
    }
    if (s.changeDebounceMs !== false) {
      this.#debouncer = debounce(s.changeDebounceMs, { clock }, (reason) => {
        onChange();
        fire(reason);
      });
    }
  }

  /**
   * Reports a local change to the debouncer.
   *
   * @returns `false` when changes are not debounced (`changeDebounceMs: false`, or not armed).
   */
  notifyChange(): boolean {
    if (!this.#debouncer) return false;
    this.#debouncer.notify();
    return true;
  }

  /**
   * When each trigger fires next.
   *
   * @returns The debouncer's and the schedule triggers' next times; `undefined` for none.
   */
  nextRunAts(): (number | undefined)[] {
    return [
      this.#debouncer?.nextRunAt() ?? undefined,
      ...this.#scheduled.map((t) => t.nextRunAt() ?? undefined),
    ];
  }

  /** Stops every trigger (the schedule triggers, then the debouncer). */
  stop(): void {
    for (const t of this.#scheduled) t.stop();
    this.#debouncer?.stop();
  }
}

// --- The timers ------------------------------------------------------------

/** The probe's period while failed when polling is off or sets no maximum interval. */
const DEFAULT_PROBE_MS = 300_000;

/** An armed timer and when it fires (ms since the epoch). */
interface Armed {
  at: number;
  handle: TimerHandle;
}

/**
 * The wake and poll timers of one service, each armed at most once, and repeating timers.
 *
 * @example Usage
 * ```ts
 * import { ServiceTimers } from "./_service_schedule.ts";
 * import { systemClock } from "./clock.ts";
 * const timers = new ServiceTimers(systemClock, undefined, false);
 * timers.armWake(Date.now() + 1000, () => console.log("due"));
 * console.log(timers.wakeAt !== undefined); // true
 * timers.clear("wake");
 * ```
 */
export class ServiceTimers {
  #clock: Clock;
  #polling: AdaptivePolling | undefined;
  #settings: AdaptivePollingOptions | false;
  #wake: Armed | undefined;
  #poll: Armed | undefined;

  /**
   * Creates the timers.
   *
   * @param clock The time source the timers run on.
   * @param polling The adaptive polling, when the service polls.
   * @param settings The polling settings (`false` without polling).
   */
  constructor(
    clock: Clock,
    polling: AdaptivePolling | undefined,
    settings: AdaptivePollingOptions | false,
  ) {
    this.#clock = clock;
    this.#polling = polling;
    this.#settings = settings;
  }

  /** When the wake fires, or `undefined` when none is armed. */
  get wakeAt(): number | undefined {
    return this.#wake?.at;
  }

  /** When the next poll (or probe) fires, or `undefined` when none is armed. */
  get pollAt(): number | undefined {
    return this.#poll?.at;
  }

  /**
   * Arms the wake for `at`; an earlier (or equal) wake already armed stays.
   *
   * @param at When to fire (ms since the epoch).
   * @param fire Called when the wake fires.
   */
  armWake(at: number, fire: () => void): void {
    if (this.#wake && this.#wake.at <= at) return;
    this.clear("wake");
    const handle = this.#clock.setTimeout(() => {
      this.#wake = undefined;
      fire();
    }, Math.max(0, at - this.#clock.now()));
    this.#wake = { at, handle };
  }

  /**
   * Re-arms the poll: while failed, the probe; otherwise the adaptive polling's next
   * delay; nothing without polling.
   *
   * @param failed Whether the service is in the `failed` state (a permanent failure stands).
   * @param request Called when the poll fires, with `probe` while failed, else `adaptive`.
   */
  schedulePoll(failed: boolean, request: (reason: "probe" | "adaptive") => void): void {
    this.clear("poll");
    // While failed: one probe per maximum polling interval, never more (also without polling).
    const polling = this.#polling;
    const settings = this.#settings;
    if (!failed && !polling) return;
    const probeMs = (settings && settings.maxIntervalMs) || DEFAULT_PROBE_MS;
    const delay = failed ? probeMs : polling!.nextDelay();
    const at = this.#clock.now() + delay;
    const handle = this.#clock.setTimeout(() => {
      this.#poll = undefined;
      request(failed ? "probe" : "adaptive");
    }, delay);
    this.#poll = { at, handle };
  }

  /**
   * Calls `fn` every `ms` milliseconds (each call arms the next) until stopped.
   *
   * @param ms The period.
   * @param fn Called at each period's end.
   * @returns A function that stops the repetition.
   */
  repeat(ms: number, fn: () => void): () => void {
    const tick = (): void => {
      fn();
      handle = this.#clock.setTimeout(tick, ms);
    };
    let handle = this.#clock.setTimeout(tick, ms);
    return () => this.#clock.clearTimeout(handle);
  }

  /**
   * Cancels one timer (nothing when it is not armed).
   *
   * @param which The wake or the poll.
   */
  clear(which: "wake" | "poll"): void {
    const timer = which === "wake" ? this.#wake : this.#poll;
    if (timer) this.#clock.clearTimeout(timer.handle);
    if (which === "wake") this.#wake = undefined;
    else this.#poll = undefined;
  }
}

// --- The waiters -----------------------------------------------------------

/** One caller waiting on a job. */
export interface Waiter {
  /** Settles the caller's promise with the sync's result. */
  resolve(result: SyncResult): void;
  /** Rejects the caller's promise. */
  reject(err: unknown): void;
}

/**
 * The waiters of a service's jobs, by the job id their request returned.
 *
 * @example Usage
 * ```ts ignore
 * import { JobWaiters } from "./_service_schedule.ts";
 * const waiters = new JobWaiters(queue);
 * const { jobId } = queue.request("manual", { now: Date.now(), urgent: true });
 * const done = waiters.wait(jobId);
 * waiters.settle(jobId, (w) => w.resolve(result)); // `done` resolves with `result`
 * ```
 */
export class JobWaiters {
  #queue: SyncQueue;
  #waiters = new Map<number, Waiter[]>();

  /**
   * Creates an empty set of waiters.
   *
   * @param queue The queue that knows which job a request was merged into.
   */
  constructor(queue: SyncQueue) {
    this.#queue = queue;
  }

  /**
   * Waits on a job.
   *
   * @param jobId The id the request returned.
   * @returns A promise settled with the job's outcome.
   */
  wait(jobId: number): Promise<SyncResult> {
    return new Promise<SyncResult>((resolve, reject) => {
      const list = this.#waiters.get(jobId) ?? [];
      list.push({ resolve, reject });
      this.#waiters.set(jobId, list);
    });
  }

  /**
   * Settles the waiters of a job, and of requests that were merged into it.
   *
   * @param jobId The finished job.
   * @param fn Settles one waiter.
   */
  settle(jobId: number, fn: (w: Waiter) => void): void {
    for (const [id, list] of [...this.#waiters]) {
      if (id !== jobId && this.#queue.get(id)?.id !== jobId) continue;
      this.#waiters.delete(id);
      for (const w of list) fn(w);
    }
  }

  /**
   * Rejects every waiter (the service stopped) and forgets them.
   *
   * @param err The rejection.
   */
  rejectAll(err: unknown): void {
    for (const list of this.#waiters.values()) for (const w of list) w.reject(err);
    this.#waiters.clear();
  }
}

// --- The executor ----------------------------------------------------------

/** What a service's executor is opened from. */
export interface ExecutorSetup {
  /** The service's settings. */
  settings: ServiceSettings;
  /** The synced database. */
  target: { path: string; extensionPath: string; driver: DriverName };
  /** Where syncs run. */
  executorKind: ExecutorKind;
  /** The executor factory. */
  createExecutor: typeof createExecutor;
}

/**
 * The credentials to initialize with: an API key, else a token.
 */
export interface ExecutorCredentials {
  /** The API key (it wins when both are given). */
  apiKey: string | undefined;
  /** The access token. */
  token: string | undefined;
}

/**
 * Takes a seat in the executor pool and initializes it; gives it back when the initialization fails.
 *
 * @param setup The settings, database and factory.
 * @param credentials The API key or token to initialize with.
 * @param onDataVersionChange Called with the database's version when the executor sees
 *   another connection's commit (a file watch confirmed by `PRAGMA data_version`).
 * @returns The initialized executor.
 * @throws {SqliteSyncError} when the executor cannot start or initialize.
 *
 * @example Usage
 * ```ts ignore
 * import { openServiceExecutor } from "./_service_schedule.ts";
 * const executor = await openServiceExecutor(parts, { apiKey, token: undefined }, (v) => {
 *   console.log("commit seen, version", v);
 * });
 * ```
 */
export async function openServiceExecutor(
  setup: ExecutorSetup,
  credentials: ExecutorCredentials,
  onDataVersionChange: (dbVersion: number) => void,
): Promise<Executor> {
  const s = setup.settings;
  const { apiKey, token } = credentials;
  const executor = await setup.createExecutor({
    kind: setup.executorKind,
    path: setup.target.path,
    extensionPath: setup.target.extensionPath,
    driver: setup.target.driver,
    connection: { connectTimeoutS: s.connectTimeoutS, requestTimeoutS: s.requestTimeoutS },
    watch: s.changeDebounceMs !== false,
    onDataVersionChange: ({ dbVersion }) => onDataVersionChange(dbVersion),
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
