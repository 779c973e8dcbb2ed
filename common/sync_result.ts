/**
 * The typed results of the network functions: plain data shapes shared by
 * every layer (the parsers live in `src/results.ts`).
 *
 * @module
 */
/** Where the server stands relative to the local database after a send. */
export type SyncStatus = "synced" | "syncing" | "out-of-sync" | "error";

/** A job the server ran asynchronously and that failed (`failures.apply` / `failures.check`). */
export interface ServerFailure {
  /** The server's job id. */
  jobId?: string;
  /** A machine-readable failure code, e.g. `internal_error`. */
  code?: string;
  /** The stage that failed, e.g. `apply_payload`. */
  stage?: string;
  /** The server's message. */
  message?: string;
  /** Whether retrying may help. */
  retryable?: boolean;
  /** When the job failed (ISO 8601). */
  failedAt?: string;
  /** The checkpoint of a failed check job. */
  dbVersion?: number;
  /** The sequence of a failed check job. */
  seq?: number;
}

/** Result of sending local changes. */
export interface SendResult {
  /** Where the server stands. `syncing` is normal: the server applies asynchronously. */
  status: SyncStatus;
  /** The local database version. */
  localVersion: number;
  /** The server's last optimistic version. */
  serverVersion: number;
  /** Chunks uploaded. */
  chunks: number;
  /** Uncompressed payload bytes uploaded. */
  bytes: number;
  /** The server's last asynchronous apply failure, if any. */
  lastFailure?: ServerFailure;
}

/** Result of receiving remote changes. */
export interface ReceiveResult {
  /** Rows applied locally (cumulative over the drain, including rows applied before an error). */
  rows: number;
  /** Tables touched. */
  tables: string[];
  /** Chunks downloaded. */
  chunks: number;
  /** Bytes downloaded. */
  bytes: number;
  /** `false` when more is pending or an error stopped the drain; the next call resumes. */
  complete: boolean;
  /** A local failure (apply error, or `receive failed` after a network error). */
  error?: string;
  /** The server's last asynchronous check failure, if any. */
  lastFailure?: ServerFailure;
}

/** Result of a full sync: send, then receive. */
export interface SyncResult {
  /** The send phase. */
  send: SendResult;
  /** The receive phase. */
  receive: ReceiveResult;
}
