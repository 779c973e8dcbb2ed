/**
 * Opening a service's executor: its database's seat in the process's
 * executor pool, with the service's settings, then its network and tables
 * initialized with the given credentials.
 *
 * @module
 */
import type { DriverName } from "../../ffi/drivers/driver.ts";
import type { createExecutor, Executor } from "./executor.ts";
import type { ServiceSettings } from "./service_options.ts";
import type { ExecutorKind } from "./executor.ts";

/** What a service's executor is opened from. */
export interface ExecutorSetup {
  /** The service's settings. */
  settings: ServiceSettings;
  /** The synced database. */
  target: { path: string; extensionPath: string; driver: DriverName };
  /** Where syncs run. */
  executorKind: ExecutorKind;
  /** The executor factory. */
  createExecutor: typeof createExecutor;
}

/**
 * The credentials to initialize with: an API key, else a token.
 */
export interface ExecutorCredentials {
  /** The API key (it wins when both are given). */
  apiKey: string | undefined;
  /** The access token. */
  token: string | undefined;
}

/**
 * Takes a seat in the executor pool and initializes it; gives it back when the initialization fails.
 *
 * @param setup The settings, database and factory.
 * @param credentials The API key or token to initialize with.
 * @param onDataVersionChange Called with the database's version when the executor sees
 *   another connection's commit (a file watch confirmed by `PRAGMA data_version`).
 * @returns The initialized executor.
 * @throws {SqliteSyncError} when the executor cannot start or initialize.
 *
 * @example Usage
 * ```ts ignore
 * import { openServiceExecutor } from "./_service_executor.ts";
 * const executor = await openServiceExecutor(parts, { apiKey, token: undefined }, (v) => {
 *   console.log("commit seen, version", v);
 * });
 * ```
 */
export async function openServiceExecutor(
  setup: ExecutorSetup,
  credentials: ExecutorCredentials,
  onDataVersionChange: (dbVersion: number) => void,
): Promise<Executor> {
  const s = setup.settings;
  const { apiKey, token } = credentials;
  const executor = await setup.createExecutor({
    kind: setup.executorKind,
    path: setup.target.path,
    extensionPath: setup.target.extensionPath,
    driver: setup.target.driver,
    connection: { connectTimeoutS: s.connectTimeoutS, requestTimeoutS: s.requestTimeoutS },
    watch: s.changeDebounceMs !== false,
    onDataVersionChange: ({ dbVersion }) => onDataVersionChange(dbVersion),
  });
  try {
    await executor.init({
      databaseId: s.databaseId,
      address: s.address,
      ...(apiKey !== undefined ? { apiKey } : { token }),
      tables: s.tables,
    });
  } catch (err) {
    await executor.close({ graceMs: 0 }).catch(() => {});
    throw err;
  }
  return executor;
}
