/**
 * network.sync() and 1.1.4's trap (it throws its result JSON when a phase
 * fails): the typed partial SyncResult, the follow-up status request that
 * diagnoses it (offline, timeout, auth), and never a claim that the send
 * phase completed when nothing was uploaded. Also logout()'s refusal of block
 * columns and a send with nothing to send, against the same fixtures as
 * network_test.ts.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { refusedPort, tempDir } from "../_helpers.ts";
import { errorServer, silentListener } from "./_error_servers.ts";
import { expectError, openAt, UNAUTHORIZED } from "./_network_fixtures.ts";

describe("network.sync() trap (1.1.4 throws its result JSON)", () => {
  it("network.sync() on a fresh database at a refused port throws 'offline' with a typed partial SyncResult, diagnosed or not, saying nothing was uploaded (never that the send phase completed)", async () => {
    const dir = tempDir();
    const db = await openAt(dir.path, await refusedPort());
    try {
      for (
        const call of [
          () => db.network.sync(),
          () => db.network.sync({ waitMs: 10, maxAttempts: 3 }),
          () => db.network.sync({ diagnose: false }),
        ]
      ) {
        const err = expectError(
          call,
          "offline",
          /follow-up status request says: .*Failed to connect|receive failed; nothing was uploaded/,
        );
        assert.match(err.message, /nothing was uploaded: 0 chunks, send status synced/);
        assert.doesNotMatch(err.message, /send phase (completed|uploaded)/);
        assert.deepEqual(err.partial, {
          send: { status: "synced", localVersion: 0, serverVersion: 0, chunks: 0, bytes: 0 },
          receive: {
            rows: 0,
            tables: [],
            chunks: 0,
            bytes: 0,
            complete: false,
            error: "receive failed",
          },
        });
      }
    } finally {
      db.close();
      dir.cleanup();
    }
  });

  it("network.sync() on a fresh database at a listener that never answers throws 'timeout' after the 2 s time-outs, saying nothing was uploaded (never that the send phase completed)", async () => {
    const dir = tempDir();
    const listener = await silentListener();
    const db = await openAt(dir.path, listener.port);
    try {
      const err = expectError(
        () => db.network.sync(),
        "timeout",
        /follow-up status request says: Operation timed out/,
      );
      assert.match(err.message, /nothing was uploaded: 0 chunks, send status synced/);
      assert.doesNotMatch(err.message, /send phase (completed|uploaded)/);
      assert.equal(err.partial?.send.chunks, 0);
      assert.equal(err.partial?.receive.error, "receive failed");
    } finally {
      db.close();
      await listener.close();
      dir.cleanup();
    }
  });

  it("network.sync() on a fresh database diagnoses a 401 hidden by the trap as 'auth', keeping the partial result", async () => {
    const dir = tempDir();
    const server = await errorServer(401, "Unauthorized", UNAUTHORIZED);
    const db = await openAt(dir.path, server.port);
    try {
      const err = expectError(() => db.network.sync(), "auth", /follow-up status request says/);
      assert.equal(err.status, 401);
      assert.equal(err.code, "unauthorized");
      assert.equal(err.partial?.send.status, "synced");
      assert.equal(err.partial?.receive.complete, false);
      // Without diagnosis the extension's own answer is all there is.
      const bare = expectError(
        () => db.network.sync({ diagnose: false }),
        "offline",
        /receiveChanges\(\) reports the cause/,
      );
      assert.equal(bare.partial?.receive.error, "receive failed");
      const cause = expectError(() => db.network.receiveChanges(), "auth");
      assert.equal(cause.status, 401);
    } finally {
      db.close();
      await server.stop();
      dir.cleanup();
    }
  });

  it("network.logout() refuses tables with block columns, which 1.1.4's logout fails on", async () => {
    const dir = tempDir();
    const db = await openAt(dir.path, await refusedPort(), { dirty: true });
    try {
      db.setColumn("notes", "body", { algorithm: "block" });
      const before = db.all("SELECT * FROM notes");
      expectError(
        () => db.network.logout({ deleteLocalData: true }),
        "state",
        /block-level columns/,
      );
      // The bug the guard avoids, through the raw connection: the extension fails and rolls back.
      assert.throws(
        () => db.driver.prepare("SELECT cloudsync_network_logout()").get(),
        /Unknown CRDT algorithm name block/,
      );
      assert.deepEqual(db.all("SELECT * FROM notes"), before);
    } finally {
      db.close();
      dir.cleanup();
    }
  });

  it("network.sendChanges() on a fresh database is 'synced' without any request", async () => {
    const dir = tempDir();
    const db = await openAt(dir.path, await refusedPort());
    try {
      assert.deepEqual(db.network.sendChanges(), {
        status: "synced",
        localVersion: 0,
        serverVersion: 0,
        chunks: 0,
        bytes: 0,
      });
    } finally {
      db.close();
      dir.cleanup();
    }
  });
});
