/**
 * The triggers that request a service's syncs on their own schedule: the cron
 * expression, the fixed interval, and the debounced local changes.
 *
 * @module
 */
import type { Clock } from "./clock.ts";
import { cronTrigger } from "./cron.ts";
import { debounce, type Debouncer } from "./debounce.ts";
import type { ServiceSettings } from "./service_options.ts";
import { intervalTrigger, type ScheduledTrigger, type TriggerReason } from "./triggers.ts";

/**
 * The schedule triggers and the change debouncer of one service.
 *
 * @example Usage
 * ```ts ignore
 * import { ServiceTriggers } from "./_service_triggers.ts";
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
