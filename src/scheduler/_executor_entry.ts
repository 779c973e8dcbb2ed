/**
 * One Worker of the executor pool: runs in a `node:worker_threads` Worker
 * (in this process, or in the pool's host process), keeps one connection per
 * database it serves, and runs the blocking network calls there so no event
 * loop that schedules syncs ever waits for them. Started only by the pool.
 *
 * Requests run one at a time, in arrival order: a sync blocks this Worker
 * (libcurl inside SQL), and the pool sends other databases' calls elsewhere.
 *
 * Change detection: each served database's directory is watched
 * (`fs.watch`, inotify on Linux); an event on `<db>` or `<db>-wal` is
 * confirmed with `PRAGMA data_version` (it changes only when ANOTHER
 * connection commits), then `cloudsync_db_version()` tells whether synced
 * data changed, and if it advanced the main side hears `change`. Where a
 * watch cannot be set up, a slow poll ({@linkcode FALLBACK_POLL_MS}) does
 * the same; it also runs next to a watch as a safety net. The extension's
 * commit hooks are never touched.
 *
 * Secrets arrive in requests, stay in this thread's memory, and never go
 * into a reply: errors are `SqliteSyncError`s, redacted where they are raised.
 *
 * @module
 */
import { type FSWatcher, watch } from "node:fs";
import { basename, dirname, resolve } from "node:path";
import process from "node:process";
import { parentPort } from "node:worker_threads";
import { SqliteSyncError } from "../../common/errors.ts";
import { SyncDatabase } from "../database.ts";
import { unsentChanges } from "../unsent.ts";
import type { ConnectionInfo, InitReply } from "./_executor_options.ts";
import {
  type OpenRequest,
  postText,
  PROTOCOL_VERSION,
  readText,
  type Reply,
  type Request,
  type SyncRequest,
  toErrorData,
} from "./_executor_protocol.ts";

/** How often every watched database is checked anyway, in ms (and the only check without a watch). */
export const FALLBACK_POLL_MS = 30_000;

/** Delays of the re-checks after an event that showed no commit yet, in ms. */
const RECHECK_MS: readonly number[] = [50, 500];

/** When a fresh watch is double-checked, in ms. */
const ARM_CHECK_MS = 1000;

/** One database this Worker serves. */
interface Served {
  key: number;
  db: SyncDatabase;
  file: string;
  watch: boolean;
  /** `PRAGMA data_version` when last read. */
  dataVersion: number;
  /** `cloudsync_db_version()` when last read (`-1` while no table is synced). */
  dbVersion: number;
}

/** A watched directory and the databases in it, by file name (`x.db` and `x.db-wal`). */
interface Watched {
  watcher: FSWatcher | undefined;
  names: Map<string, Set<number>>;
}

class WorkerHost {
  #post: (message: Reply) => void;
  #served = new Map<number, Served>();
  #dirs = new Map<string, Watched>();
  /** Databases to check, with how many re-checks they had. */
  #dirty = new Map<number, number>();
  #checkQueued = false;
  #poll: ReturnType<typeof setInterval> | undefined;

  constructor(post: (message: Reply) => void) {
    this.#post = post;
  }

