/**
 * The daemon: a {@linkcode DatabaseSlot} per configured database, the status
 * app served over HTTP, config reloads and a graceful stop. Signals, exit
 * codes and systemd live in `daemon.ts`; this file only runs.
 *
 * @module
 */
import { createApp, type StatusApp } from "../http/app.ts";
import { loopbackAllowedHosts } from "../http/_guards.ts";
import { serve, type Served } from "../http/serve.ts";
import { loadConfig } from "./config.ts";
import type { DaemonConfig } from "./_config_types.ts";
import { configureExecutors } from "../scheduler/executor.ts";
import { daemonExecutors, DatabaseSlot, restartKey } from "./_daemon_slot.ts";
import { errorField, type Logger } from "./_log.ts";

/** What the daemon reports to systemd, if anything listens. */
export interface DaemonNotifier {
  status(text: string): void;
}

/** The HTTP server could not be bound. */
export class BindError extends Error {
  /** Creates the error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "BindError";
  }
}

/**
 * A running daemon. Start it with {@linkcode Daemon.start}.
 */
export class Daemon {
  #config: DaemonConfig;
  #log: Logger;
  #slots = new Map<string, DatabaseSlot>();
  #app!: StatusApp;
  #served!: Served;
  #ops: Promise<void> = Promise.resolve();
  #stopping: Promise<void> | undefined;
  #notifier: DaemonNotifier | undefined;
  /** On a loopback bind, the `Host` names the app answers (DNS rebinding); else no check. */
  #allowedHosts: string[] | undefined;

  private constructor(config: DaemonConfig, log: Logger) {
    this.#config = config;
    this.#log = log;
    // From the config it starts with: http.host applies at start, a reload does not move it.
    this.#allowedHosts = loopbackAllowedHosts(config.http.host);
  }

