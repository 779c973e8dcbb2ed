/**
 * The cron trigger: 5- or 6-field cron expressions in any IANA time zone,
 * computed by croner and scheduled on an injected clock.
 *
 * @module
 */
import { Cron } from "croner";
import { type Clock, isClock, systemClock } from "./clock.ts";
import type { ScheduledTrigger } from "./triggers.ts";

/** Options of {@linkcode cronTrigger}. */
export interface CronTriggerOptions {
  /**
   * The IANA time zone the expression is read in, e.g. `"Europe/Berlin"`.
   * @default the process's local time zone
   */
  timezone?: string;
  /**
   * The time source.
   * @default {systemClock}
   */
  clock?: Clock;
}

const EXAMPLES = '"*/15 * * * *" (every 15 minutes), "0 3 * * *" (03:00 every day), ' +
  '"0 9 * * 1-5" (09:00 on weekdays), "*/30 * * * * *" (every 30 seconds, 6 fields)';

function quote(value: unknown): string {
  return typeof value === "string" ? JSON.stringify(value) : String(value);
}

/**
 * Fires whenever a cron expression matches, in a time zone.
 *
 * The expression has 5 fields (minute hour day-of-month month day-of-week) or
 * 6 (a seconds field first); croner's extensions (`L`, `#`, `W`, `@daily`, …)
 * work, and day-of-month and day-of-week combine with OR, as in Vixie cron.
 *
 * Daylight saving time: when the time fields (seconds, minutes, hours) have
 * no wildcard and no step (`30 2 * * *`, `30 2,14 * * *`), a local time that
 * occurs twice runs once, at the earlier instant, and a local time that is
 * skipped runs at the instant after the gap (02:30 on a spring-forward night
 * runs at 03:00). Expressions with a wildcard or a step in a time field
 * (`0 * * * *`, `*\/30 * * * *`) keep their real-time rhythm instead: nothing
 * extra runs after a gap, and a repeated hour runs in both of its passes.
 * (croner's `fixedTimeRule: "no-wildcard"`, close to Vixie cron.)
 *
 * The next run is computed from the clock's `now()` after every run, so a
 * machine that slept through several runs fires once on waking, then
 * resumes. A run fires only once `now()` has reached its instant: when the
 * clock calls back early (its wall clock was set back), the trigger waits for
 * the rest. The next run is scheduled before `onFire` is called.
 *
 * @param expression The cron expression.
 * @param options The options.
 * @param onFire Called with `"cron"` on every run.
 * @returns The running trigger.
 * @throws {TypeError} when the expression is not a valid 5- or 6-field cron expression or never
 *   matches, the time zone is unknown, `clock` is not a clock or `onFire` is not a function;
 *   the message names the value and gives valid examples.
 *
 * @example Usage
 * ```ts
 * import { cronTrigger } from "./cron.ts";
 * const trigger = cronTrigger("0 3 * * *", { timezone: "Europe/Berlin" }, (reason) => {
 *   console.log(reason); // "cron"
 * });
 * console.log(new Date(trigger.nextRunAt()!).toISOString()); // the next 03:00 in Berlin
 * trigger.stop();
 * ```
 */
export function cronTrigger(
  expression: string,
  options: CronTriggerOptions,
  onFire: (reason: "cron") => void,
): ScheduledTrigger {
  const { timezone, clock = systemClock } = options ?? {};
  if (!isClock(clock)) {
    throw new TypeError(
      `Cannot create cron trigger as 'clock' must have now(), setTimeout() and clearTimeout(): current value is ${
        String(clock)
      }`,
    );
  }
  if (timezone !== undefined) {
    let known = typeof timezone === "string" && timezone !== "";
    try {
      if (known) new Intl.DateTimeFormat("en-US", { timeZone: timezone });
    } catch {
      known = false;
    }
    if (!known) {
      throw new TypeError(
        `Cannot create cron trigger as 'timezone' must be an IANA time zone: current value is ${
          quote(timezone)
        }; valid examples: "UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata"`,
      );
    }
  }
  if (typeof expression !== "string") {
    throw new TypeError(
      `Cannot create cron trigger as 'expression' must be a string: current value is ${
        quote(expression)
      }; valid examples: ${EXAMPLES}`,
    );
  }
  let cron: Cron;
  try {
    cron = new Cron(expression, {
      timezone,
      paused: true,
      mode: "5-or-6-parts",
      fixedTimeRule: "no-wildcard",
    });
  } catch (cause) {
    throw new TypeError(
      `Cannot create cron trigger as 'expression' must be a 5- or 6-field cron expression: current value is ${
        quote(expression)
      } (${cause instanceof Error ? cause.message : String(cause)}); valid examples: ${EXAMPLES}`,
      { cause },
    );
  }
  if (typeof onFire !== "function") {
    throw new TypeError(
      `Cannot create cron trigger as 'onFire' must be a function: current value is ${
        String(onFire)
      }`,
    );
  }

  const nextAfter = (ms: number): number | null => cron.nextRun(new Date(ms))?.getTime() ?? null;
  let dueAt = nextAfter(clock.now());
  if (dueAt === null) {
    throw new TypeError(
      `Cannot create cron trigger as 'expression' never matches a date: current value is ${
        quote(expression)
      }; valid examples: ${EXAMPLES}`,
    );
  }
  let stopped = false;
  let handle = clock.setTimeout(tick, dueAt - clock.now());

  function tick(): void {
    if (stopped || dueAt === null) return;
    const now = clock.now();
    if (now < dueAt) {
      handle = clock.setTimeout(tick, dueAt - now);
      return;
    }
    dueAt = nextAfter(Math.max(now, dueAt));
    if (dueAt !== null) handle = clock.setTimeout(tick, dueAt - now);
    onFire("cron");
  }

  return {
    stop(): void {
      if (stopped) return;
      stopped = true;
      dueAt = null;
      clock.clearTimeout(handle);
    },
    nextRunAt: (): number | null => dueAt,
  };
}
