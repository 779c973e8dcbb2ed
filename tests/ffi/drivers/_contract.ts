/**
 * The Driver contract: what every driver must do, registered for one driver
 * by driver_test.ts (node:sqlite in Deno, bun:sqlite in Bun, in process) and
 * by _db_sqlite_contract.ts (@db/sqlite, in a child Deno process: sqlite-sync
 * serves one SQLite library per process).
 */
import { it } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { isKind, tempDir, testExtensionPath } from "../../_helpers.ts";
import type { Driver } from "../../../ffi/drivers/driver.ts";
import type { DriverCandidate } from "./_fixtures.ts";

/** How many cases {@linkcode driverContract} registers (the child run must report them all). */
export const CONTRACT_CASES = 16;

/** Loads sqlite-sync into `driver`, checks it answers, then terminates and closes. */
export async function assertLoadsExtension(driver: Driver): Promise<void> {
  driver.loadExtension(await testExtensionPath());
  assert.equal(driver.prepare("select cloudsync_version() as v").get()?.v, "1.1.4");
  driver.exec("select cloudsync_terminate()");
  driver.close();
  assert.equal(driver.isOpen, false);
}

function count(db: Driver, table = "t"): number {
  return Number(db.prepare(`select count(*) as n from ${table}`).get()?.n);
}

