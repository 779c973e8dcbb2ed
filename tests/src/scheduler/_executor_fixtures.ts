/**
 * What the executor tests (executor_*_test.ts) share: the executor kinds, a
 * database file with an executor initialised on it (`withExecutor()`), the
 * check that an error is typed and never names the API key, and a wait for
 * the next value a callback records.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { tempDir, testExtensionPath } from "../../_helpers.ts";
import { SyncDatabase } from "../../../src/database.ts";
import {
  createExecutor,
  type Executor,
  type ExecutorKind,
} from "../../../src/scheduler/executor.ts";
import type {
  DataVersionChange,
  ExecutorCrash,
  ExecutorOptions,
} from "../../../src/scheduler/_executor_options.ts";
import { SqliteSyncError, type SqliteSyncErrorKind } from "../../../common/errors.ts";

/** The API key `withExecutor()` gives the executor: no error may contain it. */
export const API_KEY = "sqa_EXECUTORSECRET_0123456789";

/** Both executor kinds: every test of a kind runs for each. */
export const KINDS: readonly ExecutorKind[] = ["worker", "process"];

export interface Fixture {
  dir: string;
  path: string;
  /** The test's own connection to the same file (the "other connection"). */
  db: SyncDatabase;
  executor: Executor;
  changes: DataVersionChange[];
  crashes: ExecutorCrash[];
}

/**
 * A database file with a synced `notes` table and an unsynced `scratch`
 * table, the test's own connection to it, and an executor initialised at
 * `port` with an API key.
 */
export async function withExecutor(
  kind: ExecutorKind,
  port: number,
  fn: (f: Fixture) => Promise<void>,
  options: Partial<ExecutorOptions> = {},
): Promise<void> {
  const dir = tempDir("executor-test-");
  const path = join(dir.path, "app.db");
  const extensionPath = await testExtensionPath();
  const db = await SyncDatabase.open(path, { extensionPath });
  db.exec("CREATE TABLE notes (id TEXT PRIMARY KEY NOT NULL, body TEXT)");
  db.exec("CREATE TABLE scratch (id INTEGER PRIMARY KEY, v TEXT)");
  db.init("notes");
  const changes: DataVersionChange[] = [];
  const crashes: ExecutorCrash[] = [];
  let executor: Executor | undefined;
  try {
    executor = await createExecutor({
      kind,
      path,
      extensionPath,
      driver: db.driver.name,
      connection: { connectTimeoutS: 2, requestTimeoutS: 2 },
      onDataVersionChange: (c) => changes.push(c),
      onCrash: (c) => crashes.push(c),
      ...options,
    });
    await executor.init({
      databaseId: "executor-test",
      address: `http://127.0.0.1:${port}`,
      apiKey: API_KEY,
      tables: ["notes"],
    });
    await fn({ dir: dir.path, path, db, executor, changes, crashes });
  } finally {
    await executor?.close({ graceMs: 500 });
    db.close();
    dir.cleanup();
  }
}

/** The error is a SqliteSyncError of `kind` and the API key appears nowhere in it. */
export function assertSyncError(err: unknown, kind: SqliteSyncErrorKind): SqliteSyncError {
  assert.ok(err instanceof SqliteSyncError, `expected a SqliteSyncError, got ${String(err)}`);
  assert.equal(err.kind, kind, err.message);
  for (const text of [err.message, String(err), JSON.stringify(err), err.stack ?? ""]) {
    assert.ok(!text.includes(API_KEY), `the API key leaked: ${text}`);
  }
  return err;
}

/** Resolves with the first value `subscribe` hands over; rejects after `guardMs` (a hang guard). */
export function next<T>(list: T[], guardMs = 20_000): Promise<T> {
  const seen = list.length;
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const timer = setInterval(() => {
      if (list.length > seen) {
        clearInterval(timer);
        resolve(list[seen]);
      } else if (Date.now() - started > guardMs) {
        clearInterval(timer);
        reject(new Error(`nothing arrived within the ${guardMs} ms guard`));
      }
    }, 2);
  });
}
