/**
 * Hostile identifiers and values: every one is refused with a clear error,
 * and the database is left exactly as it was (schema, rows and cloudsync
 * metadata compared through a logical snapshot). The cases are listed in
 * _hostile_schema_cases.ts and _hostile_value_cases.ts.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { tempDir, testExtensionPath } from "../_helpers.ts";
import { SyncDatabase } from "../../src/database.ts";
import { SqliteSyncError } from "../../common/errors.ts";
import type { Case } from "./_hostile_fixtures.ts";
import { SCHEMA_CASES } from "./_hostile_schema_cases.ts";
import { VALUE_CASES } from "./_hostile_value_cases.ts";

/**
 * Every case, in order: table names, columns and filters (_hostile_schema_cases.ts), then values
 * and network options (_hostile_value_cases.ts).
 */
const CASES: Case[] = [...SCHEMA_CASES, ...VALUE_CASES];

/** Every table's rows (cloudsync metadata included) and the schema, in a stable order. */
function snapshot(db: SyncDatabase): string {
  const value = (v: unknown) =>
    v instanceof Uint8Array
      ? `x'${[...v].map((b) => b.toString(16).padStart(2, "0")).join("")}'`
      : typeof v === "bigint"
      ? `${v}n`
      : v;
  const schema = db.all("SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name");
  const tables: Record<string, string[]> = {};
  for (const { name } of schema.filter((r) => r.type === "table")) {
    const quoted = `"${String(name).replaceAll('"', '""')}"`;
    tables[String(name)] = db.all(`SELECT * FROM ${quoted}`)
      .map((row) => JSON.stringify(Object.entries(row).map(([k, v]) => [k, value(v)])))
      .sort();
  }
  return JSON.stringify({ schema, tables }, null, 1);
}

function check(c: Case, err: unknown): void {
  if (typeof c.expect === "string") {
    assert.ok(err instanceof SqliteSyncError, `expected SqliteSyncError, got ${String(err)}`);
    assert.equal(err.kind, c.expect, err.message);
  } else {
    assert.ok(err instanceof c.expect, `expected ${c.expect.name}, got ${String(err)}`);
  }
  const message = (err as Error).message;
  assert.match(message, c.message);
  if (c.secret) assert.ok(!message.includes(c.secret), `the message leaks the secret: ${message}`);
  assert.ok(message.length < 1000, `the message echoes too much (${message.length} chars)`);
}

describe("hostile input", () => {
  it("every hostile identifier and value is refused with a clear error and changes nothing", async () => {
    assert.ok(CASES.length >= 30, `${CASES.length} cases`);
    const dir = tempDir();
    const db = await SyncDatabase.open(join(dir.path, "hostile.db"), {
      extensionPath: await testExtensionPath(),
    });
    try {
      db.exec(
        "CREATE TABLE notes (id TEXT PRIMARY KEY NOT NULL, body TEXT, title TEXT, n INTEGER);" +
          "CREATE TABLE plain (id TEXT PRIMARY KEY NOT NULL, v TEXT);" +
          // Views hide calls from any text check: only EXPLAIN of the filter sees them.
          "CREATE VIEW sneaky AS SELECT cloudsync_set('send_dbversion', '999') AS x;" +
          "CREATE VIEW loader AS SELECT load_extension('/nonexistent/x') AS y",
      );
      db.init("notes");
      db.setColumn("notes", "body", { algorithm: "block" });
      db.set("network_request_timeout", 2);
      db.set("network_connect_timeout", 2);
      db.run("INSERT INTO notes (id, body, title, n) VALUES ('a', ?, 't', 1)", "l1\nl2\nl3");
      db.run("INSERT INTO plain (id, v) VALUES ('p', 'v')");
      const before = snapshot(db);
      const failures: string[] = [];
      for (const c of CASES) {
        try {
          c.run(db);
          failures.push(`${c.name}: did not throw`);
        } catch (err) {
          try {
            check(c, err);
          } catch (e) {
            failures.push(`${c.name}: ${(e as Error).message}`);
          }
        }
        if (snapshot(db) !== before) {
          failures.push(`${c.name}: changed the database`);
          break;
        }
      }
      assert.deepEqual(failures, []);
      // Still fully working: a write is tracked and encoded.
      db.run("UPDATE notes SET title = 'after' WHERE id = 'a'");
      assert.ok(db.encodeChanges({ sinceDbVersion: db.dbVersion() - 1 }) instanceof Uint8Array);
    } finally {
      db.close();
      dir.cleanup();
    }
  });
});
