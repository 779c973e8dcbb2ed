/**
 * SyncDatabase against the real 1.1.4 extension on real files: the
 * connection itself. open(), uuid(), set(), plain SQL and the statement
 * cache, openSibling(), terminate() and close(). Tables are in
 * database_tables_test.ts, changes in database_changes_test.ts, read-only
 * opens in database_read_only_test.ts, table-name case in
 * database_table_names_test.ts, the offline network in
 * database_network_test.ts.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { isKind, testExtensionPath } from "../_helpers.ts";
import { SyncDatabase } from "../../src/database.ts";
import type { SettingKey } from "../../src/settings.ts";
import { fresh, trackedValues } from "./_database_fixtures.ts";

describe("SyncDatabase", () => {
  it("open() loads the extension: version() is 1.1.4 and extension names the binary", async () => {
    const f = await fresh("");
    try {
      assert.equal(f.db.version(), "1.1.4");
      assert.equal(f.db.extension.path, await testExtensionPath());
      assert.equal(f.db.closed, false);
      assert.equal(f.db.driver.path, f.path);
    } finally {
      f.done();
    }
  });

  it("uuid() returns lowercase dashed UUIDv7s; uuidBlob()/uuidText() round-trip", async () => {
    const f = await fresh("");
    try {
      const u = f.db.uuid();
      assert.match(u, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      assert.notEqual(f.db.uuid(), u);
      const blob = f.db.uuidBlob(u);
      assert.equal(blob.length, 16);
      assert.equal(f.db.uuidText(blob), u);
      assert.equal(f.db.uuidText(blob, { dashes: false }), u.replaceAll("-", ""));
      assert.deepEqual(f.db.uuidBlob(u.replaceAll("-", "").toUpperCase()), blob);
    } finally {
      f.done();
    }
  });

  it("set() accepts all six keys and persists them in cloudsync_settings", async () => {
    const f = await fresh();
    try {
      f.db.init("notes");
      const values: Record<SettingKey, number> = {
        network_connect_timeout: 2,
        network_request_timeout: 3,
        network_artifact_timeout: 4,
        network_artifact_low_speed_limit: 1024,
        network_artifact_low_speed_time: 5,
        payload_max_chunk_size: 262_144,
      };
      for (const [k, v] of Object.entries(values)) f.db.set(k as SettingKey, v);
      const stored = Object.fromEntries(
        f.db.all("SELECT key, value FROM cloudsync_settings").map((r) => [r.key, r.value]),
      );
      for (const [k, v] of Object.entries(values)) assert.equal(stored[k], String(v), k);
      // Persisted: a new connection sees them.
      f.db.close();
      const again = await SyncDatabase.open(f.path, { extensionPath: await testExtensionPath() });
      try {
        assert.equal(
          again.get(
            "SELECT value AS v FROM cloudsync_settings WHERE key = 'network_request_timeout'",
          )
            ?.v,
          "3",
        );
      } finally {
        again.close();
      }
    } finally {
      f.done();
    }
  });

  it("run()/get()/all() keep at most 128 user statements prepared, finalizing the least recently used", async () => {
    const f = await fresh();
    try {
      f.db.init("notes");
      // Count live statements by wrapping the connection's prepare (the cache prepares through it).
      const driver = f.db.driver;
      const prepare = driver.prepare.bind(driver);
      let live = 0;
      let peak = 0;
      Object.defineProperty(driver, "prepare", {
        configurable: true,
        value: (sql: string) => {
          const stmt = prepare(sql);
          live++;
          peak = Math.max(peak, live);
          let finalized = false;
          const finalize = stmt.finalize.bind(stmt);
          return Object.assign(Object.create(stmt), {
            run: stmt.run.bind(stmt),
            get: stmt.get.bind(stmt),
            all: stmt.all.bind(stmt),
            finalize: () => {
              if (!finalized) live--;
              finalized = true;
              finalize();
            },
          });
        },
      });
      const baseline = live;
      for (let i = 0; i < 1000; i++) {
        const sql = `SELECT ${i} AS n`;
        const fn = i % 3 === 0 ? "run" : i % 3 === 1 ? "get" : "all";
        f.db[fn](sql);
        if (i % 100 === 0) f.db.run("INSERT INTO notes (id, body) VALUES (?, ?)", f.db.uuid(), "x");
      }
      console.log(`statement cache: 1000 distinct SQL strings, live ${live}, peak ${peak}`);
      assert.ok(live - baseline <= 128 + 8, `${live - baseline} user statements stay prepared`);
      assert.ok(peak - baseline <= 128 + 8, `peak ${peak}`);
      // A hot statement survives the churn: recently used entries are not evicted.
      assert.equal(Number(f.db.get("SELECT count(*) AS n FROM notes")?.n), 10);
      assert.equal(f.db.dbVersion() > 0, true);
      f.db.close();
      assert.equal(live, 0, "close() finalized every statement");
    } finally {
      f.done();
    }
  });

  it("exec()/run()/get()/all()/transaction() run plain SQL and roll back on throw", async () => {
    const f = await fresh();
    try {
      f.db.exec(
        "INSERT INTO notes (id, body) VALUES ('a', 'x'); INSERT INTO notes (id) VALUES ('b')",
      );
      const r = f.db.run("UPDATE notes SET body = ? WHERE id = ?", "y", "b");
      assert.equal(r.changes, 1);
      assert.deepEqual(f.db.get("SELECT body FROM notes WHERE id = ?", "b"), { body: "y" });
      assert.equal(f.db.get("SELECT body FROM notes WHERE id = ?", "zz"), undefined);
      assert.equal(f.db.all("SELECT id FROM notes ORDER BY id").length, 2);
      assert.equal(f.db.transaction(() => 42), 42);
      assert.throws(() =>
        f.db.transaction(() => {
          f.db.run("DELETE FROM notes");
          throw new Error("undo");
        }), /undo/);
      assert.equal(f.db.all("SELECT id FROM notes").length, 2);
    } finally {
      f.done();
    }
  });

  it("openSibling() gives a second connection whose writes to a synced table are encoded by the first", async () => {
    const f = await fresh();
    try {
      f.db.init("notes");
      const sibling = await f.db.openSibling();
      try {
        assert.notEqual(sibling, f.db);
        sibling.run("INSERT INTO notes (id, body) VALUES ('s', 'from-sibling')");
      } finally {
        sibling.close();
      }
      assert.equal(sibling.closed, true);
      assert.equal(f.db.closed, false);
      assert.ok(trackedValues(f.db, "notes").includes("from-sibling"));
      assert.ok(f.db.encodeChanges() instanceof Uint8Array);
    } finally {
      f.done();
    }
  });

  it("openSibling() opened before init() names the fix for its untracked table, and works after its own init()", async () => {
    const f = await fresh();
    try {
      const early = await f.db.openSibling();
      try {
        f.db.init("notes");
        assert.throws(
          () => early.run("INSERT INTO notes (id, body) VALUES ('e', 'early')"),
          isKind("state", /call init\("notes"\) on this connection too/),
        );
        assert.equal(early.get("SELECT count(*) AS n FROM notes")!.n, 0);
        early.init("notes");
        early.run("INSERT INTO notes (id, body) VALUES ('e', 'early')");
      } finally {
        early.close();
      }
      assert.ok(trackedValues(f.db, "notes").includes("early"));
    } finally {
      f.done();
    }
  });

  it("terminate() finalizes cloudsync's statements; close() afterwards succeeds", async () => {
    const f = await fresh();
    try {
      f.db.init("notes");
      f.db.run("INSERT INTO notes (id, body) VALUES ('a', 'x')");
      f.db.terminate();
      f.db.close();
      assert.equal(f.db.closed, true);
      const again = await SyncDatabase.open(f.path, { extensionPath: await testExtensionPath() });
      try {
        assert.equal(again.get("SELECT body AS v FROM notes")?.v, "x");
        assert.deepEqual(again.syncedTables(), ["notes"]);
      } finally {
        again.close();
      }
    } finally {
      f.done();
    }
  });

  it("close() closes the connection; later calls are state errors", async () => {
    const f = await fresh();
    try {
      f.db.close();
      assert.equal(f.db.closed, true);
      assert.throws(() => f.db.version(), isKind("state", /closed/));
    } finally {
      f.done();
    }
  });
});
