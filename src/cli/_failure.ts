/**
 * A command that failed for a reason other than bad input (the network, the
 * server, the host): one line, exit code 1.
 *
 * @module
 */

/** Exit code of a command that failed for a reason other than bad input. */
export const FAILURE_EXIT_CODE = 1;

/**
 * A failure whose message is already the whole line to print after `sqlite-sync: `
 * (redacted, naming the kind), e.g. `sync failed (offline): …`.
 *
 * @example Usage
 * ```ts
 * import { CommandFailure } from "./_failure.ts";
 * const err = new CommandFailure("sync failed (offline): connection refused", "offline");
 * console.log(err.exitCode, err.kind); // 1 "offline"
 * ```
 */
export class CommandFailure extends Error {
  /** Always {@linkcode FAILURE_EXIT_CODE}. */
  readonly exitCode: number = FAILURE_EXIT_CODE;
  /** The kind of the underlying error (`offline`, `auth`…). */
  readonly kind: string;

  /**
   * Creates the failure.
   *
   * @param message The line (no secret).
   * @param kind The underlying error's kind.
   */
  constructor(message: string, kind: string) {
    super(message);
    this.name = "CommandFailure";
    this.kind = kind;
  }
}
