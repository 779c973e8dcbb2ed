/**
 * SyncService with real parts: the runtime's default executor, the real
 * extension, real files, against non-protocol failure fixtures only (a
 * refused port, a listener that never answers, a server answering every
 * request with one fixed HTTP error). Nothing here speaks CloudSync.
 * What a restart does with the queue is in service_restart_test.ts.
 *
 * No test waits on the wall clock: retries and intervals run on an injected
 * FakeClock (the executor and its network stay real), and everything else is
 * awaited as an event (a service event, a connection on the listener, a
 * child's line), each with a failure guard only. How long these things take
 * is measured in bench/latency_bench.ts.
 */
import { afterEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { refusedPort, ROOT, runtimeArgv, testExtensionPath } from "../../_helpers.ts";
import { errorServer } from "../_error_servers.ts";
import { FakeClock } from "./_fake_clock.ts";
import { guard } from "./_service_events.ts";
import { advance, settle, UNIT_START } from "./_service_fake.ts";
import {
  assertKind,
  cleanups,
  type Real,
  runCleanups,
  spawnLines,
  startReal,
  watchedListener,
} from "./_service_real.ts";

const PAUSED = '{"errors":[{"status":"503","code":"database_paused","title":"Database paused"}]}';
const UNAUTHORIZED = '{"errors":[{"status":"401","code":"unauthorized","title":"Unauthorized"}]}';
const CHILD = join(ROOT, "tests", "src", "scheduler", "_service_child.ts");

afterEach(runCleanups);

/**
 * Drives the retries of a failing job on the fake clock: for each of `count` retries, the
 * clock goes to 1 ms before its time (no sync may start), then to its time (the retry starts
 * there), and the retry's failure is awaited. Returns the retry-scheduled events.
 */
async function driveRetries(
  r: Real,
  clock: FakeClock,
  count: number,
): Promise<{ jobId: number; attempt: number; at: number; emittedAt: number }[]> {
  const retries = [];
  for (let k = 0; k < count; k++) {
    const retry = await r.log.nth("retry-scheduled", k + 1);
    retries.push(retry);
    const startedBefore = r.log.of("started").length;
    assert.equal(startedBefore, k + 1);
    if (retry.at - 1 > clock.now()) clock.advance(retry.at - 1 - clock.now());
    await settle();
    assert.equal(r.log.of("started").length, startedBefore, `retry ${k} started before its time`);
    clock.advance(retry.at - clock.now());
    const started = await r.log.nth("started", k + 2);
    assert.equal(started.emittedAt, retry.at, `retry ${k} did not start at its time`);
    await r.log.nth("failed", k + 2);
  }
  return retries;
}

describe("SyncService (real executor and extension) against failure fixtures", () => {
  it("refused port, retries on an injected clock: syncNow() rejects 'offline', state 'offline'; each retry is scheduled in [failure, failure + min(cap, base·2^k)], starts not before that time and once the clock reaches it; dead-lettered after maxAttempts", async () => {
    const clock = new FakeClock(UNIT_START);
    const r = await startReal(await refusedPort(), {
      retry: { baseMs: 100, capMs: 400, maxAttempts: 5 },
    }, clock);
    const err = await r.service.syncNow().then(() => undefined, (e: unknown) => e);
    assertKind(err, "offline");
    assert.match((err as Error).message, /Failed to connect to 127\.0\.0\.1/);
    const retries = await driveRetries(r, clock, 4);
    await r.log.nth("dead-lettered", 1);
    const failed = r.log.of("failed");
    for (let k = 0; k < 4; k++) {
      const ceiling = Math.min(400, 100 * 2 ** k);
      const wait = retries[k].at - failed[k].emittedAt;
      assert.ok(wait >= 0 && wait <= ceiling, `retry ${k}: scheduled ${wait} ms out`);
      assert.equal(retries[k].emittedAt, failed[k].emittedAt);
    }
    assert.equal(r.service.status().state, "offline");
    assert.equal(r.service.status().lastError?.kind, "offline");
    assert.equal(r.log.of("started").length, 5);
    assert.equal(failed.length, 5);
    assert.ok(failed.every((f) => f.error.kind === "offline"));
    assert.equal(r.log.of("retry-scheduled").length, 4);
    assert.equal(r.log.of("dead-lettered")[0].reason, "max_attempts_exceeded");
    assert.equal(r.service.status().consecutiveErrors, 5);
    assert.equal(r.service.status().queueDepth, 0);
  });

  it("a listener that never answers: the listener (on the main thread) accepts the sync's connection while syncNow() is pending; syncNow() then rejects 'timeout' (the request time-out ended it), state 'offline', one retry scheduled", async () => {
    const listener = await watchedListener();
    cleanups.push(() => listener.close());
    const r = await startReal(listener.port, { retry: { baseMs: 60_000 } });
    let settled = false;
    const pending = r.service.syncNow().then(() => undefined, (e: unknown) => e).finally(() =>
      settled = true
    );
    await listener.connected(1);
    assert.equal(settled, false, "syncNow() settled before the main thread saw its connection");
    assert.equal(r.service.status().state, "syncing");
    assertKind(await guard(pending, "syncNow() to settle"), "timeout");
    assert.equal(r.service.status().state, "offline");
    assert.equal(r.log.of("retry-scheduled").length, 1);
  });

  it("a server answering 503, retries on an injected clock: 'http' with status 503, state 'backing-off', each retry starts once the clock reaches its time, dead-lettered after maxAttempts", async () => {
    const server = await errorServer(503, "Service Unavailable", PAUSED);
    cleanups.push(() => server.stop());
    const clock = new FakeClock(UNIT_START);
    const r = await startReal(server.port, {
      retry: { baseMs: 100, capMs: 100, maxAttempts: 3 },
    }, clock);
    const err = assertKind(
      await r.service.syncNow().then(() => undefined, (e: unknown) => e),
      "http",
    );
    assert.equal(err.status, 503);
    assert.equal(r.service.status().state, "backing-off");
    assert.deepEqual(
      { kind: r.service.status().lastError?.kind, status: r.service.status().lastError?.status },
      { kind: "http", status: 503 },
    );
    await driveRetries(r, clock, 2);
    await r.log.nth("dead-lettered", 1);
    assert.equal(r.log.of("started").length, 3);
    assert.equal(r.log.of("retry-scheduled").length, 2);
    assert.ok(r.log.of("failed").every((f) => f.error.status === 503));
  });

  it("a server answering 401 with an API key: 'auth' (status 401 in status().lastError), permanent at once (state 'failed', dead-lettered permanent:auth); nextRunAt is then the probe's time, not the 1 s interval's: the interval fires 299 times on the injected clock and starts no sync, the probe starts exactly at nextRunAt and reaches the server (its 401 comes back), and nextRunAt moves to the next probe", async () => {
    const server = await errorServer(401, "Unauthorized", UNAUTHORIZED);
    cleanups.push(() => server.stop());
    const clock = new FakeClock(UNIT_START);
    const r = await startReal(server.port, { intervalMs: 1000 }, clock);
    const err = assertKind(
      await r.service.syncNow().then(() => undefined, (e: unknown) => e),
      "auth",
    );
    assert.equal(err.status, 401);
    await r.log.nth("dead-lettered", 1);
    const status = r.service.status();
    assert.deepEqual(
      { kind: status.lastError?.kind, status: status.lastError?.status },
      { kind: "auth", status: 401 },
    );
    assert.equal(status.state, "failed");
    const probeAt = status.nextRunAt!;
    assert.equal(probeAt, UNIT_START + 300_000, "nextRunAt is not the probe's time");
    await advance(clock, probeAt - 1 - clock.now(), 10_000);
    assert.equal(r.log.of("started").length, 1, "a sync started before nextRunAt");
    assert.equal(r.service.status().nextRunAt, probeAt);
    assert.equal(r.service.status().permanentReason, "auth");
    clock.advance(1);
    const probe = await r.log.nth("started", 2);
    assert.equal(probe.emittedAt, probeAt);
    assert.deepEqual(probe.reasons, ["probe"]);
    const answered = await r.log.nth("failed", 2);
    assert.equal(answered.error.status, 401);
    await r.log.until(
      () => r.service.status().nextRunAt === probeAt + 300_000,
      "nextRunAt at the next probe",
    );
    assert.equal(r.log.of("retry-scheduled").length, 0);
    assert.deepEqual(r.log.of("dead-lettered").map((d) => d.reason), [
      "permanent:auth",
      "permanent:auth",
    ]);
  });

  it("a server answering 401 with getToken: one refresh (getToken called at start and once after the 401), the retry at once (same instant of the injected clock), then permanent; 3 s more on the clock call getToken no more", async () => {
    const server = await errorServer(401, "Unauthorized", UNAUTHORIZED);
    cleanups.push(() => server.stop());
    let calls = 0;
    const clock = new FakeClock(UNIT_START);
    const r = await startReal(server.port, {
      apiKey: undefined,
      getToken: () => `opaque-token-${++calls}`,
      intervalMs: 1000,
    }, clock);
    assert.equal(calls, 1);
    await r.service.syncNow().catch(() => {});
    await r.log.until(() => r.service.status().state === "failed", "state 'failed'");
    const started = r.log.of("started");
    assert.equal(started.length, 2);
    assert.equal(calls, 2);
    // The clock never moved: the retry after the refresh ran at the instant of the 401.
    assert.equal(r.log.of("failed")[0].emittedAt, UNIT_START);
    assert.equal(started[1].emittedAt, UNIT_START);
    await advance(clock, 3000, 100);
    assert.equal(calls, 2);
    assert.equal(r.log.of("started").length, 2);
    assert.equal(r.service.status().permanentReason, "auth");
  });
});

describe("SyncService keeps the HTTP status the server sent (status().lastError, the failed event, attempts())", () => {
  const cases = [
    ["401 in a JSON:API envelope", 401, "Unauthorized", UNAUTHORIZED, "auth", false],
    [
      "401 in a JSON:API envelope, on a fresh database (the receive fails; its diagnosis reports the 401)",
      401,
      "Unauthorized",
      UNAUTHORIZED,
      "auth",
      true,
    ],
    [
      '401 as {"error":"Unauthorized","status":401}',
      401,
      "Unauthorized",
      '{"error":"Unauthorized","status":401}',
      "auth",
      false,
    ],
    [
      '401 as {"statusCode":401,"message":"Invalid API key"}',
      401,
      "Unauthorized",
      '{"statusCode":401,"message":"Invalid API key"}',
      "auth",
      true,
    ],
    ["503 in a JSON:API envelope", 503, "Service Unavailable", PAUSED, "http", false],
    [
      '503 as {"error":{"code":503,"message":"Database paused"}}, on a fresh database',
      503,
      "Service Unavailable",
      '{"error":{"code":503,"message":"Database paused"}}',
      "http",
      true,
    ],
  ] as const;
  for (const [label, code, reason, body, kind, fresh] of cases) {
    it(`a server answering ${label}: kind '${kind}', status ${code} everywhere the service reports the error`, async () => {
      const server = await errorServer(code, reason, body);
      cleanups.push(() => server.stop());
      const r = await startReal(server.port, { retry: { baseMs: 60_000 } }, undefined, { fresh });
      const err = assertKind(
        await r.service.syncNow().then(() => undefined, (e: unknown) => e),
        kind,
      );
      assert.equal(err.status, code, err.message);
      const { lastError } = r.service.status();
      assert.deepEqual(
        [lastError?.kind, lastError?.status],
        [kind, code],
        String(lastError?.message),
      );
      assert.equal(lastError?.message, err.message);
      assert.equal(r.log.of("failed")[0].error.status, code);
      const [attempt] = r.service.attempts();
      assert.deepEqual(
        [attempt.outcome, attempt.error?.kind, attempt.error?.status],
        [kind === "auth" ? "dead-letter" : "retry", kind, code],
      );
    });
  }
});

describe("SyncService on a fresh database says nothing was sent when nothing was", () => {
  it("at a refused port: lastError is 'offline', says nothing was uploaded, never that the send phase completed", async () => {
    const r = await startReal(await refusedPort(), { retry: { baseMs: 60_000 } }, undefined, {
      fresh: true,
    });
    await r.service.syncNow().catch(() => {});
    const { lastError } = r.service.status();
    assert.equal(lastError?.kind, "offline");
    assert.match(lastError!.message, /Failed to connect/);
    assert.match(lastError!.message, /nothing was uploaded: 0 chunks, send status synced/);
    assert.doesNotMatch(lastError!.message, /send phase (completed|uploaded)/);
  });

  it("at a listener that never answers (1 s time-outs): lastError is 'timeout', says nothing was uploaded, never that the send phase completed", async () => {
    const listener = await watchedListener();
    cleanups.push(() => listener.close());
    const r = await startReal(
      listener.port,
      {
        retry: { baseMs: 60_000 },
        connectTimeoutS: 1,
        requestTimeoutS: 1,
      },
      undefined,
      { fresh: true },
    );
    await r.service.syncNow().catch(() => {});
    const { lastError } = r.service.status();
    assert.equal(lastError?.kind, "timeout");
    assert.match(lastError!.message, /timed out/);
    assert.match(lastError!.message, /nothing was uploaded: 0 chunks, send status synced/);
    assert.doesNotMatch(lastError!.message, /send phase (completed|uploaded)/);
  });
});

describe("SyncService change trigger from another process", () => {
  it("a commit by a child process to a synced table is followed by a sync with reason 'change'; no sync started before that commit", async () => {
    const r = await startReal(await refusedPort(), {
      changeDebounceMs: 300,
      retry: { baseMs: 60_000 },
    });
    const child = spawnLines(
      runtimeArgv(CHILD, ["write", r.path, await testExtensionPath(), "1", "0"]),
    );
    const committedAt = Number((await child.line(/^COMMITTED \S+ (\d+)$/))[1]);
    const exit = await guard(child.exited, "the writer's exit");
    assert.equal(exit.code, 0, child.stderr());
    // A failure guard only: the time the trigger takes is measured in bench/latency_bench.ts.
    const started = await r.log.nth("started", 1, 20_000);
    assert.deepEqual(started.reasons, ["change"]);
    // Both stamps come from this machine's clock: the sync started after the commit.
    assert.ok(
      started.emittedAt >= committedAt,
      `a sync started at ${started.emittedAt}, before the commit at ${committedAt}`,
    );
    const failed = await r.log.nth("failed", 1);
    assert.equal(failed.error.kind, "offline");
  });
});
