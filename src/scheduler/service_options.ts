/**
 * The options of {@linkcode SyncService.start} and their validation: every
 * field is checked before any work, conflicting fields are refused, and no
 * message ever echoes a credential.
 *
 * @module
 */
import type { ResolveOptions } from "../../ffi/resolve_options.ts";
import { describeValue } from "../schema.ts";
import { AdaptivePolling, type AdaptivePollingOptions } from "./adaptive.ts";
import type { Clock } from "./clock.ts";
import { cronTrigger } from "./cron.ts";
import type { ExecutorKind } from "./executor.ts";
import type { GetToken } from "./token.ts";
import type { SyncSchedule } from "./status.ts";
import type { TableSpec } from "../_tables.ts";

/**
 * The CloudSync address the extension uses when none is given
 * (`CLOUDSYNC_DEFAULT_ADDRESS` in sqlite-sync 1.1.4, what `cloudsync_network_init` targets).
 */
export const DEFAULT_CLOUDSYNC_ADDRESS = "https://cloudsync.sqlite.ai";

/** Retry policy of failed syncs. */
export interface RetryOptions {
  /**
   * The first retry's upper bound, in ms (full jitter: a retry waits a random time up to it).
   * @default 1000
   */
  baseMs?: number;
  /**
   * The largest wait between retries, in ms.
   * @default 300000
   */
  capMs?: number;
  /**
   * Attempts per job before it is dead-lettered (`max_attempts_exceeded`).
   * @default 10
   */
  maxAttempts?: number;
}

/** Options of {@linkcode SyncService.start}. */
export interface SyncServiceOptions extends Pick<ResolveOptions, "extensionPath" | "cacheDir"> {
  /** The SQLite Cloud managed database id, as `network.init()` takes it. */
  databaseId: string;
  /**
   * The CloudSync address.
   * @default SQLite Cloud's
   */
  address?: string;
  /** An API key. Exclusive with `token` and `getToken`. Kept in memory only. */
  apiKey?: string;
  /** An access token. Exclusive with `apiKey` and `getToken`. Kept in memory only. */
  token?: string;
  /**
   * Returns a fresh access token: called before the first sync, ahead of a
   * JWT's `exp`, and once after an `auth` error. Exclusive with `apiKey` and `token`.
   */
  getToken?: GetToken;
  /**
   * Tables to `init()` when they are not synced yet (a name, or a name with init options).
   * @default []
   */
  tables?: readonly (string | TableSpec)[];
  /**
   * A cron expression (5 or 6 fields) for scheduled syncs.
   * @default undefined
   */
  cron?: string;
  /**
   * The time zone of `cron` (an IANA name such as `Europe/Berlin`).
   * @default the host's
   */
  timezone?: string;
  /**
   * A fixed interval between syncs, in ms.
   * @default undefined
   */
  intervalMs?: number;
  /**
   * Adaptive polling (upstream's numbers, with full jitter), or `false`.
   * @default on when neither `cron` nor `intervalMs` is given
   */
  polling?: AdaptivePollingOptions | boolean;
  /**
   * How long after a local commit its send starts, in ms; `false` turns the change trigger off.
   * @default 1000
   */
  changeDebounceMs?: number | false;
  /**
   * Sync once when the service starts.
   * @default true
   */
  syncOnStart?: boolean;
  /** Retries of failed syncs. */
  retry?: RetryOptions;
  /**
   * Where syncs run.
   * @default "worker" in Deno, "process" in Bun and Node (see the README's stop() promise)
   */
  executor?: ExecutorKind;
  /**
   * `network_connect_timeout`, set before every sync, in seconds.
   * @default 10
   */
  connectTimeoutS?: number;
  /**
   * `network_request_timeout`, set before every sync, in seconds (bounds each request).
   * @default 60
   */
  requestTimeoutS?: number;
  /**
   * How long a claimed sync may go without a lease renewal before another process may take over, in ms.
   * @default 30000
   */
  leaseMs?: number;
  /**
   * How long `stop()` waits for a sync in flight before ending the executor, in ms.
   * @default 2000
   */
  stopGraceMs?: number;
}

/** The options with defaults applied and checked. */
export interface ServiceSettings {
  databaseId: string;
  address?: string;
  apiKey?: string;
  token?: string;
  getToken?: GetToken;
  tables: (string | TableSpec)[];
  cron?: string;
  timezone?: string;
  intervalMs?: number;
  polling: AdaptivePollingOptions | false;
  changeDebounceMs: number | false;
  syncOnStart: boolean;
  retry: Required<RetryOptions>;
  executor?: ExecutorKind;
  connectTimeoutS: number;
  requestTimeoutS: number;
  leaseMs: number;
  stopGraceMs: number;
  extensionPath?: string;
  cacheDir?: string;
}

