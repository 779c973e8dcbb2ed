/**
 * classifyError(): each family of messages the extension and the drivers
 * produce maps to one error kind, secrets are redacted everywhere, and the
 * location suffix Deno's node:sqlite appends is handled.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { classifyError, stripDriverSuffix } from "../../src/classify.ts";
import { SqliteSyncError } from "../../common/errors.ts";
import { SyncDatabase } from "../../src/database.ts";
import { testExtensionPath } from "../_helpers.ts";

/** A driver error as the drivers wrap SQLite's (kind sql, code SQLITE_ERROR). */
function driverError(message: string, kind: "sql" | "busy" | "interrupted" = "sql") {
  return new SqliteSyncError(kind, message, {
    code: kind === "busy" ? "SQLITE_BUSY" : "SQLITE_ERROR",
    cause: Object.assign(new Error(message), { code: "ERR_SQLITE_ERROR" }),
  });
}

function classify(message: string, network = true, secrets: string[] = []): SqliteSyncError {
  const err = classifyError(driverError(message), "network.sync()", { network, secrets });
  assert.ok(err instanceof SqliteSyncError, String(err));
  return err;
}

const TRAP =
  '{"send":{"status":"synced","localVersion":0,"serverVersion":0,"chunks":0,"bytes":0},' +
  '"receive":{"rows":0,"tables":[],"chunks":0,"bytes":0,"complete":false,"error":"receive failed"}}';

