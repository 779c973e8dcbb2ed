/**
 * Sync a local database with SQLite Cloud (needs an account). The cloud
 * database must have the same table: CREATE TABLE todos (id TEXT PRIMARY KEY
 * NOT NULL, title TEXT, done INTEGER NOT NULL DEFAULT 0), enabled for OffSync.
 *
 *   SQLITE_CLOUD_DATABASE_ID=… SQLITE_CLOUD_API_KEY=… deno run -A examples/cloud_sync.ts
 *   SQLITE_CLOUD_DATABASE_ID=… SQLITE_CLOUD_API_KEY=… bun examples/cloud_sync.ts
 *
 * The network calls block this thread for up to the time-outs set below; a
 * server should run them in a Worker with its own connection.
 */
import process from "node:process";
import { SqliteSyncError, SyncDatabase } from "../mod.ts";

const databaseId = process.env.SQLITE_CLOUD_DATABASE_ID;
const apiKey = process.env.SQLITE_CLOUD_API_KEY;
if (!databaseId || !apiKey) {
  console.error("Set SQLITE_CLOUD_DATABASE_ID and SQLITE_CLOUD_API_KEY (SQLite Cloud dashboard).");
  process.exit(2);
}

await using db = await SyncDatabase.open(process.env.TODOS_DB ?? "todos.db");
db.exec(
  "CREATE TABLE IF NOT EXISTS todos (id TEXT PRIMARY KEY NOT NULL, title TEXT, done INTEGER NOT NULL DEFAULT 0)",
);
db.init("todos");
db.run(
  "INSERT INTO todos (id, title) VALUES (?, ?)",
  db.uuid(),
  `written at ${new Date().toISOString()}`,
);

db.set("network_connect_timeout", 10);
db.set("network_request_timeout", 30);
db.network.init({ databaseId, apiKey });
try {
  // Send, then poll up to 4 times, 1 s apart, for changes the server is preparing.
  const { send, receive } = db.network.sync({ waitMs: 1000, maxAttempts: 4 });
  console.log(`sent: ${send.status} (local v${send.localVersion}, server v${send.serverVersion})`);
  console.log(`received: ${receive.rows} rows in ${receive.tables.join(", ") || "no tables"}`);
} catch (err) {
  if (!(err instanceof SqliteSyncError)) throw err;
  // No secret is ever part of the message.
  console.error(`sync failed (${err.kind}${err.status ? ` ${err.status}` : ""}): ${err.message}`);
  if (err.partial) console.error("the send phase completed:", err.partial.send.status);
  process.exitCode = 1;
}
console.log(db.all("SELECT title, done FROM todos ORDER BY id DESC LIMIT 5"));