const KNOWN = new Set([
  "databaseId",
  "address",
  "apiKey",
  "token",
  "getToken",
  "tables",
  "cron",
  "timezone",
  "intervalMs",
  "polling",
  "changeDebounceMs",
  "syncOnStart",
  "retry",
  "executor",
  "connectTimeoutS",
  "requestTimeoutS",
  "leaseMs",
  "stopGraceMs",
  "extensionPath",
  "cacheDir",
]);

function fail(message: string): never {
  throw new TypeError(`Cannot start the sync service: ${message}`);
}

function range(name: string, value: unknown, min: number, max: number): number {
  if (typeof value !== "number" || !Number.isFinite(value) || value < min || value > max) {
    throw new RangeError(
      `Cannot start the sync service as '${name}' must be a number from ${min} to ${max}: ` +
        `current value is ${describeValue(value)}`,
    );
  }
  return value;
}

/** A secret-bearing field: say what is wrong without showing it. */
function secret(name: string, value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "string" || value.length === 0) {
    fail(
      `'${name}' must be a non-empty string: it is ${
        typeof value === "string"
          ? "empty"
          : `a value of type ${value === null ? "null" : typeof value}`
      }`,
    );
  }
  return value;
}

/** A clock that never fires: enough to let the cron trigger parse and check an expression. */
const INERT_CLOCK: Clock = {
  now: () => Date.now(),
  setTimeout: () => ({}),
  clearTimeout: () => {},
};

/** The cron expression and its time zone, checked now rather than after the executor started. */
function checkCron(cron: string, timezone: unknown): void {
  try {
    cronTrigger(cron, { timezone: timezone as string | undefined, clock: INERT_CLOCK }, () => {})
      .stop();
  } catch (err) {
    // cronTrigger names its own parameters: say which option is wrong.
    const message = err instanceof Error ? err.message : String(err);
    const name = /'timezone'/.test(message) ? "timezone" : "cron";
    fail(`'${name}' is invalid: ${message.replace(/^Cannot create cron trigger as /, "")}`);
  }
}

/** The adaptive polling options, checked by the class that uses them, named as options. */
function checkPolling(polling: AdaptivePollingOptions): void {
  try {
    new AdaptivePolling(polling);
  } catch (err) {
    if (!(err instanceof Error)) throw err;
    const message = err.message.replace(
      /^Cannot create adaptive polling as '(\w+)'/,
      "'polling.$1'",
    );
    throw err instanceof RangeError
      ? new RangeError(`Cannot start the sync service as ${message}`)
      : new TypeError(`Cannot start the sync service as ${message}`);
  }
}

/**
 * Applies defaults and checks every field of the options.
 *
 * @param options What the caller passed.
 * @returns The settings.
 * @throws {TypeError} For a missing or mistyped field, an unknown field, or conflicting credentials.
 * @throws {RangeError} For a number out of range.
 *
 * @example Usage
 * ```ts
 * import { serviceSettings } from "./service_options.ts";
 * const settings = serviceSettings({ databaseId: "db1", apiKey: "key" });
 * console.log(settings.changeDebounceMs); // 1000
 * ```
 */
