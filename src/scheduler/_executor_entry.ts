/**
 * The executor's own side: runs in a `node:worker_threads` Worker or in a
 * child process (the same file for both), owns one connection to the
 * database, and runs the blocking network calls there so the main thread
 * never waits for them. Started only by `executor.ts`; not a public module.
 *
 * - Worker: messages arrive on `parentPort`.
 * - Child process: newline-delimited JSON on stdin/stdout (stdout carries
 *   nothing else: `console.log` goes to stderr). When stdin ends (the parent
 *   closed it or died) the child exits.
 *
 * Requests run one at a time, in arrival order. While idle, the executor
 * reads `PRAGMA data_version` every `pollMs`: it changes only when ANOTHER
 * connection commits; then `cloudsync_db_version()` tells whether synced data
 * changed, and if it advanced the main side is told (`change`). The
 * extension's commit hooks are never touched.
 *
 * Secrets arrive in requests, stay in this thread's memory, and never go
 * into a reply: errors are `SqliteSyncError`s, redacted where they are raised.
 *
 * @module
 */
import process from "node:process";
import { parentPort } from "node:worker_threads";
import { SqliteSyncError } from "../../common/errors.ts";
import { SyncDatabase } from "../database.ts";
import { unsentChanges } from "../unsent.ts";
import {
  type ConnectionInfo,
  type InitReply,
  type InitRequest,
  PROTOCOL_VERSION,
  type Reply,
  type Request,
  type SyncRequest,
  toErrorData,
} from "./_executor_protocol.ts";

/** How this side talks to the main side. */
interface Link {
  post(message: Reply): void;
  listen(handler: (message: Request) => void): void;
  /** Ends this side after the last reply went out. */
  end(): void;
}

function workerLink(port: NonNullable<typeof parentPort>): Link {
  return {
    post: (message) => port.postMessage(message),
    listen: (handler) => port.on("message", (m: Request) => handler(m)),
    // The main side terminates the Worker once it has the reply (Deno's
    // parentPort has no close()).
    end: () => {},
  };
}

function stdioLink(): Link {
  // stdout is the channel: keep stray output off it.
  const toStderr = (...args: unknown[]) => console.error(...args);
  console.log = toStderr;
  console.info = toStderr;
  console.debug = toStderr;
  return {
    post: (message) => {
      process.stdout.write(JSON.stringify(message) + "\n");
    },
    listen: (handler) => {
      let buffer = "";
      process.stdin.setEncoding("utf8");
      process.stdin.on("data", (chunk: string) => {
        buffer += chunk;
        for (let i = buffer.indexOf("\n"); i >= 0; i = buffer.indexOf("\n")) {
          const line = buffer.slice(0, i);
          buffer = buffer.slice(i + 1);
          let message: Request;
          try {
            message = JSON.parse(line);
          } catch {
            continue;
          }
          handler(message);
        }
      });
      // The parent closed the pipe or died: nobody is left to answer.
      const gone = () => process.exit(0);
      process.stdin.on("end", gone);
      process.stdin.on("close", gone);
      process.stdin.resume();
    },
    end: () => {
      process.stdout.write("", () => process.exit(0));
    },
  };
}

/** The executor's state: one connection, its change poller, the request handlers. */
class ExecutorHost {
  #link: Link;
  #db: SyncDatabase | undefined;
  #timer: ReturnType<typeof setInterval> | undefined;
  /** `PRAGMA data_version` when last polled. */
  #dataVersion = -1;
  /** `cloudsync_db_version()` when last polled (`-1` while no table is synced). */
  #dbVersion = -1;

  constructor(link: Link) {
    this.#link = link;
  }

  async handle(request: Request): Promise<unknown> {
    switch (request.t) {
      case "init":
        return await this.#init(request.options);
      case "sync":
        return this.#sync(request.options);
      case "setToken":
        this.#open("setToken()").network.setToken(request.token);
        return null;
      case "unsentChanges":
        return this.#unsentChanges();
      case "dbVersion":
        return this.#open("dbVersion()").dbVersion();
      case "info":
        return this.#info();
      case "close":
        this.#close();
        return null;
      default:
        throw new TypeError(`Unknown executor request ${JSON.stringify((request as Request).t)}`);
    }
  }