describe("classifyError()", () => {
  it("classifyError() turns the sync trap JSON into 'offline' with the typed partial result", () => {
    const err = classify(TRAP);
    assert.equal(err.kind, "offline");
    assert.equal(err.partial?.send.status, "synced");
    assert.equal(err.partial?.receive.complete, false);
    assert.equal(err.partial?.receive.error, "receive failed");
    assert.match(
      err.message,
      /^network\.sync\(\) failed: receive failed; nothing was uploaded: 0 chunks, send status synced\./,
    );
    assert.match(err.message, /receiveChanges\(\) reports the cause/);
  });

  it("classifyError() says the send phase uploaded something only when the trap's result has chunks sent", () => {
    const sent = TRAP.replace(
      '"status":"synced","localVersion":0,"serverVersion":0,"chunks":0,"bytes":0',
      '"status":"syncing","localVersion":3,"serverVersion":3,"chunks":2,"bytes":812',
    );
    const err = classify(sent);
    assert.equal(err.partial?.send.chunks, 2);
    assert.match(
      err.message,
      /receive failed; the send phase uploaded 2 chunks, 812 bytes, send status syncing\./,
    );
    assert.doesNotMatch(classify(TRAP).message, /send phase (completed|uploaded)/);
  });

  it("classifyError() maps curl transport texts to 'offline'", () => {
    for (
      const message of [
        "Failed to connect to 127.0.0.1 port 9 after 0 ms: Error",
        "Could not resolve host: cloudsync.invalid",
        "SSL certificate problem: unable to get local issuer certificate",
        "Recv failure: Connection reset by peer",
        "Empty reply from server",
      ]
    ) {
      const err = classify(message);
      assert.equal(err.kind, "offline", message);
      assert.equal(err.message, `network.sync() failed: ${message}`);
      assert.equal(err.partial, undefined);
    }
  });

  it("classifyError() maps curl time-outs to 'timeout'", () => {
    for (
      const message of [
        "Operation timed out after 2002 milliseconds with 0 bytes received",
        "Connection timed out after 2001 milliseconds",
        "Timeout was reached",
      ]
    ) {
      assert.equal(classify(message).kind, "timeout", message);
    }
  });

  it("classifyError() maps a server error body to 'http' with status and code", () => {
    const err = classify(
      '{"errors":[{"status":"503","code":"database_paused","title":"Database paused"}]}',
    );
    assert.equal(err.kind, "http");
    assert.equal(err.status, 503);
    assert.equal(err.code, "database_paused");
    assert.equal(
      err.message,
      "network.sync() failed: server answered 503 database_paused",
    );
  });

  it("classifyError() maps 401 and 403 bodies to 'auth'", () => {
    for (const status of [401, 403]) {
      const err = classify(
        `{"errors":[{"status":"${status}","code":"unauthorized","title":"No"}]}`,
      );
      assert.equal(err.kind, "auth");
      assert.equal(err.status, status);
      assert.equal(err.code, "unauthorized");
    }
  });

  it("classifyError() maps credential refusals without a status to 'auth' by their text", () => {
    for (
      const body of [
        "Unauthorized",
        "unauthorised",
        "403 Forbidden",
        '{"message":"invalid api key"}',
        '{"message":"Invalid API-Key"}',
        "invalid key",
        '{"error":"token expired"}',
        "JWT is invalid",
        "expired jwt",
        '{"errors":[{"title":"Invalid token"}]}',
      ]
    ) {
      const err = classify(body);
      assert.equal(err.kind, "auth", body);
      assert.equal(err.status, undefined, body);
    }
  });

  it("classifyError() lets a known status win over auth-like text, and keeps local errors 'sql'", () => {
    const err = classify('{"errors":[{"status":"400","title":"invalid token format"}]}');
    assert.deepEqual([err.kind, err.status], ["http", 400]);
    assert.equal(classify("Unauthorized", false).kind, "sql");
    assert.equal(classify("Failed to connect to 127.0.0.1 port 1: invalid key").kind, "offline");
  });

  it("classifyError() says the server gave no details for 1.1.4's empty-body error texts", () => {
    for (
      const text of [
        "cloudsync_network_send_changes unable to apply changes to remote host.",
        "Memory error.",
      ]
    ) {
      const err = classify(text);
      assert.equal(err.kind, "http", text);
      assert.equal(err.status, undefined);
      assert.match(err.message, /gave no details \(empty body; status unknown\)/);
    }
    assert.equal(classify("Memory error.", false).kind, "sql");
  });

  it("classifyError() reads {error:{…}} and top-level status bodies too", () => {
    const a = classify('{"error":{"status":429,"code":"rate_limited","message":"Slow down"}}');
    assert.deepEqual([a.kind, a.status, a.code], ["http", 429, "rate_limited"]);
    assert.match(a.message, /429 rate_limited Slow down/);
    const b = classify('{"status":401,"message":"bad key"}');
    assert.deepEqual([b.kind, b.status], ["auth", 401]);
  });

  it("classifyError() reads the status from {error:'…',status}, statusCode and a numeric code, in the envelope or at the top, and the kind from it", () => {
    const cases: [string, string, number, string][] = [
      ['{"error":"Unauthorized","status":401}', "auth", 401, "401 Unauthorized"],
      ['{"statusCode":401,"message":"Invalid API key"}', "auth", 401, "401 Invalid API key"],
      ['{"error":{"code":403,"message":"Forbidden"}}', "auth", 403, "403 Forbidden"],
      ['{"code":503,"message":"Database paused"}', "http", 503, "503 Database paused"],
      ['{"errors":[{"status":429,"detail":"Slow down"}]}', "http", 429, "429 Slow down"],
      ['{"errors":[{"detail":"Database paused"}],"status":"503"}', "http", 503, "503 Database"],
    ];
    for (const [body, kind, status, shown] of cases) {
      const err = classify(body);
      assert.deepEqual([err.kind, err.status], [kind, status], body);
      assert.match(err.message, new RegExp(`server answered ${shown}`), body);
    }
    // A text code stays the code; a status that is no HTTP status is ignored.
    const coded = classify('{"error":{"code":"db_paused","status":503,"message":"Paused"}}');
    assert.deepEqual([coded.status, coded.code], [503, "db_paused"]);
    const odd = classify('{"status":"error","message":"Unauthorized"}');
    assert.deepEqual([odd.kind, odd.status], ["auth", undefined]);
  });

  it("classifyError() takes an unrecognised network message as an HTTP body, but not SQLite's own errors", () => {
    const html = classify("<html><body>502 Bad Gateway</body></html>");
    assert.equal(html.kind, "http");
    assert.equal(html.status, undefined);
    assert.match(html.message, /server answered: <html>/);
    assert.equal(classify("no such function: cloudsync_network_sync").kind, "sql");
    assert.equal(classify("some local failure", false).kind, "sql");
  });

  it("classifyError() caps the text of an unrecognised body", () => {
    const err = classify("x".repeat(10_000));
    assert.ok(err.message.length < 600, String(err.message.length));
  });

  it("classifyError() maps the server's non-retryable check rejection to 'http'", () => {
    const message =
      "cloudsync_network_receive_changes: server rejected check (non-retryable): bad_cursor - no";
    assert.equal(classify(message, false).kind, "http");
  });

  it("classifyError() maps missing network context and missing init to 'state'", () => {
    const a = classify("Unable to retrieve CloudSync network context.");
    assert.equal(a.kind, "state");
    assert.match(a.message, /Call network\.init\(\) first\./);
    for (
      const message of [
        "cloudsync is not initialized: call SELECT cloudsync_init('<table_name>') to enable sync on a table before calling cloudsync_db_version().",
        "cloudsync has no tables configured for sync",
      ]
    ) {
      assert.equal(classify(message, false).kind, "state", message);
    }
  });

  it("classifyError() maps payload failures, including 1.1.4's payload_decode text, to 'apply'", () => {
    for (
      const message of [
        "Error on cloudsync_payload_apply: invalid checksum",
        "Error on cloudsync_payload_apply: invalid signature or column size",
        "Error on cloudsync_payload_decode: invalid input size.",
        "Cannot apply the received payload because the schema hash is unknown 1556070788991676607.",
        "Unable to read payload from file path.",
      ]
    ) {
      assert.equal(classify(message, false).kind, "apply", message);
    }
  });

  it("classifyError() keeps the driver's busy and interrupted kinds and its code", () => {
    const busy = classifyError(driverError("database is locked", "busy"), "sync()");
    assert.ok(busy instanceof SqliteSyncError);
    assert.equal(busy.kind, "busy");
    assert.equal(busy.code, "SQLITE_BUSY");
    const stopped = classifyError(driverError("interrupted", "interrupted"), "sync()");
    assert.equal((stopped as SqliteSyncError).kind, "interrupted");
    const plain = classifyError(driverError("no such table: x"), "get()");
    assert.equal((plain as SqliteSyncError).code, "SQLITE_ERROR");
  });

  it("classifyError() passes TypeError and RangeError through and accepts non-Error values", () => {
    const t = new TypeError("bad");
    assert.equal(classifyError(t, "x()"), t);
    const r = new RangeError("bad");
    assert.equal(classifyError(r, "x()"), r);
    const s = classifyError("Failed to connect to h port 1", "x()", { network: true });
    assert.equal((s as SqliteSyncError).kind, "offline");
  });

  it("classifyError() keeps the original error as cause when no secret occurs in it", () => {
    const original = driverError("Failed to connect to 127.0.0.1 port 9 after 0 ms: Error");
    const err = classifyError(original, "sync()", { secrets: ["sqa_SECRET_KEY_1"] });
    assert.equal(err.cause, original);
  });
});

