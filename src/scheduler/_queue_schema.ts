/**
 * The sync queue's sidecar file and its connection: opening it with the right
 * pragmas, telling a queue file from a foreign or damaged one, creating its
 * versioned schema idempotently (several processes may open a new file at
 * once) and migrating an older one; then the connection as the store uses it
 * (statements prepared once, the closed check, `BEGIN IMMEDIATE`), and the
 * sizes of the file and its WAL.
 *
 * @module
 */
import { statSync } from "node:fs";
import { SqliteSyncError } from "../../common/errors.ts";
import type { Driver, DriverName, PreparedStatement } from "../../ffi/drivers/driver.ts";
import { openDriver } from "../../ffi/drivers/open_driver.ts";

/** `PRAGMA application_id` of a queue file: "SYNQ" in ASCII. */
export const QUEUE_APPLICATION_ID = 0x53594e51;

/**
 * `PRAGMA user_version` of the schema this code writes. 2: the lease records
 * its executor's pid (`lease.executor_pid`). 3: a run records the payload
 * chunks it sent (`runs.chunks_sent`), and runs are indexed by start time
 * (`runs_by_start`, for the attempts timeline).
 */
export const QUEUE_SCHEMA_VERSION = 3;

/**
 * The schema. Two partial unique indexes make the queue's invariants hold in
 * the file itself: at most one pending job and at most one running job.
 * `AUTOINCREMENT` keeps job ids from ever being reused after pruning, so a
 * waiter never mistakes a new job for the one it waits on.
 */
const SCHEMA = `
CREATE TABLE jobs (
  id            INTEGER PRIMARY KEY AUTOINCREMENT,
  state         TEXT    NOT NULL CHECK (state IN ('pending','running','succeeded','dead','merged')),
  reasons       TEXT    NOT NULL,
  requests      INTEGER NOT NULL,
  urgent        INTEGER NOT NULL DEFAULT 0,
  created_at    INTEGER NOT NULL,
  not_before    INTEGER NOT NULL,
  retry_at      INTEGER NOT NULL DEFAULT 0,
  attempts      INTEGER NOT NULL DEFAULT 0,
  fence         INTEGER,
  owner         TEXT,
  started_at    INTEGER,
  finished_at   INTEGER,
  rows_sent     INTEGER,
  rows_received INTEGER,
  last_error    TEXT,
  dead_reason   TEXT,
  merged_into   INTEGER
);
CREATE UNIQUE INDEX jobs_one_pending ON jobs (state) WHERE state = 'pending';
CREATE UNIQUE INDEX jobs_one_running ON jobs (state) WHERE state = 'running';
CREATE INDEX jobs_by_state ON jobs (state, id);
CREATE TABLE runs (
  fence         INTEGER PRIMARY KEY,
  job_id        INTEGER NOT NULL,
  owner         TEXT    NOT NULL,
  claimed_at    INTEGER NOT NULL,
  started_at    INTEGER,
  finished_at   INTEGER,
  outcome       TEXT    NOT NULL,
  rows_sent     INTEGER,
  rows_received INTEGER,
  error         TEXT,
  chunks_sent   INTEGER
);
CREATE INDEX runs_by_job ON runs (job_id, fence);
CREATE INDEX runs_by_start ON runs (started_at);
CREATE TABLE lease (
  id           INTEGER PRIMARY KEY CHECK (id = 1),
  owner        TEXT,
  job_id       INTEGER,
  fence        INTEGER NOT NULL,
  expires_at   INTEGER NOT NULL,
  executor_pid INTEGER
);
INSERT INTO lease (id, owner, job_id, fence, expires_at) VALUES (1, NULL, NULL, 0, 0);
`;

/**
 * What brings a file of version `n` to `n + 1`, by `n`. A lease taken by a
 * version-1 process has no executor pid: only its holder's pid is checked. A
 * run recorded by a version-2 process has no chunk count.
 */
const MIGRATIONS: Record<number, string> = {
  1: "ALTER TABLE lease ADD COLUMN executor_pid INTEGER",
  2: "ALTER TABLE runs ADD COLUMN chunks_sent INTEGER; " +
    "CREATE INDEX runs_by_start ON runs (started_at)",
};

const FIX_DAMAGED = "Stop every process using it, then delete it (with its -wal and -shm files): " +
  "it holds only the sync queue and its history, and the next trigger requests a new sync.";

