/**
 * Refuses the writes that lose data on tables with block-level LWW columns
 * in 1.1.4: `INSERT OR REPLACE` and `REPLACE INTO` (peers drop the row, a
 * shorter value keeps stale trailing blocks). `UPDATE` and
 * `INSERT … ON CONFLICT DO UPDATE` are safe (verified in tests).
 *
 * @module
 */
import { SqliteSyncError } from "./errors.ts";

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
