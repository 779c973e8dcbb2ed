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
import { join } from "node:path";
import { inspect } from "node:util";
import { refusedPort, tempDir, testExtensionPath } from "../_helpers.ts";
import { errorServer, silentListener } from "./_error_servers.ts";
import { SyncDatabase } from "../../src/database.ts";
import { Network, type NetworkHost } from "../../src/_network.ts";
import { SqliteSyncError, type SqliteSyncErrorKind } from "../../common/errors.ts";
import { classifyError } from "../../src/classify.ts";

const API_KEY = "sqa_TESTSECRET_123456";
const PAUSED = '{"errors":[{"status":"503","code":"database_paused","title":"Database paused"}]}';
const UNAUTHORIZED = '{"errors":[{"status":"401","code":"unauthorized","title":"Unauthorized"}]}';

/** A file database with one synced table, 2 s time-outs and the network pointed at `port`. */
async function openAt(
  dir: string,
  port: number,
  options: { dirty?: boolean; name?: string } = {},
): Promise<SyncDatabase> {
  const db = await SyncDatabase.open(join(dir, `${options.name ?? "net"}.db`), {
    extensionPath: await testExtensionPath(),
  });
  db.exec("CREATE TABLE notes (id TEXT PRIMARY KEY NOT NULL, body TEXT)");
  db.init("notes");
  db.set("network_request_timeout", 2);
  db.set("network_connect_timeout", 2);
  db.network.init({
    databaseId: "test-db",
    address: `http://127.0.0.1:${port}`,
    apiKey: API_KEY,
  });
  if (options.dirty) db.run("INSERT INTO notes (id, body) VALUES (?, ?)", db.uuid(), "local");
  return db;
}

/**
 * The API key must appear nowhere, in any letter case: message, String(), JSON, util.inspect,
 * the partial result, nor any cause's message or stack.
 */
function assertRedacted(err: unknown): void {
  const seen = [String(err), JSON.stringify(err), inspect(err, { depth: 10 })];
  seen.push(JSON.stringify((err as { partial?: unknown }).partial) ?? "");
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 10; e = e.cause, depth++) {
    seen.push(e.message, String(e), e.stack ?? "");
  }
  for (const text of seen) {
    assert.ok(!text.toLowerCase().includes(API_KEY.toLowerCase()), `the API key leaked: ${text}`);
  }
}

/** Runs `fn`, expects a SqliteSyncError of `kind`, checks redaction, returns it. */
function expectError(
  fn: () => unknown,
  kind: SqliteSyncErrorKind,
  pattern?: RegExp,
): SqliteSyncError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof SqliteSyncError, `expected a SqliteSyncError, got ${String(caught)}`);
  assert.equal(caught.kind, kind, caught.message);
  if (pattern) assert.match(caught.message, pattern);
  assertRedacted(caught);
  return caught;
}

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

describe("db.network (src/_network.ts Network) with a recording host", () => {
  /** A host that answers every call with "{}" and records the secrets it is given. */
  function recordingHost(): NetworkHost & { calls: { sql: string; secrets: string[] }[] } {
    const calls: { sql: string; secrets: string[] }[] = [];
    return {
      calls,
      call: (sql, _params, _op, secrets) => {
        calls.push({ sql, secrets: [...secrets] });
        return "{}";
      },
      assertOpen: () => {},
      afterLogout: () => {},
      blockTables: () => [],
    };
  }

  it("network.init() refuses plain http:// to a non-loopback host, saying the key would travel in cleartext", () => {
    for (
      const address of [
        "http://example.com",
        "http://10.0.0.5:8080",
        "http://127.0.0.1.nip.io",
        "http://[::2]:80",
      ]
    ) {
      const host = recordingHost();
      const network = new Network(host);
      assert.throws(
        () => network.init({ databaseId: "db", address, apiKey: API_KEY }),
        (err) => {
          assert.ok(err instanceof TypeError, String(err));
          assert.match(err.message, /cleartext.*https:\/\/.*loopback/);
          assert.ok(!err.message.includes(API_KEY), err.message);
          return true;
        },
        address,
      );
      assert.equal(host.calls.length, 0, "validated before any call");
    }
  });

  it("network.init() accepts https:// anywhere and http:// on 127.0.0.1, [::1] and localhost", () => {
    for (
      const address of [
        "https://example.sqlite.cloud",
        "http://127.0.0.1:8080",
        "http://[::1]:8080",
        "http://localhost:8080",
        "http://LOCALHOST",
      ]
    ) {
      const host = recordingHost();
      new Network(host).init({ databaseId: "db", address, apiKey: API_KEY });
      assert.match(host.calls[0].sql, /cloudsync_network_init_custom/, address);
    }
  });

  it("network.sync() diagnosing a trap whose result has chunks sent says the send phase uploaded them; with none, that nothing was uploaded", () => {
    for (
      const [chunks, said] of [[2, /the send phase uploaded 2 chunks, 812 bytes/], [
        0,
        /nothing was uploaded: 0 chunks/,
      ]] as const
    ) {
      const trap =
        `{"send":{"status":"syncing","localVersion":3,"serverVersion":3,"chunks":${chunks},` +
        `"bytes":${chunks ? 812 : 0}},"receive":{"rows":0,"tables":[],"chunks":0,"bytes":0,` +
        `"complete":false,"error":"receive failed"}}`;
      const host: NetworkHost = {
        // What the database's call hook makes of the extension's errors (classified).
        call: (sql, _params, operation) => {
          if (/cloudsync_network_sync/.test(sql)) {
            throw classifyError(new Error(trap), operation, { network: true });
          }
          if (/cloudsync_network_status/.test(sql)) {
            throw classifyError(new Error(UNAUTHORIZED), operation, { network: true });
          }
          return 0;
        },
        assertOpen: () => {},
        afterLogout: () => {},
        blockTables: () => [],
      };
      const network = new Network(host);
      network.init({ databaseId: "db", address: "http://127.0.0.1:1", apiKey: API_KEY });
      const err = expectError(() => network.sync(), "auth", said);
      assert.equal(err.status, 401);
      assert.equal(err.partial?.send.chunks, chunks);
      assert.doesNotMatch(err.message, /send phase completed/);
    }
  });

  it("network.setToken() refreshed 100 times remembers only the last 8 credentials for redaction", () => {
    const host = recordingHost();
    const network = new Network(host);
    network.init({ databaseId: "db", address: "http://127.0.0.1:1", apiKey: API_KEY });
    for (let i = 0; i < 100; i++) network.setToken(`token.refresh.${String(i).padStart(3, "0")}`);
    network.resetSyncVersion();
    const last = host.calls.at(-1)!;
    assert.equal(last.secrets.length, 8);
    assert.equal(last.secrets.at(-1), "token.refresh.099");
    assert.ok(last.secrets.includes("token.refresh.092"));
    // Setting a remembered credential again makes it the most recent, not a duplicate.
    network.setToken("token.refresh.095");
    network.resetSyncVersion();
    const again = host.calls.at(-1)!.secrets;
    assert.equal(again.length, 8);
    assert.equal(new Set(again).size, 8);
    assert.equal(again.at(-1), "token.refresh.095");
  });
});