describe("classifyError() redaction", () => {
  const KEY = "sqa_TESTSECRET_123456";

  function assertNoSecret(err: unknown): void {
    const seen: string[] = [String(err), JSON.stringify(err)];
    for (let e: unknown = err; e instanceof Error; e = e.cause) {
      seen.push(e.message, String(e), e.stack ?? "");
    }
    for (const text of seen) {
      assert.ok(!text.toLowerCase().includes(KEY.toLowerCase()), `secret leaked in: ${text}`);
    }
  }

  it("classifyError() redacts a secret from the message and from the whole cause chain", () => {
    const echoed = `{"errors":[{"status":"401","code":"unauthorized","title":"Bad key ${KEY}"}]}`;
    const err = classify(echoed, true, [KEY]);
    assert.equal(err.kind, "auth");
    assert.match(err.message, /Bad key \*\*\*/);
    assertNoSecret(err);
    // The redacted copy keeps names and codes for debugging.
    const cause = err.cause as Error & { code?: string };
    assert.equal(cause.name, "SqliteSyncError");
    assert.equal(cause.code, "SQLITE_ERROR");
    assert.equal((cause.cause as Error & { code?: string }).code, "ERR_SQLITE_ERROR");
  });

  it("classifyError() redacts secrets in curl texts and unrecognised bodies, in any letter case", () => {
    for (
      const message of [
        `Failed to connect to ${KEY} port 1`,
        `weird body ${KEY} end`,
        `Could not resolve host: ${KEY.toLowerCase()}.invalid`,
      ]
    ) {
      assertNoSecret(classify(message, true, [KEY]));
    }
  });

  it("classifyError() removes a secret straddling the 500-character cut of an unrecognised body whole", () => {
    const err = classify(`${"x".repeat(490)} ${KEY} end`, true, [KEY]);
    assert.match(err.message, /server answered: x+ \*\*\*/);
    assert.ok(!err.message.includes(KEY.slice(0, 6)), err.message);
  });
});

