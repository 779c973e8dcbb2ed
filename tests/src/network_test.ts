/**
 * Network failures, each produced for real against a non-protocol fixture:
 * a refused port (offline), a TCP listener that never answers (timeout), and
 * a child process answering every request with one fixed HTTP error (http,
 * auth). Nothing here speaks the CloudSync protocol; success paths live in
 * the opt-in live suite (live_test.ts).
 *
 * The network calls block the calling thread, so the fixed-error server runs
 * in a child process; the never-answering listener can stay in-process (the
 * kernel accepts the connection, nobody reads it). Time-outs are lowered to
 * 2 s before any request.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { refusedPort, tempDir } from "../_helpers.ts";
import { errorServer, silentListener } from "./_error_servers.ts";
import { expectError, openAt, UNAUTHORIZED } from "./_network_fixtures.ts";

const PAUSED = '{"errors":[{"status":"503","code":"database_paused","title":"Database paused"}]}';

describe("network errors (non-protocol fixtures)", () => {
  it("network calls at a refused port fail fast with kind 'offline' and curl's text", async () => {
    const dir = tempDir();
    const db = await openAt(dir.path, await refusedPort(), { dirty: true });
    try {
      const started = performance.now();
      const send = expectError(
        () => db.network.sendChanges(),
        "offline",
        /^network\.sendChanges\(\) failed: Failed to connect to 127\.0\.0\.1 port \d+/,
      );
      assert.equal(send.partial, undefined);
      // A send-phase failure is a plain error: nothing to keep.
      const sync = expectError(() => db.network.sync(), "offline", /Failed to connect/);
      assert.equal(sync.partial, undefined);
      expectError(() => db.network.receiveChanges(), "offline", /Failed to connect/);
      expectError(() => db.network.status(), "offline", /Failed to connect/);
      assert.ok(performance.now() - started < 1500, "a refused connection should not wait");
    } finally {
      db.close();
      dir.cleanup();
    }
  });

  it("network calls to a listener that never answers fail with kind 'timeout' after the 2 s request time-out", async () => {
    const dir = tempDir();
    const listener = await silentListener();
    const db = await openAt(dir.path, listener.port, { dirty: true });
    try {
      const started = performance.now();
      const err = expectError(
        () => db.network.sendChanges(),
        "timeout",
        /Operation timed out after \d+ milliseconds/,
      );
      const elapsed = performance.now() - started;
      assert.ok(elapsed >= 1900, `returned after ${elapsed} ms, before the time-out`);
      assert.ok(elapsed < 10_000, `took ${elapsed} ms`);
      assert.equal(err.status, undefined);
    } finally {
      db.close();
      await listener.close();
      dir.cleanup();
    }
  });

  it("network calls against a server answering 503 with a JSON body give kind 'http', status 503 and the server's code", async () => {
    const dir = tempDir();
    const server = await errorServer(503, "Service Unavailable", PAUSED);
    const db = await openAt(dir.path, server.port, { dirty: true });
    try {
      for (
        const call of [
          () => db.network.sendChanges(),
          () => db.network.sync(),
          () => db.network.receiveChanges(),
          () => db.network.hasUnsentChanges(),
          () => db.network.status(),
        ]
      ) {
        const err = expectError(
          call,
          "http",
          /server answered 503 database_paused$/,
        );
        assert.equal(err.status, 503);
        assert.equal(err.code, "database_paused");
      }
    } finally {
      db.close();
      await server.stop();
      dir.cleanup();
    }
  });

  it("network calls against a server answering 401 give kind 'auth' with status 401 and never echo the API key", async () => {
    const dir = tempDir();
    const server = await errorServer(401, "Unauthorized", UNAUTHORIZED);
    const db = await openAt(dir.path, server.port, { dirty: true });
    try {
      for (const call of [() => db.network.sendChanges(), () => db.network.sync()]) {
        const err = expectError(call, "auth", /server answered 401 unauthorized$/);
        assert.equal(err.status, 401);
        assert.equal(err.code, "unauthorized");
      }
      // A refreshed key is remembered for redaction too.
      db.network.setApiKey("sqa_OTHERSECRET_654321");
      const err = expectError(() => db.network.sendChanges(), "auth");
      assert.ok(!String(err).includes("sqa_OTHERSECRET_654321"));
    } finally {
      db.close();
      await server.stop();
      dir.cleanup();
    }
  });
});

describe("network errors from a server echoing the request's headers", () => {
  for (
    const [label, status, reason, body, kind] of [
      [
        "401 with the headers in a JSON title",
        401,
        "Unauthorized",
        '{"errors":[{"status":"401","code":"unauthorized","title":"Unauthorized: {{HEADERS}}"}]}',
        "auth",
      ],
      [
        "403 with the headers in plain text",
        403,
        "Forbidden",
        "Forbidden. You sent: {{HEADERS}}",
        "auth",
      ],
      [
        "503 with the headers in a JSON title",
        503,
        "Service Unavailable",
        '{"errors":[{"status":"503","code":"down","title":"Down. You sent: {{HEADERS}}"}]}',
        "http",
      ],
    ] as const
  ) {
    it(`network calls against a server answering ${label} show the echo with the Authorization value masked`, async () => {
      const dir = tempDir();
      const server = await errorServer(status, reason, body);
      const db = await openAt(dir.path, server.port, { dirty: true });
      try {
        for (
          const call of [
            () => db.network.sendChanges(),
            () => db.network.sync(),
            () => db.network.receiveChanges(),
            () => db.network.status(),
          ]
        ) {
          // The echo reached the message (so redaction had work to do), the key did not.
          expectError(call, kind, /Host: 127\.0\.0\.1:\d+\r\n.*\r\nAuthorization: \*\*\*/s);
        }
      } finally {
        db.close();
        await server.stop();
        dir.cleanup();
      }
    });
  }
});

describe("network auth without the error envelope", () => {
  for (
    const [label, body] of [
      ["plain text", "Unauthorized"],
      ["a JSON message", '{"message":"invalid api key"}'],
      ["an expired token", '{"error":"token expired"}'],
    ]
  ) {
    it(`network calls against a server answering 401 with ${label} give kind 'auth'`, async () => {
      const dir = tempDir();
      const server = await errorServer(401, "Unauthorized", body);
      const db = await openAt(dir.path, server.port, { dirty: true });
      try {
        for (
          const call of [
            () => db.network.sendChanges(),
            () => db.network.receiveChanges(),
            () => db.network.status(),
          ]
        ) {
          expectError(call, "auth", /server answered/);
        }
      } finally {
        db.close();
        await server.stop();
        dir.cleanup();
      }
    });
  }

  it("network calls against a server answering 401 with an empty body give kind 'http' saying the server gave no details", async () => {
    const dir = tempDir();
    const server = await errorServer(401, "Unauthorized", "");
    const db = await openAt(dir.path, server.port, { dirty: true });
    try {
      // 1.1.4 reports an empty error body as "cloudsync_network_send_changes unable to apply
      // changes to remote host." (send) or "Memory error." (receive, status): no status.
      const send = expectError(
        () => db.network.sendChanges(),
        "http",
        /gave no details \(empty body; status unknown\).*unable to apply changes to remote host/,
      );
      assert.equal(send.status, undefined);
      for (const call of [() => db.network.receiveChanges(), () => db.network.status()]) {
        expectError(call, "http", /gave no details.*Memory error/);
      }
    } finally {
      db.close();
      await server.stop();
      dir.cleanup();
    }
  });
});
