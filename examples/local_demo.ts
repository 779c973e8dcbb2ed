/**
 * Demo on local databases, no account needed: two replicas of a notes table
 * edit the same data offline, then exchange changes and converge (CRDT merge).
 * Payloads move between the two local files only, to show the merge; network
 * sync with SQLite Cloud goes through `db.network` instead.
 *
 * Run: `deno run -A examples/local_demo.ts` or `bun examples/local_demo.ts`.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { SyncDatabase } from "../mod.ts";

const dir = mkdtempSync(join(tmpdir(), "sqlite-sync-demo-"));
const schema = "CREATE TABLE IF NOT EXISTS notes (id TEXT PRIMARY KEY NOT NULL, title TEXT, " +
  "body TEXT, done INTEGER NOT NULL DEFAULT 0)";

try {
  console.log("Resolving the sqlite-sync extension (downloaded and verified once, then cached)…");
  const laptop = await SyncDatabase.open(join(dir, "laptop.db"));
  const phone = await SyncDatabase.open(join(dir, "phone.db"));
  const e = laptop.extension;
  console.log(
    `cloudsync ${laptop.version()} for ${e.platform} from ${e.source}` +
      `${e.verified ? " (sha512 verified)" : ""}: ${e.path}\n`,
  );

  for (const db of [laptop, phone]) {
    db.exec(schema);
    db.init("notes");
    db.setColumn("notes", "body", { algorithm: "block" }); // merge text line by line
  }

  const id = laptop.uuid();
  laptop.run(
    "INSERT INTO notes (id, title, body) VALUES (?, ?, ?)",
    id,
    "Groceries",
    "milk\nbread\neggs",
  );
  phone.applyChanges(laptop.encodeChanges()!);
  console.log("Both replicas start with:", show(phone, id));

  // Offline, both edit the same note: different columns and different lines.
  laptop.run(
    "UPDATE notes SET title = ?, body = ? WHERE id = ?",
    "Groceries (Sat)",
    "oat milk\nbread\neggs",
    id,
  );
  phone.run("UPDATE notes SET done = 1, body = ? WHERE id = ?", "milk\nbread\neggs\ncoffee", id);
  console.log("laptop edits offline:", show(laptop, id));
  console.log("phone edits offline: ", show(phone, id));

  // Reconnect: exchange what each side has not seen.
  const fromLaptop = laptop.encodeChanges({ excludeSiteId: phone.siteId() });
  const fromPhone = phone.encodeChanges({ excludeSiteId: laptop.siteId() });
  if (fromPhone) laptop.applyChanges(fromPhone);
  if (fromLaptop) phone.applyChanges(fromLaptop);

  console.log("\nAfter the merge:");
  console.log("laptop:", show(laptop, id));
  console.log("phone: ", show(phone, id));
  const same = show(laptop, id) === show(phone, id);
  console.log(same ? "\nConverged: both kept every edit." : "\nDiverged (unexpected)!");
  laptop.close();
  phone.close();
  if (!same) process.exitCode = 1;
} finally {
  rmSync(dir, { recursive: true, force: true });
}

function show(db: SyncDatabase, id: string): string {
  const row = db.get("SELECT title, body, done FROM notes WHERE id = ?", id)!;
  return JSON.stringify({ title: row.title, body: String(row.body).split("\n"), done: row.done });
}
