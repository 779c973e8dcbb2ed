/**
 * Identifier checks and the schema preflight run before `cloudsync_init`.
 * Identifiers are always bound as values; where SQL text must name a table
 * (a filter check), the name is first matched against the schema and quoted.
 *
 * @module
 */
import type { Driver, Row, SqlValue } from "../ffi/drivers/driver.ts";
import { SqliteSyncError } from "../common/errors.ts";

/** Longest identifier accepted. SQLite has no limit; real schemas stay far below. */
const MAX_IDENTIFIER_LENGTH = 256;

/** What `cloudsync_init` may skip checking, as named options instead of a bitmask. */
export interface InitChecks {
  /** Allow a single-column INTEGER primary key (flag 1). Rowids collide across devices: prefer TEXT UUIDs. @default false */
  allowIntegerPrimaryKey?: boolean;
  /** Allow NOT NULL columns without a DEFAULT (flag 2). Merges write column by column and may fail. @default false */
  allowNotNullWithoutDefault?: boolean;
  /** Allow NULL values in primary key columns (flag 4). @default false */
  allowNullPrimaryKey?: boolean;
}

/** The init flags bitmask for the given checks. */
export function initFlags(checks: InitChecks): number {
  return (checks.allowIntegerPrimaryKey ? 1 : 0) |
    (checks.allowNotNullWithoutDefault ? 2 : 0) |
    (checks.allowNullPrimaryKey ? 4 : 0);
}

/**
 * Validates the shape of an identifier argument (not its existence).
 *
 * @param value The argument.
 * @param what What it names, for the message (`"table"`, `"column"`).
 * @returns The identifier.
 * @throws {TypeError} when it is not a non-empty string without NUL of at most 256 characters.
 */
export function assertIdentifier(value: unknown, what: string): string {
  if (typeof value !== "string" || value.length === 0) {
    throw new TypeError(
      `Cannot use ${what} name: expected a non-empty string, got ${describeValue(value)}`,
    );
  }
  if (value.length > MAX_IDENTIFIER_LENGTH) {
    throw new TypeError(
      `Cannot use ${what} name: it is ${value.length} characters long, the limit is ${MAX_IDENTIFIER_LENGTH}`,
    );
  }
  if (value.includes("\0")) {
    throw new TypeError(
      `Cannot use ${what} name ${JSON.stringify(value)}: it contains a NUL character`,
    );
  }
  return value;
}

/**
 * Describes an argument for an error message: short, and never the contents
 * of an object (which might hold a secret).
 *
 * @param value Any value.
 * @returns Strings quoted and cut at 40 characters, byte arrays by length,
 *   objects as "an object", everything else as `String(value)`.
 *
 * @example Usage
 * ```ts
 * import { describeValue } from "./schema.ts";
 * console.log(describeValue("notes"), describeValue(new Uint8Array(3))); // "notes" Uint8Array(3)
 * ```
 */
export function describeValue(value: unknown): string {
  if (typeof value === "string") {
    return JSON.stringify(value.length > 40 ? value.slice(0, 40) + "…" : value);
  }
  if (value instanceof Uint8Array) return `${value.constructor.name}(${value.length})`;
  if (typeof value === "bigint") return `${value}n`;
  if (typeof value === "object" && value !== null) return "an object";
  return String(value);
}

/** Quotes an identifier for SQL text (only ever used on names read back from the schema). */
export function quoteIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** One column as `pragma_table_info` reports it. */
export interface ColumnInfo {
  /** Column name. */
  name: string;
  /** Declared type. */
  type: string;
  /** Whether NOT NULL is declared. */
  notNull: boolean;
  /** The DEFAULT expression, or `null`. */
  defaultValue: string | null;
  /** 1-based position in the primary key, 0 when not part of it. */
  pk: number;
}

/**
 * Folds an identifier the way SQLite compares identifiers: ASCII letters
 * ignore case, every other character is compared as is (`"Notes"` and
 * `"NOTES"` name one table, `"Ä"` and `"ä"` two).
 *
 * @param name An identifier.
 * @returns `name` with `A`–`Z` lower-cased.
 *
 * @example Usage
 * ```ts
 * import { foldIdentifier } from "./schema.ts";
 * console.log(foldIdentifier("NOTES_Ä")); // "notes_Ä"
 * ```
 */
