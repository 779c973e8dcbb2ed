/**
 * The runner's own timers: the wake that runs what the queue holds at its due
 * time (a retry, another process' lease), the next poll (adaptive polling, or
 * the probe while failed), and the repeating lease renewal of a running job.
 *
 * @module
 */
import type { AdaptivePolling, AdaptivePollingOptions } from "./adaptive.ts";
import type { Clock, TimerHandle } from "./clock.ts";

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
 * import { ServiceTimers } from "./_service_timers.ts";
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
