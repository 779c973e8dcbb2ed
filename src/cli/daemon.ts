/**
 * `sqlite-sync daemon --config <file>`: runs a sync service per database of
 * the config, serves the status app, logs one JSON object per line on
 * stdout, reloads the config on SIGHUP and stops gracefully on SIGTERM and
 * SIGINT. Under systemd (`Type=notify`) it sends `READY=1` once serving and
 * feeds the watchdog.
 *
 * Exit codes: 0 stopped by a signal; 1 the HTTP port cannot be bound, or a
 * systemd watchdog is configured that cannot be fed; 2 bad input (flags,
 * config, secrets), with one line on stderr naming the problem and the fix.
 *
 * @module
 */
import { defineCommand } from "citty";
import process from "node:process";
import { detectRuntime } from "../../ffi/runtime.ts";
import { loadConfig } from "./config.ts";
import { Daemon } from "./_daemon.ts";
import { errorField, Logger } from "./_log.ts";
import { NotifyError, SystemdNotifier } from "./_notify.ts";
import { errorLine, USAGE_EXIT_CODE, UsageError } from "./_usage.ts";

/** Exit code for a failure of the environment (port in use, watchdog that cannot be fed). */
export const RUNTIME_EXIT_CODE = 1;

/** How long past the grace period the daemon waits for its services before exiting anyway, in ms. */
export const STOP_SLACK_MS = 500;

const FLAGS = new Set(["_", "config", "c"]);

/**
 * Runs the daemon until SIGTERM or SIGINT, then exits the process.
 *
 * @param configFile The config file.
 * @param log The logger (stdout by default).
 * @returns Never resolves before the process exits.
 */
export async function runDaemon(configFile: string, log: Logger = new Logger()): Promise<never> {
  const config = loadConfig(configFile);
  const runtime = detectRuntime();
  log.level = config.logLevel;
  log.info("daemon.start", {
    pid: process.pid,
    runtime: `${runtime.name} ${runtime.version}`,
    config: config.file,
    databases: config.databases.map((d) => d.name),
  });
  const env = { ...process.env };
  // Children (the executors) must not talk to systemd in our name.
  for (const key of ["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"]) delete process.env[key];
  const notifier = await SystemdNotifier.fromEnv(
    env,
    process.pid,
    (err) => log.warn("systemd.notify-failed", { error: errorField(err) }),
  );

  const daemon = await Daemon.start(config, log);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) {
      log.warn("daemon.exit-now", { signal, reason: "second signal while stopping" });
      process.exit(130);
    }
    stopping = true;
    notifier?.stopping();
    const graceMs = config.stopGraceMs;
    // The services promise to be done within the grace period; this only guards that promise.
    const deadline = setTimeout(() => {
      log.error("daemon.stop-forced", { signal, afterMs: graceMs + STOP_SLACK_MS });
      process.exit(0);
    }, graceMs + STOP_SLACK_MS);
    daemon.stop(signal).then(
      () => {
        clearTimeout(deadline);
        notifier?.close();
        process.exit(0);
      },
      (err) => {
        log.error("daemon.stop-failed", { error: errorField(err) });
        process.exit(RUNTIME_EXIT_CODE);
      },
    );
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
  process.on("SIGHUP", () => {
    if (stopping) return;
    daemon.reload().catch((err) => log.error("config.reload-failed", { error: errorField(err) }));
  });

  await daemon.settled();
  if (notifier) {
    daemon.notifier = notifier;
    notifier.ready(daemon.summary());
    log.info("systemd.ready", {
      watchdogMs: notifier.watchdogUsec > 0 ? Math.round(notifier.watchdogUsec / 1000) : null,
    });
  }
  // The server and the services keep the event loop alive until a signal ends it.
  return await new Promise<never>(() => {});
}

/**
 * The `daemon` command.
 *
 * @example Usage
 * ```ts ignore
 * import { defineCommand, runMain } from "citty";
 * import { daemonCommand } from "./daemon.ts";
 * await runMain(defineCommand({ subCommands: { daemon: daemonCommand } }));
 * ```
 */
export const daemonCommand = defineCommand({
  meta: {
    name: "daemon",
    description: "Run a sync service per database of a config file, with a status server " +
      "(JSON logs on stdout; SIGHUP reloads, SIGTERM/SIGINT stop)",
  },
  args: {
    config: {
      type: "string",
      alias: "c",
      valueHint: "file",
      description: "The config file (JSON with comments): databases, http, logLevel, stopGraceMs",
    },
  },
  async run({ args }) {
    try {
      const unknown = Object.keys(args).filter((k) => !FLAGS.has(k));
      if (unknown.length > 0) {
        throw new UsageError(
          `daemon: unknown flag --${unknown[0]}: the only flag is --config <file>`,
        );
      }
      if (args._.length > 0) {
        throw new UsageError(
          `daemon: unexpected argument ${JSON.stringify(String(args._[0]).slice(0, 40))}: ` +
            "use sqlite-sync daemon --config <file>",
        );
      }
      if (typeof args.config !== "string" || args.config === "") {
        throw new UsageError(
          "daemon: missing --config <file>: name the config file (JSON with comments; see examples/iot_daemon/)",
        );
      }
      await runDaemon(args.config);
    } catch (err) {
      process.stderr.write(errorLine(err) + "\n");
      process.exit(
        err instanceof UsageError
          ? USAGE_EXIT_CODE
          : err instanceof NotifyError
          ? RUNTIME_EXIT_CODE
          : RUNTIME_EXIT_CODE,
      );
    }
  },
});
