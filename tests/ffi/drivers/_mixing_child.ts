/**
 * Two SQLite libraries in one Deno process, run by mixing_test.ts in its own
 * process (a failed guard would crash it, not the test runner). Prints one
 * JSON line, then exits normally.
 *
 * Scenarios (first argument):
 * - `node-first`: node:sqlite loads the extension, then an @db/sqlite database tries.
 * - `db-first`: @db/sqlite loads it, then node:sqlite (the default driver) tries.
 * - `sibling`: openSibling() of an @db/sqlite SyncDatabase, read-write and read-only.
 *
 * The extension comes from SQLITE_SYNC_TEST_EXTENSION (set by the parent).
 */
import { join } from "node:path";
import process from "node:process";
import { SqliteSyncError } from "../../../common/errors.ts";
import { SyncDatabase } from "../../../src/database.ts";
import { tempDir, testExtensionPath } from "../../_helpers.ts";
import { dbSqliteDatabaseClass } from "./_fixtures.ts";

/** What one refused open reports. */
export interface Refusal {
  kind: string;
  message: string;
}

/** What the `node-first` and `db-first` scenarios print. */
export interface MixingReport {
  /** The second open, refused. */
  refusal: Refusal | null;
  /** The first database after the refusal: rows it reads back after one more insert. */
  firstRows: number;
  /** @db/sqlite: whether the caller's Database is still open after the refused open. */
  userDatabaseOpen?: boolean;
}

/** What the `sibling` scenario prints. */
export interface SiblingReport {
  parentDriver: string;
  siblingDriver: string;
  sameDatabaseClass: boolean;
  /** Rows the parent reads after the sibling wrote one. */
  parentSeesSibling: number;
  /** Rows the sibling reads after the parent wrote one. */
  siblingSeesParent: number;
  /** The parent encodes changes when only the sibling wrote. */
  parentEncodesSibling: boolean;
  /** A read-only sibling: its driver and the rows its transaction() reads. */
  readOnlyDriver: string;
  readOnlyRows: number;
  /** A read-only sibling refuses writes. */
  readOnlyWriteKind: string | null;
}

function refusal(err: unknown): Refusal {
  if (!(err instanceof SqliteSyncError)) throw err;
  return { kind: err.kind, message: err.message };
}

const NOTES = "CREATE TABLE IF NOT EXISTS notes (id TEXT PRIMARY KEY NOT NULL, body TEXT)";

async function mixing(scenario: string, dir: string, extensionPath: string): Promise<MixingReport> {
  const Database = await dbSqliteDatabaseClass();
  const nodeFirst = scenario === "node-first";
  const user = new Database(join(dir, "db-sqlite.db"));
  const openDb = () =>
    SyncDatabase.open(join(dir, "db-sqlite.db"), { extensionPath, database: user });
  const openNode = () => SyncDatabase.open(join(dir, "node.db"), { extensionPath });
  const first = nodeFirst ? await openNode() : await openDb();
  first.exec(NOTES);
  first.init("notes");
  first.run("INSERT INTO notes (id, body) VALUES (?, ?)", first.uuid(), "before");
  let refused: Refusal | null = null;
  try {
    const second = nodeFirst ? await openDb() : await openNode();
    second.close();
  } catch (err) {
    refused = refusal(err);
  }
  first.run("INSERT INTO notes (id, body) VALUES (?, ?)", first.uuid(), "after");
  const firstRows = Number(first.get("SELECT count(*) AS n FROM notes")?.n);
  const userDatabaseOpen = nodeFirst ? user.open : undefined;
  first.close();
  if (user.open) user.close();
  return { refusal: refused, firstRows, ...(nodeFirst ? { userDatabaseOpen } : {}) };
}

async function sibling(dir: string, extensionPath: string): Promise<SiblingReport> {
  const Database = await dbSqliteDatabaseClass();
  const path = join(dir, "parent.db");
  const parent = await SyncDatabase.open(path, { extensionPath, database: new Database(path) });
  parent.exec(NOTES);
  parent.init("notes");
  const sib = await parent.openSibling();
  sib.init("notes");
  sib.run("INSERT INTO notes (id, body) VALUES (?, ?)", sib.uuid(), "from sibling");
  const parentSeesSibling = Number(parent.get("SELECT count(*) AS n FROM notes")?.n);
  // Only the sibling wrote so far: a payload means its write was tracked.
  const payload = parent.encodeChanges();
  parent.run("INSERT INTO notes (id, body) VALUES (?, ?)", parent.uuid(), "from parent");
  const siblingSeesParent = Number(sib.get("SELECT count(*) AS n FROM notes")?.n);
  const readOnly = await parent.openSibling({ readOnly: true });
  const readOnlyRows = readOnly.transaction(() =>
    Number(readOnly.get("SELECT count(*) AS n FROM notes")?.n)
  );
  let readOnlyWriteKind: string | null = null;
  try {
    readOnly.run("INSERT INTO notes (id, body) VALUES (?, ?)", "x", "refused");
  } catch (err) {
    readOnlyWriteKind = refusal(err).kind;
  }
  const report: SiblingReport = {
    parentDriver: parent.driver.name,
    siblingDriver: sib.driver.name,
    sameDatabaseClass: sib.driver.library.binding === Database &&
      parent.driver.library.binding === Database,
    parentSeesSibling,
    siblingSeesParent,
    parentEncodesSibling: payload !== null && payload.length > 0,
    readOnlyDriver: readOnly.driver.name,
    readOnlyRows,
    readOnlyWriteKind,
  };
  readOnly.close();
  sib.close();
  parent.close();
  return report;
}

const scenario = process.argv[2];
const extensionPath = await testExtensionPath();
const dir = tempDir("sqlite-sync-mixing-");
try {
  const report = scenario === "sibling"
    ? await sibling(dir.path, extensionPath)
    : await mixing(scenario, dir.path, extensionPath);
  console.log(JSON.stringify(report));
} finally {
  dir.cleanup();
}
