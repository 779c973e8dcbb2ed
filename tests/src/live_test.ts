/**
 * Opt-in live suite against a real SQLite Cloud project: the only place the
 * network success path is tested (we never run anything that speaks the
 * CloudSync protocol ourselves). Skipped unless these variables are set:
 *
 *   SQLITE_SYNC_LIVE_DATABASE_ID  the managed database id (dashboard → OffSync)
 *   SQLITE_SYNC_LIVE_API_KEY      a project API key (sqa_…)
 *   SQLITE_SYNC_LIVE_ADDRESS      optional: the CloudSync address you were given
 *                                 (default: the extension's built-in SQLite Cloud address)
 *
 * The cloud database must already contain, with sync enabled, the table
 *
 *   CREATE TABLE live_notes (id TEXT PRIMARY KEY NOT NULL, body TEXT);
 *
 * Every participant needs identical synced tables (1.1.4 embeds a schema hash
 * in each payload and does not propagate schemas), so the table name is
 * fixed; each run writes its own rows, keyed by a random run id, and deletes
 * them at the end.
 *
 *   SQLITE_SYNC_LIVE_DATABASE_ID=… SQLITE_SYNC_LIVE_API_KEY=… deno test -A tests/src/live_test.ts
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import process from "node:process";
import { itUnless, optIn, tempDir, testExtensionPath } from "../_helpers.ts";
import { SyncDatabase } from "../../src/database.ts";
import { SqliteSyncError } from "../../common/errors.ts";

/** The live configuration. */
export interface LiveConfig {
  databaseId: string;
  apiKey: string;
  address?: string;
}

/**
 * Reads the live configuration from an environment.
 *
 * @param env The environment (process.env).
 * @returns The configuration, or why the suite cannot run (naming the missing variables).
 */
export function liveConfig(
  env: Record<string, string | undefined>,
): { config: LiveConfig; missing: false } | { config?: undefined; missing: string } {
  const databaseId = env.SQLITE_SYNC_LIVE_DATABASE_ID?.trim();
  const apiKey = env.SQLITE_SYNC_LIVE_API_KEY?.trim();
  const address = env.SQLITE_SYNC_LIVE_ADDRESS?.trim() || undefined;
  if (!databaseId || !apiKey) {
    const missing = [
      databaseId ? undefined : "SQLITE_SYNC_LIVE_DATABASE_ID",
      apiKey ? undefined : "SQLITE_SYNC_LIVE_API_KEY",
    ].filter(Boolean).join(" and ");
    return {
      missing:
        `live SQLite Cloud suite: set ${missing} (optional SQLITE_SYNC_LIVE_ADDRESS) to run it`,
    };
  }
  return { config: { databaseId, apiKey, ...(address ? { address } : {}) }, missing: false };
}

const live = liveConfig(process.env);
const TABLE = "live_notes";
const LIVE_TIMEOUT_MS = 180_000;

async function replica(dir: string, name: string, config: LiveConfig): Promise<SyncDatabase> {
  const db = await SyncDatabase.open(join(dir, `${name}.db`), {
    extensionPath: await testExtensionPath(),
  });
  db.exec(`CREATE TABLE ${TABLE} (id TEXT PRIMARY KEY NOT NULL, body TEXT)`);
  db.init(TABLE);
  // Bounded: each request fails after these, never the 300 s default.
  db.set("network_connect_timeout", 15);
  db.set("network_request_timeout", 30);
  db.network.init({
    databaseId: config.databaseId,
    address: config.address,
    apiKey: config.apiKey,
  });
  return db;
}

/** Syncs `db` until `done()` holds, at most `rounds` times (each up to 10 checks 500 ms apart). */
function syncUntil(db: SyncDatabase, done: () => boolean, what: string, rounds = 6): void {
  for (let i = 0; i < rounds; i++) {
    const result = db.network.sync({ waitMs: 500, maxAttempts: 10 });
    assert.notEqual(result.send.status, "error", JSON.stringify(result));
    assert.equal(result.receive.error, undefined, JSON.stringify(result));
    if (done()) return;
  }
  assert.fail(`${what}: not there after ${rounds} sync rounds`);
}

