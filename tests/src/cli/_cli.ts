/**
 * Running the `sqlite-sync` CLI (src/cli/main.ts) in a child process of the
 * current runtime, with an environment that holds only what the test gives it
 * (no credential or mirror of the developer's leaks in), and the assertions
 * every CLI test shares.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { chmodSync, existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { openDriver } from "../../../ffi/drivers/open_driver.ts";
import { SyncDatabase } from "../../../src/database.ts";
import { FORMS } from "../../_canary.ts";
import {
  type ChildResult,
  ROOT,
  run,
  runtimeArgv,
  SHARED_TEST_CACHE,
  testExtensionPath,
} from "../../_helpers.ts";

/** The CLI's entry. */
export const MAIN: string = join(ROOT, "src", "cli", "main.ts");

/** Variables the CLI or the library read; unset in every child unless a test sets them. */
const CLEARED = [
  "SQLITE_SYNC_API_KEY",
  "SQLITE_SYNC_TOKEN",
  "SQLITE_SYNC_DATABASE_ID",
  "SQLITE_SYNC_EXTENSION_PATH",
  "SQLITE_SYNC_CACHE_DIR",
  "SQLITE_SYNC_MIRROR",
  "SQLITE_SYNC_NPM_REGISTRY",
  "SQLITE_SYNC_OFFLINE",
  "CI",
  "NO_COLOR",
];

/** Options of {@linkcode cli}. */
export interface CliOptions {
  /** Variables to set (or unset with `undefined`) on top of the cleared environment. */
  env?: Record<string, string | undefined>;
  /** The working directory. */
  cwd?: string;
  /** Kill the child after this long. @default 60000 */
  timeoutMs?: number;
}

/**
 * Runs `sqlite-sync <args>` in the current runtime. The extension comes from
 * the suite's shared cache (`SQLITE_SYNC_CACHE_DIR`), downloaded once.
 */
export async function cli(args: string[], options: CliOptions = {}): Promise<ChildResult> {
  await testExtensionPath();
  const env: Record<string, string | undefined> = {};
  for (const name of CLEARED) env[name] = undefined;
  env.SQLITE_SYNC_CACHE_DIR = SHARED_TEST_CACHE;
  Object.assign(env, options.env);
  return await run(runtimeArgv(MAIN, args), {
    env,
    cwd: options.cwd,
    timeoutMs: options.timeoutMs,
  });
}

