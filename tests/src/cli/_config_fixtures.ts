/**
 * What the daemon's config tests share (config_test.ts, config_refusals_test.ts): a temp folder
 * holding the secret files and database paths their configs name, builders of config text, and
 * the refusals of the bad credentials among those files.
 */
import { after } from "node:test";
import { linkSync, mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { MAX_SECRET_LENGTH } from "../../../src/cli/_secret_file.ts";
import { API_KEY, TOKEN } from "../../_canary.ts";
import { tempDir } from "../../_helpers.ts";
import { writeSecret } from "./_daemon_harness.ts";

/**
 * The calling test file's folder (`dir`), with the secret files and database paths the configs
 * name, and the config file's path in it (`FILE`: relative paths resolve against its folder).
 * Call it at the top of the file: the folder is removed after the file's tests.
 */
export function configFolder(): { dir: { path: string; cleanup: () => void }; FILE: string } {
  const dir = tempDir("sqlite-sync-config-");
  const FILE = join(dir.path, "sqlite-sync.jsonc");
  writeSecret(join(dir.path, "key"), API_KEY);
  writeSecret(join(dir.path, "open-key"), API_KEY, 0o644);
  writeSecret(join(dir.path, "empty"), "");
  writeSecret(join(dir.path, "two-lines"), `${API_KEY}\nsecond`);
  mkdirSync(join(dir.path, "folder"));
  // Secrets that could not be sent as written; each holds a canary, so an echo is caught.
  writeSecret(join(dir.path, "spaced-token"), `${TOKEN} ${API_KEY}`);
  writeSecret(join(dir.path, "tab-token"), `${TOKEN}\t${API_KEY}`);
  writeSecret(join(dir.path, "control-key"), `${API_KEY}\u0001`);
  writeSecret(join(dir.path, "non-ascii-key"), `${API_KEY}é`);
  writeSecret(join(dir.path, "long-key"), API_KEY + "x".repeat(MAX_SECRET_LENGTH));
  writeSecret(join(dir.path, "huge-key"), API_KEY + "x".repeat(8 * MAX_SECRET_LENGTH));
  writeSecret(join(dir.path, "bom-only"), "\uFEFF");
  // One database file reached by several paths.
  mkdirSync(join(dir.path, "data"));
  writeFileSync(join(dir.path, "data", "y.db"), "");
  symlinkSync(join(dir.path, "data"), join(dir.path, "data-link"));
  symlinkSync(join(dir.path, "data", "y.db"), join(dir.path, "y-link.db"));
  linkSync(join(dir.path, "data", "y.db"), join(dir.path, "z-hard.db"));
  after(() => dir.cleanup());
  return { dir, FILE };
}

export const ENV = { SQLITE_SYNC_API_KEY: API_KEY };
/** `{"databases": [{ … "tables": [[…]] }]}` nested `depth` levels in all. */
export const nested = (depth: number) =>
  `{ "databases": [{ "path": "a.db", "databaseId": "db_1", "tables": ${"[".repeat(depth - 3)}${
    "]".repeat(depth - 3)
  } }] }`;

export const db = (extra: Record<string, unknown> = {}) => ({
  path: "a.db",
  databaseId: "db_1",
  ...extra,
});
export const cfg = (extra: Record<string, unknown> = {}, dbs: unknown[] = [db()]) =>
  JSON.stringify({ databases: dbs, ...extra });

/**
 * The bad credentials of config_refusals_test.ts's table, in its order: each names a file of
 * configFolder() or a variable. [what is wrong, config text, env, pattern the one line must match].
 */
export const BAD_CREDENTIALS: [string, string, Record<string, string>, RegExp][] = [
  [
    "two credentials",
    cfg({}, [db({ apiKeyFile: "key", tokenEnv: "T" })]),
    ENV,
    /'databases\[0\]' names 2 credentials \(apiKeyFile, tokenEnv\)/,
  ],
  ["no credential", cfg(), {}, /'databases\[0\]' has no credential: add apiKeyFile or tokenFile/],
  [
    "both default env credentials",
    cfg(),
    { ...ENV, SQLITE_SYNC_TOKEN: TOKEN },
    /both SQLITE_SYNC_API_KEY and SQLITE_SYNC_TOKEN are set/,
  ],
  [
    "env credential unset",
    cfg({}, [db({ tokenEnv: "SENSOR_TOKEN" })]),
    {},
    /'databases\[0\]\.tokenEnv' names SENSOR_TOKEN, which is not set/,
  ],
  [
    "bad env name",
    cfg({}, [db({ apiKeyEnv: "1KEY" })]),
    ENV,
    /'databases\[0\]\.apiKeyEnv' must be an environment variable name/,
  ],
  [
    "key file missing",
    cfg({}, [db({ apiKeyFile: "missing-key" })]),
    ENV,
    /'databases\[0\]\.apiKeyFile' \(.*missing-key\) does not exist/,
  ],
  [
    "key file world-readable",
    cfg({}, [db({ apiKeyFile: "open-key" })]),
    ENV,
    /is readable by every user \(mode 644\): chmod 600/,
  ],
  [
    "key file empty",
    cfg({}, [db({ apiKeyFile: "empty" })]),
    ENV,
    /'databases\[0\]\.apiKeyFile' .* is empty/,
  ],
  ["key file two lines", cfg({}, [db({ apiKeyFile: "two-lines" })]), ENV, /has more than one line/],
  [
    "key file only a BOM",
    cfg({}, [db({ apiKeyFile: "bom-only" })]),
    ENV,
    /'databases\[0\]\.apiKeyFile' .* is empty: write the secret into it/,
  ],
  [
    "token file with a space",
    cfg({}, [db({ tokenFile: "spaced-token" })]),
    ENV,
    /'databases\[0\]\.tokenFile' \(\S+spaced-token\) has whitespace inside: keep only the secret in it, on one line$/,
  ],
  [
    "http token file with a tab",
    cfg({ http: { tokenFile: "tab-token" } }),
    ENV,
    /'http\.tokenFile' \(\S+tab-token\) has whitespace inside/,
  ],
  [
    "key file with a control character",
    cfg({}, [db({ apiKeyFile: "control-key" })]),
    ENV,
    /'databases\[0\]\.apiKeyFile' \(\S+control-key\) holds a character that is not printable ASCII/,
  ],
  [
    "key file with a non-ASCII letter",
    cfg({}, [db({ apiKeyFile: "non-ascii-key" })]),
    ENV,
    /'databases\[0\]\.apiKeyFile' \(\S+non-ascii-key\) holds a character that is not printable ASCII/,
  ],
  [
    "key file too long",
    cfg({}, [db({ apiKeyFile: "long-key" })]),
    ENV,
    /'databases\[0\]\.apiKeyFile' \(\S+long-key\) is longer than 8192 characters/,
  ],
  [
    "key file far too long (not read)",
    cfg({}, [db({ apiKeyFile: "huge-key" })]),
    ENV,
    /'databases\[0\]\.apiKeyFile' \(\S+huge-key\) is longer than 8192 characters/,
  ],
  [
    "env credential with a space",
    cfg({}, [db({ apiKeyEnv: "SENSOR_KEY" })]),
    { SENSOR_KEY: `${API_KEY} ${TOKEN}` },
    /'databases\[0\]\.apiKeyEnv' names SENSOR_KEY, whose value has whitespace inside: set it to the secret alone/,
  ],
  [
    "default env credential with a control character",
    cfg(),
    { SQLITE_SYNC_TOKEN: `${TOKEN}\u0007` },
    /'databases\[0\]' uses SQLITE_SYNC_TOKEN, whose value holds a character that is not printable ASCII/,
  ],
  ["key file a folder", cfg({}, [db({ apiKeyFile: "folder" })]), ENV, /is not a file/],
  [
    "key file under a file",
    cfg({}, [db({ apiKeyFile: "key/inner" })]),
    ENV,
    /cannot be read \(ENOTDIR\)/,
  ],
  [
    "credentials dir unset",
    cfg({}, [db({ apiKeyFile: "${CREDENTIALS_DIRECTORY}/k" })]),
    ENV,
    /uses \$\{CREDENTIALS_DIRECTORY\}, which is not set/,
  ],
];
