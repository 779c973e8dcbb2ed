/**
 * The parsers of the network functions' JSON results: every status value,
 * server failure objects, counts as numbers, and rejection of shapes the
 * parsers do not know.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { SqliteSyncError } from "../../common/errors.ts";
import {
  parseReceiveResult,
  parseSendResult,
  parseSyncResult,
  syncResultFromMessage,
} from "../../src/results.ts";

function sqlError(pattern?: RegExp): (err: unknown) => boolean {
  return (err) => {
    assert.ok(err instanceof SqliteSyncError, String(err));
    assert.equal(err.kind, "sql", err.message);
    assert.match(err.message, /Unexpected (send|receive|sync) result from the extension/);
    if (pattern) assert.match(err.message, pattern);
    return true;
  };
}

const SEND = '{"status":"synced","localVersion":1,"serverVersion":1,"chunks":1,"bytes":163}';
const RECEIVE = '{"rows":0,"tables":[],"chunks":0,"bytes":0,"complete":true}';

describe("parseSendResult()", () => {
  it("parseSendResult() reads the documented example with numbers as numbers", () => {
    assert.deepEqual(parseSendResult(`{"send":${SEND}}`), {
      status: "synced",
      localVersion: 1,
      serverVersion: 1,
      chunks: 1,
      bytes: 163,
    });
  });

  it("parseSendResult() accepts every status value: synced, syncing, out-of-sync, error", () => {
    for (const status of ["synced", "syncing", "out-of-sync", "error"]) {
      const r = parseSendResult(
        `{"send":{"status":"${status}","localVersion":5,"serverVersion":3,"chunks":0,"bytes":0}}`,
      );
      assert.equal(r.status, status);
      assert.equal(typeof r.localVersion, "number");
    }
  });

  it("parseSendResult() rejects an unknown or missing status instead of guessing", () => {
    assert.throws(
      () => parseSendResult('{"send":{"status":"pending","localVersion":1}}'),
      sqlError(/pending/),
    );
    assert.throws(() => parseSendResult('{"send":{"localVersion":1}}'), sqlError());
    assert.throws(() => parseSendResult('{"send":{"status":1}}'), sqlError());
  });

  it("parseSendResult() keeps the server's lastFailure object with typed fields", () => {
    const r = parseSendResult(
      '{"send":{"status":"error","localVersion":4,"serverVersion":2,"chunks":1,"bytes":90,' +
        '"lastFailure":{"jobId":"j-1","code":"internal_error","stage":"apply_payload",' +
        '"message":"schema hash is unknown","retryable":false,"failedAt":"2026-01-02T03:04:05Z",' +
        '"extra":{"ignored":true}}}}',
    );
    assert.deepEqual(r.lastFailure, {
      jobId: "j-1",
      code: "internal_error",
      stage: "apply_payload",
      message: "schema hash is unknown",
      retryable: false,
      failedAt: "2026-01-02T03:04:05Z",
    });
  });

  it("parseSendResult() ignores a lastFailure that is not an object and drops mistyped fields", () => {
    assert.equal(
      parseSendResult(`{"send":{"status":"synced","lastFailure":"oops"}}`).lastFailure,
      undefined,
    );
    assert.deepEqual(
      parseSendResult(`{"send":{"status":"synced","lastFailure":{"code":5,"retryable":"yes"}}}`)
        .lastFailure,
      {},
    );
  });

  it("parseSendResult() takes a missing count as 0 but rejects a count that is not a number", () => {
    const r = parseSendResult('{"send":{"status":"synced"}}');
    assert.deepEqual(r, {
      status: "synced",
      localVersion: 0,
      serverVersion: 0,
      chunks: 0,
      bytes: 0,
    });
    assert.throws(
      () => parseSendResult('{"send":{"status":"synced","localVersion":"1"}}'),
      sqlError(),
    );
    assert.throws(() => parseSendResult('{"send":{"status":"synced","bytes":null}}'), sqlError());
  });

  it("parseSendResult() turns malformed JSON and wrong shapes into kind 'sql'", () => {
    for (
      const text of ["", "not json", "{", "[]", "null", '"synced"', '{"receive":{}}', '{"send":[]}']
    ) {
      assert.throws(() => parseSendResult(text), sqlError(), text);
    }
  });

  it("parseSendResult() keeps error messages short", () => {
    const long = `{"send":{"status":"nope","pad":"${"x".repeat(5000)}"}}`;
    assert.throws(() => parseSendResult(long), (err) => {
      assert.ok(err instanceof SqliteSyncError);
      assert.ok(err.message.length < 400, String(err.message.length));
      return true;
    });
  });
});

describe("parseReceiveResult()", () => {
  it("parseReceiveResult() reads the result of an empty receive (after a 202)", () => {
    assert.deepEqual(parseReceiveResult(`{"receive":${RECEIVE}}`), {
      rows: 0,
      tables: [],
      chunks: 0,
      bytes: 0,
      complete: true,
    });
  });

  it("parseReceiveResult() reads rows, tables, an error string and complete false", () => {
    const r = parseReceiveResult(
      '{"receive":{"rows":12,"tables":["notes","tags"],"chunks":3,"bytes":4096,"complete":false,' +
        '"error":"Cannot apply the received payload because the schema hash is unknown 42."}}',
    );
    assert.equal(r.rows, 12);
    assert.deepEqual(r.tables, ["notes", "tags"]);
    assert.equal(r.complete, false);
    assert.match(r.error!, /schema hash is unknown/);
    assert.equal(r.lastFailure, undefined);
  });

  it("parseReceiveResult() keeps a check lastFailure with dbVersion and seq as numbers", () => {
    const r = parseReceiveResult(
      '{"receive":{"rows":0,"tables":[],"chunks":0,"bytes":0,"complete":false,' +
        '"lastFailure":{"jobId":"c-9","dbVersion":17,"seq":3,"code":"check_failed",' +
        '"stage":"build_package","message":"boom","retryable":true,"failedAt":"2026-05-01T00:00:00Z"}}}',
    );
    assert.deepEqual(r.lastFailure, {
      jobId: "c-9",
      dbVersion: 17,
      seq: 3,
      code: "check_failed",
      stage: "build_package",
      message: "boom",
      retryable: true,
      failedAt: "2026-05-01T00:00:00Z",
    });
  });

  it("parseReceiveResult() rejects a result without a boolean complete (1.1.4 always sends one)", () => {
    for (const text of ['{"receive":{"rows":1}}', '{"receive":{"rows":1,"complete":"yes"}}']) {
      assert.throws(() => parseReceiveResult(text), sqlError(), text);
    }
  });

  it("parseReceiveResult() drops non-string table names and reads missing tables as none", () => {
    const r = parseReceiveResult('{"receive":{"rows":1,"tables":["a",2,null],"complete":true}}');
    assert.deepEqual(r.tables, ["a"]);
    assert.deepEqual(parseReceiveResult('{"receive":{"rows":1,"complete":true}}').tables, []);
  });

  it("parseReceiveResult() rejects malformed JSON, a missing receive object and mistyped counts", () => {
    for (
      const text of [
        "",
        "{]",
        '{"send":{"status":"synced"}}',
        '{"receive":7}',
        '{"receive":{"rows":"3"}}',
      ]
    ) {
      assert.throws(() => parseReceiveResult(text), sqlError(), text);
    }
  });
});

describe("parseSyncResult()", () => {
  it("parseSyncResult() reads both phases", () => {
    const r = parseSyncResult(
      '{"send":{"status":"out-of-sync","localVersion":1,"serverVersion":0,"chunks":0,"bytes":0},' +
        '"receive":{"rows":2,"tables":["notes"],"chunks":1,"bytes":90,"complete":true}}',
    );
    assert.equal(r.send.status, "out-of-sync");
    assert.equal(r.send.localVersion, 1);
    assert.equal(r.receive.rows, 2);
    assert.deepEqual(r.receive.tables, ["notes"]);
  });

  it("parseSyncResult() rejects a result missing either phase or with an unknown status", () => {
    for (
      const text of [
        `{"send":${SEND}}`,
        `{"receive":${RECEIVE}}`,
        `{"send":{"status":"done"},"receive":${RECEIVE}}`,
        "garbage",
      ]
    ) {
      assert.throws(() => parseSyncResult(text), sqlError(), text);
    }
  });
});

describe("syncResultFromMessage()", () => {
  const TRAP =
    '{"send":{"status":"synced","localVersion":0,"serverVersion":0,"chunks":0,"bytes":0},' +
    '"receive":{"rows":0,"tables":[],"chunks":0,"bytes":0,"complete":false,"error":"receive failed"}}';

  it("syncResultFromMessage() recovers the typed result the 1.1.4 sync trap throws", () => {
    const r = syncResultFromMessage(TRAP);
    assert.deepEqual(r, {
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
  });

  it("syncResultFromMessage() tolerates a driver suffix after the JSON", () => {
    assert.equal(syncResultFromMessage(`${TRAP} in SELECT x at offset 7`)?.receive.complete, false);
  });

  it("syncResultFromMessage() returns undefined for anything that is not a sync result", () => {
    for (
      const message of [
        "Failed to connect to 127.0.0.1 port 1 after 0 ms: Error",
        '{"errors":[{"status":"503","code":"database_paused"}]}',
        `{"send":${SEND}}`,
        `prefix ${TRAP}`,
        `{"send":{"status":"weird"},"receive":${RECEIVE}}`,
        "{not json}",
        "",
      ]
    ) {
      assert.equal(syncResultFromMessage(message), undefined, message);
    }
  });
});
