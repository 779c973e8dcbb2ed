/**
 * Hostile table names, column names and filter expressions for
 * hostile_test.ts: injections, NUL, emoji and RTL characters, 10 KB names,
 * reserved tables, '*', wrong types and algorithms, and filters that try to
 * escape, comment out, call cloudsync or load_extension (directly, by a
 * quoted name, or through a view).
 */
import { any, type Case, LONG } from "./_hostile_fixtures.ts";

const DROP = "x'; DROP TABLE notes; --";
const DROP_QUOTED = 'notes"; DROP TABLE notes; --';

/** Calls that name tables, columns or filters, in the order hostile_test.ts runs them. */
export const SCHEMA_CASES: Case[] = [
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
];
