/**
 * What stays unsafe on tables with block-level LWW columns in sqlite-sync
 * 1.1.4, and the guards for it.
 *
 * REPLACE in every form (`INSERT OR REPLACE`, `REPLACE INTO`,
 * `UPDATE OR REPLACE`, `ON CONFLICT REPLACE` in the schema) is safe once the
 * writing connection runs with `PRAGMA recursive_triggers = ON`, which
 * `openWithExtension()` sets on every connection: SQLite then fires the DELETE
 * trigger for each row a REPLACE removes, and cloudsync records the delete
 * (tests/src/replace_matrix_test.ts proves each case on both replicas).
 *
 * What the pragma does not fix is changing a row's primary key on a table
 * with block columns: 1.1.4 then leaves only the delimiters of the text (a
 * three-line body becomes `"\n\n"`) on the writer and on every peer. A
 * `BEFORE UPDATE OF <key columns>` trigger, stored in the schema, refuses it
 * on every connection, the library's or not.
 *
 * The extension also builds the name of a table's blocks table without
 * quoting it, so only tables named like plain SQL identifiers can have block
 * columns.
 *
 * @module
 */
import type { Driver } from "../ffi/drivers/driver.ts";
import { SqliteSyncError } from "../common/errors.ts";
import { foldIdentifier, quoteIdentifier, tableColumns } from "./schema.ts";

/** Names of the key-change guard triggers start with this. */
export const KEY_GUARD_PREFIX = "cloudsync_sdk_block_pk_guard_";

/**
 * What SQLite's tokenizer reads as one identifier once 1.1.4 appends
 * `_cloudsync_blocks`: a letter, `_` or non-ASCII character first, then also
 * digits and `$` (checked against 1.1.4: keywords such as `order` work,
 * `1abc`, `$x`, `a-b`, `sp ace`, `we'ird`, `a.b` fail).
 */
const PLAIN_IDENTIFIER = /^[A-Za-z_\u0080-\u{10FFFF}][A-Za-z0-9_$\u0080-\u{10FFFF}]*$/u;

/**
 * Throws unless 1.1.4 can create the blocks table of `table`.
 *
 * @param table The table name.
 * @throws {SqliteSyncError} `schema` naming the table, the reason and the fix.
 *
 * @example Usage
 * ```ts
 * import { assertBlockTableName } from "./block_guard.ts";
 * assertBlockTableName("notes"); // fine
 * try {
 *   assertBlockTableName("my notes");
 * } catch (err) {
 *   console.log((err as Error).message); // … is not a plain SQL identifier …
 * }
 * ```
 */
export function assertBlockTableName(table: string): void {
  if (PLAIN_IDENTIFIER.test(table)) return;
  const suggestion = table.replace(/[^A-Za-z0-9_$\u0080-\u{10FFFF}]+/gu, "_").replace(
    /^[0-9$]/,
    "_$&",
  );
  throw new SqliteSyncError(
    "schema",
    `setColumn(): table ${JSON.stringify(table)} cannot have block columns: its name is not a ` +
      `plain SQL identifier, and sqlite-sync 1.1.4 does not quote it when it creates the ` +
      `${
        JSON.stringify(`${table}_cloudsync_blocks`)
      } table (SQLite would answer a syntax error). ` +
      `Use letters, digits, "_" and "$", not starting with a digit or "$" (e.g. ` +
      `${JSON.stringify(suggestion)}).`,
  );
}

/**
 * SQL listing every key guard trigger (`name`) and the table it is on (`t`),
 * whatever its name's letter case (earlier builds folded non-ASCII letters too).
 */
export const KEY_GUARDS = "SELECT name, tbl_name AS t FROM sqlite_master WHERE type = 'trigger' " +
  `AND name LIKE '${KEY_GUARD_PREFIX.replaceAll("_", "\\_")}%' ESCAPE '\\'`;

/**
 * The guard trigger's name for `table`. Its ASCII letters are lower-cased,
 * as SQLite folds names: two tables whose names differ only in non-ASCII case
 * (`Äb`, `äb`) are two tables, and get two guards.
 *
 * @param table The table.
 * @returns `cloudsync_sdk_block_pk_guard_<table, ASCII letters lower-cased>`.
 *
 * @example Usage
 * ```ts
 * import { keyGuardName } from "./block_guard.ts";
 * console.log(keyGuardName("Notes")); // "cloudsync_sdk_block_pk_guard_notes"
 * ```
 */
export function keyGuardName(table: string): string {
  return `${KEY_GUARD_PREFIX}${foldIdentifier(table)}`;
}

function refusalText(table: string): string {
  return `sqlite-sync: cannot change the primary key of a row in table ${
    JSON.stringify(table)
  }: it has block-level LWW columns, and sqlite-sync 1.1.4 empties their text on every ` +
    `replica when a key changes. Insert a row with the new key and delete the old row instead.`;
}

