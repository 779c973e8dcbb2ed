/**
 * What the three drivers share once their native calls return: one error
 * shape and one value shape.
 *
 * @module
 */
import { SqliteSyncError, type SqliteSyncErrorKind } from "../../common/errors.ts";
import type { Row, SqlValue } from "./driver.ts";

const CODE_NAMES: Record<number, string> = {
  1: "SQLITE_ERROR",
  2: "SQLITE_INTERNAL",
  3: "SQLITE_PERM",
  4: "SQLITE_ABORT",
  5: "SQLITE_BUSY",
  6: "SQLITE_LOCKED",
  7: "SQLITE_NOMEM",
  8: "SQLITE_READONLY",
  9: "SQLITE_INTERRUPT",
  10: "SQLITE_IOERR",
  11: "SQLITE_CORRUPT",
  13: "SQLITE_FULL",
  14: "SQLITE_CANTOPEN",
  19: "SQLITE_CONSTRAINT",
  20: "SQLITE_MISMATCH",
  21: "SQLITE_MISUSE",
  25: "SQLITE_RANGE",
  26: "SQLITE_NOTADB",
};

/** The SQLite result code name of a driver error, from whichever field the driver fills. */
function codeOf(err: { code?: unknown; errcode?: unknown; errno?: unknown }): string | undefined {
  // Bun: code "SQLITE_BUSY"; Node: errcode 5 (extended); @db/sqlite: code 5.
  if (typeof err.code === "string" && err.code.startsWith("SQLITE_")) return err.code;
  for (const n of [err.errcode, err.code, err.errno]) {
    if (typeof n === "number") return CODE_NAMES[n & 0xff] ?? `SQLITE_${n}`;
  }
  return undefined;
}

function kindOf(code: string | undefined, message: string): SqliteSyncErrorKind {
  // Deno's node:sqlite and @db/sqlite give no code for most errors: fall back on SQLite's text.
  if (code === "SQLITE_BUSY" || code === "SQLITE_LOCKED") return "busy";
  if (code === "SQLITE_INTERRUPT") return "interrupted";
  if (code !== undefined && code !== "SQLITE_ERROR") return "sql";
  if (/database (table )?is locked/.test(message)) return "busy";
  if (/^interrupted$/.test(message)) return "interrupted";
  return "sql";
}

/**
 * Wraps a driver's error in a {@linkcode SqliteSyncError}, keeping SQLite's
 * message verbatim (callers parse it: cloudsync may throw JSON) and the
 * original as `cause`. Argument errors (`TypeError`, `RangeError`) and our
 * own errors pass through.
 *
 * @param err What the driver threw.
 * @param kind Force a kind (e.g. `load`); by default it comes from the code.
 * @returns The error to throw.
 */
export function sqlError(err: unknown, kind?: SqliteSyncErrorKind): Error {
  if (err instanceof SqliteSyncError || err instanceof TypeError || err instanceof RangeError) {
    return err;
  }
  const e = (typeof err === "object" && err !== null ? err : {}) as {
    message?: unknown;
    code?: unknown;
    errcode?: unknown;
    errno?: unknown;
  };
  const message = typeof e.message === "string" ? e.message : String(err);
  const code = codeOf(e);
  return new SqliteSyncError(kind ?? kindOf(code, message), message, {
    cause: err,
    ...(code === undefined ? {} : { code }),
  });
}

/** The error for a call on a closed connection. */
export function closedError(path: string): SqliteSyncError {
  return new SqliteSyncError(
    "state",
    `The database connection to '${path}' is closed: open a new one.`,
  );
}

/**
 * Integers come back as `bigint` from drivers asked for 64-bit precision;
 * return `number` whenever that is exact, as @db/sqlite does.
 *
 * @param value A column value.
 * @returns The value, with safe integers as numbers.
 */
export function toSqlValue(value: unknown): SqlValue {
  if (typeof value === "bigint") {
    return value >= Number.MIN_SAFE_INTEGER && value <= Number.MAX_SAFE_INTEGER
      ? Number(value)
      : value;
  }
  return value as SqlValue;
}

/**
 * Copies a driver row into a plain object (node:sqlite rows have a null
 * prototype) with safe integers as numbers.
 *
 * @param row A driver row.
 * @returns The row.
 */
export function toRow(row: Record<string, unknown>): Row {
  const out: Row = {};
  for (const key in row) out[key] = toSqlValue(row[key]);
  return out;
}
