/**
 * SyncDatabase.network without a server: state errors before init(),
 * argument validation, init() against a refused port, cleanup() and logout()
 * offline. Failures against real fixtures are in network_test.ts.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { isKind, refusedPort } from "../_helpers.ts";
import { SqliteSyncError } from "../../common/errors.ts";
import { fresh } from "./_database_fixtures.ts";

describe("SyncDatabase.network", () => {
  async function offline() {
    const f = await fresh();
    f.db.set("network_request_timeout", 2);
    f.db.set("network_connect_timeout", 2);
    return f;
  }

  it("network.setToken() and network.sendChanges() before init() are state errors", async () => {
    const f = await offline();
    try {
      f.db.init("notes");
      assert.equal(f.db.network.ready, false);
      assert.throws(() => f.db.network.setToken("tok-abcdef"), isKind("state", /init\(\)/));
      assert.throws(() => f.db.network.sendChanges(), isKind("state", /init\(\)/));
    } finally {
      f.done();
    }
  });

  it("network.init() validates id, address and credentials before touching the database", async () => {
    const f = await offline();
    try {
      f.db.init("notes");
      const n = f.db.network;
      assert.throws(() => n.init({ databaseId: "" }), TypeError);
      assert.throws(() => n.init({ databaseId: "a/b" }), /databaseId/);
      assert.throws(() => n.init({ databaseId: "db", address: "ftp://x" }), /protocol/);
      assert.throws(
        () => n.init({ databaseId: "db", apiKey: "k1234", token: "t1234" }),
        /either apiKey or token/,
      );
      assert.equal(n.ready, false);
    } finally {
      f.done();
    }
  });

  it("network.init() against a refused port succeeds locally; sendChanges() is then an offline error", async () => {
    const f = await offline();
    try {
      f.db.init("notes");
      f.db.run("INSERT INTO notes (id, body) VALUES ('a', 'x')");
      const port = await refusedPort();
      f.db.network.init({
        databaseId: "db-test",
        address: `http://127.0.0.1:${port}`,
        apiKey: "sqa_secret_value",
      });
      assert.equal(f.db.network.ready, true);
      assert.throws(() => f.db.network.sendChanges(), (err) => {
        assert.ok(err instanceof SqliteSyncError);
        assert.equal(err.kind, "offline", err.message);
        assert.doesNotMatch(err.message, /sqa_secret_value/);
        return true;
      });
    } finally {
      f.done();
    }
  });

  it("network.cleanup() is idempotent, before and after init()", async () => {
    const f = await offline();
    try {
      f.db.init("notes");
      f.db.network.cleanup();
      f.db.network.init({
        databaseId: "db-test",
        address: `http://127.0.0.1:${await refusedPort()}`,
      });
      f.db.network.cleanup();
      assert.equal(f.db.network.ready, false);
      f.db.network.cleanup();
      assert.throws(() => f.db.network.sendChanges(), isKind("state"));
    } finally {
      f.done();
    }
  });

  it("network.logout() requires { deleteLocalData: true }", async () => {
    const f = await offline();
    try {
      f.db.init("notes");
      // deno-lint-ignore no-explicit-any
      assert.throws(() => f.db.network.logout({} as any), TypeError);
      // deno-lint-ignore no-explicit-any
      assert.throws(() => f.db.network.logout(undefined as any), /deleteLocalData: true/);
    } finally {
      f.done();
    }
  });

  it("network.logout() works offline: rows deleted, filters lost, a new site id, init() needed again", async () => {
    const f = await offline();
    try {
      f.db.exec("CREATE TABLE tags (id TEXT PRIMARY KEY NOT NULL, name TEXT)");
      const oldId = f.db.init("notes");
      f.db.init("tags", { algorithm: "gos" });
      f.db.setFilter("notes", "tenant = 'acme'");
      f.db.run("INSERT INTO notes (id, body, tenant) VALUES ('a', 'x', 'acme')");
      f.db.run("INSERT INTO tags (id, name) VALUES ('t', 'n')");
      f.db.network.init({
        databaseId: "db-test",
        address: `http://127.0.0.1:${await refusedPort()}`,
        token: "tok-abcdef",
      });
      f.db.network.logout({ deleteLocalData: true });
      assert.equal(f.db.network.ready, false);
      assert.equal(f.db.all("SELECT * FROM notes").length, 0);
      assert.equal(f.db.all("SELECT * FROM tags").length, 0);
      assert.deepEqual(f.db.syncedTables(), ["notes", "tags"]);
      assert.deepEqual(
        f.db.all("SELECT tbl_name, key, value FROM cloudsync_table_settings ORDER BY 1"),
        [
          { tbl_name: "notes", key: "algo", value: "cls" },
          { tbl_name: "tags", key: "algo", value: "gos" },
        ],
      );
      assert.notEqual(f.db.siteId(), oldId);
      assert.throws(() => f.db.network.sendChanges(), isKind("state"));
    } finally {
      f.done();
    }
  });
});
