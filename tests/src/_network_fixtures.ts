/**
 * What the network tests (network_*_test.ts) share: the API key every
 * database is given, a 401 body, a file database with the network pointed at
 * a port (2 s time-outs), and the check that an error never shows the key.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { inspect } from "node:util";
import { testExtensionPath } from "../_helpers.ts";
import { SyncDatabase } from "../../src/database.ts";
import { SqliteSyncError, type SqliteSyncErrorKind } from "../../common/errors.ts";

/** The API key of every test database: no error may show it. */
export const API_KEY = "sqa_TESTSECRET_123456";

/** A 401 answer with the CloudSync error envelope. */
export const UNAUTHORIZED =
  '{"errors":[{"status":"401","code":"unauthorized","title":"Unauthorized"}]}';

/** A file database with one synced table, 2 s time-outs and the network pointed at `port`. */
export async function openAt(
  dir: string,
  port: number,
  options: { dirty?: boolean; name?: string } = {},
): Promise<SyncDatabase> {
  const db = await SyncDatabase.open(join(dir, `${options.name ?? "net"}.db`), {
    extensionPath: await testExtensionPath(),
  });
  db.exec("CREATE TABLE notes (id TEXT PRIMARY KEY NOT NULL, body TEXT)");
  db.init("notes");
  db.set("network_request_timeout", 2);
  db.set("network_connect_timeout", 2);
  db.network.init({
    databaseId: "test-db",
    address: `http://127.0.0.1:${port}`,
    apiKey: API_KEY,
  });
  if (options.dirty) db.run("INSERT INTO notes (id, body) VALUES (?, ?)", db.uuid(), "local");
  return db;
}

/**
 * The API key must appear nowhere, in any letter case: message, String(), JSON, util.inspect,
 * the partial result, nor any cause's message or stack.
 */
function assertRedacted(err: unknown): void {
  const seen = [String(err), JSON.stringify(err), inspect(err, { depth: 10 })];
  seen.push(JSON.stringify((err as { partial?: unknown }).partial) ?? "");
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 10; e = e.cause, depth++) {
    seen.push(e.message, String(e), e.stack ?? "");
  }
  for (const text of seen) {
    assert.ok(!text.toLowerCase().includes(API_KEY.toLowerCase()), `the API key leaked: ${text}`);
  }
}

/** Runs `fn`, expects a SqliteSyncError of `kind`, checks redaction, returns it. */
export function expectError(
  fn: () => unknown,
  kind: SqliteSyncErrorKind,
  pattern?: RegExp,
): SqliteSyncError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof SqliteSyncError, `expected a SqliteSyncError, got ${String(caught)}`);
  assert.equal(caught.kind, kind, caught.message);
  if (pattern) assert.match(caught.message, pattern);
  assertRedacted(caught);
  return caught;
}