/**
 * The error for a queue file that cannot be used.
 *
 * @param path The queue file.
 * @param what What is wrong with it.
 * @param fix The way out.
 * @param cause The underlying error.
 * @returns The error, of kind `schema`.
 */
export function queueFileError(
  path: string,
  what: string,
  fix: string = FIX_DAMAGED,
  cause?: unknown,
): SqliteSyncError {
  return new SqliteSyncError("schema", `The sync queue file '${path}' ${what}. ${fix}`, {
    ...(cause === undefined ? {} : { cause }),
  });
}

/**
 * Whether an error says the file itself is damaged or not a database.
 *
 * @param err What SQLite threw.
 * @returns `true` for `SQLITE_CORRUPT`, `SQLITE_NOTADB` and their messages.
 */
export function isDamagedFileError(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  const message = String((err as { message?: unknown })?.message ?? "");
  return code === "SQLITE_CORRUPT" || code === "SQLITE_NOTADB" ||
    /file is not a database|database disk image is malformed/.test(message);
}

function pragmaNumber(driver: Driver, name: string): number {
  const row = driver.prepare(`PRAGMA ${name}`).get();
  return Number(row === undefined ? 0 : Object.values(row)[0]);
}

/** Tuning of {@linkcode prepareQueueFile}. */
export interface QueueFileOptions {
  /** How long a statement waits for another process' lock, in ms. */
  busyTimeoutMs: number;
}

/**
 * Sets the connection up and makes sure the file is a queue of this schema:
 * refuses a foreign, newer or damaged file before changing anything in it,
 * then switches to WAL and creates the schema if the file is new.
 *
 * @param driver The open connection to the queue file.
 * @param options The busy time-out.
 * @throws {SqliteSyncError} `schema` naming the file and the fix when the file is not a
 *   queue, was written by a newer version, or is damaged.
 */
export function prepareQueueFile(driver: Driver, options: QueueFileOptions): void {
  const path = driver.path;
  driver.exec(`PRAGMA busy_timeout = ${Math.max(0, Math.floor(options.busyTimeoutMs))}`);
  let appId: number;
  let version: number;
  let objects: number;
  try {
    appId = pragmaNumber(driver, "application_id");
    version = pragmaNumber(driver, "user_version");
    objects = Number(driver.prepare("SELECT count(*) AS n FROM sqlite_master").get()?.n ?? 0);
    const check = driver.prepare("PRAGMA quick_check").all();
    const verdict = check.map((r) => String(Object.values(r)[0])).join("; ");
    if (verdict !== "ok") {
      throw queueFileError(path, `is damaged (quick_check: ${verdict.slice(0, 200)})`);
    }
  } catch (err) {
    if (err instanceof SqliteSyncError && err.kind === "schema") throw err;
    if (isDamagedFileError(err)) {
      throw queueFileError(path, "is not a readable SQLite database", FIX_DAMAGED, err);
    }
    throw err;
  }
  if (appId !== QUEUE_APPLICATION_ID && (appId !== 0 || objects > 0)) {
    throw queueFileError(
      path,
      "belongs to something else (it is a SQLite database, but not a sync queue: " +
        `application_id ${appId}, ${objects} schema objects)`,
      "Leave that file alone and give the queue its own path (by default the synced " +
        "database's path followed by '.sync-queue').",
    );
  }
  if (version > QUEUE_SCHEMA_VERSION) {
    throw queueFileError(
      path,
      `was written by a newer version of @sqliteai/sync (schema ${version}; this one knows ` +
        `${QUEUE_SCHEMA_VERSION})`,
      "Upgrade @sqliteai/sync in every process that syncs this database, or delete the queue " +
        "file to start a new one.",
    );
  }
  // Only takes effect on a new, empty file: freed pages go back to the OS on prune.
  if (objects === 0) driver.exec("PRAGMA auto_vacuum = INCREMENTAL");
  driver.prepare("PRAGMA journal_mode = WAL").get();
  driver.exec(
    "PRAGMA synchronous = NORMAL; PRAGMA wal_autocheckpoint = 100; " +
      "PRAGMA journal_size_limit = 262144; PRAGMA foreign_keys = OFF",
  );
  driver.transaction(() => {
    // Re-read under the write lock: another process may have created or migrated it meanwhile.
    const current = pragmaNumber(driver, "user_version");
    if (current === QUEUE_SCHEMA_VERSION) return;
    if (current === 0) driver.exec(SCHEMA);
    else for (let v = current; v < QUEUE_SCHEMA_VERSION; v++) driver.exec(MIGRATIONS[v]);
    driver.exec(
      `PRAGMA application_id = ${QUEUE_APPLICATION_ID}; ` +
        `PRAGMA user_version = ${QUEUE_SCHEMA_VERSION}`,
    );
  });
}

