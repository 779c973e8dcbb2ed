/**
 * One `databases[i]` entry resolved into a {@linkcode DatabaseConfig}: its
 * absolute path (`${NAME}` expanded) and name, its schedule checked (cron and
 * time zone), its one credential loaded; and the check that no two entries
 * share a name or a file (compared by the file they really reach: symlinks,
 * `./a.db` and `a.db`, hard links; also for a file not created yet).
 *
 * @module
 */
import { basename, extname } from "node:path";
import { cronTrigger } from "../scheduler/cron.ts";
import { CREDENTIAL_KEYS, loadCredential } from "./_config_credentials.ts";
import { configError, shown } from "./_config_messages.ts";
import { configPath, fileIdentity, realPath } from "./_config_paths.ts";
import { NAME, type RawDatabase } from "./_config_schema.ts";
import type { DatabaseConfig } from "./_config_types.ts";

/**
 * Resolves one database entry.
 *
 * @param db The entry, as the schema outputs it.
 * @param i Its index in `databases`.
 * @param folder The config's folder (relative paths are resolved against it).
 * @param file The config file's absolute path (for error messages).
 * @param env The environment (credentials).
 * @returns The database's config with its credential.
 * @throws {UsageError} For an unset variable in its path, an unusable name, a bad cron or
 *   time zone, or a bad credential.
 */
export function databaseConfig(
  db: RawDatabase,
  i: number,
  folder: string,
  file: string,
  env: Record<string, string | undefined>,
): DatabaseConfig {
  const at = `databases[${i}]`;
  const fail = (message: string) => configError(file, message);
  const path = configPath(db.path, `${at}.path`, folder, file, env);
  const name = db.name ?? basename(path, extname(path));
  if (!NAME.test(name)) {
    throw fail(
      `'${at}.name' is missing and the file name ${shown(basename(path))} is not a usable name: ` +
        "add \"name\" (letters, digits, '.', '_' or '-')",
    );
  }
  if (db.cron !== undefined) {
    try {
      cronTrigger(db.cron, { timezone: db.timezone }, () => {}).stop();
    } catch {
      const zone = db.timezone === undefined ? false : !isTimeZone(db.timezone);
      throw fail(
        zone
          ? `'${at}.timezone' must be an IANA time zone such as "Europe/Berlin": got ${
            shown(db.timezone)
          }`
          : `'${at}.cron' must be a 5- or 6-field cron expression such as "* * * * *" ` +
            `(every minute): got ${shown(db.cron)}`,
      );
    }
  } else if (db.timezone !== undefined) {
    throw fail(
      `'${at}.timezone' applies to 'cron', which is not set: add '${at}.cron' or remove it`,
    );
  }
  const given = CREDENTIAL_KEYS.filter((k) => db[k] !== undefined);
  if (given.length > 1) {
    throw fail(
      `'${at}' names ${given.length} credentials (${given.join(", ")}): keep exactly one of ` +
        CREDENTIAL_KEYS.join(", "),
    );
  }
  const { source, credential } = loadCredential(db, at, given[0], folder, file, env);
  return {
    name,
    path,
    databaseId: db.databaseId,
    address: db.address,
    credentialSource: source,
    credential,
    tables: db.tables ?? [],
    cron: db.cron,
    timezone: db.timezone,
    intervalMs: db.intervalMs,
    syncOnStart: db.syncOnStart,
    requestTimeoutS: db.requestTimeoutS,
    connectTimeoutS: db.connectTimeoutS,
  };
}

function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: zone });
    return zone !== "";
  } catch {
    return false;
  }
}

/**
 * Refuses two entries with the same name or the same database file: paths are compared by
 * the file they really reach (symlinks followed; for a file that does not exist yet, the real
 * path of its folder), and existing files by device and inode (hard links).
 *
 * @param databases The resolved entries, in config order.
 * @param file The config file's absolute path (for error messages).
 * @throws {UsageError} Naming the later entry and the earlier one it repeats.
 */
export function checkUnique(databases: DatabaseConfig[], file: string): void {
  const names = new Map<string, number>();
  const files = new Map<string, number>();
  databases.forEach((db, i) => {
    const sameName = names.get(db.name);
    if (sameName !== undefined) {
      throw configError(
        file,
        `'databases[${i}].name' ${shown(db.name)} is also the name of databases[${sameName}]: ` +
          'give each database its own "name"',
      );
    }
    const real = realPath(db.path);
    const identity = fileIdentity(real);
    const sameFile = files.get(identity);
    if (sameFile !== undefined) {
      const other = databases[sameFile].path;
      const how = other === db.path
        ? ""
        : realPath(other) === real
        ? ` (both reach ${real})`
        : ` (a hard link to ${other})`;
      throw configError(
        file,
        `'databases[${i}].path' ${db.path} is the same file as 'databases[${sameFile}].path'` +
          `${how}: list each database once`,
      );
    }
    names.set(db.name, i);
    files.set(identity, i);
  });
}
