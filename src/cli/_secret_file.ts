/**
 * Reads a secret from a file named in the config: one line, trimmed. A
 * missing, unreadable, empty or multi-line file, a folder, a file every user
 * can read, and a secret that could not be sent as written (whitespace inside,
 * a character that is not printable ASCII, longer than
 * {@linkcode MAX_SECRET_LENGTH}) are refused with a message naming the key and
 * the path, never the content.
 *
 * World-readable files are refused rather than warned about: a daemon that
 * starts anyway teaches nobody to fix it, and systemd's `LoadCredential=`
 * (mode 0400) or `chmod 600` costs nothing.
 *
 * @module
 */
import { readFileSync, statSync } from "node:fs";
import process from "node:process";

/** The longest secret a file (or a variable) may hold: a longer one is the wrong file. */
export const MAX_SECRET_LENGTH = 8192;

/**
 * What is wrong with a secret's text (already trimmed), in words that never show it.
 *
 * @param secret The secret, trimmed.
 * @returns `undefined` when it is usable, else what is wrong (`has whitespace inside`).
 */
export function secretProblem(secret: string): string | undefined {
  if (secret === "") return "is empty";
  if (/[\r\n]/.test(secret)) return "has more than one line";
  if (/\s/.test(secret)) return "has whitespace inside";
  if (/[^\x21-\x7e]/.test(secret)) {
    return "holds a character that is not printable ASCII (a control character or a non-ASCII letter)";
  }
  if (secret.length > MAX_SECRET_LENGTH) return `is longer than ${MAX_SECRET_LENGTH} characters`;
  return undefined;
}

/**
 * Reads the secret.
 *
 * @param path Absolute path.
 * @param key The config key that named it (`databases[0].apiKeyFile`).
 * @param fail Makes the error to throw from a message.
 * @returns The secret, trimmed (and without a UTF-8 byte order mark).
 */
export function readSecretFile(
  path: string,
  key: string,
  fail: (message: string) => Error,
): string {
  const at = `'${key}' (${path})`;
  let mode: number;
  let size: number;
  try {
    const stat = statSync(path);
    if (!stat.isFile()) throw fail(`${at} is not a file: point it at the file holding the secret`);
    mode = stat.mode;
    size = stat.size;
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
  // A file far longer than any secret (a log, a binary) is not read at all.
  if (size > 4 * MAX_SECRET_LENGTH) {
    throw fail(
      `${at} is longer than ${MAX_SECRET_LENGTH} characters: keep only the secret in it, on one line`,
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
  const secret = content.replace(/^\uFEFF/, "").trim();
  const problem = secretProblem(secret);
  if (problem !== undefined) {
    const fix = secret === "" ? "write the secret into it" : "keep only the secret in it";
    throw fail(`${at} ${problem}: ${fix}, on one line`);
  }
  return secret;
}