  async handle(request: Request): Promise<unknown> {
    if (request.t === "close") {
      for (const key of [...this.#served.keys()]) this.#detach(key);
      return null;
    }
    switch (request.t) {
      case "open":
        return await this.#open(request.db, request.options);
      case "sync":
        return this.#sync(this.#get(request.db, "sync()"), request.options);
      case "setToken":
        this.#get(request.db, "setToken()").db.network.setToken(request.token);
        return null;
      case "unsentChanges":
        return unsentChanges(this.#get(request.db, "unsentChanges()").db);
      case "dbVersion":
        return this.#get(request.db, "dbVersion()").db.dbVersion();
      case "info":
        return this.#info(this.#get(request.db, "info()"));
      case "detach":
        this.#detach(request.db);
        return null;
      default:
        throw new TypeError(`Unknown executor request ${JSON.stringify((request as Request).t)}`);
    }
  }

  async #open(key: number, o: OpenRequest): Promise<InitReply> {
    if (this.#served.has(key)) {
      throw new SqliteSyncError("state", "init(): the executor's database is already open.");
    }
    const db = await SyncDatabase.open(o.path, {
      extensionPath: o.extensionPath,
      driver: o.driver,
      busyTimeoutMs: o.busyTimeoutMs,
    });
    try {
      for (const spec of o.tables ?? []) {
        const { name, ...options } = typeof spec === "string" ? { name: spec } : spec;
        if (!db.syncedTables().includes(name)) db.init(name, options);
      }
      db.network.init({
        databaseId: o.databaseId,
        address: o.address,
        apiKey: o.apiKey,
        token: o.token,
      });
    } catch (err) {
      db.close();
      throw err;
    }
    const served: Served = {
      key,
      db,
      file: resolve(o.path),
      watch: o.watch,
      dataVersion: -1,
      dbVersion: -1,
    };
    served.dataVersion = readDataVersion(served);
    served.dbVersion = readDbVersion(served);
    this.#served.set(key, served);
    if (o.watch) {
      this.#watch(served);
      const known = o.knownDbVersion;
      if (known !== undefined && served.dbVersion > known) {
        this.#post({ t: "change", db: key, dbVersion: served.dbVersion, previous: known });
      }
      // A watch may take a moment to arm (Bun): look once more after it surely has.
      setTimeout(() => this.#markDirty([key]), ARM_CHECK_MS);
    }
    return { dbVersion: served.dbVersion, syncedTables: db.syncedTables() };
  }

  #sync(served: Served, o: SyncRequest): unknown {
    const db = served.db;
    if (o.token !== undefined) db.network.setToken(o.token);
    // Persisted settings: another process may have changed them since the last sync.
    db.transaction(() => {
      db.set("network_connect_timeout", o.connectTimeoutS);
      db.set("network_request_timeout", o.requestTimeoutS);
    });
    try {
      return db.network.sync({
        waitMs: o.waitMs,
        maxAttempts: o.maxAttempts,
        diagnose: o.diagnose,
      });
    } finally {
      afterOwnWrites(served);
    }
  }

  #info(served: Served): ConnectionInfo {
    const db = served.db;
    const pragma = (name: string) => Object.values(db.get(`PRAGMA ${name}`) ?? {})[0];
    const setting = (key: string) => {
      const v = db.get("SELECT value AS v FROM cloudsync_settings WHERE key = ?", key)?.v;
      return v === undefined || v === null ? null : Number(v);
    };
    const watched = this.#dirs.get(dirname(served.file))?.watcher !== undefined;
    return {
      driver: db.driver.name,
      journalMode: String(pragma("journal_mode")),
      busyTimeoutMs: Number(pragma("busy_timeout")),
      recursiveTriggers: Number(pragma("recursive_triggers")) === 1,
      connectTimeoutS: setting("network_connect_timeout"),
      requestTimeoutS: setting("network_request_timeout"),
      pid: process.pid,
      changeDetection: !served.watch ? "off" : watched ? "watch" : "poll",
    };
  }

  #detach(key: number): void {
    const served = this.#served.get(key);
    if (!served) return;
    this.#served.delete(key);
    this.#dirty.delete(key);
    if (served.watch) this.#unwatch(served);
    served.db.close();
  }