  /**
   * Binds the HTTP server, then starts every database's service (without
   * waiting for them: `/healthz` answers at once).
   *
   * @param config The validated config.
   * @param log The logger.
   * @returns The daemon.
   * @throws {BindError} When `http.host:http.port` cannot be bound.
   */
  static async start(config: DaemonConfig, log: Logger): Promise<Daemon> {
    const daemon = new Daemon(config, log);
    log.level = config.logLevel;
    // One executor pool serves every database of the daemon.
    configureExecutors(daemonExecutors(config.executors));
    log.setSecrets(daemon.#secrets(config));
    daemon.#app = daemon.#buildApp(config);
    try {
      daemon.#served = await serve((req) => daemon.#app.fetch(req), config.http);
    } catch (err) {
      const code = (err as { code?: string }).code ?? "error";
      throw new BindError(
        `cannot listen on ${config.http.host}:${config.http.port} (${code}): ` +
          (code === "EADDRINUSE"
            ? "another process uses that port; pick another 'http.port' (0 picks a free one) or stop it"
            : "check 'http.host' and 'http.port' in the config"),
        { cause: err },
      );
    }
    const url = `http://${
      daemon.#served.host.includes(":") ? `[${daemon.#served.host}]` : daemon.#served.host
    }:${daemon.#served.port}/`;
    log.info("http.listening", { host: daemon.#served.host, port: daemon.#served.port, url });
    for (const db of config.databases) daemon.#addSlot(db);
    daemon.#app = daemon.#buildApp(config);
    return daemon;
  }

  /** The bound port. */
  get port(): number {
    return this.#served.port;
  }

  /** The bound host. */
  get host(): string {
    return this.#served.host;
  }

  /** Settles once every database's first start attempt has. */
  async settled(): Promise<void> {
    await Promise.all([...this.#slots.values()].map((s) => s.started));
  }

  /** Where systemd hears about reloads (set once readiness was sent). */
  set notifier(notifier: DaemonNotifier | undefined) {
    this.#notifier = notifier;
  }

  /** A one-line summary for `systemctl status`. */
  summary(): string {
    const slots = [...this.#slots.values()];
    const running = slots.filter((s) => s.state === "running").length;
    return `${running} of ${slots.length} database(s) running; http ${this.host}:${this.port}`;
  }

  #secrets(config: DaemonConfig): string[] {
    return [...config.databases.map((d) => d.credential), config.http.token ?? ""];
  }

  #buildApp(config: DaemonConfig): StatusApp {
    const services = [...this.#slots.values()].map((s) => ({ name: s.name, service: s.view }));
    const allowedHosts = this.#allowedHosts;
    return createApp(services, {
      ...(config.http.token === undefined ? {} : { token: config.http.token }),
      ...(allowedHosts === undefined ? {} : { allowedHosts }),
      // Off loopback (no Host allowlist) the token guards reads too, unless the app is public.
      readsNeedToken: config.http.token !== undefined && !config.http.public &&
        allowedHosts === undefined,
      // A GET answer is at most 1 s old: a flood of page loads renders once a second.
      cacheMs: 1000,
    });
  }

  #addSlot(db: DaemonConfig["databases"][number]): void {
    this.#slots.set(
      db.name,
      new DatabaseSlot(db, {
        log: this.#log,
        stopGraceMs: this.#config.stopGraceMs,
        onChange: () => this.#notifier?.status(this.summary()),
      }),
    );
  }

  /**
   * Re-reads the config file and applies the difference: new databases start,
   * removed ones stop, changed ones restart, a changed credential alone is
   * handed to the running service. A config that does not validate changes
   * nothing: the error is logged and the old config keeps running.
   *
   * @returns Whether the new config was applied.
   */
  reload(): Promise<boolean> {
    const run = this.#ops.then(() => this.#reload());
    this.#ops = run.then(() => {}, () => {});
    return run;
  }

  async #reload(): Promise<boolean> {
    if (this.#stopping) return false;
    this.#log.info("config.reloading", { file: this.#config.file });
    let next: DaemonConfig;
    try {
      next = loadConfig(this.#config.file);
    } catch (err) {
      this.#log.error("config.rejected", {
        file: this.#config.file,
        error: errorField(err),
        kept: "the running config",
      });
      this.#notifier?.status(`config rejected, old one kept; ${this.summary()}`);
      return false;
    }
    const old = this.#config;
    const grace = next.stopGraceMs;
    const added: string[] = [];
    const removed: string[] = [];
    const restarted: string[] = [];
    const credentialUpdated: string[] = [];
    const wanted = new Map(next.databases.map((d) => [d.name, d]));
    const stops: Promise<void>[] = [];
    for (const [name, slot] of this.#slots) {
      const db = wanted.get(name);
      if (db === undefined) {
        removed.push(name);
        this.#slots.delete(name);
        stops.push(slot.stop(grace));
      } else if (restartKey(db) !== restartKey(slot.config)) {
        restarted.push(name);
        this.#slots.delete(name);
        stops.push(slot.stop(grace));
      }
    }
    // Stop first: a restarted database's queue must be released before its new service opens it.
    await Promise.all(stops);
    if (JSON.stringify(next.executors) !== JSON.stringify(old.executors)) {
      // Sizes apply at once; a new kind to the databases that start from now on.
      configureExecutors(daemonExecutors(next.executors));
      this.#log.info("executors.configured", { ...next.executors });
    }
    this.#config = next;
    this.#log.level = next.logLevel;
    this.#log.setSecrets([...this.#secrets(old), ...this.#secrets(next)]);
    for (const db of next.databases) {
      const slot = this.#slots.get(db.name);
      if (slot === undefined) {
        if (!restarted.includes(db.name)) added.push(db.name);
        this.#addSlot(db);
      } else if (db.credential !== slot.config.credential) {
        credentialUpdated.push(db.name);
        await slot.updateCredential(db);
      }
    }
    const httpMoved = next.http.host !== old.http.host || next.http.port !== old.http.port;
    if (httpMoved) {
      this.#log.warn("config.http-unchanged", {
        reason: "http.host and http.port apply at start: restart the daemon to move the server",
        serving: { host: this.host, port: this.port },
      });
    }
    this.#app = this.#buildApp(next);
    this.#log.setSecrets(this.#secrets(next));
    this.#log.info("config.reloaded", {
      file: next.file,
      databases: next.databases.map((d) => d.name),
      added,
      removed,
      restarted,
      credentialUpdated,
    });
    this.#notifier?.status(this.summary());
    return true;
  }

  /**
   * Stops every service (each with the grace period) and the HTTP server. Idempotent.
   *
   * @param reason What asked for it (a signal name).
   */
  stop(reason: string): Promise<void> {
    this.#stopping ??= (async () => {
      const started = performance.now();
      const graceMs = this.#config.stopGraceMs;
      this.#log.info("daemon.stopping", { reason, graceMs });
      await this.#ops;
      await Promise.all(
        [...this.#slots.values()].map((slot) =>
          slot.stop(graceMs).catch((err) =>
            this.#log.error("service.stop-failed", { database: slot.name, error: errorField(err) })
          )
        ),
      );
      await this.#served.close();
      this.#log.info("daemon.stopped", { reason, ms: Math.round(performance.now() - started) });
    })();
    return this.#stopping;
  }
}
