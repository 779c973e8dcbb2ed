/**
 * systemd readiness and watchdog (`sd_notify` protocol) for `Type=notify`
 * units: `READY=1` once the daemon serves, `WATCHDOG=1` at half of
 * `WATCHDOG_USEC`, `STOPPING=1` on shutdown, `STATUS=` lines for
 * `systemctl status`. Messages go to `NOTIFY_SOCKET` through libc
 * (`_unix_dgram.ts`), which Deno and Bun reach without an addon.
 *
 * A watchdog that is configured but cannot be fed (Node, no libc, a socket
 * that refuses) fails the start loudly, rather than letting systemd kill and
 * restart the daemon in a loop. Without a watchdog, an unusable socket is a
 * warning.
 *
 * @module
 */
import { openUnixDatagram, type UnixDatagramSender } from "./_unix_dgram.ts";

/** A watchdog is configured and cannot be fed: the daemon must not start. */
export class NotifyError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "NotifyError";
  }
}

/** What systemd passed, read from the environment. */
export interface NotifyEnv {
  NOTIFY_SOCKET?: string;
  WATCHDOG_USEC?: string;
  WATCHDOG_PID?: string;
}

/** The watchdog interval in µs when it applies to this process (`sd_watchdog_enabled`), else 0. */
export function watchdogUsec(env: NotifyEnv, pid: number): number {
  if (!env.WATCHDOG_USEC) return 0;
  const usec = Number(env.WATCHDOG_USEC);
  if (!Number.isSafeInteger(usec) || usec <= 0) return 0;
  if (env.WATCHDOG_PID && Number(env.WATCHDOG_PID) !== pid) return 0;
  return usec;
}

/**
 * Talks to systemd. Create it with {@linkcode SystemdNotifier.fromEnv}.
 */
export class SystemdNotifier {
  #sender: UnixDatagramSender;
  #timer: ReturnType<typeof setInterval> | undefined;
  #onError: (err: Error) => void;
  /** The watchdog interval in µs (0: none). */
  readonly watchdogUsec: number;

  private constructor(sender: UnixDatagramSender, usec: number, onError: (err: Error) => void) {
    this.#sender = sender;
    this.watchdogUsec = usec;
    this.#onError = onError;
  }

  /**
   * Connects to `NOTIFY_SOCKET` when set, and checks it with a first `STATUS=` message.
   *
   * @param env The environment.
   * @param pid This process's id (`WATCHDOG_PID` must match it, when set).
   * @param onError Called when a later message fails (logged by the daemon), or with a warning
   *   when the socket is unusable and no watchdog needs it.
   * @returns The notifier, or `undefined` when systemd expects nothing (or cannot be told,
   *   without a watchdog).
   * @throws {NotifyError} When a watchdog is configured and cannot be fed.
   */
  static async fromEnv(
    env: NotifyEnv,
    pid: number,
    onError: (err: Error) => void,
  ): Promise<SystemdNotifier | undefined> {
    const usec = watchdogUsec(env, pid);
    const path = env.NOTIFY_SOCKET;
    if (!path) {
      if (usec > 0) {
        throw new NotifyError(
          "systemd watchdog configured (WATCHDOG_USEC) without NOTIFY_SOCKET: the daemon cannot feed it; " +
            "remove WatchdogSec= or run it as Type=notify",
        );
      }
      return undefined;
    }
    let sender: UnixDatagramSender | undefined;
    try {
      sender = await openUnixDatagram(path);
      sender.send("STATUS=starting");
    } catch (err) {
      sender?.close();
      const why = err instanceof Error ? err.message : String(err);
      if (usec > 0) {
        throw new NotifyError(
          `systemd watchdog configured (WATCHDOG_USEC=${usec}) but NOTIFY_SOCKET cannot be used: ${why}; ` +
            "run the daemon with Deno or Bun (Node cannot send to it), or remove WatchdogSec=",
        );
      }
      onError(
        new Error(
          `NOTIFY_SOCKET cannot be used (${why}): systemd will not see READY=1; use Type=simple`,
        ),
      );
      return undefined;
    }
    return new SystemdNotifier(sender, usec, onError);
  }

  #send(message: string): void {
    try {
      this.#sender.send(message);
    } catch (err) {
      this.#onError(err instanceof Error ? err : new Error(String(err)));
    }
  }

  /** Sends `READY=1` and starts feeding the watchdog (at half its interval). */
  ready(status: string): void {
    this.#send(`READY=1\nSTATUS=${status}`);
    if (this.watchdogUsec > 0 && this.#timer === undefined) {
      this.#send("WATCHDOG=1");
      this.#timer = setInterval(
        () => this.#send("WATCHDOG=1"),
        Math.max(1, Math.floor(this.watchdogUsec / 2000)),
      );
    }
  }

  /** Sends a `STATUS=` line. */
  status(status: string): void {
    this.#send(`STATUS=${status.replace(/\n/g, " ")}`);
  }

  /** Sends `STOPPING=1` and stops feeding the watchdog. */
  stopping(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    this.#send("STOPPING=1\nSTATUS=stopping");
  }

  /** Closes the socket. */
  close(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    this.#sender.close();
  }
}
