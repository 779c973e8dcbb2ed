/**
 * The REPLACE matrix: every way SQLite replaces or re-keys a row, run on two
 * local replicas (writer A, peer B) and compared with what the same statement
 * does in plain SQLite. Shared by replace_matrix_test.ts (node:sqlite,
 * bun:sqlite in process) and _replace_child.ts (@db/sqlite in a child Deno
 * process: loading the extension through two SQLite libraries in one process
 * crashes it).
 */
import assert from "node:assert/strict";
import type { Driver } from "../../ffi/drivers/driver.ts";
import type { SyncDatabase } from "../../src/database.ts";
import { SqliteSyncError } from "../../common/errors.ts";

/** How the writer changes the table. */
export type WriteKind =
  | "INSERT OR REPLACE"
  | "UPDATE OR REPLACE"
  | "REPLACE INTO"
  | "schema ON CONFLICT REPLACE"
  | "upsert DO UPDATE"
  | "primary-key change";

/** Which existing rows the write collides with. */
export type Conflict = "PK conflict" | "UNIQUE conflict" | "PK and UNIQUE conflict" | "no conflict";

/** Whether `body` is a block-level LWW column. */
export type TableKind = "plain table" | "block table";

/** Through the library's guarded methods or the raw connection. */
export type Path = "db.exec/run" | "raw driver";

/**
 * What a cell must show: the statement's plain-SQLite result on both
 * replicas; SQLite's own refusal (a constraint) with nothing changed; or the
 * library's refusal of a key change on a block table with nothing changed.
 */
export type Outcome = "converges" | "fails as in plain SQLite" | "is refused";

/** One cell of the matrix. */
export interface Cell {
  write: WriteKind;
  conflict: Conflict;
  table: TableKind;
  path: Path;
  /** The writer's statement. */
  sql: string;
  /** `CREATE TABLE t …` */
  schema: string;
  /** Whether the statement changes a row's primary key in place. */
  changesKey: boolean;
  /** What it must do (hand-written; checked against plain SQLite too). */
  outcome: Outcome;
}

const SCHEMA = "CREATE TABLE t (id TEXT PRIMARY KEY NOT NULL, u TEXT UNIQUE, body TEXT)";
const SCHEMA_REPLACE = "CREATE TABLE t (id TEXT PRIMARY KEY ON CONFLICT REPLACE NOT NULL, " +
  "u TEXT UNIQUE ON CONFLICT REPLACE, body TEXT)";

/** Rows every cell starts from, on both replicas: multi-line bodies so blocks matter. */
export const SEED: readonly (readonly [string, string, string])[] = [
  ["a", "ua", "a1\na2\na3"],
  ["b", "ub", "b1\nb2\nb3"],
  ["c", "uc", "c1\nc2\nc3"],
];

/** A shorter replacement body: stale trailing blocks would show. */
const Z = "'z1\nz2'";

