/**
 * The config's paths: `${NAME}` references expanded (systemd's
 * `${CREDENTIALS_DIRECTORY}`, `${STATE_DIRECTORY}`…) in `path`, `apiKeyFile`,
 * `tokenFile` and `http.tokenFile`, relative paths resolved against the
 * config's folder, and the file a path really reaches (symlinks followed, also
 * for a file that does not exist yet) to tell two entries naming one database.
 *
 * @module
 */
import { realpathSync, statSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { configError } from "./_config_messages.ts";

/** systemd's directory variables and the unit setting that sets each. */
const SYSTEMD: Record<string, string> = {
  CREDENTIALS_DIRECTORY: "LoadCredential=",
  STATE_DIRECTORY: "StateDirectory=",
  CACHE_DIRECTORY: "CacheDirectory=",
  RUNTIME_DIRECTORY: "RuntimeDirectory=",
  LOGS_DIRECTORY: "LogsDirectory=",
  CONFIGURATION_DIRECTORY: "ConfigurationDirectory=",
};

/**
 * Expands every `${NAME}` of a path from the environment. An unset or empty
 * variable is refused: an empty one would silently turn `${STATE_DIRECTORY}/a.db`
 * into `/a.db`, another file.
 *
 * @param value The path as written in the config.
 * @param key Its key path (`databases[0].path`).
 * @param file The config file's absolute path (for error messages).
 * @param env The environment.
 * @returns The path with its variables expanded.
 * @throws {UsageError} Naming the key and the variable, for an unset or empty variable or a
 *   `${` that does not start a `${NAME}`.
 */
export function expandVariables(
  value: string,
  key: string,
  file: string,
  env: Record<string, string | undefined>,
): string {
  if (!value.includes("${")) return value;
  const bad = /\$\{(?![A-Za-z_][A-Za-z0-9_]*\})/.exec(value);
  if (bad !== null) {
    throw configError(
      file,
      `'${key}' has a '\${' at character ${bad.index + 1} that is not a variable reference: ` +
        "write ${NAME} (letters, digits, _), or remove it",
    );
  }
  return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_, name: string) => {
    const set = env[name];
    if (set === undefined || set === "") {
      const how = SYSTEMD[name] === undefined
        ? `export ${name}`
        : `run under systemd with ${SYSTEMD[name]}, or export ${name}`;
      throw configError(
        file,
        `'${key}' uses \${${name}}, which is ` +
          (set === undefined ? "not set" : "empty (that would make it another path)") +
          `: ${how}, or write the path without it`,
      );
    }
    return set;
  });
}

/**
 * A path from the config: its variables expanded, then resolved against the config's folder.
 *
 * @param value The path as written in the config.
 * @param key Its key path (`http.tokenFile`).
 * @param folder The config's folder.
 * @param file The config file's absolute path (for error messages).
 * @param env The environment.
 * @returns The absolute path (symlinks kept: this is the path that is opened and logged).
 * @throws {UsageError} See {@linkcode expandVariables}.
 */
export function configPath(
  value: string,
  key: string,
  folder: string,
  file: string,
  env: Record<string, string | undefined>,
): string {
  return resolve(folder, expandVariables(value, key, file, env));
}

/**
 * The file an absolute path really reaches: symlinks followed; for a file that does not
 * exist yet, the real path of its nearest existing folder and the rest as written.
 *
 * @param path An absolute, normalized path.
 * @returns The real path.
 */
export function realPath(path: string): string {
  const rest: string[] = [];
  let at = path;
  for (;;) {
    try {
      return join(realpathSync(at), ...rest);
    } catch {
      const parent = dirname(at);
      if (parent === at) return path;
      rest.unshift(basename(at));
      at = parent;
    }
  }
}

/**
 * What identifies a database file: its device and inode when it exists (a hard link is the
 * same file), else its real path.
 *
 * @param real The real path ({@linkcode realPath}).
 * @returns A key equal for two paths that reach one file.
 */
export function fileIdentity(real: string): string {
  try {
    const stat = statSync(real);
    if (stat.ino > 0) return `inode:${stat.dev}:${stat.ino}`;
  } catch {
    // Not there yet: the real path is all there is.
  }
  return `path:${real}`;
}
