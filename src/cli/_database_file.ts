/**
 * The `<db>` argument of `init`, `sync` and `status` (and `doctor --database`):
 * an existing SQLite database file, checked before anything is opened for
 * writing. The CLI never creates a database by accident (a typo would sync
 * an empty one), an in-memory database would vanish with the process, and a
 * file that is not a database is refused from its first bytes, before the
 * extension (which prints its own error on stdout when its first query
 * fails) is loaded on it.
 *
 * Read-only commands read through {@linkcode readOnlyPath}: a read-only
 * connection, as `immutable=1` for a WAL database no connection has open (so
 * no `-wal` or `-shm` is left next to it, and a read-only folder is no
 * obstacle). Commands that write inspect the file with
 * {@linkcode withReadOnlyConnection} first, so a refusal (no synced table, a
 * table the preflight refuses) leaves the file and its folder as they were,
 * then check it can be written ({@linkcode assertWritable}).
 *
 * @module
 */
import {
  accessSync,
  closeSync,
  constants,
  existsSync,
  openSync,
  readSync,
  statSync,
} from "node:fs";
import { dirname, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { SqliteSyncError } from "../../common/errors.ts";
import type { Driver } from "../../ffi/drivers/driver.ts";
import { openDriver } from "../../ffi/drivers/open_driver.ts";
import { UsageError } from "./_usage.ts";

/** The 16 bytes every SQLite 3 database file starts with. */
const MAGIC = "SQLite format 3\0";
/** The size of the database header. */
const HEADER_BYTES = 100;
/** As long as the library's connections wait for another connection's lock. */
const BUSY_TIMEOUT = "PRAGMA busy_timeout = 5000";

/** What the header of an existing database file says. */
export interface DatabaseFile {
  /** The path, as given. */
  path: string;
  /** The size in bytes (0: an empty database, as SQLite reads it). */
  size: number;
  /** The header's read and write versions are 2: the file is in WAL mode. */
  wal: boolean;
}

/**
 * A path as a shell word: quoted when it holds anything but safe characters,
 * so a command shown in a hint runs as printed.
 *
 * @param path The path.
 * @returns The word.
 *
 * @example Usage
 * ```ts
 * import { shellWord } from "./_database_file.ts";
 * console.log(shellWord("app.db"), shellWord("my app's.db")); // app.db 'my app'\''s.db'
 * ```
 */
export function shellWord(path: string): string {
  return /^[\w@%+=:,./-]+$/.test(path) ? path : `'${path.replaceAll("'", `'\\''`)}'`;
}

/**
 * Checks that `path` names an existing regular file that is a SQLite
 * database (an empty file counts: SQLite reads it as an empty database).
 * Only reads the file's first 100 bytes.
 *
 * @param path The `<db>` argument.
 * @param command The command, for the fix in the message.
 * @returns What the header says.
 * @throws {UsageError} for `:memory:`, a missing or unreadable path, a directory, or a file
 *   that is not a SQLite database, naming the path and the fix.
 *
 * @example Usage
 * ```ts ignore
 * import { databaseFile } from "./_database_file.ts";
 * console.log(databaseFile("app.db", "status").wal);
 * ```
 */
export function databaseFile(path: string, command: string): DatabaseFile {
  if (path === ":memory:" || path.startsWith("file:")) {
    throw new UsageError(
      `'sqlite-sync ${command}' needs a database file, not an in-memory database or a URI: ` +
        `pass a path, e.g. app.db`,
    );
  }
  let size: number;
  try {
    const stat = statSync(path);
    if (!stat.isFile()) {
      throw new UsageError(
        `'${path}' is not a database file (a directory?): pass the path of the database file`,
      );
    }
    size = stat.size;
  } catch (err) {
    if (err instanceof UsageError) throw err;
    const code = (err as { code?: string }).code;
    if (code === "ENOENT" || code === "ENOTDIR") {
      throw new UsageError(missingMessage(path, command));
    }
    throw new UsageError(
      `database file '${path}' cannot be read (${code ?? err}): check its path and permissions`,
    );
  }
  let header: Uint8Array;
  try {
    header = readHeader(path, size);
  } catch (err) {
    const code = (err as { code?: string }).code;
    throw new UsageError(
      `database file '${path}' cannot be read (${code ?? err}): check its permissions`,
    );
  }
  if (size > 0 && !isDatabaseHeader(header)) {
    throw new UsageError(
      `'${path}' is not a SQLite database (it does not start with the SQLite header): ` +
        `check the path; pass the database file itself`,
    );
  }
  return { path, size, wal: isWalHeader(header) };
}

/**
 * What the header of a file the CLI did not get from the user (the queue
 * file next to the database) says, without judging it: SQLite and the
 * queue name their own problems.
 *
 * @param path The file.
 * @returns The file, `wal` from its header (`false` when unreadable).
 */
export function fileHeader(path: string): DatabaseFile {
  let size = 0;
  let header: Uint8Array = new Uint8Array(0);
  try {
    size = statSync(path).size;
    header = readHeader(path, size);
  } catch {
    // Opening it names the problem.
  }
  return { path, size, wal: isDatabaseHeader(header) && isWalHeader(header) };
}

/** The first 100 bytes (fewer when the file is shorter). */
function readHeader(path: string, size: number): Uint8Array {
  const header = new Uint8Array(Math.min(size, HEADER_BYTES));
  if (header.length === 0) return header;
  const fd = openSync(path, "r");
  try {
    const read = readSync(fd, header, 0, header.length, 0);
    return header.subarray(0, read);
  } finally {
    closeSync(fd);
  }
}

function isDatabaseHeader(header: Uint8Array): boolean {
  if (header.length < HEADER_BYTES) return false;
  return new TextDecoder("latin1").decode(header.subarray(0, MAGIC.length)) === MAGIC;
}

/** The header's read and write versions are 2: WAL. */
function isWalHeader(header: Uint8Array): boolean {
  return header.length >= HEADER_BYTES && header[18] === 2 && header[19] === 2;
}

/** The one line for a missing `<db>`: check the path; `init` also says how to create one. */
function missingMessage(path: string, command: string): string {
  if (command === "init") {
    return `no database file '${path}': check the path, or create the database first (your app ` +
      `does, or: sqlite3 ${shellWord(path)} "CREATE TABLE notes (id TEXT PRIMARY KEY NOT NULL, ` +
      `body TEXT)"), then run this again`;
  }
  return `no database file '${path}': check the path (sqlite-sync ${command} reads an existing ` +
    `database and never creates one; your app creates it)`;
}

/**
 * The path to open `file` read-only with: the path itself, or a `file:` URI
 * with `immutable=1` for a WAL database that no connection has open (no
 * `-shm`, no WAL content). A read-only connection to such a file would
 * create `-wal` and `-shm` next to it and, unable to checkpoint, leave them
 * there (or fail in a folder it cannot write); read as immutable, the file
 * is read as it is, without locks and without those files. A connection that
 * opens it meanwhile and writes goes to its `-wal` first, which this short
 * read does not see (or, with bad luck, a page a checkpoint is rewriting:
 * an error or a stale count, never a write).
 *
 * @param file The checked file.
 * @returns The path or URI to pass to a read-only open.
 *
 * @example Usage
 * ```ts ignore
 * import { databaseFile, readOnlyPath } from "./_database_file.ts";
 * console.log(readOnlyPath(databaseFile("app.db", "status")));
 * ```
 */
export function readOnlyPath(file: DatabaseFile): string {
  if (!file.wal || existsSync(`${file.path}-shm`) || sizeOf(`${file.path}-wal`) > 0) {
    return file.path;
  }
  return `${pathToFileURL(resolve(file.path)).href}?immutable=1`;
}

/**
 * Checks, before a command that writes opens `file` for writing, that it can
 * write it: the file itself, and its folder where SQLite must create `-wal`
 * and `-shm` (a WAL switch, or a WAL database no connection has open).
 * Opens nothing with the extension: a failed first query of the extension
 * prints on stdout.
 *
 * @param file The checked file.
 * @param command The command, for the message.
 * @throws {UsageError} naming what cannot be written.
 */
export async function assertWritable(file: DatabaseFile, command: string): Promise<void> {
  const fix = "make them writable, or run it as a user who can write them";
  try {
    closeSync(openSync(file.path, "r+"));
  } catch (err) {
    const code = (err as { code?: string }).code;
    throw new UsageError(
      `database file '${file.path}' cannot be written (${code ?? err}): 'sqlite-sync ${command}' ` +
        `writes to it; make it writable, or run it as a user who can write it`,
    );
  }
  const folder = () =>
    new UsageError(
      `the folder of '${file.path}' cannot be written: 'sqlite-sync ${command}' writes to the ` +
        `database, and SQLite creates '${file.path}-wal' and '${file.path}-shm' next to it; ${fix}`,
    );
  const siblings = [`${file.path}-wal`, `${file.path}-shm`];
  if (!writable(dirname(resolve(file.path))) && !siblings.every(writable)) throw folder();
  if (!file.wal || existsSync(`${file.path}-shm`)) return;
  // Where access() cannot tell (Deno reads the mode bits), SQLite's first read does.
  let driver: Driver | undefined;
  try {
    driver = await openDriver(file.path);
    driver.exec(BUSY_TIMEOUT);
    const stmt = driver.prepare("SELECT count(*) AS n FROM sqlite_master");
    try {
      stmt.get();
    } finally {
      stmt.finalize();
    }
  } catch (err) {
    if (cannotOpen(err)) throw folder();
    throw notDatabase(file.path, err) ?? err;
  } finally {
    driver?.close();
  }
}

/**
 * The bad-input error for a database the command could not open for writing
 * (a read-only file or folder SQLite found), or `undefined` for other errors.
 *
 * @param file The database file.
 * @param command The command, for the message.
 * @param err What opening threw.
 * @returns The error to throw instead, if any.
 */
export function notWritable(
  file: DatabaseFile,
  command: string,
  err: unknown,
): UsageError | undefined {
  const message = err instanceof Error ? err.message : String(err);
  const code = err instanceof SqliteSyncError ? err.code : undefined;
  if (cannotOpen(err) || code === "SQLITE_READONLY" || /readonly database/i.test(message)) {
    return new UsageError(
      `'${file.path}' cannot be written (SQLite: ${message}): ` +
        `'sqlite-sync ${command}' writes to the database and to '${file.path}-wal' and ` +
        `'${file.path}-shm' next to it; make the file and its folder writable`,
    );
  }
  return undefined;
}

function cannotOpen(err: unknown): boolean {
  const message = err instanceof Error ? err.message : String(err);
  const code = err instanceof SqliteSyncError ? err.code : undefined;
  return code === "SQLITE_CANTOPEN" || /unable to open database file/i.test(message);
}

function writable(path: string): boolean {
  try {
    accessSync(path, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

function sizeOf(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

/**
 * Runs `fn` on a read-only connection to `file` without the extension: the
 * inspection a command does before it changes anything. A file SQLite cannot
 * read as a database is bad input.
 *
 * @param file The checked file.
 * @param fn What to read.
 * @returns What `fn` returned.
 * @throws {UsageError} when SQLite finds the file is not a database or is damaged.
 * @throws {SqliteSyncError} when the file cannot be opened or read for another reason.
 */
export async function withReadOnlyConnection<T>(
  file: DatabaseFile,
  fn: (driver: Driver) => T,
): Promise<T> {
  let driver: Driver | undefined;
  try {
    driver = await openDriver(readOnlyPath(file), { readOnly: true });
    driver.exec(BUSY_TIMEOUT);
    return fn(driver);
  } catch (err) {
    throw notDatabase(file.path, err) ?? err;
  } finally {
    driver?.close();
  }
}

/**
 * The bad-input error for a file SQLite refuses as a database, or `undefined` for other errors.
 *
 * @param path The database file.
 * @param err What SQLite threw.
 * @returns The error to throw instead, if any.
 */
export function notDatabase(path: string, err: unknown): UsageError | undefined {
  if (err instanceof UsageError || err instanceof TypeError) return undefined;
  const code = err instanceof SqliteSyncError ? err.code : undefined;
  const message = err instanceof Error ? err.message : String(err);
  if (code === "SQLITE_NOTADB" || /file is not a database/i.test(message)) {
    return new UsageError(
      `'${path}' is not a SQLite database (SQLite: file is not a database): check the ` +
        `path; pass the database file itself`,
    );
  }
  if (code === "SQLITE_CORRUPT" || /database disk image is malformed/i.test(message)) {
    return new UsageError(
      `'${path}' is a damaged SQLite database (SQLite: database disk image is malformed): ` +
        `restore it from a backup, or recover what is left: sqlite3 ${shellWord(path)} .recover ` +
        `| sqlite3 recovered.db`,
    );
  }
  return undefined;
}

/** The synced tables SQL reads without the extension (as `SyncDatabase.syncedTables()`). */
const HAS_META =
  "SELECT 1 AS x FROM sqlite_master WHERE type = 'table' AND name = 'cloudsync_table_settings'";
const SYNCED =
  "SELECT DISTINCT tbl_name AS t FROM cloudsync_table_settings WHERE col_name = '*' AND key = 'algo' ORDER BY 1";

/**
 * The synced tables of a database, read on a plain connection (the extension
 * is not needed to read its configuration). Reading `sqlite_master` first
 * makes SQLite check the whole header and the schema page.
 *
 * @param driver A connection.
 * @returns The synced tables, sorted.
 */
export function syncedTablesOf(driver: Driver): string[] {
  const all = (sql: string) => {
    const stmt = driver.prepare(sql);
    try {
      return stmt.all();
    } finally {
      stmt.finalize();
    }
  };
  if (all(HAS_META).length === 0) return [];
  return all(SYNCED).map((r) => String(r.t));
}
