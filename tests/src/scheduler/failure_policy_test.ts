import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { FailurePolicy, receiveErrorOf } from "../../../src/scheduler/failure_policy.ts";
import type { SyncResult } from "../../../common/sync_result.ts";

function result(error?: string): SyncResult {
  return {
    send: { status: "synced", localVersion: 1, serverVersion: 1, chunks: 0, bytes: 0 },
    receive: { rows: 0, tables: [], chunks: 0, bytes: 0, complete: error === undefined, error },
  };
}

describe("FailurePolicy", () => {
  it("judge() retries transport failures: offline, timeout, http 503, busy", () => {
    const policy = new FailurePolicy();
    for (const kind of ["offline", "timeout", "http", "busy"] as const) {
      assert.deepEqual(
        policy.judge({ kind, message: "x", status: 503 }),
        { permanent: false },
        kind,
      );
    }
  });

  it("judge() makes auth permanent only when no token refresh is left", () => {
    const policy = new FailurePolicy();
    const failure = { kind: "auth" as const, message: "401", status: 401 };
    assert.deepEqual(policy.judge(failure, { canRefreshAuth: true }), { permanent: false });
    assert.deepEqual(policy.judge(failure, { canRefreshAuth: false }), {
      permanent: true,
      reason: "auth",
    });
  });

  it("judge() makes schema errors and an unknown schema hash permanent at once", () => {
    const policy = new FailurePolicy();
    assert.deepEqual(policy.judge({ kind: "schema", message: "pk" }), {
      permanent: true,
      reason: "schema",
    });
    assert.deepEqual(
      policy.judge({
        kind: "apply",
        message: "Cannot apply the received payload because the schema hash is unknown 42.",
      }),
      { permanent: true, reason: "unknown-schema-hash" },
    );
  });

  it("judgeResult() makes the same receive error on two consecutive syncs permanent", () => {
    const policy = new FailurePolicy();
    const error = "Error on cloudsync_payload_apply: UNIQUE constraint failed: t.email";
    assert.deepEqual(policy.judgeResult(result(error)), { permanent: false });
    assert.deepEqual(policy.judgeResult(result(error)), {
      permanent: true,
      reason: "receive-error-repeats",
    });
  });

  it("judgeResult() does not count a clean sync or a different error as a repeat", () => {
    const policy = new FailurePolicy();
    assert.deepEqual(policy.judgeResult(result("a")), { permanent: false });
    assert.deepEqual(policy.judgeResult(result()), { permanent: false });
    assert.deepEqual(policy.judgeResult(result("a")), { permanent: false });
    assert.deepEqual(policy.judgeResult(result("b")), { permanent: false });
    policy.reset();
    assert.deepEqual(policy.judgeResult(result("b")), { permanent: false });
  });

  it("judge() sees a repeating receive error inside a failure's partial result", () => {
    const policy = new FailurePolicy();
    const failure = { kind: "apply" as const, message: "m", partial: result("constraint") };
    assert.deepEqual(policy.judge(failure), { permanent: false });
    assert.deepEqual(policy.judge(failure), { permanent: true, reason: "receive-error-repeats" });
  });

  it("receiveErrorOf() ignores 1.1.4's transport marker 'receive failed'", () => {
    assert.equal(receiveErrorOf(result("receive failed")), undefined);
    assert.equal(receiveErrorOf(result("apply broke")), "apply broke");
  });
});
