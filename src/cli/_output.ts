/**
 * What the CLI prints: JSON documents, aligned `label  value` blocks, and
 * small formatters. Results go to stdout, progress and errors to stderr.
 *
 * @module
 */
import process from "node:process";

/** Where a command writes: stdout for results, stderr for progress (both `process` streams by default). */
export interface Output {
  /** Results. */
  stdout: { write(text: string): unknown; isTTY?: boolean };
  /** Progress and errors. */
  stderr: { write(text: string): unknown; isTTY?: boolean };
}

/** The process's streams. */
export const processOutput: Output = {
  get stdout() {
    return process.stdout;
  },
  get stderr() {
    return process.stderr;
  },
};

/**
 * Prints a value as one JSON document (two-space indentation) on stdout.
 *
 * @param value A JSON-serialisable value.
 * @param out The streams.
 */
export function printJson(value: unknown, out: Output = processOutput): void {
  out.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/**
 * Prints lines on stdout.
 *
 * @param lines The lines, without newlines.
 * @param out The streams.
 */
export function printLines(lines: readonly string[], out: Output = processOutput): void {
  if (lines.length > 0) out.stdout.write(`${lines.join("\n")}\n`);
}

/**
 * Aligns `label  value` rows (a `null` or `undefined` value shows as `-`).
 *
 * @param rows The rows.
 * @returns The lines.
 *
 * @example Usage
 * ```ts
 * import { labelled } from "./_output.ts";
 * console.log(labelled([["site id", "ab12"], ["db version", 3]]).join("\n"));
 * // site id     ab12
 * // db version  3
 * ```
 */
export function labelled(rows: readonly (readonly [string, unknown])[]): string[] {
  const width = Math.max(0, ...rows.map(([label]) => label.length));
  return rows.map(([label, value]) =>
    `${label.padEnd(width)}  ${value === null || value === undefined ? "-" : String(value)}`
  );
}

/**
 * A byte count for people: `512 B`, `1.5 KB`, `2.0 MB`.
 *
 * @param bytes The count.
 * @returns The text.
 *
 * @example Usage
 * ```ts
 * import { formatBytes } from "./_output.ts";
 * console.log(formatBytes(1536)); // "1.5 KB"
 * ```
 */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

/**
 * A time in ms since the epoch as ISO 8601, or `null`.
 *
 * @param ms The time.
 * @returns The ISO text, or `null` when unset.
 *
 * @example Usage
 * ```ts
 * import { isoTime } from "./_output.ts";
 * console.log(isoTime(0)); // "1970-01-01T00:00:00.000Z"
 * ```
 */
export function isoTime(ms: number | null | undefined): string | null {
  return ms === null || ms === undefined ? null : new Date(ms).toISOString();
}

/**
 * Removes ANSI colour codes (citty colours its help even when piped).
 *
 * @param text The text.
 * @returns The text without escape sequences.
 *
 * @example Usage
 * ```ts
 * import { stripAnsi } from "./_output.ts";
 * console.log(stripAnsi("\u001b[36mhelp\u001b[39m")); // "help"
 * ```
 */
export function stripAnsi(text: string): string {
  // deno-lint-ignore no-control-regex
  return text.replace(/\u001b\[[0-9;]*m/g, "");
}
