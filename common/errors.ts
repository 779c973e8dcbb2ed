/**
 * The one error class of the library. Callers branch on `kind`; `code` and
 * `status` carry what the failing layer reported; `cause` keeps the original.
 *
 * @module
 */
import type { SyncResult } from "./sync_result.ts";

/** What went wrong, as a stable discriminant callers can switch on. */
export type SqliteSyncErrorKind =
  /** The host (os, arch, libc) has no prebuilt extension. */
  | "unsupported-platform"
  /** The runtime cannot load native extensions (Deno Deploy, Apple's SQLite in Bun…). */
  | "unsupported-runtime"
  /** No extension binary could be found or fetched. */
  | "not-found"
  /** A downloaded or cached binary does not match its expected hash. */
  | "integrity"
  /** A download failed (HTTP error, truncated body, stall). */
  | "download"
  /** The cache directory cannot be used (read-only, no home directory…). */
  | "cache"
  /** The host lacks a library the extension needs (OpenSSL 3, glibc ≥ 2.34…). */
  | "preflight"
  /** SQLite refused to load the extension. */
  | "load"
  /** The SQLite driver failed to open or run a statement. */
  | "driver"
  /** The table's schema cannot be synced as it is. */
  | "schema"
  /** The call is not valid in the current state (closed, not initialized…). */
  | "state"
  /** The network could not be reached (DNS, refused, TLS). */
  | "offline"
  /** A network request exceeded its time-out. */
  | "timeout"
  /** The server answered with an HTTP error. */
  | "http"
  /** The server refused the credentials. */
  | "auth"
  /** Received changes could not be applied locally. */
  | "apply"
  /** The call was interrupted. */
  | "interrupted"
  /** The database was locked by another connection. */
  | "busy"
  /** Any other SQLite error. */
  | "sql";

/** Options for {@linkcode SqliteSyncError}. */
export interface SqliteSyncErrorOptions {
  /** What a sync achieved before it failed (the send phase, rows received so far). */
  partial?: SyncResult;
  /** The underlying error. */
  cause?: unknown;
  /** A machine-readable code (SQLite result code name, server error code, errno…). */
  code?: string;
  /** The HTTP status, for `http` and `auth` errors. */
  status?: number;
}

/**
 * An error raised by @sqliteai/sync. Messages name the value at fault and the
 * way out; they never contain secrets.
 *
 * @example Usage
 * ```ts
 * import { SqliteSyncError } from "./errors.ts";
 * try {
 *   throw new SqliteSyncError("not-found", "no binary");
 * } catch (err) {
 *   if (err instanceof SqliteSyncError && err.kind === "not-found") console.log(err.message);
 * }
 * ```
 */
export class SqliteSyncError extends Error {
  /** What went wrong. */
  readonly kind: SqliteSyncErrorKind;
  /** A machine-readable code, when the failing layer gave one. */
  readonly code?: string;
  /** The HTTP status, for `http` and `auth` errors. */
  readonly status?: number;
  /** What a sync achieved before it failed: never lose a result. */
  readonly partial?: SyncResult;

  /**
   * Creates an error of the given kind.
   *
   * @param kind What went wrong.
   * @param message A message that names the value at fault and the fix.
   * @param options Cause, code and status.
   */
  constructor(
    kind: SqliteSyncErrorKind,
    message: string,
    options: SqliteSyncErrorOptions = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "SqliteSyncError";
    this.kind = kind;
    if (options.code !== undefined) this.code = options.code;
    if (options.status !== undefined) this.status = options.status;
    if (options.partial !== undefined) this.partial = options.partial;
  }
}
