/**
 * Demo on local databases, no account needed: two replicas of a notes table
 * edit the same data offline, then exchange changes and converge (CRDT merge).
 * Payloads move between the two local files only, to show the merge; network
 * sync with SQLite Cloud goes through `db.network` or a `SyncService` instead.
 *
 * Then a `SyncService` runs on one replica, still without an account: its
 * address is a port on 127.0.0.1 where nothing listens, so it shows what it
 * would do (a local write fires the change trigger, the sync fails `offline`,
 * a retry is scheduled, `status()` and `history()` tell the story, `stop()`).
 * No network is used beyond the first download of the extension.
 *
 * Run: `deno run -A examples/local_demo.ts` (`npm run demo`) or `bun examples/local_demo.ts`.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { SyncDatabase, SyncService } from "../mod.ts";
import type { SyncServiceEvents } from "../src/scheduler/status.ts";

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
  phone.close();
  if (!same) process.exitCode = 1;

  await serviceDemo(laptop, id);
  laptop.close();
} finally {
  rmSync(dir, { recursive: true, force: true });
}

function show(db: SyncDatabase, id: string): string {
  const row = db.get("SELECT title, body, done FROM notes WHERE id = ?", id)!;
  return JSON.stringify({ title: row.title, body: String(row.body).split("\n"), done: row.done });
}

/**
 * A SyncService on the laptop replica with no account: what it does with a local write when
 * the server cannot be reached (demo settings: short waits, two attempts).
 */
async function serviceDemo(db: SyncDatabase, id: string): Promise<void> {
  const address = `http://127.0.0.1:${await refusedPort()}`;
  console.log(
    `\nA SyncService on the laptop, no account: its address is ${address}, where nothing ` +
      "listens, so it shows what it would do.",
  );
  const service = await SyncService.start(db, {
    databaseId: "no-account",
    apiKey: "no-account",
    address,
    syncOnStart: false,
    polling: false,
    changeDebounceMs: 100,
    retry: { baseMs: 300, maxAttempts: 2 },
  });
  try {
    const next = <K extends keyof SyncServiceEvents>(type: K) =>
      within(
        new Promise<SyncServiceEvents[K]>((resolve) => {
          const off = service.on(type, (event) => {
            off();
            resolve(event);
          });
        }),
        `the service's '${type}' event`,
      );
    const started = next("started");
    const failed = next("failed");
    const retry = next("retry-scheduled");
    const dead = next("dead-lettered");

    const wroteAt = Date.now();
    db.run("UPDATE notes SET body = ? WHERE id = ?", "oat milk\nbread\neggs\ncoffee\napples", id);
    console.log("laptop adds a line (apples): the service hears the commit");
    const s = await started;
    console.log(
      `change trigger fired: sync #${s.jobId} started ${Date.now() - wroteAt} ms after the ` +
        `write (reason: ${s.reasons.join(", ")}; debounce 100 ms)`,
    );
    const f = await failed;
    console.log(`sync attempt failed: ${f.error.kind} (${f.error.message})`);
    const r = await retry;
    console.log(
      `retry scheduled: attempt ${r.attempt} in ${seconds(r.at - Date.now())} ` +
        "(a random wait up to 300 ms here, doubling per attempt up to a cap)",
    );
    const st = service.status();
    console.log(
      `status(): state ${st.state}, ${st.unsentChanges} unsent changes, next run ` +
        `${st.nextRunAt === null ? "none" : `in ${seconds(st.nextRunAt - Date.now())}`}, ` +
        `queue depth ${st.queueDepth}`,
    );
    const d = await dead;
    console.log(
      `attempt ${r.attempt} failed ${
        service.status().lastError?.kind ?? "?"
      } too: sync #${d.jobId} ` +
        `given up (${d.reason}; this demo allows 2 attempts, the default is 10 with waits ` +
        "up to 5 min); the changes stay in the database for the next sync",
    );
    const job = service.history(10).find((j) => j.id === d.jobId);
    const runs = job?.runs.map((run) => `${run.outcome} (${run.error?.kind ?? "ok"})`) ?? [];
    console.log(
      `history(): sync #${job?.id} ${job?.state}, reasons ${job?.reasons.join(", ")}, ` +
        `${job?.attempts} attempts, runs: ${runs.join(", ")}`,
    );
  } finally {
    await service.stop();
  }
  console.log(`stop(): state ${service.status().state}`);
  console.log(
    "\nTo sync with SQLite Cloud: set SQLITE_SYNC_DATABASE_ID and SQLITE_SYNC_API_KEY and start " +
      "SyncService.start(db, { databaseId, apiKey, tables }) without 'address' " +
      "(examples/edge_api.ts does).",
  );
}

/** `promise`, or an error naming `what` after 15 s (the demo must never hang). */
function within<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), 15_000);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function seconds(ms: number): string {
  return `${(Math.max(0, ms) / 1000).toFixed(2)} s`;
}

/** A port on 127.0.0.1 where nothing listens (bound once, then released). */
function refusedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}
