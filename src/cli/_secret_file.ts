/**
 * Reads a secret from a file named in the config: one line, trimmed. A
 * missing, unreadable, empty or multi-line file, a folder, or a file every
 * user can read is refused with a message naming the key and the path, never
 * the content.
 *
 * World-readable files are refused rather than warned about: a daemon that
 * starts anyway teaches nobody to fix it, and systemd's `LoadCredential=`
 * (mode 0400) or `chmod 600` costs nothing.
 *
 * @module
 */
import { readFileSync, statSync } from "node:fs";
import process from "node:process";

/**
 * Reads the secret.
 *
 * @param path Absolute path.
 * @param key The config key that named it (`databases[0].apiKeyFile`).
 * @param fail Makes the error to throw from a message.
 * @returns The secret, trimmed.
 */
export function readSecretFile(
  path: string,
  key: string,
  fail: (message: string) => Error,
): string {
  const at = `'${key}' (${path})`;
  let mode: number;
  try {
    const stat = statSync(path);
    if (!stat.isFile()) throw fail(`${at} is not a file: point it at the file holding the secret`);
    mode = stat.mode;
  } catch (err) {
    if (!(err instanceof Error) || !("code" in err)) throw err;
    throw err.code === "ENOENT"
      ? fail(`${at} does not exist: create it (one line, mode 600) or fix the path`)
      : fail(`${at} cannot be read (${err.code}): check the folder's permissions`);
  }
  if (process.platform !== "win32" && (mode & 0o004) !== 0) {
    throw fail(
      `${at} is readable by every user (mode ${(mode & 0o777).toString(8).padStart(3, "0")}): ` +
        "chmod 600 it (or 640 for the daemon's group)",
    );
  }
  let content: string;
  try {
    content = readFileSync(path, "utf8");
  } catch (err) {
    const code = (err as { code?: string }).code ?? "error";
    throw fail(
      `${at} cannot be read (${code}): give the daemon's user read access (chmod 600, chown)`,
    );
  }
  const secret = content.trim();
  if (secret === "") throw fail(`${at} is empty: write the secret into it, on one line`);
  if (/[\r\n]/.test(secret)) {
    throw fail(`${at} has more than one line: keep only the secret, on one line`);
  }
  return secret;
}