  #get(key: number, operation: string): Served {
    const served = this.#served.get(key);
    if (!served) throw new SqliteSyncError("state", `${operation} needs init() first.`);
    return served;
  }

  // ---- change detection ----------------------------------------------------------

  #watch(served: Served): void {
    const dir = dirname(served.file);
    let watched = this.#dirs.get(dir);
    if (!watched) {
      watched = { watcher: undefined, names: new Map() };
      try {
        const names = watched.names;
        watched.watcher = watch(dir, { persistent: false }, (_event, name) => {
          const keys = typeof name === "string" ? names.get(name) : undefined;
          if (keys) this.#markDirty(keys);
        });
        watched.watcher.on("error", () => {
          // The directory went away or the watch broke: the fallback poll goes on.
          watched!.watcher?.close();
          watched!.watcher = undefined;
        });
      } catch {
        // No watch here (no inotify, a file system without events): the poll covers it.
      }
      this.#dirs.set(dir, watched);
    }
    for (const name of [basename(served.file), `${basename(served.file)}-wal`]) {
      const keys = watched.names.get(name) ?? new Set<number>();
      keys.add(served.key);
      watched.names.set(name, keys);
    }
    this.#poll ??= setInterval(() => this.#markDirty(this.#served.keys()), FALLBACK_POLL_MS);
  }

  #unwatch(served: Served): void {
    const dir = dirname(served.file);
    const watched = this.#dirs.get(dir);
    if (watched) {
      for (const keys of watched.names.values()) keys.delete(served.key);
      for (const [name, keys] of watched.names) if (keys.size === 0) watched.names.delete(name);
      if (watched.names.size === 0) {
        watched.watcher?.close();
        this.#dirs.delete(dir);
      }
    }
    if (![...this.#served.values()].some((s) => s.watch) && this.#poll !== undefined) {
      clearInterval(this.#poll);
      this.#poll = undefined;
    }
  }

  /** Coalesces a burst of file events into one check per database. */
  #markDirty(keys: Iterable<number>, attempt = 0): void {
    for (const key of keys) this.#dirty.set(key, Math.max(attempt, this.#dirty.get(key) ?? 0));
    if (this.#checkQueued) return;
    this.#checkQueued = true;
    setTimeout(() => {
      this.#checkQueued = false;
      const dirty = [...this.#dirty];
      this.#dirty.clear();
      for (const [key, tries] of dirty) {
        const served = this.#served.get(key);
        if (!served?.watch || this.#check(served)) continue;
        // The event may come from the WAL frames, before the commit marks the wal-index (an
        // mmap'd -shm write, which raises no event): look again a little later, twice.
        const next = RECHECK_MS[tries];
        if (next !== undefined) setTimeout(() => this.#markDirty([key], tries + 1), next);
      }
    }, 0);
  }

  /** Reports a commit of another connection; `false` when none was seen (yet). */
  #check(served: Served): boolean {
    try {
      const dataVersion = readDataVersion(served);
      if (dataVersion === served.dataVersion) return false;
      served.dataVersion = dataVersion;
      const dbVersion = readDbVersion(served);
      if (dbVersion <= served.dbVersion) return true;
      const previous = served.dbVersion;
      served.dbVersion = dbVersion;
      this.#post({ t: "change", db: served.key, dbVersion, previous });
      return true;
    } catch {
      return false; // A busy or closing connection: look again.
    }
  }
}

/**
 * A sync may apply received rows, which advances `cloudsync_db_version()` on
 * this connection without changing `data_version` here. When no other
 * connection committed since the last check, take the new version as the
 * baseline so those rows are not reported as a local change later; when one
 * did, keep the old baseline (the next check reports it, at worst once too
 * often, never too rarely).
 */
function afterOwnWrites(served: Served): void {
  try {
    if (readDataVersion(served) === served.dataVersion) {
      served.dbVersion = Math.max(served.dbVersion, readDbVersion(served));
    }
  } catch {
    // The connection is unusable; the next request reports why.
  }
}

function readDataVersion(served: Served): number {
  return Number(served.db.get("PRAGMA data_version")?.data_version ?? -1);
}

/** `cloudsync_db_version()`, or `-1` while no table is synced (the function raises then). */
function readDbVersion(served: Served): number {
  return served.db.syncedTables().length === 0 ? -1 : served.db.dbVersion();
}

function main(): void {
  const port = parentPort;
  if (!port) {
    throw new Error("_executor_entry runs only as a Worker started by the executor pool");
  }
  const host = new WorkerHost((message) => postText(port, message));
  let queue: Promise<void> = Promise.resolve();
  port.on("message", (data: string) => {
    const request = readText<Request>(data);
    queue = queue.then(async () => {
      try {
        const value = await host.handle(request);
        postText(port, { t: "ok", id: request.id, value: value ?? null });
      } catch (err) {
        postText(port, { t: "err", id: request.id, error: toErrorData(err) });
      }
    });
  });
  postText(port, { t: "ready", protocol: PROTOCOL_VERSION });
}

main();
