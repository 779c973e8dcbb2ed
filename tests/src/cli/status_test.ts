/**
 * `sqlite-sync status` end to end in child processes: the local view (synced
 * tables, site id, db version, changes not yet sent) and, when
 * `<db>.sync-queue` exists, the service's last job from the queue history,
 * read without writing either file (more in no_write_test.ts).
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { SyncDatabase } from "../../../src/database.ts";
import { makeOwner } from "../../../src/scheduler/_queue_owner.ts";
import { queuePathFor } from "../../../src/scheduler/_queue_path.ts";
import { SyncQueue } from "../../../src/scheduler/queue.ts";
import { tempDir, testExtensionPath } from "../../_helpers.ts";
import { openDriver } from "../../../ffi/drivers/open_driver.ts";
import { assertJsonFailure, cli, fileState, jsonOf, makeDatabase, shown } from "./_cli.ts";

const T0 = Date.UTC(2025, 0, 15, 8, 0, 0);
const iso = (ms: number) => new Date(ms).toISOString();

/** The site id and db version of a database, read in this process. */
async function identityOf(path: string): Promise<{ siteId: string; dbVersion: number }> {
  const db = await SyncDatabase.open(path, { extensionPath: await testExtensionPath() });
  try {
    return { siteId: db.siteId(), dbVersion: db.dbVersion() };
  } finally {
    db.close();
  }
}

/** Writes a queue history: job 1 succeeded (3 sent, 5 received), job 2 dead on `auth`, job 3 pending. */
async function writeQueue(dbPath: string): Promise<void> {
  const queue = await SyncQueue.open(queuePathFor(dbPath), { maxAttempts: 5 });
  try {
    const owner = makeOwner();
    queue.request("cron", { now: T0 });
    const first = queue.claim({ owner, now: T0, leaseMs: 60_000 });
    assert.ok(first.claimed);
    queue.complete(first.job.id, first.fence, { now: T0 + 1000, rowsSent: 3, rowsReceived: 5 });
    queue.request("change", { now: T0 + 2000 });
    const second = queue.claim({ owner, now: T0 + 2000, leaseMs: 60_000 });
    assert.ok(second.claimed);
    queue.fail(second.job.id, second.fence, {
      kind: "auth",
      message: "server answered 401 unauthorized Unauthorized",
      status: 401,
    }, { now: T0 + 3000, dead: "permanent:auth" });
    queue.request("interval", { now: T0 + 4000, notBefore: T0 + 60_000 });
  } finally {
    queue.close();
  }
}

