/**
 * The config's `http` section resolved: its token file read, and the rule
 * that keeps the status app off the network by mistake: a `host` that is not
 * loopback (`0.0.0.0`, `::`, a LAN address or name) needs `tokenFile`, or
 * `"public": true` to say it is meant to be open.
 *
 * @module
 */
import { isLoopback } from "../../common/hosts.ts";
import { configError, shown } from "./_config_messages.ts";
import { configPath } from "./_config_paths.ts";
import type { DaemonConfig } from "./_config_types.ts";
import { readSecretFile } from "./_secret_file.ts";

/**
 * Resolves `http`: the token file's path and content, and the network rule.
 *
 * @param raw The `http` keys as the schema outputs them.
 * @param folder The config's folder.
 * @param file The config file's absolute path (for error messages).
 * @param env The environment.
 * @returns The `http` section of the config.
 * @throws {UsageError} For a non-loopback host without `tokenFile` or `"public": true`, and for
 *   a bad token file.
 */
export function httpConfig(
  raw: { host: string; port: number; tokenFile?: string; public: boolean },
  folder: string,
  file: string,
  env: Record<string, string | undefined>,
): DaemonConfig["http"] {
  if (raw.tokenFile === undefined && !raw.public && !isLoopback(raw.host)) {
    throw configError(
      file,
      `'http.host' ${shown(raw.host)} can be reached from the network and 'http.tokenFile' ` +
        'is not set: add "tokenFile" (a bearer token, mode 600) to "http", or "public": true ' +
        'to serve the status app openly on purpose, or listen on "127.0.0.1"',
    );
  }
  const tokenFile = raw.tokenFile === undefined
    ? undefined
    : configPath(raw.tokenFile, "http.tokenFile", folder, file, env);
  return {
    host: raw.host,
    port: raw.port,
    public: raw.public,
    tokenFile,
    token: tokenFile === undefined
      ? undefined
      : readSecretFile(tokenFile, "http.tokenFile", (m) => configError(file, m)),
  };
}
