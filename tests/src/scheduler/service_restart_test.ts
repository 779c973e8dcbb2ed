/**
 * SyncService with real parts (the real executor and extension, real files,
 * no CloudSync: a listener that never answers, a refused port): a job cut
 * short by stop() stays in the queue file and runs at the next start; with
 * the 'worker' executor (Deno), the lease is held until the cut-short call's
 * worst case. Every wait is on an event, with a failure guard only.
 */
import { afterEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import process from "node:process";
import { SyncService } from "../../../src/scheduler/service.ts";
import { queuePathFor } from "../../../src/scheduler/_queue_path.ts";
import { SyncQueue } from "../../../src/scheduler/queue.ts";
import { refusedPort, RUNTIME, testExtensionPath } from "../../_helpers.ts";
import { logEvents } from "./_service_events.ts";
import {
  API_KEY,
  assertKind,
  cleanups,
  runCleanups,
  startReal,
  watchedListener,
} from "./_service_real.ts";

afterEach(runCleanups);

describe("SyncService restart picks up the queue", () => {
  it("a job cut short by stop() while its request hangs (released to pending; the 'process' executor's host killed) runs at the next start, with syncOnStart false and no trigger", async () => {
    const listener = await watchedListener();
    cleanups.push(() => listener.close());
    const r = await startReal(listener.port, { requestTimeoutS: 30, executor: "process" });
    const cut = r.service.syncNow().then(() => undefined, (e: unknown) => e);
    const { jobId } = await r.log.nth("started", 1);
    await listener.connected(1); // the sync is inside its request
    await r.service.stop({ graceMs: 0 });
    assertKind(await cut, "interrupted");
    const q = await SyncQueue.open(queuePathFor(r.path));
    assert.equal(q.current().pending?.id, jobId);
    assert.deepEqual(q.runs(jobId).map((run) => run.outcome), ["released"]);
    q.close();
    const again = await SyncService.start(r.path, {
      databaseId: "service-net",
      address: `http://127.0.0.1:${await refusedPort()}`,
      apiKey: API_KEY,
      extensionPath: await testExtensionPath(),
      syncOnStart: false,
      polling: false,
      changeDebounceMs: false,
      retry: { baseMs: 60_000 },
    });
    cleanups.push(() => again.stop({ graceMs: 0 }));
    const failed = await logEvents(again).nth("failed", 1);
    assert.equal(failed.jobId, jobId, "the released job did not run again");
    const reader = await SyncQueue.open(queuePathFor(r.path));
    cleanups.push(() => reader.close());
    assert.deepEqual(reader.runs(jobId).map((run) => run.outcome), ["released", "retry"]);
    assert.equal(again.status().lastError?.kind, "offline");
  });

  // Deno only: its Worker is the only one a process can leave behind blocked and still exit.
  if (RUNTIME === "deno") {
    it(
      "with the 'worker' executor, a job cut short while its native call may still be in a request is held: the lease stays with this process until that call's worst case, so no start takes it sooner",
      async () => {
        const listener = await watchedListener();
        cleanups.push(() => listener.close());
        const r = await startReal(listener.port, {
          requestTimeoutS: 30,
          connectTimeoutS: 2,
          executor: "worker",
        });
        const cut = r.service.syncNow().then(() => undefined, (e: unknown) => e);
        const { jobId } = await r.log.nth("started", 1);
        await listener.connected(1);
        const stoppedAt = Date.now();
        await r.service.stop({ graceMs: 0 });
        assertKind(await cut, "interrupted");
        const q = await SyncQueue.open(queuePathFor(r.path));
        cleanups.push(() => q.close());
        assert.equal(q.current().pending?.id, jobId);
        const lease = q.lease();
        assert.ok(lease, "the lease was let go");
        assert.equal(lease.jobId, undefined);
        assert.equal(lease.executorPid, process.pid);
        // One receive attempt: send (2 requests), receive (1), diagnosis (1), each 2 s + 30 s.
        const worstCase = 4 * (2 + 30) * 1000;
        assert.ok(
          lease.expiresAt > stoppedAt + worstCase - 5000 &&
            lease.expiresAt <= stoppedAt + worstCase,
          `held until ${lease.expiresAt - stoppedAt} ms after stop()`,
        );
        const claim = q.claim({ owner: "other-host:1:x", now: Date.now(), leaseMs: 30_000 });
        assert.equal(claim.claimed, false);
      },
    );
  }
});