const STATEMENTS: Record<WriteKind, Record<Conflict, string>> = {
  "INSERT OR REPLACE": {
    "PK conflict": `INSERT OR REPLACE INTO t (id, u, body) VALUES ('a', 'ua2', ${Z})`,
    "UNIQUE conflict": `INSERT OR REPLACE INTO t (id, u, body) VALUES ('d', 'ub', ${Z})`,
    "PK and UNIQUE conflict": `INSERT OR REPLACE INTO t (id, u, body) VALUES ('a', 'ub', ${Z})`,
    "no conflict": `INSERT OR REPLACE INTO t (id, u, body) VALUES ('d', 'ud', ${Z})`,
  },
  "UPDATE OR REPLACE": {
    "PK conflict": "UPDATE OR REPLACE t SET id = 'b' WHERE id = 'a'",
    "UNIQUE conflict": `UPDATE OR REPLACE t SET u = 'ub', body = ${Z} WHERE id = 'a'`,
    "PK and UNIQUE conflict": "UPDATE OR REPLACE t SET id = 'b', u = 'uc' WHERE id = 'a'",
    "no conflict": `UPDATE OR REPLACE t SET body = ${Z} WHERE id = 'a'`,
  },
  "REPLACE INTO": {
    "PK conflict": `REPLACE INTO t (id, u, body) VALUES ('a', 'ua2', ${Z})`,
    "UNIQUE conflict": `REPLACE INTO t (id, u, body) VALUES ('d', 'ub', ${Z})`,
    "PK and UNIQUE conflict": `REPLACE INTO t (id, u, body) VALUES ('a', 'ub', ${Z})`,
    "no conflict": `REPLACE INTO t (id, u, body) VALUES ('d', 'ud', ${Z})`,
  },
  "schema ON CONFLICT REPLACE": {
    "PK conflict": `INSERT INTO t (id, u, body) VALUES ('a', 'ua2', ${Z})`,
    "UNIQUE conflict": `INSERT INTO t (id, u, body) VALUES ('d', 'ub', ${Z})`,
    "PK and UNIQUE conflict": `INSERT INTO t (id, u, body) VALUES ('a', 'ub', ${Z})`,
    "no conflict": `INSERT INTO t (id, u, body) VALUES ('d', 'ud', ${Z})`,
  },
  "upsert DO UPDATE": {
    "PK conflict": `INSERT INTO t (id, u, body) VALUES ('a', 'ua2', ${Z}) ` +
      "ON CONFLICT(id) DO UPDATE SET u = excluded.u, body = excluded.body",
    "UNIQUE conflict": `INSERT INTO t (id, u, body) VALUES ('d', 'ub', ${Z}) ` +
      "ON CONFLICT(u) DO UPDATE SET body = excluded.body",
    "PK and UNIQUE conflict": `INSERT INTO t (id, u, body) VALUES ('a', 'ub', ${Z}) ` +
      "ON CONFLICT(id) DO UPDATE SET u = excluded.u, body = excluded.body",
    "no conflict": `INSERT INTO t (id, u, body) VALUES ('d', 'ud', ${Z}) ` +
      "ON CONFLICT(id) DO UPDATE SET body = excluded.body",
  },
  "primary-key change": {
    "PK conflict": "UPDATE t SET id = 'b' WHERE id = 'a'",
    "UNIQUE conflict": "UPDATE t SET id = 'd', u = 'ub' WHERE id = 'a'",
    "PK and UNIQUE conflict": "UPDATE t SET id = 'b', u = 'uc' WHERE id = 'a'",
    "no conflict": "UPDATE t SET id = 'd' WHERE id = 'a'",
  },
};

/** Statements plain SQLite itself refuses (a constraint fails: ABORT). */
const FAILS_IN_SQLITE = new Set([
  "upsert DO UPDATE|PK and UNIQUE conflict",
  "primary-key change|PK conflict",
  "primary-key change|UNIQUE conflict",
  "primary-key change|PK and UNIQUE conflict",
]);

/** Every cell, in a stable order. */
export function cells(): Cell[] {
  const out: Cell[] = [];
  for (const write of Object.keys(STATEMENTS) as WriteKind[]) {
    for (const conflict of Object.keys(STATEMENTS[write]) as Conflict[]) {
      for (const table of ["plain table", "block table"] as const) {
        for (const path of ["db.exec/run", "raw driver"] as const) {
          const sql = STATEMENTS[write][conflict];
          const changesKey = /SET id =/.test(sql);
          out.push({
            write,
            conflict,
            table,
            path,
            sql,
            schema: write === "schema ON CONFLICT REPLACE" ? SCHEMA_REPLACE : SCHEMA,
            changesKey,
            outcome: table === "block table" && changesKey
              ? "is refused"
              : FAILS_IN_SQLITE.has(`${write}|${conflict}`)
              ? "fails as in plain SQLite"
              : "converges",
          });
        }
      }
    }
  }
  return out;
}

/** `write × conflict × table × path`. */
export function cellName(cell: Cell): string {
  return `${cell.write} × ${cell.conflict} × ${cell.table} × ${cell.path}`;
}

/** The test name: the cell and the claim. */
export function cellTitle(cell: Cell): string {
  return `${cellName(cell)} ${cell.outcome}`;
}

/** Rows as `[id, u, body]`, ordered by id. */
export type Rows = [string, string | null, string | null][];

/** What happened in one cell. */
export interface CellResult {
  /** The table before the write (both replicas). */
  before: Rows;
  /** What plain SQLite (no extension) made of the statement, or its error. */
  plain: { rows: Rows } | { error: string };
  /** The writer's error, when the write failed. */
  writeError?: { kind: string; message: string };
  /** An error of an exchange, when one failed. */
  exchangeError?: string;
  writer: Rows;
  peer: Rows;
  /** Whether the writer's change log moved (it must not after a failed write). */
  writerVersionMoved: boolean;
}

/** How a cell opens its connections. */
export interface CellEnv {
  /** A SyncDatabase on a fresh in-memory database (extension loaded, library defaults). */
  open(): Promise<SyncDatabase>;
  /** A plain connection without the extension, same driver. */
  plain(): Promise<Driver>;
  /** Turn `recursive_triggers` off on the peer's raw connection. */
  peerRecursiveOff: boolean;
  /** Turn `recursive_triggers` off on the writer's raw connection (shows why the pragma is on). */
  writerRecursiveOff?: boolean;
}

