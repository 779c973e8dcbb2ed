/**
 * Checks a row filter before it reaches `cloudsync_set_filter`, which pastes
 * the expression into trigger SQL: one boolean expression over the table's
 * columns, nothing that could end the statement or call into cloudsync.
 *
 * @module
 */
import type { Driver } from "../ffi/drivers/driver.ts";
import { SqliteSyncError } from "./errors.ts";
import { describe, quoteIdentifier } from "./schema.ts";

/** Longest filter accepted; real filters are a few dozen characters. */
const MAX_FILTER_LENGTH = 4096;

function balancedParentheses(code: string): boolean {
  let depth = 0;
  for (const ch of code) {
    if (ch === "(") depth++;
    else if (ch === ")" && --depth < 0) return false;
  }
  return depth === 0;
}

/**
 * Validates a filter expression for a synced table: its shape, then that it
 * compiles as a `WHERE` clause over the table (prepared, never run).
 *
 * @param driver The connection.
 * @param table A synced table, already checked to exist.
 * @param expression The filter, e.g. `"tenant_id = 'acme'"`.
 * @throws {TypeError} for a non-string, empty, over-long or multi-statement expression,
 *   comments, unbalanced parentheses, or calls to `cloudsync_*()` / `load_extension()`.
 * @throws {SqliteSyncError} `schema` when it does not compile over the table.
 */
export function assertFilterExpression(driver: Driver, table: string, expression: unknown): void {
  if (
    typeof expression !== "string" || expression.trim() === "" ||
    expression.length > MAX_FILTER_LENGTH
  ) {
    throw new TypeError(
      `setFilter(): expected a boolean SQL expression of at most ${MAX_FILTER_LENGTH} characters, ` +
        `got ${describe(expression)}`,
    );
  }
  // Literals and quoted names may hold anything: blank them before looking at the code.
  const code = expression.replace(/'(?:[^']|'')*'/g, "''").replace(/"(?:[^"]|"")*"/g, '""');
  if (/[;\0]|--|\/\*/.test(code) || !balancedParentheses(code)) {
    throw new TypeError(
      `setFilter(): the expression must be a single expression with balanced parentheses, ` +
        `without ';', NUL or comments: ${describe(expression)}`,
    );
  }
  // The extension evaluates the filter in its triggers and while refilling
  // metadata: a call into cloudsync itself (or load_extension) would run there.
  const call = /\b(cloudsync_\w*|load_extension)\s*\(/i.exec(code);
  if (call) {
    throw new TypeError(
      `setFilter(): the expression must not call ${call[1]}(): use a plain condition over columns`,
    );
  }
  try {
    driver.prepare(`SELECT 1 FROM ${quoteIdentifier(table)} WHERE (${expression}) LIMIT 0`)
      .finalize();
  } catch (err) {
    throw new SqliteSyncError(
      "schema",
      `setFilter(): ${describe(expression)} is not a valid expression over table ${
        JSON.stringify(table)
      }: ${err instanceof Error ? err.message : String(err)}`,
      { cause: err },
    );
  }
}
