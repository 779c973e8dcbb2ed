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
import { SqliteSyncError } from "../common/errors.ts";
import { quoteIdentifier } from "./schema.ts";

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

/** The guard trigger's name for `table` (lower-cased: SQLite names ignore case). */
export function keyGuardName(table: string): string {
  return `${KEY_GUARD_PREFIX}${table.toLowerCase()}`;
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
 * SQL that drops the key-change guard of `table`.
 *
 * @param table The table.
 * @returns `DROP TRIGGER IF EXISTS …`.
 *
 * @example Usage
 * ```ts
 * import { dropKeyGuardSql } from "./block_guard.ts";
 * console.log(dropKeyGuardSql("notes"));
 * ```
 */
export function dropKeyGuardSql(table: string): string {
  return `DROP TRIGGER IF EXISTS ${quoteIdentifier(keyGuardName(table))}`;
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
