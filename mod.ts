/**
 * SQLite Sync (the `cloudsync` extension) for Deno and Bun: fetch, verify,
 * cache and load the extension; a typed API over every documented function.
 *
 * @example Usage
 * ```ts
 * import { SyncDatabase } from "@sqliteai/sync";
 * await using db = await SyncDatabase.open("app.db");
 * db.exec("CREATE TABLE IF NOT EXISTS notes (id TEXT PRIMARY KEY NOT NULL, body TEXT)");
 * db.init("notes");
 * db.run("INSERT INTO notes (id, body) VALUES (?, ?)", db.uuid(), "hello");
 * ```
 *
 * @module
 */
export { SyncDatabase } from "./src/database.ts";
export type { EncodeOptions } from "./src/_payload.ts";
export type { Algorithm, CleanupOptions, InitOptions } from "./src/_tables.ts";
export type {
  CloudSyncNetwork,
  NetworkInitOptions,
  ServerStatus,
  SyncOptions,
} from "./src/network.ts";
export { SqliteSyncError } from "./common/errors.ts";
export type {
  SqliteSyncErrorJSON,
  SqliteSyncErrorKind,
  SqliteSyncErrorOptions,
} from "./common/errors.ts";
export type {
  ReceiveResult,
  SendResult,
  ServerFailure,
  SyncResult,
  SyncStatus,
} from "./common/sync_result.ts";
export type { InitChecks } from "./src/schema.ts";
export type { SettingKey } from "./src/settings.ts";
export { SyncService } from "./src/scheduler/service.ts";
export type { StopOptions } from "./src/scheduler/service.ts";
export type { RetryOptions, SyncServiceOptions } from "./src/scheduler/service_options.ts";
export { configureExecutors, executorStatus } from "./src/scheduler/executor.ts";
export type {
  ExecutorKind,
  ExecutorPoolOptions,
  ExecutorPoolStatus,
} from "./src/scheduler/executor.ts";
export type {
  AttemptOutcome,
  AttemptsOptions,
  SyncAttempt,
  SyncErrorSummary,
  SyncSchedule,
  SyncServiceEvents,
  SyncServiceListener,
  SyncServiceState,
  SyncServiceStatus,
  SyncTotals,
} from "./src/scheduler/status.ts";
export type { PermanentReason } from "./src/scheduler/retry.ts";
export type { AdaptivePollingOptions, PollingJitter } from "./src/scheduler/adaptive.ts";
export type { GetToken } from "./src/scheduler/token.ts";
export type {
  JobError,
  JobHistoryEntry,
  JobRun,
  JobState,
  QueueJob,
  RunOutcome,
} from "./src/scheduler/queue.ts";
export type { TableSpec } from "./src/_tables.ts";
export { createApp } from "./src/http/app.ts";
export type {
  AppOptions,
  NamedService,
  StatusApp,
  SyncOutcome,
  SyncServiceLike,
} from "./src/http/app.ts";
export { resolveExtension } from "./ffi/resolve.ts";
export type { ResolvedExtension, ResolveOptions, SourceName } from "./ffi/resolve.ts";
export { closeConnection, openDatabase, openWithExtension } from "./ffi/open.ts";
export type { ConnectionOptions, JournalMode, OpenedDatabase, OpenOptions } from "./ffi/open.ts";
export { diagnostics } from "./ffi/diagnostics.ts";
export type { Diagnostics, DiagnosticsOptions, DiagnosticsProblem } from "./ffi/diagnostics.ts";
export { preflight } from "./ffi/preflight.ts";
export type { PreflightCheck, PreflightOptions, PreflightReport } from "./ffi/preflight.ts";
export type { RuntimeName } from "./ffi/runtime.ts";
export { createProgressReporter } from "./ffi/progress.ts";
export type { ProgressStream } from "./ffi/progress.ts";
export type { DownloadProgress } from "./ffi/download.ts";
export { currentPlatformId, PLATFORM_IDS, platformIdOf } from "./ffi/platform.ts";
export type { HostInfo, Libc, PlatformId } from "./ffi/platform.ts";
export { EXTENSION_VERSION } from "./ffi/pins.ts";
export type {
  Driver,
  DriverName,
  PreparedStatement,
  Row,
  RunResult,
  SqliteLibrary,
  SqlValue,
} from "./ffi/drivers/driver.ts";
