/**
 * db.network's state and arguments: calls before network.init(), after
 * network.cleanup() and on a closed database are state errors naming the fix;
 * receiveChanges(), sync() and init() validate their options before any
 * request, without echoing a secret.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { refusedPort, tempDir, testExtensionPath } from "../_helpers.ts";
import { SyncDatabase } from "../../src/database.ts";
import { API_KEY, expectError, openAt } from "./_network_fixtures.ts";

describe("network state and arguments", () => {
  it("network calls before network.init() throw kind 'state' naming the fix", async () => {
    const dir = tempDir();
    const db = await SyncDatabase.open(join(dir.path, "x.db"), {
      extensionPath: await testExtensionPath(),
    });
    try {
      assert.equal(db.network.ready, false);
      for (
        const call of [
          () => db.network.sendChanges(),
          () => db.network.receiveChanges(),
          () => db.network.sync(),
          () => db.network.hasUnsentChanges(),
          () => db.network.status(),
          () => db.network.resetSyncVersion(),
          () => db.network.setApiKey(API_KEY),
          () => db.network.setToken("header.payload.signature"),
        ]
      ) {
        expectError(call, "state", /needs network\.init\(\) first/);
      }
      db.network.cleanup(); // a no-op before init
    } finally {
      db.close();
      dir.cleanup();
    }
  });

  it("network calls after network.cleanup() throw kind 'state' until init() runs again", async () => {
    const dir = tempDir();
    const port = await refusedPort();
    const db = await openAt(dir.path, port, { dirty: true });
    try {
      assert.equal(db.network.ready, true);
      db.network.cleanup();
      assert.equal(db.network.ready, false);
      db.network.cleanup(); // idempotent
      expectError(
        () => db.network.sync(),
        "state",
        /network\.sync\(\) needs network\.init\(\) first/,
      );
      expectError(() => db.network.hasUnsentChanges(), "state");
      db.network.init({
        databaseId: "test-db",
        address: `http://127.0.0.1:${port}`,
        apiKey: API_KEY,
      });
      expectError(() => db.network.sendChanges(), "offline");
    } finally {
      db.close();
      dir.cleanup();
    }
  });

  it("network calls on a closed database throw kind 'state'", async () => {
    const dir = tempDir();
    const db = await openAt(dir.path, await refusedPort());
    db.close();
    try {
      expectError(() => db.network, "state", /closed/);
    } finally {
      dir.cleanup();
    }
  });

  it("network.hasUnsentChanges() is false on a fresh database without any request, and needs the server after a local change", async () => {
    const dir = tempDir();
    const db = await openAt(dir.path, await refusedPort());
    try {
      assert.equal(db.network.hasUnsentChanges(), false);
      db.run("INSERT INTO notes (id, body) VALUES ('1', 'x')");
      expectError(() => db.network.hasUnsentChanges(), "offline", /Failed to connect/);
    } finally {
      db.close();
      dir.cleanup();
    }
  });

  it("network.receiveChanges() validates maxChunks before any request; 0 and negatives mean drain everything", async () => {
    const dir = tempDir();
    const db = await openAt(dir.path, await refusedPort());
    try {
      for (const bad of [1.5, Number.NaN, Infinity, "2", null]) {
        assert.throws(
          // deno-lint-ignore no-explicit-any
          () => db.network.receiveChanges({ maxChunks: bad as any }),
          (err) => err instanceof RangeError && /maxChunks must be an integer/.test(err.message),
          String(bad),
        );
      }
      for (const ok of [undefined, 0, -1, 1, 50]) {
        expectError(() => db.network.receiveChanges({ maxChunks: ok }), "offline");
      }
    } finally {
      db.close();
      dir.cleanup();
    }
  });

  it("network.sync() validates waitMs and maxAttempts before any request, naming the value", async () => {
    const dir = tempDir();
    const db = await SyncDatabase.open(join(dir.path, "args.db"), {
      extensionPath: await testExtensionPath(),
    });
    try {
      const cases: [Record<string, unknown>, RegExp][] = [
        [{ waitMs: -1 }, /waitMs must be an integer from 0 to 600000, got -1/],
        [{ waitMs: 1.5 }, /waitMs .* got 1\.5/],
        [{ waitMs: 600_001 }, /waitMs/],
        [{ waitMs: "100" }, /waitMs/],
        [{ maxAttempts: 0 }, /maxAttempts must be an integer from 1 to 1000, got 0/],
        [{ maxAttempts: 1001 }, /maxAttempts/],
        [{ maxAttempts: 2.5 }, /maxAttempts/],
        [{ maxAttempts: Number.NaN }, /maxAttempts/],
      ];
      for (const [options, pattern] of cases) {
        // Not initialised: a RangeError proves validation runs first.
        assert.throws(() => db.network.sync(options), (err) => {
          assert.ok(err instanceof RangeError, String(err));
          assert.match(err.message, pattern);
          return true;
        }, JSON.stringify(options));
      }
    } finally {
      db.close();
      dir.cleanup();
    }
  });

  it("network.init() rejects a malformed id, address or credential without echoing the secret", async () => {
    const dir = tempDir();
    const db = await SyncDatabase.open(join(dir.path, "init.db"), {
      extensionPath: await testExtensionPath(),
    });
    try {
      const secret = `${API_KEY} with space`;
      const cases: [unknown, RegExp][] = [
        [{ databaseId: "", apiKey: API_KEY }, /databaseId/],
        // An API key pasted into the wrong field is described, never shown.
        [{ databaseId: `${API_KEY}/x` }, /databaseId: a 23-character string .*it contains '\/'/],
        [
          { databaseId: "db", address: API_KEY },
          /address: a 21-character string that is not a URL/,
        ],
        [{ databaseId: "db", address: `apikey:${API_KEY}` }, /address: its protocol is not http/],
        [{ databaseId: "db", address: "ftp://x", apiKey: API_KEY }, /protocol/],
        [{ databaseId: "db", address: `http://u:${API_KEY}@127.0.0.1:1` }, /credentials/],
        [{ databaseId: "db", apiKey: secret }, /apiKey: it contains whitespace/],
        [{ databaseId: "db", apiKey: API_KEY, token: "t.t.t" }, /either apiKey or token/],
      ];
      for (const [options, pattern] of cases) {
        // deno-lint-ignore no-explicit-any
        assert.throws(() => db.network.init(options as any), (err) => {
          assert.ok(err instanceof TypeError, String(err));
          assert.match(err.message, pattern);
          assert.ok(!err.message.toLowerCase().includes(API_KEY.toLowerCase()), err.message);
          return true;
        });
      }
      assert.equal(db.network.ready, false);
    } finally {
      db.close();
      dir.cleanup();
    }
  });
});