function rows(driver: Driver): Rows {
  return driver.prepare("SELECT id, u, body FROM t ORDER BY id").all().map((r) =>
    [r.id, r.u, r.body] as Rows[number]
  );
}

function seed(driver: Driver): void {
  const insert = driver.prepare("INSERT INTO t (id, u, body) VALUES (?, ?, ?)");
  try {
    for (const row of SEED) insert.run(...row);
  } finally {
    insert.finalize();
  }
}

function describeError(err: unknown): { kind: string; message: string } {
  return {
    kind: err instanceof SqliteSyncError ? err.kind : err instanceof Error ? err.name : "?",
    message: err instanceof Error ? err.message : String(err),
  };
}

/** Ships every change of `from` to `to`. */
function ship(from: SyncDatabase, to: SyncDatabase): void {
  const payload = from.encodeChanges();
  if (payload !== null) to.applyChanges(payload);
}

/**
 * Runs one cell: A and B identical (seeded on A, shipped to B), A writes,
 * then A→B, B→A, A→B, B→A.
 */
export async function runCell(cell: Cell, env: CellEnv): Promise<CellResult> {
  const plainDb = await env.plain();
  let plain: CellResult["plain"];
  try {
    plainDb.exec(cell.schema);
    seed(plainDb);
    try {
      plainDb.exec(cell.sql);
      plain = { rows: rows(plainDb) };
    } catch (err) {
      plain = { error: describeError(err).message };
    }
  } finally {
    plainDb.close();
  }

  const a = await env.open();
  const b = await env.open();
  try {
    for (const db of [a, b]) {
      db.exec(cell.schema);
      db.init("t");
      if (cell.table === "block table") db.setColumn("t", "body", { algorithm: "block" });
    }
    if (env.peerRecursiveOff) b.driver.exec("PRAGMA recursive_triggers = OFF");
    if (env.writerRecursiveOff) a.driver.exec("PRAGMA recursive_triggers = OFF");
    seed(a.driver);
    ship(a, b);
    const before = rows(a.driver);
    const version = a.dbVersion();
    const result: CellResult = {
      before,
      plain,
      writer: [],
      peer: [],
      writerVersionMoved: false,
    };
    try {
      if (cell.path === "db.exec/run") a.exec(cell.sql);
      else a.driver.exec(cell.sql);
    } catch (err) {
      result.writeError = describeError(err);
    }
    result.writerVersionMoved = a.dbVersion() !== version;
    try {
      ship(a, b);
      ship(b, a);
      ship(a, b);
      ship(b, a);
    } catch (err) {
      result.exchangeError = describeError(err).message;
    }
    result.writer = rows(a.driver);
    result.peer = rows(b.driver);
    return result;
  } finally {
    a.close();
    b.close();
  }
}

/** The guard trigger's refusal, as SQLite reports it. */
const REFUSED =
  /sqlite-sync: cannot change the primary key of a row in table "t": .*Insert a row with the new key and delete the old row instead\./;

/**
 * Asserts that `result` shows the cell's outcome.
 *
 * @param cell The cell.
 * @param result What {@linkcode runCell} (here or in the child) reported.
 */
export function assertCell(cell: Cell, result: CellResult): void {
  const context = JSON.stringify(result);
  assert.equal(result.exchangeError, undefined, context);
  if (cell.outcome === "converges") {
    assert.ok("rows" in result.plain, context);
    assert.equal(result.writeError, undefined, context);
    assert.deepEqual(result.writer, result.plain.rows, `writer: ${context}`);
    assert.deepEqual(result.peer, result.plain.rows, `peer: ${context}`);
    return;
  }
  assert.ok(result.writeError !== undefined, context);
  if (cell.outcome === "is refused") {
    assert.match(result.writeError.message, REFUSED);
    // Through the library it is typed; through the raw driver it is SQLite's error.
    assert.equal(result.writeError.kind, cell.path === "db.exec/run" ? "schema" : "sql");
  } else {
    assert.ok("error" in result.plain, context);
    assert.match(result.plain.error, /constraint failed/);
    assert.ok(
      result.writeError.message.includes(result.plain.error.replace(/ in [\s\S]*$/, "")),
      context,
    );
  }
  assert.equal(result.writerVersionMoved, false, context);
  assert.deepEqual(result.writer, result.before, `writer: ${context}`);
  assert.deepEqual(result.peer, result.before, `peer: ${context}`);
}
