/**
 * The `<db>` argument of `init`, `sync` and `status`: an existing database
 * file. The CLI never creates one by accident (a typo would sync an empty
 * database), and an in-memory database would vanish with the process.
 *
 * @module
 */
import { statSync } from "node:fs";
import { UsageError } from "./_usage.ts";

/**
 * Checks that `path` names an existing regular file.
 *
 * @param path The `<db>` argument.
 * @param command The command, for the fix in the message.
 * @returns `path`.
 * @throws {UsageError} for `:memory:`, a missing path or a directory, saying how to create it.
 *
 * @example Usage
 * ```ts ignore
 * import { existingDatabase } from "./_database_file.ts";
 * existingDatabase("app.db", "status");
 * ```
 */
export function existingDatabase(path: string, command: string): string {
  const create = command === "init"
    ? `create it first (your app does, or: sqlite3 '${path}' "CREATE TABLE notes ` +
      `(id TEXT PRIMARY KEY NOT NULL, body TEXT)"), then run this again`
    : `create it and enable sync on its tables first: sqlite-sync init '${path}' --table <table>`;
  if (path === ":memory:" || path.startsWith("file::memory:")) {
    throw new UsageError(
      `'sqlite-sync ${command}' needs a database file, not an in-memory database: pass a path`,
    );
  }
  let isFile: boolean;
  try {
    isFile = statSync(path).isFile();
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === "ENOENT" || code === "ENOTDIR") {
      throw new UsageError(`no database file '${path}': ${create}`);
    }
    throw new UsageError(
      `database file '${path}' cannot be read (${code ?? err}): fix its path or permissions`,
    );
  }
  if (!isFile) {
    throw new UsageError(
      `'${path}' is not a database file (a directory?): pass the path of the database file`,
    );
  }
  return path;
}
