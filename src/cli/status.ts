/**
 * `sqlite-sync status <db>`: the local view of a database, without the
 * network: synced tables, site id, db version, local changes not yet sent,
 * and, when a sync service has used it (`<db>.sync-queue` exists), the
 * queue's depth and its last finished job (outcome, time, rows, error).
 *
 * It only reads: the database and the queue are opened read-only (the
 * journal mode is kept, nothing is installed or written), so it works on a
 * read-only or immutable file too. A file that is not a SQLite database is
 * bad input (exit 2), refused before the extension is loaded on it.
 *
 * @module
 */
import { existsSync } from "node:fs";
import { defineCommand } from "citty";
import { SqliteSyncError } from "../../common/errors.ts";
import { openDriver } from "../../ffi/drivers/open_driver.ts";
import { SyncDatabase } from "../database.ts";
import { queuePathFor } from "../scheduler/_queue_path.ts";
import { type JobHistoryEntry, SyncQueue } from "../scheduler/queue.ts";
import { unsentChanges } from "../unsent.ts";
import { type CliArgDef, parseCli } from "./_args.ts";
import {
  databaseFile,
  fileHeader,
  notDatabase,
  readOnlyPath,
  shellWord,
  syncedTablesOf,
  withReadOnlyConnection,
} from "./_database_file.ts";
import { CommandFailure } from "./_failure.ts";
import { isoTime, labelled, type Output, printJson, printLines, processOutput } from "./_output.ts";

const args = {
  db: { type: "positional", description: "The database file" },
  json: { type: "boolean", description: "Print the status as JSON" },
} satisfies Record<string, CliArgDef>;

/** The `status` command. */
export const statusCommand = defineCommand({
  meta: { name: "status", description: "Show the local sync state of a database (no network)" },
  args,
  run: async ({ rawArgs }) => {
    const a = parseCli("status", rawArgs, args);
    return await showStatus({ database: a.positional("db")!, json: a.flag("json") });
  },
});

/** The last finished job of the queue, as `status` reports it. */
export interface LastJob {
  /** The job id. */
  id: number;
  /** `succeeded` or `dead`. */
  state: string;
  /** When it finished (ISO 8601). */
  finishedAt: string | null;
  /** Its runs (attempts). */
  attempts: number;
  /** Rows sent, when it succeeded. */
  rowsSent: number | null;
  /** Rows received, when it succeeded. */
  rowsReceived: number | null;
  /** Its last error (kind and message, no secret), when it failed. */
  lastError: { kind: string; message: string; status?: number } | null;
  /** Why it was dead-lettered. */
  deadReason: string | null;
}

/** What `status` reports. */
export interface LocalStatus {
  /** The database file. */
  database: string;
  /** The extension version. */
  extensionVersion: string;
  /** The synced tables (empty before `init`). */
  syncedTables: string[];
  /** This device's site id, or `null` before `init`. */
  siteId: string | null;
  /** `cloudsync_db_version()`, or `null` before `init`. */
  dbVersion: number | null;
  /** Local changes the next send would ship. */
  unsentChanges: number;
  /** The sync service's queue, or `null` when no `<db>.sync-queue` exists. */
  service: {
    /** The queue file. */
    queue: string;
    /** Jobs pending or running (0–2). */
    depth: number;
    /** Whether a job is running now. */
    running: boolean;
    /** When the pending job is due (ISO 8601), if one is pending. */
    nextDueAt: string | null;
    /** The last finished job. */
    lastJob: LastJob | null;
    /** When a job last succeeded (ISO 8601), within the kept history. */
    lastSuccessAt: string | null;
  } | null;
}

/** Options of {@linkcode showStatus}. */
export interface StatusOptions {
  /** The database file. */
  database: string;
  /** Print JSON. @default false */
  json?: boolean;
}

/**
 * Reads and prints the local status. Writes nothing.
 *
 * @param options The database and output format.
 * @param out The streams.
 * @returns The exit code (0).
 * @throws {UsageError} for a missing database or a file that is not a SQLite database.
 * @throws {SqliteSyncError} when the extension cannot load, SQLite fails, or the queue file is foreign.
 */
export async function showStatus(
  options: StatusOptions,
  out: Output = processOutput,
): Promise<number> {
  const status = await localStatus(options.database);
  if (options.json) printJson(status, out);
  else printLines(describeStatus(status), out);
  return 0;
}

/**
 * The local status of a database file, read through read-only connections.
 *
 * @param path An existing database file.
 * @returns The status.
 * @throws As {@linkcode showStatus}.
 */