/**
 * The connection of one sync queue as the store uses it: statements prepared
 * once and finalized on close, the closed check, a damaged file reported as
 * such, and `BEGIN IMMEDIATE` transactions.
 *
 * @example Usage
 * ```ts ignore
 * const sql = new QueueStatements(driver);
 * const depth = sql.guard(() => sql.q("SELECT count(*) AS n FROM jobs").get()!.n);
 * sql.close();
 * ```
 */
export class QueueStatements {
  /** The connection, with the queue's schema in place. */
  readonly driver: Driver;
  #statements = new Map<string, PreparedStatement>();
  #open = true;

  /** @param driver The connection, with the schema in place. */
  constructor(driver: Driver) {
    this.driver = driver;
  }

  /** Whether neither the statements nor the connection are closed. */
  get isOpen(): boolean {
    return this.#open && this.driver.isOpen;
  }

  /** The statement for `sql`, prepared on first use. */
  q(sql: string): PreparedStatement {
    let stmt = this.#statements.get(sql);
    if (stmt === undefined) {
      stmt = this.driver.prepare(sql);
      this.#statements.set(sql, stmt);
    }
    return stmt;
  }

  /**
   * Runs `fn` unless closed (a `state` error then); a damaged file becomes a
   * `schema` error naming it.
   */
  guard<T>(fn: () => T): T {
    if (!this.#open) {
      throw new SqliteSyncError(
        "state",
        `The sync queue '${this.driver.path}' is closed: open it again with SyncQueue.open().`,
      );
    }
    try {
      return fn();
    } catch (err) {
      if (isDamagedFileError(err)) {
        throw queueFileError(this.driver.path, "is damaged", undefined, err);
      }
      throw err;
    }
  }

  /** {@linkcode QueueStatements.guard} around one transaction. */
  tx<T>(fn: () => T): T {
    return this.guard(() => this.driver.transaction(fn));
  }

  /** Finalizes the statements (the caller closes the connection). Idempotent. */
  close(): void {
    if (!this.#open) return;
    this.#open = false;
    for (const stmt of this.#statements.values()) stmt.finalize();
    this.#statements.clear();
  }
}

/**
 * Opens a queue file (or takes an open connection to one) and prepares it
 * with {@linkcode prepareQueueFile}; a connection that closing the queue would
 * close is closed when the file cannot be used.
 *
 * @param target The queue file's path or an open connection to it.
 * @param options The driver that opens a path, whether closing the queue closes a passed
 *   connection (`true` by default), the busy time-out in ms (5000 by default).
 * @returns The connection's statements, and whether closing the queue closes the connection.
 * @throws {SqliteSyncError} As {@linkcode prepareQueueFile}, or when the path cannot be opened.
 */
export async function openQueueFile(
  target: string | Driver,
  options: { driver?: DriverName; closeDriver?: boolean; busyTimeoutMs?: number },
): Promise<{ sql: QueueStatements; closeDriver: boolean }> {
  const busyTimeoutMs = options.busyTimeoutMs ?? 5000;
  const opened = typeof target === "string";
  const driver = opened ? await openDriver(target, { driver: options.driver }) : target;
  const closeDriver = opened || options.closeDriver !== false;
  try {
    prepareQueueFile(driver, { busyTimeoutMs });
  } catch (err) {
    if (closeDriver) driver.close();
    throw err;
  }
  return { sql: new QueueStatements(driver), closeDriver };
}

/**
 * The sizes of a queue file and its WAL.
 *
 * @param path The queue file's path.
 * @returns The sizes in bytes: 0 in memory or when absent.
 */
export function queueFileSizes(path: string): { file: number; wal: number } {
  const size = (p: string) => {
    try {
      return statSync(p).size;
    } catch {
      return 0;
    }
  };
  const memory = path === ":memory:" || path === "";
  return memory ? { file: 0, wal: 0 } : { file: size(path), wal: size(`${path}-wal`) };
}
