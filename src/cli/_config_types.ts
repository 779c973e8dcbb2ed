/**
 * The shapes of the daemon's validated config ({@linkcode DaemonConfig}) and
 * its defaults: what the rest of the daemon reads once the config file has
 * been parsed and its secrets loaded.
 *
 * @module
 */

/** Log levels, least severe first. */
export const LOG_LEVELS = ["debug", "info", "warn", "error"] as const;
/** A log level. */
export type LogLevel = typeof LOG_LEVELS[number];

/** The environment variables read when a database names no credential. */
export const DEFAULT_API_KEY_ENV = "SQLITE_SYNC_API_KEY";
/** See {@linkcode DEFAULT_API_KEY_ENV}. */
export const DEFAULT_TOKEN_ENV = "SQLITE_SYNC_TOKEN";

/** Where a credential came from (for logs: a kind and a place, never the value). */
export interface CredentialSource {
  /** An API key or an access token. */
  kind: "apiKey" | "token";
  /** `file:<path>` or `env:<NAME>`. */
  from: string;
}

/** One database of a validated config. */
export interface DatabaseConfig {
  /** Unique name: log lines, /status, metric labels. */
  name: string;
  /** Absolute path of the database file. */
  path: string;
  databaseId: string;
  address?: string;
  /** Where the credential came from. */
  credentialSource: CredentialSource;
  /** The credential (memory only; never logged). */
  credential: string;
  tables: string[];
  cron?: string;
  timezone?: string;
  intervalMs?: number;
  /** Whether the service syncs once when it starts (default true). */
  syncOnStart?: boolean;
  requestTimeoutS?: number;
  connectTimeoutS?: number;
}

/** A validated config with its secrets loaded. */
export interface DaemonConfig {
  /** Absolute path of the config file. */
  file: string;
  databases: DatabaseConfig[];
  http: {
    /** An IP address or a host name (validated; a non-loopback one needs `tokenFile` or `public`). */
    host: string;
    port: number;
    /**
     * `"public": true`: the status app is served on a non-loopback `host` without a token on
     * purpose (default false; without it such a host needs `tokenFile`, and the token then
     * guards the reads too, all but `/healthz`).
     */
    public: boolean;
    /** Absolute path of the token file: POST /sync, and off loopback (not public) the reads. */
    tokenFile?: string;
    /** Its content (memory only). */
    token?: string;
  };
  logLevel: LogLevel;
  stopGraceMs: number;
  /** The executor pool: kind, size, maxSize, blockedAfterMs (unset: the library's defaults). */
  executors: {
    kind?: "worker" | "process";
    size?: number;
    maxSize?: number;
    blockedAfterMs?: number;
  };
}

/** The deepest nesting of brackets a config file may have (a valid one needs 4). */
export const MAX_DEPTH = 32;

/** Default `http.host`. */
export const DEFAULT_HOST = "127.0.0.1";
/** Default `stopGraceMs`. */
export const DEFAULT_STOP_GRACE_MS = 5000;
