/**
 * Hostile identifiers and values: every one is refused with a clear error,
 * and the database is left exactly as it was (schema, rows and cloudsync
 * metadata compared through a logical snapshot).
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { tempDir, testExtensionPath } from "../_helpers.ts";
import { SyncDatabase } from "../../src/database.ts";
import { SqliteSyncError, type SqliteSyncErrorKind } from "../../common/errors.ts";
import type { SettingKey } from "../../src/settings.ts";

/** What a case must throw: an argument error class, or a SqliteSyncError kind. */
type Expect = typeof TypeError | typeof RangeError | SqliteSyncErrorKind;

interface Case {
  name: string;
  run: (db: SyncDatabase) => unknown;
  expect: Expect;
  /** The message must name the problem. */
  message: RegExp;
  /** A credential the message must never contain. */
  secret?: string;
}

// deno-lint-ignore no-explicit-any
const any = (v: unknown): any => v;
const DROP = "x'; DROP TABLE notes; --";
const DROP_QUOTED = 'notes"; DROP TABLE notes; --';
const LONG = "n".repeat(10_240);
// Fixed bytes (no CLSY signature), so the case is reproducible.
const JUNK = Uint8Array.from({ length: 64 }, (_, i) => (i * 37 + 11) & 0xff);
const FAKE_CLSY = new Uint8Array([0x43, 0x4c, 0x53, 0x59, 1, 2, 3, 4, 5, 6, 7, 8]);