/**
 * SQL that (re)creates the trigger refusing primary-key changes on `table`.
 * It has no `cloudsync_is_sync()` exemption: merges address rows by key and
 * never change one (tested), and `cloudsync_is_sync()` is also 1 on a
 * `disable()`d table, where a key change is just as destructive once the
 * table is enabled again. It calls no cloudsync function, so it works with
 * `trusted_schema = OFF` (where `cloudsync_is_enabled()` may not run in a trigger).
 *
 * @param table The table (a plain identifier, see {@linkcode assertBlockTableName}).
 * @param keyColumns Its primary key columns.
 * @returns `DROP TRIGGER IF EXISTS …; CREATE TRIGGER …`: idempotent, and
 *   current when the key columns changed.
 *
 * @example Usage
 * ```ts
 * import { keyGuardSql } from "./block_guard.ts";
 * console.log(keyGuardSql("notes", ["id"]));
 * ```
 */
export function keyGuardSql(table: string, keyColumns: readonly string[]): string {
  if (keyColumns.length === 0) {
    throw new TypeError(`keyGuardSql(): table ${JSON.stringify(table)} has no key columns`);
  }
  const cols = keyColumns.map(quoteIdentifier);
  // COLLATE BINARY: a NOCASE key changing 'A' to 'a' is a new key for cloudsync.
  const changed = cols.map((c) => `NEW.${c} IS NOT OLD.${c} COLLATE BINARY`).join(" OR ");
  const name = quoteIdentifier(keyGuardName(table));
  const message = refusalText(table).replaceAll("'", "''");
  return `DROP TRIGGER IF EXISTS ${name};\n` +
    `CREATE TRIGGER ${name} BEFORE UPDATE OF ${cols.join(", ")} ON ${quoteIdentifier(table)}\n` +
    `WHEN ${changed}\nBEGIN SELECT RAISE(ABORT, '${message}'); END`;
}

/**
 * (Re)creates the guard of `table` from its current primary key columns.
 *
 * @param driver The connection.
 * @param table A table with block columns and a primary key.
 *
 * @example Usage
 * ```ts ignore
 * import { installKeyGuard } from "./block_guard.ts";
 * installKeyGuard(db.driver, "notes");
 * ```
 */
export function installKeyGuard(driver: Driver, table: string): void {
  const keys = tableColumns(driver, table).filter((c) => c.pk > 0)
    .sort((a, b) => a.pk - b.pk).map((c) => c.name);
  driver.exec(keyGuardSql(table, keys));
}

/**
 * Installs the guard of block tables that have none: tables given block
 * columns by an older build, or by a raw `cloudsync_set_column` call. Writes
 * in one transaction; on a read-only connection it does nothing, as such a
 * connection cannot change a key either.
 *
 * @param driver The connection.
 * @param tables Block tables without a guard (none in {@linkcode KEY_GUARDS} is on them).
 * @throws {SqliteSyncError} What creating a trigger raises, but a read-only connection's refusal.
 *
 * @example Usage
 * ```ts ignore
 * import { installMissingKeyGuards } from "./block_guard.ts";
 * installMissingKeyGuards(db.driver, ["notes"]);
 * ```
 */
export function installMissingKeyGuards(driver: Driver, tables: readonly string[]): void {
  // A dropped table keeps its settings rows: there is nothing to guard.
  const missing = tables.filter((t) => tableColumns(driver, t).some((c) => c.pk > 0));
  if (missing.length === 0) return;
  try {
    driver.transaction(() => {
      for (const t of missing) installKeyGuard(driver, t);
    });
  } catch (err) {
    const readOnly = err instanceof SqliteSyncError &&
      (err.code === "SQLITE_READONLY" || /\breadonly database\b/.test(err.message));
    if (!readOnly) throw err;
  }
}

const REFUSAL = /sqlite-sync: cannot change the primary key of a row in table "[\s\S]*? instead\./;

/**
 * Turns the guard trigger's `RAISE` into a `schema` error; anything else
 * passes through unchanged.
 *
 * @param err What a statement threw.
 * @returns A `schema` {@linkcode SqliteSyncError} carrying the guard's message, or `err`.
 *
 * @example Usage
 * ```ts
 * import { keyGuardRefusal } from "./block_guard.ts";
 * const err = keyGuardRefusal(new Error("boom"));
 * console.log((err as Error).message); // "boom"
 * ```
 */
export function keyGuardRefusal(err: unknown): unknown {
  const m = err instanceof Error ? REFUSAL.exec(err.message) : null;
  if (!m || (err instanceof SqliteSyncError && err.kind === "schema")) return err;
  return new SqliteSyncError("schema", m[0], { cause: err });
}
