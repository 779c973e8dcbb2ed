/**
 * Refuses the writes that lose data on tables with block-level LWW columns
 * in 1.1.4: `INSERT OR REPLACE` and `REPLACE INTO` (peers drop the row, a
 * shorter value keeps stale trailing blocks). `UPDATE` and
 * `INSERT … ON CONFLICT DO UPDATE` are safe (verified in tests).
 *
 * @module
 */
import { SqliteSyncError } from "../common/errors.ts";

// String literals and comments can hold anything: blank them before matching.
const STRIP = /'(?:[^']|'')*'|--[^\n]*|\/\*[\s\S]*?\*\//g;
const REPLACE_TARGET =
  /\b(?:INSERT\s+OR\s+REPLACE|REPLACE)\s+INTO\s+(?:(?:"(?:[^"]|"")+"|`[^`]+`|\[[^\]]+\]|[\w$]+)\s*\.\s*)?("(?:[^"]|"")+"|`[^`]+`|\[[^\]]+\]|[\w$\u0080-\uffff]+)/gi;

function unquote(name: string): string {
  if (name.startsWith('"')) return name.slice(1, -1).replaceAll('""', '"');
  if (name.startsWith("`") || name.startsWith("[")) return name.slice(1, -1);
  return name;
}

/**
 * Throws when `sql` replaces rows of a table that has block columns.
 *
 * @param sql The statement text.
 * @param blockTables Lower-cased names of tables with block columns.
 * @throws {SqliteSyncError} `schema` saying to use UPDATE.
 */
export function assertNoBlockReplace(sql: string, blockTables: ReadonlySet<string>): void {
  if (blockTables.size === 0 || !/replace/i.test(sql)) return;
  const text = sql.replace(STRIP, " ");
  for (const m of text.matchAll(REPLACE_TARGET)) {
    const table = unquote(m[1]);
    if (blockTables.has(table.toLowerCase())) {
      throw new SqliteSyncError(
        "schema",
        `Refusing INSERT OR REPLACE / REPLACE INTO on table ${
          JSON.stringify(table)
        }: it has block-level ` +
          `LWW columns, and in sqlite-sync 1.1.4 a replace makes peers drop the row. Use UPDATE ` +
          `(or INSERT … ON CONFLICT(…) DO UPDATE) instead.`,
      );
    }
  }
}

// A conflict clause names the constraint it belongs to: PRIMARY KEY [ASC|DESC]
// or UNIQUE, as a column constraint or with a column list (table constraint).
const REPLACE_CONFLICT =
  /\b(PRIMARY\s+KEY|UNIQUE)\b(?:\s+(?:ASC|DESC)\b)?(\s*\([^()]*\))?\s*ON\s+CONFLICT\s+REPLACE\b/gi;
const FIRST_NAME = /^\s*("(?:[^"]|"")+"|`[^`]+`|\[[^\]]+\]|[\w$\u0080-\uffff]+)/;

/** Where the top-level definition holding `index` starts (after `(` or a depth-1 comma). */
function definitionStart(text: string, index: number): number {
  let depth = 0;
  let start = -1;
  for (let i = 0; i < index; i++) {
    const ch = text[i];
    if (ch === "(" && ++depth === 1) start = i + 1;
    else if (ch === ")") depth--;
    else if (ch === "," && depth === 1) start = i + 1;
  }
  return start;
}

/**
 * The PRIMARY KEY and UNIQUE constraints of a `CREATE TABLE` statement that
 * declare `ON CONFLICT REPLACE`: with them a plain INSERT of an existing key
 * becomes a replace. (`NOT NULL ON CONFLICT REPLACE` only substitutes the
 * default value and is not reported.)
 *
 * @param createSql The table's `sqlite_master.sql`.
 * @returns One description per constraint, e.g. `PRIMARY KEY of column "id"`.
 */
export function replaceConflicts(createSql: string): string[] {
  const text = createSql.replace(STRIP, "''");
  const found: string[] = [];
  for (const m of text.matchAll(REPLACE_CONFLICT)) {
    const kind = m[1].toUpperCase().replace(/\s+/g, " ");
    if (m[2] !== undefined) {
      found.push(`${kind} ${m[2].trim().replace(/\s+/g, " ")}`);
      continue;
    }
    // A column constraint: the column is the first word of its definition.
    const start = definitionStart(text, m.index);
    const column = start < 0 ? null : FIRST_NAME.exec(text.slice(start, m.index));
    found.push(column ? `${kind} of column ${JSON.stringify(unquote(column[1]))}` : kind);
  }
  return found;
}

/**
 * Throws when a table declares `ON CONFLICT REPLACE` on its PRIMARY KEY or a
 * UNIQUE constraint: every conflicting INSERT is then a replace, the write
 * that loses data on block-level tables in sqlite-sync 1.1.4.
 *
 * @param createSql The table's `sqlite_master.sql`.
 * @param table The table, for the message.
 * @param operation The calling method, for the message.
 * @throws {SqliteSyncError} `schema` naming the constraint and the fix.
 */
export function assertNoReplaceConflict(
  createSql: string,
  table: string,
  operation: string,
): void {
  const found = replaceConflicts(createSql);
  if (found.length === 0) return;
  throw new SqliteSyncError(
    "schema",
    `${operation}: table ${JSON.stringify(table)} declares ON CONFLICT REPLACE on its ` +
      `${found.join(", ")}, so a plain INSERT of an existing key replaces the row, and in ` +
      `sqlite-sync 1.1.4 a replace on a table with block-level columns makes peers lose data. ` +
      `Rebuild the table without the ON CONFLICT REPLACE clause (the default, ABORT) and write ` +
      `existing rows with UPDATE or INSERT … ON CONFLICT(…) DO UPDATE.`,
  );
}
