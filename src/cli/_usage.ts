/**
 * How the CLI reports bad input: one line naming the problem and the fix,
 * exit code 2, never a stack trace. Every command throws {@linkcode UsageError}
 * for what the user got wrong; the entry point turns it into that line.
 *
 * @module
 */

/** Exit code for bad input (unknown command or flag, bad config, missing database…). */
export const USAGE_EXIT_CODE = 2;

/**
 * Bad input from the user: the message is printed as one line, and the
 * process exits with code 2.
 *
 * @example Usage
 * ```ts
 * import { UsageError } from "./_usage.ts";
 * const err = new UsageError("unknown platform 'linux-mips': use one of linux-x86_64, linux-arm64, …");
 * console.log(err.exitCode); // 2
 * ```
 */
export class UsageError extends Error {
  /** Always {@linkcode USAGE_EXIT_CODE}. */
  readonly exitCode: number = USAGE_EXIT_CODE;

  /**
   * Creates the error.
   *
   * @param message One line: what is wrong and how to fix it (never a secret).
   */
  constructor(message: string) {
    super(message.replace(/\s*\n\s*/g, " "));
    this.name = "UsageError";
  }
}

/**
 * The one line printed for an error that ends the CLI: the message of a
 * `UsageError` or a `SqliteSyncError` (already redacted), without a stack.
 *
 * @param err What was thrown.
 * @returns `sqlite-sync: <message>`, on one line.
 *
 * @example Usage
 * ```ts
 * import { errorLine, UsageError } from "./_usage.ts";
 * console.log(errorLine(new UsageError("missing --out"))); // "sqlite-sync: missing --out"
 * ```
 */
export function errorLine(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return `sqlite-sync: ${message.replace(/\s*\n\s*/g, " ")}`;
}