/** Registers the contract's cases for `candidate` in the current group. */
export function driverContract(candidate: DriverCandidate): void {
  async function withDb(fn: (db: Driver) => void | Promise<void>): Promise<void> {
    const db = await candidate.open(":memory:");
    try {
      await fn(db);
    } finally {
      db.close();
    }
  }

  it("name and isOpen describe the connection", async () => {
    const db = await candidate.open(":memory:");
    assert.equal(db.name, candidate.name);
    assert.equal(db.path, ":memory:");
    assert.equal(db.isOpen, true);
    db.close();
    assert.equal(db.isOpen, false);
  });

  it("exec() runs several statements", () =>
    withDb((db) => {
      db.exec("create table t(a); insert into t values (1); insert into t values (2);");
      assert.equal(count(db), 2);
    }));

  it("prepare() binds and returns null, int, bigint, real, text and blob", () =>
    withDb((db) => {
      db.exec("create table v(n, i, b, r, s, x)");
      const big = 9007199254740993n; // 2^53 + 1: not exact as a number
      const blob = new Uint8Array([0, 1, 127, 255]);
      db.prepare("insert into v values (?, ?, ?, ?, ?, ?)").run(
        null,
        42,
        big,
        1.5,
        "héllo ✓",
        blob,
      );
      const row = db.prepare("select * from v").get();
      assert.ok(row);
      assert.equal(row.n, null);
      assert.equal(row.i, 42);
      assert.equal(row.b, big);
      assert.equal(row.r, 1.5);
      assert.equal(row.s, "héllo ✓");
      assert.ok(row.x instanceof Uint8Array, `blob came back as ${row.x?.constructor?.name}`);
      assert.deepEqual(Array.from(row.x), [0, 1, 127, 255]);
      // A bigint that fits is returned as a number, in every driver.
      assert.equal(db.prepare("select ? as v").get(7n)?.v, 7);
      assert.equal(Object.getPrototypeOf(row), Object.prototype);
    }));

  it("get() returns undefined and all() [] when there are no rows", () =>
    withDb((db) => {
      db.exec("create table t(a)");
      assert.equal(db.prepare("select * from t").get(), undefined);
      assert.deepEqual(db.prepare("select * from t").all(), []);
    }));

  it("all() returns every row, and a statement can be reused", () =>
    withDb((db) => {
      db.exec("create table t(a, b)");
      const ins = db.prepare("insert into t values (?, ?)");
      for (let i = 1; i <= 3; i++) ins.run(i, `r${i}`);
      ins.finalize();
      ins.finalize(); // idempotent
      assert.deepEqual(db.prepare("select a, b from t where a >= ? order by a").all(2), [
        { a: 2, b: "r2" },
        { a: 3, b: "r3" },
      ]);
      assert.throws(() => ins.run(4, "x"), isKind("state"));
    }));

  it("run() reports changes and lastInsertRowid", () =>
    withDb((db) => {
      db.exec("create table t(id integer primary key, a)");
      const ins = db.prepare("insert into t(a) values (?)");
      assert.deepEqual(ins.run("x"), { changes: 1, lastInsertRowid: 1 });
      assert.deepEqual(ins.run("y"), { changes: 1, lastInsertRowid: 2 });
      assert.equal(db.prepare("update t set a = 'z'").run().changes, 2);
    }));

  it("transaction() commits and returns the callback's value", () =>
    withDb((db) => {
      db.exec("create table t(a)");
      const out = db.transaction(() => {
        db.prepare("insert into t values (1)").run();
        return "done";
      });
      assert.equal(out, "done");
      assert.equal(count(db), 1);
    }));

  it("transaction() rolls back and rethrows when the callback throws", () =>
    withDb((db) => {
      db.exec("create table t(a)");
      const boom = new Error("boom");
      assert.throws(() =>
        db.transaction(() => {
          db.prepare("insert into t values (1)").run();
          throw boom;
        }), (err) => err === boom);
      assert.equal(count(db), 0);
      db.transaction(() => db.exec("insert into t values (2)")); // usable afterwards
      assert.equal(count(db), 1);
    }));

  it("transaction() nests as a savepoint: an inner failure keeps the outer work", () =>
    withDb((db) => {
      db.exec("create table t(a)");
      db.transaction(() => {
        db.exec("insert into t values ('outer')");
        assert.throws(() =>
          db.transaction(() => {
            db.exec("insert into t values ('inner')");
            throw new Error("inner");
          }), /inner/);
        db.transaction(() => db.exec("insert into t values ('inner2')"));
      });
      assert.deepEqual(db.prepare("select a from t order by a").all().map((r) => r.a), [
        "inner2",
        "outer",
      ]);
    }));

  it("transaction() joins a transaction begun by hand with a savepoint", () =>
    withDb((db) => {
      db.exec("create table t(a); begin");
      assert.throws(() =>
        db.transaction(() => {
          db.exec("insert into t values (1)");
          throw new Error("x");
        }), /x/);
      db.exec("insert into t values (2); commit");
      assert.equal(count(db), 1);
    }));

  it("transaction() refuses an async callback and rolls back", () =>
    withDb((db) => {
      db.exec("create table t(a)");
      assert.throws(
        () =>
          db.transaction(() => {
            db.exec("insert into t values (1)");
            return Promise.resolve();
          }),
        TypeError,
      );
      assert.equal(count(db), 0);
    }));

  it("exec() and prepare() raise SqliteSyncError 'sql' with SQLite's message", () =>
    withDb((db) => {
      assert.throws(() => db.exec("select * from missing"), (err) => {
        isKind("sql")(err);
        assert.match((err as Error).message, /no such table: missing/);
        assert.ok((err as Error).cause !== undefined);
        return true;
      });
      assert.throws(() => db.prepare("selec 1"), isKind("sql"));
    }));

  it("a locked database raises SqliteSyncError 'busy'", async () => {
    const dir = tempDir();
    const a = await candidate.open(join(dir.path, "busy.db"));
    const b = await candidate.open(join(dir.path, "busy.db"));
    try {
      a.exec("create table t(x); begin immediate; insert into t values (1)");
      b.exec("pragma busy_timeout = 0");
      assert.throws(() => b.exec("insert into t values (2)"), isKind("busy"));
      a.exec("commit");
    } finally {
      a.close();
      b.close();
      dir.cleanup();
    }
  });

  it("loadExtension() loads sqlite-sync; cloudsync_terminate() then close() twice", async () => {
    const ext = await testExtensionPath();
    const dir = tempDir();
    const db = await candidate.open(join(dir.path, "ext.db"));
    try {
      db.loadExtension(ext);
      assert.equal(db.prepare("select cloudsync_version() as v").get()?.v, "1.1.4");
      db.exec("create table items(id text primary key not null, name text)");
      db.prepare("select cloudsync_init('items')").get();
      db.prepare("insert into items values (cloudsync_uuid(), ?)").run("a");
      assert.equal(count(db, "items"), 1);
      db.exec("select cloudsync_terminate()");
      db.close();
      db.close();
      assert.equal(db.isOpen, false);
      assert.throws(() => db.exec("select 1"), isKind("state"));
      assert.throws(() => db.prepare("select 1"), isKind("state"));
    } finally {
      db.close();
      dir.cleanup();
    }
  });

  it("loadExtension() of a file that is not a library raises 'load'", async () => {
    const dir = tempDir();
    const fake = join(dir.path, "fake.so");
    writeFileSync(fake, "not a shared library");
    try {
      await withDb((db) => assert.throws(() => db.loadExtension(fake), isKind("load")));
    } finally {
      dir.cleanup();
    }
  });

  it("a statement whose last run failed finalizes without error, and close() succeeds", async () => {
    const db = await candidate.open(":memory:");
    try {
      db.exec("create table t(a primary key)");
      const ins = db.prepare("insert into t values (?)");
      ins.run(1);
      assert.throws(() => ins.run(1), isKind("sql", /UNIQUE/));
      ins.finalize();
    } finally {
      db.close();
    }
    assert.equal(db.isOpen, false);
  });
}