describe("sqlite-sync status", () => {
  let dir: { path: string; cleanup: () => void };
  before(() => {
    dir = tempDir();
  });
  after(() => dir.cleanup());

  it("status --json reports the synced tables, site id, db version and the changes not yet sent", async () => {
    const db = await makeDatabase(join(dir.path, "local.db"), { init: true, rows: 2 });
    const out = jsonOf(await cli(["status", db, "--json"]));
    assert.deepEqual(out, {
      database: db,
      extensionVersion: "1.1.4",
      syncedTables: ["notes"],
      ...await identityOf(db),
      unsentChanges: 2,
      service: null,
    });
  });

  it("status without a queue file reports no service and creates no queue file", async () => {
    const db = await makeDatabase(join(dir.path, "noqueue.db"), { init: true });
    const r = await cli(["status", db]);
    assert.equal(r.code, 0, shown(r));
    assert.match(r.stdout, /^service +none \(no sync queue file next to the database\)$/m);
    assert.equal(existsSync(queuePathFor(db)), false);
  });

  it("status of a database without synced tables says how to enable sync", async () => {
    const db = await makeDatabase(join(dir.path, "bare.db"), { rows: 1 });
    const r = await cli(["status", db]);
    assert.equal(r.code, 0, shown(r));
    assert.match(
      r.stdout,
      /^synced tables +none \(enable sync: sqlite-sync init \S*bare\.db --table <table>\)$/m,
    );
    assert.match(r.stdout, /^unsent changes +0$/m);
    const out = jsonOf(await cli(["status", db, "--json"]));
    assert.equal(out.siteId, null);
    assert.equal(out.dbVersion, null);
  });

  it("status --json reports the service's last job, last success and next run from <db>.sync-queue", async () => {
    const db = await makeDatabase(join(dir.path, "service.db"), { init: true, rows: 1 });
    await writeQueue(db);
    const out = jsonOf(await cli(["status", db, "--json"]));
    assert.deepEqual(out.service, {
      queue: queuePathFor(db),
      depth: 1,
      running: false,
      nextDueAt: iso(T0 + 60_000),
      lastJob: {
        id: 2,
        state: "dead",
        finishedAt: iso(T0 + 3000),
        attempts: 1,
        rowsSent: null,
        rowsReceived: null,
        lastError: {
          kind: "auth",
          message: "server answered 401 unauthorized Unauthorized",
          status: 401,
        },
        deadReason: "permanent:auth",
      },
      lastSuccessAt: iso(T0 + 1000),
    });
  });

  it("status reads the queue file without writing it: the file, its -wal and the folder's listing are unchanged", async () => {
    const db = await makeDatabase(join(dir.path, "service-ro.db"), { init: true });
    await writeQueue(db);
    // -shm, when a closed queue left one (Bun), is SQLite's shared memory: every reader of a
    // WAL file marks its reads there. Without one, the queue is read as immutable (see Deno).
    const state = () => {
      const { listing, hashes } = fileState(queuePathFor(db));
      delete hashes[`${basename(queuePathFor(db))}-shm`];
      return { listing, hashes };
    };
    const before = state();
    const out = jsonOf(await cli(["status", db, "--json"]));
    assert.equal((out.service as { depth: number }).depth, 1);
    assert.deepEqual(state(), before);
  });

  it("status of a database whose queue file is empty (0 bytes) reports an empty queue and leaves the file empty", async () => {
    const db = await makeDatabase(join(dir.path, "empty-queue.db"), { init: true });
    writeFileSync(queuePathFor(db), "");
    const before = fileState(queuePathFor(db));
    const out = jsonOf(await cli(["status", db, "--json"]));
    assert.deepEqual(out.service, {
      queue: queuePathFor(db),
      depth: 0,
      running: false,
      nextDueAt: null,
      lastJob: null,
      lastSuccessAt: null,
    });
    assert.deepEqual(fileState(queuePathFor(db)), before);
  });

  it("status --json of a database whose queue file belongs to something else prints one JSON failure (kind 'schema', exit 1) and writes nothing", async () => {
    const db = await makeDatabase(join(dir.path, "foreign.db"), { init: true });
    const foreign = await openDriver(queuePathFor(db));
    foreign.exec("CREATE TABLE t (x)");
    foreign.close();
    const before = fileState(queuePathFor(db));
    const r = await cli(["status", db, "--json"]);
    assertJsonFailure(r, 1, "schema", /^schema: .*belongs to something else/);
    assert.deepEqual(fileState(queuePathFor(db)), before);
  });

  it("status prints the service's last job and error as text", async () => {
    const db = await makeDatabase(join(dir.path, "service-text.db"), { init: true });
    await writeQueue(db);
    const r = await cli(["status", db]);
    assert.equal(r.code, 0, shown(r));
    assert.match(r.stdout, /^last job +#2 dead at 2025-01-15T08:00:03\.000Z after 1 attempt$/m);
    assert.match(r.stdout, /^last error +auth: server answered 401 unauthorized Unauthorized$/m);
    assert.match(r.stdout, /^dead reason +permanent:auth$/m);
    assert.match(r.stdout, /^last success +2025-01-15T08:00:01\.000Z$/m);
    assert.match(r.stdout, /^next run +2025-01-15T08:01:00\.000Z$/m);
  });
});
