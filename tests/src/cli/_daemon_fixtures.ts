/**
 * What the daemon test files share (daemon_test.ts, daemon_systemd_test.ts,
 * daemon_arm64_test.ts): per file, a temp folder holding the API key and HTTP token files, a
 * refused port every database syncs against, the test extension, the builders of a database
 * entry and a config file, and the daemons it started, all ended after the file's tests.
 */
import { after, before } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { API_KEY, FORMS, TOKEN } from "../../_canary.ts";
import { refusedPort, tempDir, testExtensionPath } from "../../_helpers.ts";
import { daemonArgv, DaemonChild, daemonEnv, writeSecret } from "./_daemon_harness.ts";

/** The table of every test database. */
export const TABLE =
  "CREATE TABLE IF NOT EXISTS notes (id TEXT PRIMARY KEY NOT NULL, body TEXT NOT NULL DEFAULT '')";
/** The daemons' stop grace period, in ms. */
export const GRACE_MS = 1500;

/** One test file's daemon fixtures, from {@linkcode daemonSuite}. */
export interface DaemonSuite {
  /** The file's temp folder: its path is set before the file's first test. */
  readonly dir: { path: string; cleanup: () => void };
  /** The daemons started, killed after the file's tests if still running. */
  readonly children: DaemonChild[];
  /** The test extension's path, set before the file's first test. */
  readonly extension: string;
  /** A database entry of the config, syncing against the refused port with the key file. */
  database(name: string, extra?: Record<string, unknown>): Record<string, unknown>;
  /** Writes `config` as `file` in the temp folder; returns its path. */
  writeConfig(file: string, config: Record<string, unknown>): string;
  /** Starts `sqlite-sync daemon --config <config>` with the test extension (and `env`). */
  startDaemon(config: string, env?: Record<string, string | undefined>): DaemonChild;
}

/** The calling test file's fixtures: registers its before and after hooks. */
export function daemonSuite(): DaemonSuite {
  const dir = { path: "", cleanup: () => {} };
  const children: DaemonChild[] = [];
  let extension = "";
  let refused = 0;
  before(async () => {
    extension = await testExtensionPath();
    Object.assign(dir, tempDir("sqlite-sync-daemon-"));
    refused = await refusedPort();
    writeSecret(join(dir.path, "api-key"), API_KEY);
    writeSecret(join(dir.path, "http-token"), TOKEN);
  });
  after(() => {
    for (const c of children) c.kill();
    dir.cleanup();
  });
  return {
    dir,
    children,
    get extension() {
      return extension;
    },
    database(name: string, extra: Record<string, unknown> = {}) {
      return {
        name,
        path: `${name}.db`,
        databaseId: "db_daemon_test",
        address: `http://127.0.0.1:${refused}`,
        apiKeyFile: "api-key",
        tables: ["notes"],
        intervalMs: 60_000,
        ...extra,
      };
    },
    writeConfig(file: string, config: Record<string, unknown>): string {
      const path = join(dir.path, file);
      writeFileSync(path, `// written by daemon_test\n${JSON.stringify(config, null, 2)}\n`);
      return path;
    },
    startDaemon(config: string, env: Record<string, string | undefined> = {}): DaemonChild {
      const child = new DaemonChild(daemonArgv(config), daemonEnv(extension, env));
      children.push(child);
      return child;
    },
  };
}

/** Fails when the daemon's output holds a canary of the key or token, in any form. */
export function assertNoSecret(child: DaemonChild): void {
  const all = (child.stdout + child.stderr).toLowerCase();
  for (const form of FORMS) {
    assert.ok(!all.includes(form.toLowerCase()), `a secret leaked:\n${child.stdout}`);
  }
}