export function serviceSettings(options: SyncServiceOptions): ServiceSettings {
  if (typeof options !== "object" || options === null) {
    fail(`'options' must be an object with at least 'databaseId': got ${describeValue(options)}`);
  }
  for (const key of Object.keys(options)) {
    if (!KNOWN.has(key)) fail(`unknown option '${key}' (known: ${[...KNOWN].join(", ")})`);
  }
  const o = options;
  if (typeof o.databaseId !== "string" || o.databaseId.length === 0) {
    fail("'databaseId' must be a non-empty string (the SQLite Cloud managed database id)");
  }
  if (o.address !== undefined && typeof o.address !== "string") {
    fail(`'address' must be a string URL: it is a value of type ${typeof o.address}`);
  }
  const apiKey = secret("apiKey", o.apiKey);
  const token = secret("token", o.token);
  if (o.getToken !== undefined && typeof o.getToken !== "function") {
    fail(`'getToken' must be a function returning a token: it is a ${typeof o.getToken}`);
  }
  const given = [apiKey && "apiKey", token && "token", o.getToken && "getToken"].filter(Boolean);
  if (given.length > 1) {
    fail(`give only one of 'apiKey', 'token' and 'getToken' (got ${given.join(", ")})`);
  }
  if (given.length === 0) fail("give one of 'apiKey', 'token' or 'getToken' to authenticate");
  const tables = o.tables ?? [];
  if (!Array.isArray(tables)) {
    fail(`'tables' must be an array of table names: got ${describeValue(tables)}`);
  }
  for (const t of tables) {
    const name = typeof t === "string" ? t : (t as TableSpec | null)?.name;
    if (typeof name !== "string" || name.length === 0) {
      fail(`each entry of 'tables' must be a table name or { name, … }: got ${describeValue(t)}`);
    }
  }
  if (o.cron !== undefined && (typeof o.cron !== "string" || o.cron.trim() === "")) {
    fail(`'cron' must be a cron expression such as "*/5 * * * *": got ${describeValue(o.cron)}`);
  }
  if (o.timezone !== undefined && o.cron === undefined) {
    fail("'timezone' applies to 'cron', which is not set");
  }
  if (o.cron !== undefined) checkCron(o.cron, o.timezone);
  const intervalMs = o.intervalMs === undefined
    ? undefined
    : range("intervalMs", o.intervalMs, 1000, 2 ** 31 - 1);
  if (
    o.polling !== undefined && typeof o.polling !== "boolean" &&
    (typeof o.polling !== "object" || o.polling === null)
  ) {
    fail(
      `'polling' must be true, false or adaptive polling options: got ${describeValue(o.polling)}`,
    );
  }
  const pollingDefault = o.cron === undefined && intervalMs === undefined;
  const polling: AdaptivePollingOptions | false =
    o.polling === false || (o.polling === undefined && !pollingDefault)
      ? false
      : typeof o.polling === "object"
      ? { jitter: "full", ...o.polling }
      : { jitter: "full" };
  if (polling) checkPolling(polling);
  const changeDebounceMs = o.changeDebounceMs === false
    ? false
    : range("changeDebounceMs", o.changeDebounceMs ?? 1000, 0, 600_000);
  if (o.syncOnStart !== undefined && typeof o.syncOnStart !== "boolean") {
    fail(`'syncOnStart' must be a boolean: got ${describeValue(o.syncOnStart)}`);
  }
  const retryIn = o.retry === undefined ? {} : o.retry;
  if (typeof retryIn !== "object" || retryIn === null) {
    fail(`'retry' must be an object: got ${describeValue(retryIn)}`);
  }
  const retry = {
    baseMs: range("retry.baseMs", retryIn.baseMs ?? 1000, 1, 3_600_000),
    capMs: range("retry.capMs", retryIn.capMs ?? 300_000, 1, 86_400_000),
    maxAttempts: range("retry.maxAttempts", retryIn.maxAttempts ?? 10, 1, 1_000_000),
  };
  if (retry.capMs < retry.baseMs) {
    throw new RangeError(
      `Cannot start the sync service as 'retry.capMs' must be ≥ 'retry.baseMs': current value is ${retry.capMs}`,
    );
  }
  if (!Number.isInteger(retry.maxAttempts)) {
    throw new RangeError(
      `Cannot start the sync service as 'retry.maxAttempts' must be an integer: current value is ${retry.maxAttempts}`,
    );
  }
  if (o.executor !== undefined && o.executor !== "worker" && o.executor !== "process") {
    fail(`'executor' must be "worker" or "process": got ${describeValue(o.executor)}`);
  }
  for (const key of ["extensionPath", "cacheDir"] as const) {
    if (o[key] !== undefined && typeof o[key] !== "string") {
      fail(`'${key}' must be a path string: got ${describeValue(o[key])}`);
    }
  }
  return {
    databaseId: o.databaseId,
    address: o.address,
    apiKey,
    token,
    getToken: o.getToken,
    tables: [...tables],
    cron: o.cron,
    timezone: o.timezone,
    intervalMs,
    polling,
    changeDebounceMs,
    syncOnStart: o.syncOnStart ?? true,
    retry,
    executor: o.executor,
    connectTimeoutS: range("connectTimeoutS", o.connectTimeoutS ?? 10, 1, 3600),
    requestTimeoutS: range("requestTimeoutS", o.requestTimeoutS ?? 60, 1, 3600),
    leaseMs: range("leaseMs", o.leaseMs ?? 30_000, 1000, 3_600_000),
    stopGraceMs: range("stopGraceMs", o.stopGraceMs ?? 2000, 0, 600_000),
    extensionPath: o.extensionPath,
    cacheDir: o.cacheDir,
  };
}

/**
 * What starts a service's scheduled syncs, from its settings. A service may
 * combine triggers (a cron expression and an interval, or either with explicit
 * polling): the first of cron, interval, adaptive polling is reported.
 *
 * @param settings The checked settings.
 * @returns The schedule; `none` when only local changes and `syncNow()` start syncs.
 *
 * @example Usage
 * ```ts
 * import { scheduleOf, serviceSettings } from "./service_options.ts";
 * const settings = serviceSettings({ databaseId: "db1", intervalMs: 60_000, apiKey: "key" });
 * console.log(scheduleOf(settings)); // { kind: "interval", intervalMs: 60000 }
 * ```
 */
export function scheduleOf(settings: ServiceSettings): SyncSchedule {
  if (settings.cron !== undefined) {
    return { kind: "cron", cron: settings.cron, timezone: settings.timezone ?? null };
  }
  if (settings.intervalMs !== undefined) {
    return { kind: "interval", intervalMs: settings.intervalMs };
  }
  if (settings.polling) {
    const polling = new AdaptivePolling(settings.polling);
    return { kind: "adaptive", baseMs: polling.baseIntervalMs, maxMs: polling.maxIntervalMs };
  }
  return { kind: "none" };
}
