/**
 * Payload encode/apply behind {@linkcode SyncDatabase.encodeChanges} and
 * {@linkcode SyncDatabase.applyChanges}, including the 1.1.4 open-transaction
 * repair after a failed apply.
 *
 * @module
 */
import type { Driver, SqlValue } from "../ffi/drivers/driver.ts";
import { SqliteSyncError } from "../common/errors.ts";
import { describeValue } from "./schema.ts";
import { toSiteIdBytes } from "./site_id.ts";

/** Options of {@linkcode SyncDatabase.encodeChanges}. */
export interface EncodeOptions {
  /** Only changes with a db_version greater than this. @default 0 */
  sinceDbVersion?: number;
  /** Leave out changes made by this site (32 hex chars or 16 bytes), e.g. the receiver's own. */
  excludeSiteId?: string | Uint8Array;
}

/** What encode/apply need from their database. */
export interface PayloadHost {
  /** The connection. */
  readonly driver: Driver;
  /** Runs `sql` (one `SELECT fn(...) AS v`) and returns `v`, classifying errors. */
  call(sql: string, params: SqlValue[], operation: string): SqlValue | undefined;
}

const ENCODE =
  "SELECT cloudsync_payload_encode(tbl, pk, col_name, col_value, col_version, db_version, site_id, cl, seq) AS v " +
  "FROM cloudsync_changes WHERE db_version > ?";

/** See {@linkcode SyncDatabase.encodeChanges}. */
export function encodeChanges(host: PayloadHost, options: EncodeOptions): Uint8Array | null {
  const since = options.sinceDbVersion ?? 0;
  if (!Number.isSafeInteger(since) || since < 0) {
    throw new RangeError(
      `encodeChanges(): sinceDbVersion must be an integer ≥ 0, got ${describeValue(since)}`,
    );
  }
  const exclude = options.excludeSiteId;
  if (exclude === undefined) {
    return host.call(ENCODE, [since], "encodeChanges()") as Uint8Array | null;
  }
  return host.call(
    `${ENCODE} AND site_id != ?`,
    [since, toSiteIdBytes(exclude)],
    "encodeChanges()",
  ) as Uint8Array | null;
}

/**
 * Whether the connection is inside a transaction. The driver interface does
 * not say, so ask SQLite: `BEGIN` fails inside one. A deferred `BEGIN`
 * followed by `ROLLBACK` takes no lock.
 */
function inTransaction(driver: Driver): boolean {
  try {
    driver.exec("BEGIN DEFERRED");
  } catch {
    return true;
  }
  driver.exec("ROLLBACK");
  return false;
}

/** See {@linkcode SyncDatabase.applyChanges}. */
export function applyChanges(host: PayloadHost, payload: Uint8Array): number {
  if (!(payload instanceof Uint8Array) || payload.length === 0) {
    throw new TypeError(
      `applyChanges(): expected a non-empty Uint8Array, got ${describeValue(payload)}`,
    );
  }
  const driver = host.driver;
  const outer = inTransaction(driver);
  try {
    return Number(host.call("SELECT cloudsync_payload_apply(?) AS v", [payload], "applyChanges()"));
  } catch (err) {
    // 1.1.4: when payload_apply's own COMMIT fails (a deferred foreign key, or
    // SQLITE_BUSY) its transaction stays open, holding the half-applied rows
    // and the write lock. Roll back what this call opened; leave a caller's
    // transaction to the caller.
    if (!outer && inTransaction(driver)) {
      try {
        driver.exec("ROLLBACK");
      } catch {
        // The error that matters is the apply's.
      }
    }
    // Every SQL failure of payload_apply is about the payload ("Error on
    // cloudsync_payload_decode: invalid input size." is not caught by the classifier).
    if (err instanceof SqliteSyncError && err.kind === "sql") {
      throw new SqliteSyncError("apply", err.message, { cause: err.cause ?? err, code: err.code });
    }
    throw err;
  }
}
