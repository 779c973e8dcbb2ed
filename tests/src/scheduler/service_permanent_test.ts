/**
 * SyncService, scheduler unit tests of permanent errors (auth, schema, an
 * unknown schema hash, a receive error that repeats): no more retries, one
 * probe per maximum polling interval, getToken refreshes, and new credentials
 * retrying at once. A fake executor (only its sync call is faked) and a
 * FakeClock drive the real service, runner, triggers and durable queue file.
 */
import { afterEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { SqliteSyncError } from "../../../common/errors.ts";
import {
  advance,
  fail,
  type Harness,
  ok,
  result,
  settle,
  start,
  stopStarted,
  UNIT_START,
} from "./_service_fake.ts";

afterEach(stopStarted);

// ---- permanent errors ----------------------------------------------------------------

describe("SyncService permanent errors stop retrying", () => {
  const authError = () => new SqliteSyncError("auth", "Unauthorized", { status: 401 });

  async function assertPermanent(h: Harness, reason: string): Promise<void> {
    const s = h.service.status();
    assert.equal(s.state, "failed");
    assert.equal(s.permanentReason, reason);
    const failed = h.of("failed").at(-1)!;
    assert.equal(failed.permanent, reason);
    assert.equal(h.of("dead-lettered").at(-1)!.reason, `permanent:${reason}`);
    const letters = await h.withQueue((q) => q.deadLetters(1));
    assert.equal(letters[0].deadReason, `permanent:${reason}`);
    assert.equal(s.queueDepth, 0);
  }

  it("auth with an API key: permanent at the first 401, no retry scheduled; local changes and intervals no longer sync", async () => {
    const h = await start(
      { intervalMs: 1000, changeDebounceMs: 100, polling: false },
      () => fail(authError()),
    );
    await h.service.syncNow().catch(() => {});
    await settle();
    await assertPermanent(h, "auth");
    assert.equal(h.of("retry-scheduled").length, 0);
    h.fake.commitElsewhere();
    await advance(h.clock, 60_000, 1000);
    assert.equal(h.fake.syncs.length, 1);
  });

  it("a follow-up requested while the failing sync ran waits for the probe: no second request right after a permanent error", async () => {
    const h = await start({ intervalMs: 1000, polling: false }, () => "hang");
    h.service.syncNow().catch(() => {});
    await advance(h.clock, 3000, 500); // interval requests while the sync hangs: a follow-up job
    assert.equal(h.service.status().queueDepth, 2);
    h.fake.release({ error: authError() });
    await advance(h.clock, 60_000, 1000);
    assert.equal(h.fake.syncs.length, 1);
    assert.equal(h.service.status().state, "failed");
    await advance(h.clock, 300_000, 10_000); // the probe runs the waiting job
    assert.equal(h.fake.syncs.length, 2);
    assert.deepEqual(h.of("started")[1].reasons, ["interval", "probe"]);
  });

  it("auth with getToken: getToken is called before the first sync, once after the first 401 (the retry runs at once with the new token), and the second 401 is permanent", async () => {
    let calls = 0;
    const h = await start(
      { apiKey: undefined, getToken: () => `opaque-token-${++calls}` },
      () => fail(authError()),
    );
    assert.equal(calls, 1, "getToken was not called before the first sync");
    assert.equal(h.fake.inits[0].token, "opaque-token-1");
    const t0 = h.clock.now();
    await h.service.syncNow().catch(() => {});
    await advance(h.clock, 0);
    assert.equal(calls, 2);
    assert.deepEqual(h.fake.syncs.map((s) => [s.at, s.options.token]), [
      [t0, undefined],
      [t0, "opaque-token-2"],
    ]);
    await assertPermanent(h, "auth");
    await advance(h.clock, 60_000, 5000);
    assert.equal(calls, 2);
    assert.equal(h.fake.syncs.length, 2);
  });

  it("getToken with a JWT is called again before its exp (60 s margin), not before; the next sync carries the new token", async () => {
    const jwt = (expMs: number, n: number) =>
      `e30.${btoa(JSON.stringify({ exp: expMs / 1000, n })).replaceAll("=", "")}.sig`;
    const tokens: string[] = [];
    const h = await start({
      apiKey: undefined,
      getToken: () => {
        const t = jwt(UNIT_START + (tokens.length + 1) * 600_000, tokens.length);
        tokens.push(t);
        return t;
      },
      intervalMs: 60_000,
      polling: false,
    }, () => ok());
    assert.equal(tokens.length, 1);
    await advance(h.clock, 8 * 60_000, 10_000);
    assert.equal(tokens.length, 1, "refreshed too early");
    assert.ok(h.fake.syncs.every((s) => s.options.token === undefined));
    await advance(h.clock, 60_000, 10_000); // the sync at 9:00 is within 60 s of exp 10:00
    assert.equal(tokens.length, 2);
    assert.equal(h.fake.syncs.at(-1)!.at, UNIT_START + 9 * 60_000);
    assert.equal(h.fake.syncs.at(-1)!.options.token, tokens[1]);
  });

  it("schema: permanent at once", async () => {
    const h = await start(
      { polling: false },
      () => fail(new SqliteSyncError("schema", "table notes has no primary key")),
    );
    await h.service.syncNow().catch(() => {});
    await settle();
    await assertPermanent(h, "schema");
    assert.equal(h.of("retry-scheduled").length, 0);
  });

  it("an unknown schema hash in the receive phase: permanent at once", async () => {
    const h = await start(
      { polling: false },
      () => ok({ receiveError: "cloudsync_payload_apply: schema hash is unknown (0x1234)" }),
    );
    const err = await h.service.syncNow().then(() => undefined, (e: unknown) => e);
    assert.ok(err instanceof SqliteSyncError && err.kind === "apply", String(err));
    await settle();
    await assertPermanent(h, "unknown-schema-hash");
  });

  it("the same receive.error on two syncs in a row: the first is retried, the second is permanent; a different error in between is not", async () => {
    const errors = [
      "UNIQUE constraint failed: notes.x",
      "NOT NULL constraint failed",
      "NOT NULL constraint failed",
    ];
    const h = await start(
      { polling: false, retry: { baseMs: 10, capMs: 10 } },
      (n) => ok({ receiveError: errors[Math.min(n, 3) - 1] }),
    );
    h.service.syncNow().catch(() => {});
    await advance(h.clock, 100, 5);
    assert.equal(h.fake.syncs.length, 3);
    assert.equal(h.of("retry-scheduled").length, 2);
    await assertPermanent(h, "receive-error-repeats");
  });

  it("while failed: at most one probe per maximum polling interval (300 s), and syncNow() retries at once and resolves with the result", async () => {
    let healthy = false;
    const h = await start({ intervalMs: 1000 }, () => (healthy ? ok() : fail(authError())));
    await h.service.syncNow().catch(() => {});
    await settle();
    const failedAt = h.clock.now();
    await advance(h.clock, 3 * 300_000 + 1000, 10_000);
    assert.deepEqual(
      h.fake.syncs.slice(1).map((s) => s.at - failedAt),
      [300_000, 600_000, 900_000],
    );
    assert.deepEqual(h.of("started").slice(1).map((e) => e.reasons), [["probe"], ["probe"], [
      "probe",
    ]]);
    healthy = true;
    const before = h.fake.syncs.length;
    const at = h.clock.now();
    const r = await h.service.syncNow();
    assert.deepEqual(r, result());
    assert.equal(h.fake.syncs.length, before + 1);
    assert.equal(h.fake.syncs.at(-1)!.at, at);
    assert.equal(h.service.status().state, "idle");
    assert.equal(h.service.status().permanentReason, null);
  });

  it("setCredentials() with a new API key after a permanent auth error starts a fresh executor with it and retries at once", async () => {
    const h = await start({ polling: false }, () => fail(authError()));
    await h.service.syncNow().catch(() => {});
    await settle();
    assert.equal(h.service.status().state, "failed");
    const first = h.fake;
    const at = h.clock.now();
    await h.service.setCredentials({ apiKey: "sqa_NEWKEY_0123456789" });
    await settle();
    assert.equal(h.executors.length, 2);
    assert.equal(first.closes.length, 1);
    assert.equal(h.fake.inits[0].apiKey, "sqa_NEWKEY_0123456789");
    assert.deepEqual(h.fake.syncs.map((s) => s.at), [at]);
  });

  it("setCredentials() with a new token (token auth) sets it on the executor and retries at once", async () => {
    const h = await start(
      { apiKey: undefined, token: "tok-1", polling: false },
      (n) => n === 1 ? fail(authError()) : ok(),
    );
    await h.service.syncNow().catch(() => {});
    await settle();
    assert.equal(h.service.status().state, "failed");
    await h.service.setCredentials({ token: "tok-2" });
    await settle();
    assert.deepEqual(h.fake.tokens, ["tok-2"]);
    assert.equal(h.fake.syncs.length, 2);
    assert.equal(h.service.status().state, "idle");
  });
});
