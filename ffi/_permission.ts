/**
 * Deno's permission errors (`NotCapable`), told apart from file-system and
 * network failures so they reach the caller with their own message instead
 * of passing for a read-only cache or an unreachable host.
 *
 * @module
 */
import { SqliteSyncError, type SqliteSyncErrorKind } from "../common/errors.ts";

/**
 * Tells whether an error (or its cause) is a missing Deno permission.
 *
 * @param err The error.
 * @returns `true` for Deno's `NotCapable` (and the older `PermissionDenied`).
 *
 * @example Usage
 * ```ts
 * import { isPermissionError } from "./_permission.ts";
 * console.log(isPermissionError(new Error("x"))); // false
 * ```
 */
export function isPermissionError(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e && depth < 4; e = (e as Error).cause, depth++) {
    const name = (e as Error).name;
    if (name === "NotCapable" || name === "PermissionDenied") return true;
  }
  return false;
}

/**
 * Builds the error for a missing Deno permission: `Deno permission missing: <what Deno
 * said>`, which names the flag to add. The code is `NotCapable`.
 *
 * @param kind The error kind of the step that needed the permission.
 * @param cause The permission error.
 * @param during What was being done, for the message.
 * @returns The error.
 *
 * @example Usage
 * ```ts
 * import { permissionError } from "./_permission.ts";
 * const err = Object.assign(new Error("Requires net access"), { name: "NotCapable" });
 * console.log(permissionError("cache", err, "writing the cache").message);
 * ```
 */
export function permissionError(
  kind: SqliteSyncErrorKind,
  cause: unknown,
  during: string,
): SqliteSyncError {
  let e: unknown = cause;
  while (e && (e as Error).name !== "NotCapable" && (e as Error).name !== "PermissionDenied") {
    e = (e as Error).cause;
  }
  const said = e instanceof Error ? e.message : String(cause);
  const flag = /--allow-[a-z]+/.test(said) ? "" : "; run with the matching --allow-… flag";
  return new SqliteSyncError(
    kind,
    `Deno permission missing while ${during}: ${said}${flag} (see "Deno permissions" in the README).`,
    { cause, code: "NotCapable" },
  );
}