export async function localStatus(path: string): Promise<LocalStatus> {
  const file = databaseFile(path, "status");
  // Without the extension first: SQLite checks the file before the extension's first query,
  // which prints its own error on stdout when it fails.
  await withReadOnlyConnection(file, syncedTablesOf);
  let db: SyncDatabase;
  try {
    db = await SyncDatabase.open(readOnlyPath(file), { readOnly: true });
  } catch (err) {
    throw notDatabase(path, err) ?? err;
  }
  let status: LocalStatus;
  try {
    const syncedTables = db.syncedTables();
    const initialized = syncedTables.length > 0;
    status = {
      database: path,
      extensionVersion: db.version(),
      syncedTables,
      siteId: initialized ? db.siteId() : null,
      dbVersion: initialized ? db.dbVersion() : null,
      unsentChanges: unsentChanges(db),
      service: null,
    };
  } finally {
    db.close();
  }
  const queuePath = queuePathFor(path);
  if (existsSync(queuePath)) status.service = await queueStatus(queuePath);
  return status;
}

/** The service's queue, read on a read-only connection (an old queue is not migrated). */
async function queueStatus(queuePath: string): Promise<LocalStatus["service"]> {
  const file = fileHeader(queuePath);
  if (file.size === 0) {
    // Created, never written (a service stopped at once): no job yet. Opening it would write.
    const empty = { depth: 0, running: false, nextDueAt: null, lastJob: null, lastSuccessAt: null };
    return { queue: queuePath, ...empty };
  }
  let queue: SyncQueue;
  try {
    const driver = await openDriver(readOnlyPath(file), { readOnly: true });
    queue = await SyncQueue.open(driver).catch((err) => {
      if (driver.isOpen) driver.close();
      throw err;
    });
  } catch (err) {
    if (err instanceof SqliteSyncError && /readonly|read-only/i.test(err.message)) {
      throw new CommandFailure(
        `the sync queue '${queuePath}' needs an upgrade or repair that status does not do ` +
          `(it only reads): start the sync service of ${shellWord(queuePathBase(queuePath))} ` +
          `once (SyncService or sqlite-sync daemon), then run status again`,
        "schema",
      );
    }
    throw err;
  }
  try {
    const current = queue.current();
    const history = queue.history(50);
    const last = history[0];
    return {
      queue: queuePath,
      depth: queue.depth(),
      running: current.running !== undefined,
      nextDueAt: isoTime(current.pending?.dueAt),
      lastJob: last ? lastJob(last) : null,
      lastSuccessAt: isoTime(history.find((j) => j.state === "succeeded")?.finishedAt),
    };
  } finally {
    queue.close();
  }
}

function queuePathBase(queuePath: string): string {
  return queuePath.replace(/\.sync-queue$/, "");
}

function lastJob(job: JobHistoryEntry): LastJob {
  const error = job.lastError;
  return {
    id: job.id,
    state: job.state,
    finishedAt: isoTime(job.finishedAt),
    attempts: job.attempts,
    rowsSent: job.rowsSent ?? null,
    rowsReceived: job.rowsReceived ?? null,
    lastError: error
      ? {
        kind: error.kind,
        message: error.message,
        ...(error.status ? { status: error.status } : {}),
      }
      : null,
    deadReason: job.deadReason ?? null,
  };
}

/**
 * The status as text for people.
 *
 * @param s The status.
 * @returns Its lines.
 */
export function describeStatus(s: LocalStatus): string[] {
  const initialized = s.syncedTables.length > 0;
  const rows: [string, unknown][] = [
    ["database", s.database],
    [
      "synced tables",
      initialized
        ? s.syncedTables.join(", ")
        : `none (enable sync: sqlite-sync init ${shellWord(s.database)} --table <table>)`,
    ],
    ["site id", s.siteId],
    ["db version", s.dbVersion],
    ["unsent changes", s.unsentChanges],
    ["extension", s.extensionVersion],
  ];
  const q = s.service;
  if (q === null) {
    rows.push(["service", "none (no sync queue file next to the database)"]);
  } else {
    const job = q.lastJob;
    rows.push(
      [
        "queue",
        `${q.queue} (${q.depth} job${q.depth === 1 ? "" : "s"}${q.running ? ", one running" : ""})`,
      ],
      ["next run", q.nextDueAt],
      [
        "last job",
        job === null
          ? "none finished yet"
          : `#${job.id} ${job.state} at ${job.finishedAt} after ${job.attempts} attempt${
            job.attempts === 1 ? "" : "s"
          }` +
            (job.state === "succeeded"
              ? `, ${job.rowsSent ?? 0} rows sent, ${job.rowsReceived ?? 0} received`
              : ""),
      ],
      ...(job?.lastError
        ? [
          [
            "last error",
            `${job.lastError.kind}: ${job.lastError.message.replace(/\s*\n\s*/g, " ")}`,
          ] as [string, unknown],
        ]
        : []),
      ...(job?.deadReason ? [["dead reason", job.deadReason] as [string, unknown]] : []),
      ["last success", q.lastSuccessAt],
    );
  }
  return labelled(rows);
}