  async #init(o: InitRequest): Promise<InitReply> {
    if (this.#db) {
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
    this.#db = db;
    this.#dataVersion = this.#readDataVersion();
    this.#dbVersion = this.#readDbVersion();
    if (o.pollMs > 0) this.#timer = setInterval(() => this.#poll(), o.pollMs);
    return { dbVersion: this.#dbVersion, syncedTables: db.syncedTables() };
  }

  #sync(o: SyncRequest): unknown {
    const db = this.#open("sync()");
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
      this.#afterOwnWrites();
    }
  }

  /**
   * A sync may apply received rows, which advances `cloudsync_db_version()`
   * on this connection without changing `data_version` here. When no other
   * connection committed since the last poll, take the new version as the
   * baseline so those rows are not reported as a local change later; when
   * one did, keep the old baseline (the next poll reports it, at worst once
   * too often, never too rarely).
   */
  #afterOwnWrites(): void {
    try {
      if (this.#readDataVersion() === this.#dataVersion) {
        this.#dbVersion = Math.max(this.#dbVersion, this.#readDbVersion());
      }
    } catch {
      // The connection is unusable; the next request reports why.
    }
  }

  #unsentChanges(): number {
    return unsentChanges(this.#open("unsentChanges()"));
  }

  #info(): ConnectionInfo {
    const db = this.#open("info()");
    const pragma = (name: string) => Object.values(db.get(`PRAGMA ${name}`) ?? {})[0];
    const setting = (key: string) => {
      const v = db.get("SELECT value AS v FROM cloudsync_settings WHERE key = ?", key)?.v;
      return v === undefined || v === null ? null : Number(v);
    };
    return {
      driver: db.driver.name,
      journalMode: String(pragma("journal_mode")),
      busyTimeoutMs: Number(pragma("busy_timeout")),
      recursiveTriggers: Number(pragma("recursive_triggers")) === 1,
      connectTimeoutS: setting("network_connect_timeout"),
      requestTimeoutS: setting("network_request_timeout"),
      pid: process.pid,
    };
  }

  #close(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    const db = this.#db;
    this.#db = undefined;
    db?.close();
  }

  #poll(): void {
    const db = this.#db;
    if (!db || db.closed) return;
    try {
      const dataVersion = this.#readDataVersion();
      if (dataVersion === this.#dataVersion) return;
      this.#dataVersion = dataVersion;
      const dbVersion = this.#readDbVersion();
      if (dbVersion <= this.#dbVersion) return;
      const previous = this.#dbVersion;
      this.#dbVersion = dbVersion;
      this.#link.post({ t: "change", dbVersion, previous });
    } catch {
      // A busy or closing connection: the next tick tries again.
    }
  }

  #readDataVersion(): number {
    return Number(this.#db!.get("PRAGMA data_version")?.data_version ?? -1);
  }

  /** `cloudsync_db_version()`, or `-1` while no table is synced (the function raises then). */
  #readDbVersion(): number {
    const db = this.#db!;
    return db.syncedTables().length === 0 ? -1 : db.dbVersion();
  }

  #open(operation: string): SyncDatabase {
    if (!this.#db) {
      throw new SqliteSyncError("state", `${operation} needs init() first.`);
    }
    return this.#db;
  }
}

function main(): void {
  const link = parentPort ? workerLink(parentPort) : stdioLink();
  const host = new ExecutorHost(link);
  let queue: Promise<void> = Promise.resolve();
  link.listen((request) => {
    queue = queue.then(async () => {
      try {
        const value = await host.handle(request);
        link.post({ t: "ok", id: request.id, value: value ?? null });
      } catch (err) {
        link.post({ t: "err", id: request.id, error: toErrorData(err) });
      }
      if (request.t === "close") link.end();
    });
  });
  link.post({ t: "ready", pid: process.pid, protocol: PROTOCOL_VERSION });
}

main();