describe("stripDriverSuffix() and Deno's node:sqlite location suffix", () => {
  it("stripDriverSuffix() removes ' in <sql> at offset N' and nothing else", () => {
    assert.equal(
      stripDriverSuffix("no such function: nosuch in SELECT nosuch() at offset 7"),
      "no such function: nosuch",
    );
    assert.equal(
      stripDriverSuffix('near "SELEC": syntax error in SELEC 1 at offset 0'),
      'near "SELEC": syntax error',
    );
    assert.equal(stripDriverSuffix("Failed to connect in time"), "Failed to connect in time");
    assert.equal(stripDriverSuffix(TRAP), TRAP);
  });

  it("classifyError() classifies a message carrying the suffix like the bare message", () => {
    const suffix = " in SELECT cloudsync_network_sync(?, ?) AS v at offset 7";
    const trap = classify(TRAP + suffix);
    assert.equal(trap.kind, "offline");
    assert.equal(trap.partial?.send.status, "synced");
    const body = classify(
      '{"errors":[{"status":"503","code":"database_paused","title":"Database paused"}]}' + suffix,
    );
    assert.deepEqual([body.kind, body.status, body.code], ["http", 503, "database_paused"]);
    assert.equal(classify("Unable to retrieve CloudSync network context." + suffix).kind, "state");
  });

  it("node:sqlite adds the suffix only to errors located in the SQL text, never to cloudsync's own errors", async () => {
    const db = await SyncDatabase.open(":memory:", { extensionPath: await testExtensionPath() });
    try {
      const message = (sql: string): string => {
        try {
          db.driver.exec(sql);
        } catch (err) {
          return (err as Error).message;
        }
        throw new Error(`${sql} did not fail`);
      };
      // cloudsync raises at run time: no location, in every runtime and driver method.
      assert.equal(
        message("SELECT cloudsync_network_sync()"),
        "Unable to retrieve CloudSync network context.",
      );
      assert.match(message("SELECT cloudsync_db_version()"), /^cloudsync is not initialized.*\.$/);
      // A prepare-time error through exec(): Deno appends the location, Bun does not.
      const located = message("SELECT no_such_fn()");
      assert.match(
        located,
        /^no such function: no_such_fn( in SELECT no_such_fn\(\) at offset 7)?$/,
      );
      assert.equal(stripDriverSuffix(located), "no such function: no_such_fn");
      const err = classifyError(new Error(located), "exec()", { network: true });
      assert.equal((err as SqliteSyncError).kind, "sql");
    } finally {
      db.close();
    }
  });
});