const CASES: Case[] = [
  // ---- table names ----
  {
    name: "init() quote injection",
    run: (db) => db.init(DROP),
    expect: "schema",
    message: /no such table/,
  },
  {
    name: "init() double-quote injection",
    run: (db) => db.init(DROP_QUOTED),
    expect: "schema",
    message: /no such table/,
  },
  {
    name: "init() semicolon",
    run: (db) => db.init("no;tes"),
    expect: "schema",
    message: /"no;tes".*no such table/,
  },
  { name: "init() NUL", run: (db) => db.init("no\0tes"), expect: TypeError, message: /NUL/ },
  {
    name: "init() emoji",
    run: (db) => db.init("📝notes"),
    expect: "schema",
    message: /no such table/,
  },
  {
    name: "init() RTL override",
    run: (db) => db.init("\u202Eseton"),
    expect: "schema",
    message: /no such table/,
  },
  {
    name: "init() 10 KB name",
    run: (db) => db.init(LONG),
    expect: TypeError,
    message: /10240 characters.*256/,
  },
  {
    name: "init() empty",
    run: (db) => db.init(""),
    expect: TypeError,
    message: /non-empty string/,
  },
  { name: "init() number", run: (db) => db.init(any(42)), expect: TypeError, message: /got 42/ },
  { name: "init() null", run: (db) => db.init(any(null)), expect: TypeError, message: /got null/ },
  {
    name: "init() object",
    run: (db) => db.init(any({ name: "notes" })),
    expect: TypeError,
    message: /an object/,
  },
  {
    name: "init() sqlite_master",
    run: (db) => db.init("sqlite_master"),
    expect: "schema",
    message: /reserved/,
  },
  {
    name: "init() cloudsync_settings",
    run: (db) => db.init("cloudsync_settings"),
    expect: "schema",
    message: /reserved/,
  },
  {
    name: "init() notes_cloudsync",
    run: (db) => db.init("notes_cloudsync"),
    expect: "schema",
    message: /reserved/,
  },
  {
    name: "init() algorithm dws",
    run: (db) => db.init("plain", any({ algorithm: "dws" })),
    expect: "schema",
    message: /"dws".*only "cls"/,
  },
  {
    name: "cleanup('*')",
    run: (db) => db.cleanup("*"),
    expect: TypeError,
    message: /"\*".*only by init\(\)/,
  },
  {
    name: "cleanup() last table",
    run: (db) => db.cleanup("notes"),
    expect: "state",
    message: /last synced table.*destroySiteIdentity/,
  },
  {
    name: "cleanup() unsynced table",
    run: (db) => db.cleanup("plain"),
    expect: "state",
    message: /"plain" is not enabled/,
  },
  {
    name: "enable() injection",
    run: (db) => db.enable(DROP_QUOTED),
    expect: "state",
    message: /not enabled for sync/,
  },
  {
    name: "disable() 10 KB",
    run: (db) => db.disable(LONG),
    expect: TypeError,
    message: /10240 characters/,
  },
  {
    name: "setFilter() table injection",
    run: (db) => db.setFilter(DROP, "1"),
    expect: "state",
    message: /not enabled/,
  },
  {
    name: "alter() on '*'",
    run: (db) => db.alter("*", () => {}),
    expect: TypeError,
    message: /"\*"/,
  },
  {
    name: "alter() without a function",
    run: (db) => db.alter("notes", any("DROP TABLE notes")),
    expect: TypeError,
    message: /expected a function/,
  },
  // ---- columns ----
  {
    name: "setColumn() column injection",
    run: (db) => db.setColumn("notes", DROP_QUOTED, { algorithm: "block" }),
    expect: "schema",
    message: /has no column/,
  },
  {
    name: "setColumn() column NUL",
    run: (db) => db.setColumn("notes", "bo\0dy", { algorithm: "block" }),
    expect: TypeError,
    message: /NUL/,
  },
  {
    name: "setColumn() column '*'",
    run: (db) => db.setColumn("notes", "*", { algorithm: "block" }),
    expect: "schema",
    message: /has no column "\*"/,
  },
  {
    name: "setColumn() primary key",
    run: (db) => db.setColumn("notes", "id", { algorithm: "block" }),
    expect: "schema",
    message: /primary key/,
  },
  {
    name: "setColumn() INTEGER column",
    run: (db) => db.setColumn("notes", "n", { algorithm: "block" }),
    expect: "schema",
    message: /"INTEGER".*TEXT/,
  },
  {
    name: "setColumn() unknown algorithm",
    run: (db) => db.setColumn("notes", "title", any({ algorithm: "lww" })),
    expect: TypeError,
    message: /"block".*"lww"/,
  },
  {
    name: "setColumn() NUL delimiter",
    run: (db) => db.setColumn("notes", "title", { algorithm: "block", delimiter: "a\0b" }),
    expect: TypeError,
    message: /delimiter.*NUL/,
  },
  {
    name: "setColumn() column number",
    run: (db) => db.setColumn("notes", any(3), { algorithm: "block" }),
    expect: TypeError,
    message: /column name/,
  },
  {
    name: "textMaterialize() non-block column",
    run: (db) => db.textMaterialize("notes", "title", "a"),
    expect: "schema",
    message: /not block-level/,
  },
  {
    name: "textMaterialize() column injection",
    run: (db) => db.textMaterialize("notes", DROP, "a"),
    expect: "schema",
    message: /has no column/,
  },
  {
    name: "textMaterialize() column '*'",
    run: (db) => db.textMaterialize("notes", "*", "a"),
    expect: "schema",
    message: /has no column/,
  },
  {
    name: "textMaterialize() wrong pk count",
    run: (db) => db.textMaterialize("notes", "body", "a", "b"),
    expect: TypeError,
    message: /1 primary key column.*2 value/,
  },
  // ---- filter expressions ----
  {
    name: "setFilter() semicolon",
    run: (db) => db.setFilter("notes", "1; DROP TABLE notes"),
    expect: TypeError,
    message: /';'/,
  },
  {
    name: "setFilter() line comment",
    run: (db) => db.setFilter("notes", "1 -- hidden"),
    expect: TypeError,
    message: /comments/,
  },
  {
    name: "setFilter() block comment",
    run: (db) => db.setFilter("notes", "1 /* hidden */"),
    expect: TypeError,
    message: /comments/,
  },
  {
    name: "setFilter() subquery DROP",
    run: (db) => db.setFilter("notes", "id IN (SELECT id FROM notes); DROP TABLE notes"),
    expect: TypeError,
    message: /';'/,
  },
  {
    name: "setFilter() unbalanced parentheses",
    run: (db) => db.setFilter("notes", "1) OR (1"),
    expect: TypeError,
    message: /balanced parentheses/,
  },
  {
    name: "setFilter() UNION escape",
    run: (db) => db.setFilter("notes", "1) UNION SELECT name FROM sqlite_master WHERE (1"),
    expect: TypeError,
    message: /balanced parentheses/,
  },
  {
    name: "setFilter() calls cloudsync",
    run: (db) => db.setFilter("notes", "cloudsync_cleanup('notes') IS NULL"),
    expect: TypeError,
    message: /cloudsync_cleanup\(\)/,
  },
  {
    name: "setFilter() calls load_extension",
    run: (db) => db.setFilter("notes", "load_extension('/tmp/x') IS NULL"),
    expect: TypeError,
    message: /load_extension\(\)/,
  },
  // Quoted function names: SQLite calls "f"(…), [f](…) and `f`(…) like f(…).
  ...[
    `"cloudsync_set"('send_dbversion', '999') IS NULL`,
    `[cloudsync_set]('send_dbversion', '999') IS NULL`,
    "`cloudsync_set`('send_dbversion', '999') IS NULL",
    `"CLOUDSYNC_SET" ('check_seq', '7') IS NULL`,
    `"load_extension"('/tmp/x') IS NULL`,
    `id = 'a' OR "lower"(body) = 'x'`,
  ].map((expression): Case => ({
    name: `setFilter() quoted call ${expression}`,
    run: (db) => db.setFilter("notes", expression),
    expect: TypeError,
    message: /must not call a function by a quoted name/,
  })),
  {
    name: "setFilter() calls cloudsync through a view (seen only in the compiled program)",
    run: (db) => db.setFilter("notes", "id NOT IN (SELECT x FROM sneaky)"),
    expect: TypeError,
    message: /must not call cloudsync_set\(\)/,
  },
  {
    // load_extension is SQLITE_DIRECTONLY: SQLite itself refuses it inside a view.
    name: "setFilter() calls load_extension through a view",
    run: (db) => db.setFilter("notes", "EXISTS (SELECT 1 FROM loader)"),
    expect: "schema",
    message: /unsafe use of load_extension\(\)/,
  },
  {
    name: "setFilter() garbage",
    run: (db) => db.setFilter("notes", "hello world"),
    expect: "schema",
    message: /not a valid expression.*syntax error/,
  },
  {
    name: "setFilter() unknown column",
    run: (db) => db.setFilter("notes", "nosuch = 1"),
    expect: "schema",
    message: /no such column: nosuch/,
  },
  {
    name: "setFilter() fails on the rows",
    run: (db) => db.setFilter("notes", "json_extract(body, '$$$') = 1"),
    expect: "schema",
    message: /failed when evaluated.*nothing was changed/,
  },
  {
    name: "setFilter() empty",
    run: (db) => db.setFilter("notes", "  "),
    expect: TypeError,
    message: /boolean SQL expression/,
  },
  {
    name: "setFilter() not a string",
    run: (db) => db.setFilter("notes", any(1)),
    expect: TypeError,
    message: /boolean SQL expression/,
  },
  // ---- values ----
  {
    name: "uuidBlob() not a uuid",
    run: (db) => db.uuidBlob("not-a-uuid"),
    expect: TypeError,
    message: /expected a UUID, got "not-a-uuid"/,
  },
  {
    name: "uuidText() 15 bytes",
    run: (db) => db.uuidText(new Uint8Array(15)),
    expect: TypeError,
    message: /16 bytes, got Uint8Array\(15\)/,
  },
  {
    name: "set() send_dbversion",
    run: (db) => db.set(any("send_dbversion"), 0),
    expect: TypeError,
    message: /"send_dbversion".*never writable/,
  },
  {
    name: "set() check_seq",
    run: (db) => db.set(any("check_seq"), 1),
    expect: TypeError,
    message: /"check_seq"/,
  },
  ...[-1, NaN, 1.5, "10", 1e12].map((value): Case => ({
    name: `set() network_request_timeout ${String(value)}`,
    run: (db) => db.set("network_request_timeout" as SettingKey, any(value)),
    expect: RangeError,
    message: /network_request_timeout: expected an integer from 1 to 86400 seconds/,
  })),
  {
    name: "applyChanges() random bytes",
    run: (db) => db.applyChanges(JUNK),
    expect: "apply",
    message: /invalid signature/,
  },
  {
    name: "applyChanges() fake CLSY header",
    run: (db) => db.applyChanges(FAKE_CLSY),
    expect: "apply",
    message: /invalid input size/,
  },
  {
    name: "applyChanges() empty",
    run: (db) => db.applyChanges(new Uint8Array(0)),
    expect: TypeError,
    message: /non-empty Uint8Array/,
  },
  {
    name: "applyChanges() string",
    run: (db) => db.applyChanges(any("CLSY")),
    expect: TypeError,
    message: /non-empty Uint8Array/,
  },
  {
    name: "encodeChanges() sinceDbVersion -1",
    run: (db) => db.encodeChanges({ sinceDbVersion: -1 }),
    expect: RangeError,
    message: /sinceDbVersion.*-1/,
  },
  {
    name: "encodeChanges() excludeSiteId zz",
    run: (db) => db.encodeChanges({ excludeSiteId: "zz" }),
    expect: TypeError,
    message: /site id.*"zz"/,
  },
  // ---- network ----
  {
    name: "network.init() databaseId with /",
    run: (db) => db.network.init({ databaseId: "a/../b" }),
    expect: TypeError,
    message: /databaseId: a 6-character string .*'\/'/,
  },
  {
    name: "network.init() databaseId with spaces",
    run: (db) => db.network.init({ databaseId: "my db" }),
    expect: TypeError,
    message: /databaseId: a 5-character string .*whitespace/,
  },
  {
    name: "network.init() databaseId 10 KB",
    run: (db) => db.network.init({ databaseId: LONG }),
    expect: TypeError,
    message: /databaseId/,
  },
  {
    name: "network.init() ftp address",
    run: (db) => db.network.init({ databaseId: "db", address: "ftp://x" }),
    expect: TypeError,
    message: /ftp: is not http/,
  },
  {
    name: "network.init() credentials in address",
    run: (db) => db.network.init({ databaseId: "db", address: "https://user:pw@host" }),
    expect: TypeError,
    message: /credentials belong in apiKey or token/,
    secret: "pw",
  },
  {
    name: "network.init() apiKey with newline",
    run: (db) => db.network.init({ databaseId: "db", apiKey: "sqa_KEY123\r\nX-Evil: 1" }),
    expect: TypeError,
    message: /apiKey.*control characters/,
    secret: "sqa_KEY123",
  },
  {
    name: "network.init() apiKey with NUL",
    run: (db) => db.network.init({ databaseId: "db", apiKey: "sqa_KEY456\0tail" }),
    expect: TypeError,
    message: /apiKey.*control characters/,
    secret: "sqa_KEY456",
  },
  {
    name: "network.init() empty apiKey",
    run: (db) => db.network.init({ databaseId: "db", apiKey: "" }),
    expect: TypeError,
    message: /apiKey.*non-empty/,
  },
  {
    name: "network.init() token with newline",
    run: (db) => db.network.init({ databaseId: "db", token: "eyJsecret.token\n" }),
    expect: TypeError,
    message: /token.*control characters/,
    secret: "eyJsecret",
  },
  {
    name: "network.sync() waitMs -1",
    run: (db) => db.network.sync({ waitMs: -1 }),
    expect: RangeError,
    message: /waitMs.*-1/,
  },
  {
    name: "network.sync() maxAttempts 0",
    run: (db) => db.network.sync({ maxAttempts: 0 }),
    expect: RangeError,
    message: /maxAttempts.*got 0/,
  },
  {
    name: "network.receiveChanges() maxChunks 1.5",
    run: (db) => db.network.receiveChanges({ maxChunks: 1.5 }),
    expect: RangeError,
    message: /maxChunks.*1.5/,
  },
  {
    name: "network.logout({})",
    run: (db) => db.network.logout(any({})),
    expect: TypeError,
    message: /deleteLocalData: true/,
  },
  {
    name: "network.sendChanges() before init",
    run: (db) => db.network.sendChanges(),
    expect: "state",
    message: /network.init\(\) first/,
  },
];

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