describe("live SQLite Cloud sync (opt-in)", () => {
  it("liveConfig() skips with a message naming the variables unless both are set", () => {
    const none = liveConfig({});
    assert.equal(
      none.missing,
      "live SQLite Cloud suite: set SQLITE_SYNC_LIVE_DATABASE_ID and " +
        "SQLITE_SYNC_LIVE_API_KEY (optional SQLITE_SYNC_LIVE_ADDRESS) to run it",
    );
    assert.match(
      String(liveConfig({ SQLITE_SYNC_LIVE_DATABASE_ID: "db" }).missing),
      /set SQLITE_SYNC_LIVE_API_KEY \(/,
    );
    assert.match(
      String(liveConfig({ SQLITE_SYNC_LIVE_API_KEY: " " }).missing),
      /DATABASE_ID and .*API_KEY/,
    );
    assert.deepEqual(
      liveConfig({
        SQLITE_SYNC_LIVE_DATABASE_ID: "db",
        SQLITE_SYNC_LIVE_API_KEY: "k",
        SQLITE_SYNC_LIVE_ADDRESS: "",
      }),
      { config: { databaseId: "db", apiKey: "k" }, missing: false },
    );
  });

  itUnless(
    optIn(live.missing),
    "network.sync() carries an insert from A to B and B's update back to A through SQLite Cloud",
    { timeout: LIVE_TIMEOUT_MS },
    async () => {
      const config = live.config!;
      const dir = tempDir("sqlite-sync-live-");
      const a = await replica(dir.path, "a", config);
      const b = await replica(dir.path, "b", config);
      const id = `live-${crypto.randomUUID()}`;
      const body = (db: SyncDatabase) =>
        db.get(`SELECT body FROM ${TABLE} WHERE id = ?`, id)?.body as string | undefined;
      try {
        a.run(`INSERT INTO ${TABLE} (id, body) VALUES (?, ?)`, id, "written by A");
        assert.equal(a.network.hasUnsentChanges(), true, "A's insert is not on the server yet");
        const sent = a.network.sync();
        assert.ok(sent.send.localVersion >= 1, JSON.stringify(sent));
        assert.ok(
          ["synced", "syncing", "out-of-sync"].includes(sent.send.status),
          JSON.stringify(sent),
        );

        syncUntil(b, () => body(b) === "written by A", "A's insert on B");

        b.run(`UPDATE ${TABLE} SET body = ? WHERE id = ?`, "edited by B", id);
        const sentByB = b.network.sync();
        assert.ok(sentByB.send.localVersion >= 1, JSON.stringify(sentByB));
        assert.notEqual(sentByB.send.status, "error", JSON.stringify(sentByB));
        syncUntil(a, () => body(a) === "edited by B", "B's update on A");
        assert.equal(body(b), "edited by B");
        // A's insert reached the server (B received it) and B's update came back: nothing pending.
        assert.equal(a.network.hasUnsentChanges(), false);
        assert.equal(b.network.hasUnsentChanges(), false);
      } finally {
        try {
          // Leave only tombstones behind.
          a.run(`DELETE FROM ${TABLE} WHERE id = ?`, id);
          a.network.sync();
        } catch {
          // best effort
        }
        a.close();
        b.close();
        dir.cleanup();
      }
    },
  );

  itUnless(
    optIn(live.missing),
    "network.sendChanges() with a wrong API key fails with kind 'auth' or 'http' and a 4xx status",
    { timeout: LIVE_TIMEOUT_MS },
    async () => {
      const config = live.config!;
      const dir = tempDir("sqlite-sync-live-");
      const wrongKey = `sqa_${"0".repeat(40)}`;
      const db = await replica(dir.path, "bad", { ...config, apiKey: wrongKey });
      try {
        db.run(`INSERT INTO ${TABLE} (id, body) VALUES (?, ?)`, `live-${crypto.randomUUID()}`, "x");
        assert.throws(() => db.network.sendChanges(), (err) => {
          assert.ok(err instanceof SqliteSyncError, String(err));
          assert.ok(err.kind === "auth" || err.kind === "http", `${err.kind}: ${err.message}`);
          const status = err.status;
          assert.ok(
            Number.isInteger(status) && status! >= 400 && status! < 500,
            `status ${status}: ${err.message}`,
          );
          for (const text of [err.message, String(err), JSON.stringify(err)]) {
            assert.ok(!text.includes(wrongKey) && !text.includes(config.apiKey), "a key leaked");
          }
          return true;
        });
      } finally {
        db.close();
        dir.cleanup();
      }
    },
  );
});
