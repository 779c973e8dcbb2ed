/**
 * Shared memory for two AI agents, no account needed: each agent has its own
 * local replica of a `memory` table whose `body` column is block-level LWW
 * (merged line by line, delimiter "\n"). Both edit DIFFERENT sections of one
 * markdown note at the same time, offline; then the replicas exchange changes
 * both ways and both edits survive on both. Last, both agents edit the SAME
 * line: one deterministic winner, the same on both replicas.
 *
 * Changes move between the two local files only (encodeChanges/applyChanges),
 * to show the merge; with an account a `SyncService` per replica does the
 * moving through SQLite Cloud (see examples/edge_api.ts).
 *
 * Run: `deno run -A examples/agent_memory.ts` or `bun examples/agent_memory.ts`.
 * The last line printed is JSON: `{"identical":…,"body":…,"replicas":{…},"conflict":{…}}`.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { SyncDatabase } from "../mod.ts";

const NOTE = [
  "# Lisbon trip: shared memory",
  "",
  "## Plan (planner)",
  "- Day 1: Alfama walk",
  "- Day 2: Belém",
  "- Day 3: TBD",
  "",
  "## Findings (researcher)",
  "- Tram 28 is packed after 10:00",
  "- TBD",
  "",
  "## Open questions",
  "- Budget per day?",
].join("\n");

/** The db_version of each replica up to which the other has its changes. */
const sentUpTo = new Map<SyncDatabase, number>();

const dir = mkdtempSync(join(tmpdir(), "sqlite-sync-agents-"));
try {
  const planner = await replica(join(dir, "planner.db"));
  const researcher = await replica(join(dir, "researcher.db"));
  const id = planner.uuid();
  planner.run("INSERT INTO memory (id, body) VALUES (?, ?)", id, NOTE);
  exchange(planner, researcher);
  console.log("Both agents start from the same note:\n" + indent(body(researcher, id)) + "\n");

  // Concurrently and offline: each agent rewrites the note from its own copy, in its section.
  await Promise.all([
    agent("planner", planner, id, async (edit) => {
      await edit("fills in day 3", (lines) => replace(lines, "- Day 3: TBD", "- Day 3: Sintra"));
      await edit(
        "adds day 4",
        (lines) => insertAfter(lines, "- Day 3: Sintra", "- Day 4: Cascais, beach"),
      );
    }),
    agent("researcher", researcher, id, async (edit) => {
      await edit(
        "records a finding",
        (lines) => replace(lines, "- TBD", "- Pastéis de Belém opens at 08:00"),
      );
      await edit(
        "adds another",
        (lines) => insertAfter(lines, "- Tram 28 is packed after 10:00", "- Museums close Mondays"),
      );
    }),
  ]);

  const moved = exchange(planner, researcher);
  console.log(
    `\nExchanged changes both ways (local files only): ${moved.toPlanner} rows to the planner, ` +
      `${moved.toResearcher} to the researcher.`,
  );
  const merged = { planner: body(planner, id), researcher: body(researcher, id) };
  const identical = merged.planner === merged.researcher;
  console.log(
    `Merged note (${identical ? "identical on both replicas" : "REPLICAS DIFFER"}):\n` +
      indent(merged.planner),
  );

  // Both agents change the same line before seeing each other's edit.
  const line = "- Budget per day?";
  const edits = { planner: "- Budget per day: €120", researcher: "- Budget per day: €90" };
  planner.run(
    "UPDATE memory SET body = ? WHERE id = ?",
    replace(body(planner, id).split("\n"), line, edits.planner).join("\n"),
    id,
  );
  researcher.run(
    "UPDATE memory SET body = ? WHERE id = ?",
    replace(body(researcher, id).split("\n"), line, edits.researcher).join("\n"),
    id,
  );
  exchange(planner, researcher);
  const budgetLine = (db: SyncDatabase) =>
    body(db, id).split("\n").find((l) => l.startsWith("- Budget per day")) ?? "";
  const kept = { planner: budgetLine(planner), researcher: budgetLine(researcher) };
  const winner = kept.planner;
  const conflictIdentical = body(planner, id) === body(researcher, id);
  console.log(`\nSame line, edited by both agents:`);
  console.log(`  planner wrote:    ${edits.planner}`);
  console.log(`  researcher wrote: ${edits.researcher}`);
  console.log(
    `  kept on ${conflictIdentical ? "both replicas" : "ONE replica only"}: ${winner}` +
      " (each line was edited once on each side, so the greater text wins, whoever wrote it)",
  );

  planner.close();
  researcher.close();
  console.log(JSON.stringify({
    identical,
    body: merged.planner,
    replicas: merged,
    conflict: { edits, winner, kept, identical: conflictIdentical },
  }));
  if (!identical || !conflictIdentical) process.exitCode = 1;
} finally {
  rmSync(dir, { recursive: true, force: true });
}

/** A replica of the memory table: body merged per line. */
async function replica(path: string): Promise<SyncDatabase> {
  const db = await SyncDatabase.open(path);
  db.exec(
    "CREATE TABLE IF NOT EXISTS memory (id TEXT PRIMARY KEY NOT NULL, body TEXT NOT NULL DEFAULT '')",
  );
  db.init("memory");
  db.setColumn("memory", "body", { algorithm: "block", delimiter: "\n" });
  return db;
}

/** An agent: reads its own replica's note, rewrites it, commits; one step per turn of the loop. */
async function agent(
  name: string,
  db: SyncDatabase,
  id: string,
  work: (
    edit: (what: string, change: (lines: string[]) => string[]) => Promise<void>,
  ) => Promise<void>,
): Promise<void> {
  await work(async (what, change) => {
    await new Promise((resolve) => setTimeout(resolve, 1)); // let the other agent run
    const next = change(body(db, id).split("\n")).join("\n");
    db.run("UPDATE memory SET body = ? WHERE id = ?", next, id);
    console.log(`${name.padEnd(10)} ${what} (its replica only)`);
  });
}

/** Sends each replica what the other has not seen yet; returns the rows applied on each side. */
function exchange(a: SyncDatabase, b: SyncDatabase): { toPlanner: number; toResearcher: number } {
  const changesOf = (from: SyncDatabase, to: SyncDatabase) => {
    const version = from.dbVersion();
    const payload = from.encodeChanges({
      sinceDbVersion: sentUpTo.get(from) ?? 0,
      excludeSiteId: to.siteId(),
    });
    sentUpTo.set(from, version);
    return payload;
  };
  const fromA = changesOf(a, b);
  const fromB = changesOf(b, a);
  return {
    toPlanner: fromB ? a.applyChanges(fromB) : 0,
    toResearcher: fromA ? b.applyChanges(fromA) : 0,
  };
}

function body(db: SyncDatabase, id: string): string {
  return String(db.get("SELECT body FROM memory WHERE id = ?", id)!.body);
}

function replace(lines: string[], from: string, to: string): string[] {
  const at = lines.indexOf(from);
  if (at < 0) throw new Error(`line not found: ${from}`);
  return lines.toSpliced(at, 1, to);
}

function insertAfter(lines: string[], anchor: string, line: string): string[] {
  const at = lines.indexOf(anchor);
  if (at < 0) throw new Error(`line not found: ${anchor}`);
  return lines.toSpliced(at + 1, 0, line);
}

function indent(text: string): string {
  return text.split("\n").map((l) => `  │ ${l}`).join("\n");
}