export function foldIdentifier(name: string): string {
  return name.replace(/[A-Z]+/g, (s) => s.toLowerCase());
}

/**
 * Finds a user table the way SQLite does (ASCII letters ignore case).
 *
 * @param driver The connection.
 * @param table The table name (bound, never interpolated).
 * @returns The name the table was created with, or `undefined` when there is none.
 */
export function storedTableName(driver: Driver, table: string): string | undefined {
  // NOCASE folds ASCII letters only, as SQLite's own name lookup does.
  const rows = query(
    driver,
    "SELECT name FROM sqlite_master WHERE type = 'table' AND name = ? COLLATE NOCASE",
    table,
  );
  return rows.length > 0 ? String(rows[0].name) : undefined;
}

/**
 * Tells whether a user table exists, matching its name as SQLite does.
 *
 * @param driver The connection.
 * @param table The table name (bound, never interpolated).
 * @returns Whether it exists.
 */
export function tableExists(driver: Driver, table: string): boolean {
  return storedTableName(driver, table) !== undefined;
}

/**
 * The columns of a table.
 *
 * @param driver The connection.
 * @param table The table name (bound).
 * @returns Its columns in declaration order.
 */
export function tableColumns(driver: Driver, table: string): ColumnInfo[] {
  return query(
    driver,
    'SELECT name, type, "notnull" AS nn, dflt_value AS dflt, pk FROM pragma_table_info(?)',
    table,
  ).map((r) => ({
    name: String(r.name),
    type: String(r.type ?? ""),
    notNull: Number(r.nn) === 1,
    defaultValue: r.dflt === null ? null : String(r.dflt),
    pk: Number(r.pk),
  }));
}

/** Names of tables that `cloudsync_init('*')` would consider (user tables only). */
export function userTables(driver: Driver): string[] {
  return query(
    driver,
    "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' " +
      "AND name NOT LIKE 'cloudsync\\_%' ESCAPE '\\' AND name NOT LIKE '%\\_cloudsync' ESCAPE '\\' " +
      "AND name NOT LIKE '%\\_cloudsync\\_blocks' ESCAPE '\\' ORDER BY name",
  ).map((r) => String(r.name));
}

/**
 * The tables an `init(table)` covers, as they were created: `*` is every user
 * table (`cloudsync_init('*')` answers "Table * does not exist" in 1.1.4), a
 * name is matched as SQLite does (the extension would store "NOTES" for table
 * notes as typed), or kept as typed when no such table exists (the preflight
 * names it then).
 *
 * @param driver The connection.
 * @param table A table name or `*`.
 * @returns The names, at least one.
 * @throws {SqliteSyncError} `schema` for `*` on a database without user tables.
 * @throws {TypeError} for a name that is not an identifier.
 */
export function tablesToInit(driver: Driver, table: string): string[] {
  const tables = table === "*"
    ? userTables(driver)
    : [storedTableName(driver, assertIdentifier(table, "table")) ?? table];
  if (tables.length === 0) {
    throw new SqliteSyncError(
      "schema",
      `Cannot init "*": the database has no user tables. Create the tables to sync first.`,
    );
  }
  return tables;
}

/**
 * Runs one query and finalizes its statement at once: a statement left to
 * the garbage collector keeps a bun:sqlite connection (its file descriptors
 * and WAL) alive after close().
 */
function query(driver: Driver, sql: string, ...params: SqlValue[]): Row[] {
  const stmt = driver.prepare(sql);
  try {
    return stmt.all(...params);
  } finally {
    stmt.finalize();
  }
}

/**
 * Checks a table the way `cloudsync_init` will, and more: a missing table,
 * a missing primary key, a single integer primary key, NOT NULL columns
 * without DEFAULT. Every problem is named with its fix.
 *
 * @param driver The connection.
 * @param table The table to check.
 * @param checks Checks the caller chose to skip.
 * @throws {SqliteSyncError} `schema` naming the table, the column and the fix.
 */
