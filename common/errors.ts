/**
 * The one error class of the library. Callers branch on `kind`; `code` and
 * `status` carry what the failing layer reported; `cause` keeps the original.
 *
 * @module
 */
import { redact, redactError, redactValue } from "./redact.ts";
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

/** What `JSON.stringify()` shows of a {@linkcode SqliteSyncError}: its safe fields only. */
export interface SqliteSyncErrorJSON {
  /** Always `SqliteSyncError`. */
  name: string;
  /** What went wrong. */
  kind: SqliteSyncErrorKind;
  /** The (redacted) message. */
  message: string;
  /** The machine-readable code, when there is one. */
  code?: string;
  /** The HTTP status, when there is one. */
  status?: number;
  /** The partial result, when there is one. */
  partial?: SyncResult;
  /** The (redacted) cause chain: names, messages and codes only. */
  cause?: { name: string; message: string; code?: string }[];
}

/**
 * An error raised by @sqliteai/sync. Messages name the value at fault and the
 * way out; they never contain secrets: the constructor itself redacts the
 * message, every message and stack of the cause chain, the code and the
 * partial result (see `common/redact.ts`), so no error escapes it.
 *
 * @example Usage
 * ```ts
 * import { SqliteSyncError } from "@sqliteai/sync";
 * try {
 *   throw new SqliteSyncError("not-found", "no binary");
 * } catch (err) {
 *   if (err instanceof SqliteSyncError && err.kind === "not-found") console.log(err.message);
 * }
 * // Credentials never survive construction:
 * console.log(new SqliteSyncError("http", "GET https://me:pw@npm.example.com/x: HTTP 500").message);
 * // "GET https://npm.example.com/x: HTTP 500"
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
    super(
      redact(message),
      options.cause === undefined ? undefined : { cause: redactError(options.cause) },
    );
    this.name = "SqliteSyncError";
    this.kind = kind;
    if (options.code !== undefined) this.code = redact(options.code);
    if (options.status !== undefined) this.status = options.status;
    if (options.partial !== undefined) this.partial = redactValue(options.partial);
  }

  /**
   * The safe fields, for `JSON.stringify(err)` and structured logs.
   *
   * @returns Name, kind, message, code, status, partial result and the cause chain's messages.
   */
  toJSON(): SqliteSyncErrorJSON {
    const causes: { name: string; message: string; code?: string }[] = [];
    for (let e = this.cause; e !== undefined && e !== null && causes.length < 8;) {
      const code = (e as { code?: unknown }).code;
      causes.push({
        name: e instanceof Error ? e.name : typeof e,
        message: redact(e instanceof Error ? e.message : String(e)),
        ...(typeof code === "string" ? { code: redact(code) } : {}),
      });
      e = e instanceof Error ? e.cause : undefined;
    }
    return {
      name: this.name,
      kind: this.kind,
      message: this.message,
      ...(this.code === undefined ? {} : { code: this.code }),
      ...(this.status === undefined ? {} : { status: this.status }),
      ...(this.partial === undefined ? {} : { partial: this.partial }),
      ...(causes.length === 0 ? {} : { cause: causes }),
    };
  }
}
