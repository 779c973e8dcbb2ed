/**
 * Checks a row filter before it reaches `cloudsync_set_filter`, which pastes
 * the expression into trigger SQL: one boolean expression over the table's
 * columns, nothing that could end the statement or call into cloudsync.
 *
 * @module
 */
import type { Driver } from "../ffi/drivers/driver.ts";
import { SqliteSyncError } from "../common/errors.ts";
import { describeValue, quoteIdentifier } from "./schema.ts";

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
 * compiles as a `WHERE` clause over the table (prepared, never run), then
 * that the compiled program (`EXPLAIN`) calls no forbidden function.
 *
 * @param driver The connection.
 * @param table A synced table, already checked to exist.
 * @param expression The filter, e.g. `"tenant_id = 'acme'"`.
 * @throws {TypeError} for a non-string, empty, over-long or multi-statement expression,
 *   comments, unbalanced parentheses, a function called by a quoted name, or calls to
 *   `cloudsync_*()` / `load_extension()` (found in the text and in the compiled program).
 * @throws {SqliteSyncError} `schema` when it does not compile over the table.
 */
export function assertFilterExpression(driver: Driver, table: string, expression: unknown): void {
  if (
    typeof expression !== "string" || expression.trim() === "" ||
    expression.length > MAX_FILTER_LENGTH
  ) {
    throw new TypeError(
      `setFilter(): expected a boolean SQL expression of at most ${MAX_FILTER_LENGTH} characters, ` +
        `got ${describeValue(expression)}`,
    );
  }
  const { code, quotedCall } = scan(expression);
  if (/[;\0]|--|\/\*/.test(code) || !balancedParentheses(code)) {
    throw new TypeError(
      `setFilter(): the expression must be a single expression with balanced parentheses, ` +
        `without ';', NUL or comments: ${describeValue(expression)}`,
    );
  }
  // The extension evaluates the filter in its triggers and while refilling
  // metadata: a call into cloudsync itself (or load_extension) would run there.
  // SQLite accepts a quoted function name ("f"(…), [f](…), `f`(…)): refuse those outright.
  if (quotedCall !== undefined) {
    throw new TypeError(
      `setFilter(): the expression must not call a function by a quoted name (${
        describeValue(quotedCall)
      } followed by "("): ` +
        `use plain function names and a plain condition over columns`,
    );
  }
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
      `setFilter(): ${describeValue(expression)} is not a valid expression over table ${
        JSON.stringify(table)
      }: ${err instanceof Error ? err.message : String(err)}`,
      { cause: err },
    );
  }
  // The text checks above cannot see every spelling SQLite accepts; the
  // compiled program can. Every function call is an opcode whose p4 is
  // "name(argc)" (checked on SQLite 3.53/3.54): refuse the forbidden ones.
  const called = forbiddenCall(driver, table, expression);
  if (called !== undefined) {
    throw new TypeError(
      `setFilter(): the expression must not call ${called}(): use a plain condition over columns`,
    );
  }
}

/** Opcodes that call an SQL function (names vary between SQLite versions). */
const CALL_OPCODE = /^(?:Pure)?Func|^Agg/;

function forbiddenCall(driver: Driver, table: string, expression: string): string | undefined {
  const stmt = driver.prepare(
    `EXPLAIN SELECT 1 FROM ${quoteIdentifier(table)} WHERE (${expression})`,
  );
  try {
    for (const row of stmt.all()) {
      if (!CALL_OPCODE.test(String(row.opcode)) || typeof row.p4 !== "string") continue;
      const name = /^([^(]*)\(/.exec(row.p4)?.[1].toLowerCase() ?? "";
      if (name.startsWith("cloudsync_") || name === "load_extension") return name;
    }
    return undefined;
  } finally {
    stmt.finalize();
  }
}

/**
 * Walks the expression once: string literals are blanked (they may hold
 * anything), quoted identifiers ("…", […], `…`) are blanked too, and the
 * first quoted identifier followed by `(` (a quoted function name) is reported.
 */
function scan(expression: string): { code: string; quotedCall?: string } {
  let code = "";
  let quotedCall: string | undefined;
  let i = 0;
  while (i < expression.length) {
    const ch = expression[i];
    const close = ch === "'" ? "'" : ch === '"' ? '"' : ch === "`" ? "`" : ch === "[" ? "]" : "";
    if (close === "") {
      code += ch;
      i++;
      continue;
    }
    let j = i + 1;
    for (;;) {
      const end = expression.indexOf(close, j);
      if (end < 0) {
        j = expression.length; // unterminated: SQLite's prepare reports it
        break;
      }
      // '' "" `` double to escape; ] cannot be escaped.
      if (close !== "]" && expression[end + 1] === close) {
        j = end + 2;
        continue;
      }
      j = end + 1;
      break;
    }
    const token = expression.slice(i, j);
    code += close === "'" ? "''" : '""';
    if (close !== "'" && quotedCall === undefined && /^\s*\(/.test(expression.slice(j))) {
      quotedCall = token;
    }
    i = j;
  }
  return { code, quotedCall };
}
