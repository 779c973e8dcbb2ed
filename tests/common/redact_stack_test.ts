/**
 * Stacks and redaction (common/redact.ts `redactError`): a stack that V8 has
 * not formatted yet is not formatted by redaction (in Deno each formatted
 * stack keeps native memory: bench/soak_bench.ts), and whoever reads it later
 * gets it redacted, however it was produced or assigned.
 */
import { afterEach, beforeEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { inspect } from "node:util";
import { redactError, rememberSecret } from "../../common/redact.ts";
import { SqliteSyncError } from "../../common/errors.ts";
import { RUNTIME } from "../_helpers.ts";

const SECRET = "StackSecret-5e6f7a8b9c";
rememberSecret(SECRET);

type Prepare = (err: Error, frames: unknown[]) => unknown;
const ErrorWithHook = Error as unknown as { prepareStackTrace?: Prepare };

/** Counts the stacks formatted; each formatted stack names the secret in a frame. */
let formatted = 0;
let saved: Prepare | undefined;
beforeEach(() => {
  formatted = 0;
  saved = ErrorWithHook.prepareStackTrace;
  ErrorWithHook.prepareStackTrace = (err) => {
    formatted++;
    return `${err.name}: ${err.message}\n    at connect (https://${SECRET}@example.com/x.ts:1:1)`;
  };
});
afterEach(() => {
  ErrorWithHook.prepareStackTrace = saved;
});

function assertNowhere(text: string): void {
  assert.ok(!text.includes(SECRET), `leaked: ${text}`);
}

describe("redactError() and stacks", () => {
  it("new SqliteSyncError() with a cause formats no stack in Deno; Bun formats the cause's and the copy's", () => {
    const cause = new Error(`connect to ${SECRET} refused`);
    const err = new SqliteSyncError("offline", "sync failed", { cause });
    assert.equal(formatted, { deno: 0, bun: 2 }[RUNTIME]);
    assertNowhere((err.cause as Error).message);
  });

  it("a cause's stack formatted after redaction is redacted when read, also by util.inspect", () => {
    const cause = new Error(`connect to ${SECRET} refused`);
    const copy = redactError(cause) as Error;
    assert.notEqual(copy, cause);
    assertNowhere(copy.stack ?? "");
    assertNowhere(inspect(copy));
    assert.match(copy.stack ?? "", /refused\n {4}at connect/);
  });

  it("an error whose only secret is in its stack frames is never read with it", () => {
    const err = new Error("connect refused");
    const safe = redactError(err) as Error;
    assertNowhere(safe.stack ?? "");
    assert.match(
      safe.stack ?? "",
      /^Error: connect refused\n {4}at connect \(https:\/\/example\.com\//,
    );
  });

  it("a redacted error's stack can still be assigned, as any error's", () => {
    const same = redactError(new Error("first")) as Error;
    same.stack = "Error: replaced";
    assert.equal(same.stack, "Error: replaced");
    const copy = redactError(new Error(`third ${SECRET}`)) as Error;
    copy.stack = "Error: replaced too";
    assert.equal(copy.stack, "Error: replaced too");
  });

  it("redacting the same error twice formats its stack at most once when read", () => {
    const err = new Error(`twice ${SECRET}`);
    redactError(err);
    const again = redactError(err) as Error;
    const before = formatted;
    assertNowhere(again.stack ?? "");
    assertNowhere(again.stack ?? "");
    assert.ok(formatted - before <= 1, `formatted ${formatted - before} times`);
  });
});