export function preflightTable(driver: Driver, table: string, checks: InitChecks = {}): void {
  assertIdentifier(table, "table");
  if (/^(sqlite_|cloudsync_)/i.test(table) || /_cloudsync(_blocks)?$/i.test(table)) {
    throw new SqliteSyncError(
      "schema",
      `Cannot sync table ${
        JSON.stringify(table)
      }: the name is reserved for SQLite or cloudsync metadata.`,
    );
  }
  if (!tableExists(driver, table)) {
    throw new SqliteSyncError(
      "schema",
      `Cannot sync table ${JSON.stringify(table)}: no such table in the database. Create it first.`,
    );
  }
  const columns = tableColumns(driver, table);
  const pk = columns.filter((c) => c.pk > 0);
  if (pk.length === 0) {
    throw new SqliteSyncError(
      "schema",
      `Cannot sync table ${JSON.stringify(table)}: it has no PRIMARY KEY. ` +
        `Add one, e.g. "id TEXT PRIMARY KEY NOT NULL" filled with cloudsync_uuid() (db.uuid()).`,
    );
  }
  // cloudsync_init refuses every single-column key of INTEGER affinity (any
  // declared type containing "INT": INT, BIGINT, INT8…), not just INTEGER.
  if (pk.length === 1 && /INT/i.test(pk[0].type) && !checks.allowIntegerPrimaryKey) {
    const declared = pk[0].type.trim().toUpperCase() === "INTEGER"
      ? ""
      : ` (declared ${JSON.stringify(pk[0].type)})`;
    throw new SqliteSyncError(
      "schema",
      `Cannot sync table ${JSON.stringify(table)}: column ${
        JSON.stringify(pk[0].name)
      } is a single-column ` +
        `INTEGER PRIMARY KEY${declared}, whose values collide between devices. Use a TEXT key filled with db.uuid(), ` +
        `or pass { allowIntegerPrimaryKey: true } if every device allocates disjoint ids.`,
    );
  }
  if (!checks.allowNotNullWithoutDefault) {
    const bad = columns.filter((c) => c.pk === 0 && c.notNull && c.defaultValue === null);
    if (bad.length > 0) {
      throw new SqliteSyncError(
        "schema",
        `Cannot sync table ${JSON.stringify(table)}: NOT NULL column${bad.length > 1 ? "s" : ""} ` +
          `${bad.map((c) => JSON.stringify(c.name)).join(", ")} ha${
            bad.length > 1 ? "ve" : "s"
          } no DEFAULT, ` +
          `and merges write one column at a time. Add a DEFAULT (e.g. DEFAULT ''), make the column nullable, ` +
          `or pass { allowNotNullWithoutDefault: true }.`,
      );
    }
  }
}

/**
 * Checks that a column exists in a table, matching its name as SQLite does
 * (ASCII letters ignore case).
 *
 * @param driver The connection.
 * @param table The table.
 * @param column The column name.
 * @returns The column, under the name it was declared with.
 * @throws {SqliteSyncError} `schema` when it does not exist.
 */
export function assertColumn(driver: Driver, table: string, column: string): ColumnInfo {
  assertIdentifier(column, "column");
  const key = foldIdentifier(column);
  const info = tableColumns(driver, table).find((c) => foldIdentifier(c.name) === key);
  if (!info) {
    throw new SqliteSyncError(
      "schema",
      `Table ${JSON.stringify(table)} has no column ${JSON.stringify(column)}.`,
    );
  }
  return info;
}

function isTextAffinity(type: string): boolean {
  // SQLite's affinity rules: INT first, then CHAR/CLOB/TEXT; no type stores text as is.
  const t = type.toUpperCase();
  return !t.includes("INT") && (/CHAR|CLOB|TEXT/.test(t) || t.trim() === "");
}

/**
 * Checks that a column can be block-level LWW: not part of the primary key,
 * and of TEXT affinity (blocks are lines of text).
 *
 * @param info The column.
 * @param table Its table, for the message.
 * @throws {SqliteSyncError} `schema` naming the column and the fix.
 */
export function assertBlockCandidate(info: ColumnInfo, table: string): void {
  if (info.pk > 0) {
    throw new SqliteSyncError(
      "schema",
      `setColumn(): column ${JSON.stringify(info.name)} is part of the primary key of table ${
        JSON.stringify(table)
      }; only non-key TEXT columns can be block-level.`,
    );
  }
  if (!isTextAffinity(info.type)) {
    throw new SqliteSyncError(
      "schema",
      `setColumn(): column ${JSON.stringify(info.name)} of table ${JSON.stringify(table)} is ` +
        `declared ${JSON.stringify(info.type)}; block-level LWW splits TEXT, so declare it TEXT.`,
    );
  }
}