/** What a child printed, for assertion messages. */
export function shown(r: ChildResult): string {
  return `exit ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;
}

/** Asserts the CLI failed with `code`, printing nothing on stdout and ONE line on stderr matching `pattern`. */
export function assertOneLineError(r: ChildResult, code: number, pattern: RegExp): void {
  assert.equal(r.code, code, shown(r));
  assert.equal(r.stdout, "", shown(r));
  const lines = r.stderr.split("\n");
  assert.equal(lines.at(-1), "", `stderr must end with a newline: ${shown(r)}`);
  assert.equal(lines.length, 2, `stderr must be exactly one line: ${shown(r)}`);
  assert.match(lines[0], /^sqlite-sync: \S/, shown(r));
  assert.doesNotMatch(
    lines[0],
    /\bat .*:\d+:\d+|\bError:\s*$/,
    `a stack trace leaked: ${shown(r)}`,
  );
  assert.match(lines[0], pattern, shown(r));
}

/** Asserts the CLI exited 0 and printed one JSON document on stdout; returns it. */
export function jsonOf(r: ChildResult): Record<string, unknown> {
  assert.equal(r.code, 0, shown(r));
  return JSON.parse(r.stdout);
}

/** Asserts no canary form (tests/_canary.ts) appears in the child's output, in any case. */
export function assertNoCanaryOutput(r: ChildResult, label: string): void {
  const text = `${r.stdout}\n${r.stderr}`.toLowerCase();
  for (const form of FORMS) {
    assert.ok(!text.includes(form.toLowerCase()), `${label}: a canary leaked:\n${shown(r)}`);
  }
}

/** Writes a secret file readable by its owner only (the CLI refuses world-readable ones). */
export function secretFile(path: string, secret: string): string {
  writeFileSync(path, `${secret}\n`);
  chmodSync(path, 0o600);
  return path;
}

/**
 * Creates a database file with a `notes (id TEXT PRIMARY KEY NOT NULL, body TEXT)`
 * table, synced when `init` is set, with `rows` rows written through the extension.
 */
export async function makeDatabase(
  path: string,
  options: { init?: boolean; rows?: number } = {},
): Promise<string> {
  const db = await SyncDatabase.open(path, { extensionPath: await testExtensionPath() });
  try {
    db.exec("CREATE TABLE notes (id TEXT PRIMARY KEY NOT NULL, body TEXT)");
    if (options.init) db.init("notes");
    for (let i = 0; i < (options.rows ?? 0); i++) {
      db.run("INSERT INTO notes (id, body) VALUES (?, ?)", db.uuid(), `note ${i}`);
    }
  } finally {
    db.close();
  }
  return path;
}

/**
 * Creates a rollback-journal (`journal_mode=delete`) database with a `notes`
 * table, through a plain connection (no extension): what an app that never
 * used sqlite-sync has. With `init`, sync is enabled on `notes` (one row
 * written) and the file kept in rollback-journal mode.
 */
export async function makeRollbackDatabase(
  path: string,
  options: { init?: boolean } = {},
): Promise<string> {
  if (options.init) {
    const db = await SyncDatabase.open(path, {
      extensionPath: await testExtensionPath(),
      journalMode: "delete",
    });
    try {
      db.exec("CREATE TABLE notes (id TEXT PRIMARY KEY NOT NULL, body TEXT)");
      db.init("notes");
      db.run("INSERT INTO notes (id, body) VALUES (?, 'n')", db.uuid());
    } finally {
      db.close();
    }
  } else {
    const driver = await openDriver(path);
    try {
      driver.exec("CREATE TABLE notes (id TEXT PRIMARY KEY NOT NULL, body TEXT)");
    } finally {
      driver.close();
    }
  }
  assert.equal(journalModeOf(path), "delete");
  return path;
}

/** The journal mode a database file's header records: `wal` or `delete` (rollback journal). */
export function journalModeOf(path: string): "wal" | "delete" {
  const header = readFileSync(path).subarray(0, 100);
  return header[18] === 2 && header[19] === 2 ? "wal" : "delete";
}

/** What a database file and its folder hold: the folder's listing and the sha256 of the file and its siblings. */
export interface FileState {
  /** The folder's entries, sorted. */
  listing: string[];
  /** sha256 of the file and of its -wal, -shm and -journal siblings (`null` when absent). */
  hashes: Record<string, string | null>;
}

/** The state of `path` and its folder, to compare before and after a command. */
export function fileState(path: string): FileState {
  const hashes: Record<string, string | null> = {};
  for (const suffix of ["", "-wal", "-shm", "-journal"]) {
    const file = `${path}${suffix}`;
    hashes[basename(file)] = existsSync(file)
      ? createHash("sha256").update(readFileSync(file)).digest("hex")
      : null;
  }
  return { listing: readdirSync(dirname(path)).sort(), hashes };
}

/** Asserts stdout is exactly one JSON document `{ ok: false, kind, message, exitCode }` for this failure. */
export function assertJsonFailure(
  r: ChildResult,
  code: number,
  kind: string,
  pattern: RegExp,
): void {
  assert.equal(r.code, code, shown(r));
  const doc = JSON.parse(r.stdout);
  assert.deepEqual(Object.keys(doc), ["ok", "kind", "message", "exitCode"], shown(r));
  assert.equal(doc.ok, false);
  assert.equal(doc.kind, kind, shown(r));
  assert.equal(doc.exitCode, code);
  assert.match(doc.message, pattern, shown(r));
  assert.equal(r.stderr, `sqlite-sync: ${doc.message}\n`, "stderr holds the same one line");
}
