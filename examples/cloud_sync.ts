/**
 * Sync a local database with SQLite Cloud (needs an account). The cloud
 * database must have the same table: CREATE TABLE todos (id TEXT PRIMARY KEY
 * NOT NULL, title TEXT, done INTEGER NOT NULL DEFAULT 0), enabled for OffSync.
 *
 *   SQLITE_SYNC_DATABASE_ID=… SQLITE_SYNC_API_KEY=… deno run -A examples/cloud_sync.ts
 *   SQLITE_SYNC_DATABASE_ID=… SQLITE_SYNC_API_KEY=… bun examples/cloud_sync.ts
 *
 * The variables:
 * - `SQLITE_SYNC_DATABASE_ID`: the managed database id (dashboard → your database → OffSync);
 * - `SQLITE_SYNC_API_KEY`, or `SQLITE_SYNC_TOKEN` (an access token) instead;
 * - `SQLITE_SYNC_ADDRESS` (optional): another SQLite Cloud endpoint you were given, https://
 *   (http:// only on loopback);
 * - `TODOS_DB` (optional): the database file, `todos.db` in the working folder by default.
 *
 * Exit codes: 0 synced; 1 the sync failed (one line on stderr with its kind: `offline`,
 * `timeout`, `auth`, `http`…; the new todo stays queued for the next run); 2 a variable is
 * missing (then no file is touched) or malformed, with one line naming it. No secret is ever
 * printed.
 *
 * The network calls block this thread for up to the time-outs set below; a
 * server should run them in a Worker with its own connection.
 */
import process from "node:process";
import { SqliteSyncError, SyncDatabase } from "../mod.ts";

/** Prints one line naming what to fix and exits with code 2 (bad input). */
function usage(message: string): never {
  console.error(message);
  process.exit(2);
}

const env = (name: string) => process.env[name] || undefined;
const databaseId = env("SQLITE_SYNC_DATABASE_ID");
const apiKey = env("SQLITE_SYNC_API_KEY");
const token = env("SQLITE_SYNC_TOKEN");
const address = env("SQLITE_SYNC_ADDRESS");
if (!databaseId || (!apiKey && !token)) {
  usage(
    "Set SQLITE_SYNC_DATABASE_ID and SQLITE_SYNC_API_KEY (or SQLITE_SYNC_TOKEN), " +
      "both from the SQLite Cloud dashboard.",
  );
}
if (apiKey && token) usage("Set SQLITE_SYNC_API_KEY or SQLITE_SYNC_TOKEN, not both.");

await using db = await SyncDatabase.open(env("TODOS_DB") ?? "todos.db");
try {
  // First, so a malformed variable is reported before anything is written. The library
  // checks every value and never echoes one (it may be a key pasted in the wrong place).
  db.network.init({ databaseId, address, apiKey, token });
} catch (err) {
  if (!(err instanceof TypeError)) throw err;
  const names: Record<string, string> = {
    databaseId: "SQLITE_SYNC_DATABASE_ID",
    address: "SQLITE_SYNC_ADDRESS",
    apiKey: "SQLITE_SYNC_API_KEY",
    token: "SQLITE_SYNC_TOKEN",
  };
  usage(
    err.message.replace(
      /^Invalid (\w+)/,
      (m, option) => names[option] ? `Invalid ${names[option]}` : m,
    ),
  );
}
db.set("network_connect_timeout", 10);
db.set("network_request_timeout", 30);

db.exec(
  "CREATE TABLE IF NOT EXISTS todos (id TEXT PRIMARY KEY NOT NULL, title TEXT, done INTEGER NOT NULL DEFAULT 0)",
);
db.init("todos");
db.run(
  "INSERT INTO todos (id, title) VALUES (?, ?)",
  db.uuid(),
  `written at ${new Date().toISOString()}`,
);

try {
  // Send, then poll up to 4 times, 1 s apart, for changes the server is preparing.
  const { send, receive } = db.network.sync({ waitMs: 1000, maxAttempts: 4 });
  console.log(`sent: ${send.status} (local v${send.localVersion}, server v${send.serverVersion})`);
  console.log(`received: ${receive.rows} rows in ${receive.tables.join(", ") || "no tables"}`);
  console.log(db.all("SELECT title, done FROM todos ORDER BY id DESC LIMIT 5"));
} catch (err) {
  if (!(err instanceof SqliteSyncError)) throw err;
  // No secret is ever part of the message; it says what the send phase did, if anything.
  console.error(
    `sync failed (${err.kind}${err.status ? ` ${err.status}` : ""}): ${err.message}; ` +
      "the new todo stays queued: run again to retry",
  );
  process.exitCode = 1;
}
