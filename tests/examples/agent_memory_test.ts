// Smoke test of examples/agent_memory.ts (Deno and Bun each run it): the
// example runs once in a child process of the current runtime; the tests read
// its human output and its last line (JSON with both replicas' notes).
import { before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { type ChildResult, ROOT, run, runtimeArgv, testExtensionPath } from "../_helpers.ts";

const SCRIPT = join(ROOT, "examples", "agent_memory.ts");

const PLANNER_EDITS = ["- Day 3: Sintra", "- Day 4: Cascais, beach"];
const RESEARCHER_EDITS = ["- Museums close Mondays", "- Pastéis de Belém opens at 08:00"];

let result: ChildResult;
// deno-lint-ignore no-explicit-any
let final: any;

before(async () => {
  result = await run(runtimeArgv(SCRIPT), {
    env: { SQLITE_SYNC_EXTENSION_PATH: await testExtensionPath() },
    timeoutMs: 60_000,
  });
  const lines = result.stdout.trimEnd().split("\n");
  try {
    final = JSON.parse(lines.at(-1)!);
  } catch {
    final = undefined;
  }
});

/** The lines of `note` from `heading` up to the next heading. */
function section(note: string, heading: string): string[] {
  const lines = note.split("\n");
  const start = lines.indexOf(heading);
  assert.ok(start >= 0, `no ${heading} in\n${note}`);
  const end = lines.findIndex((l, i) => i > start && l.startsWith("## "));
  return lines.slice(start + 1, end < 0 ? undefined : end);
}

describe("examples/agent_memory.ts", () => {
  it("exits 0 and ends with one JSON line describing the merge", () => {
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stderr, "");
    assert.equal(typeof final, "object", `last line is not JSON:\n${result.stdout}`);
  });

  it("both agents' edits of different sections survive, each in its own section, and no placeholder is left", () => {
    const note: string = final.body;
    assert.deepEqual(section(note, "## Plan (planner)"), [
      "- Day 1: Alfama walk",
      "- Day 2: Belém",
      ...PLANNER_EDITS,
      "",
    ]);
    assert.deepEqual(section(note, "## Findings (researcher)"), [
      "- Tram 28 is packed after 10:00",
      ...RESEARCHER_EDITS,
      "",
    ]);
    assert.doesNotMatch(note, /TBD/);
  });

  it("both replicas hold the identical merged note, and the printed note is that note", () => {
    assert.equal(final.replicas.planner, final.replicas.researcher);
    assert.equal(final.body, final.replicas.planner);
    assert.equal(final.identical, true);
    const printed = result.stdout.split("Merged note (identical on both replicas):\n")[1];
    assert.ok(printed, result.stdout);
    const body = printed.split("\n\n")[0].split("\n").map((l) => l.replace(/^ {2}│ ?/, ""));
    for (const edit of [...PLANNER_EDITS, ...RESEARCHER_EDITS]) assert.ok(body.includes(edit));
    assert.equal(body.join("\n"), final.body);
  });

  it("the agents edited concurrently: their edits interleave before the exchange", () => {
    const order = result.stdout.split("\n").filter((l) => /^(planner|researcher) /.test(l))
      .map((l) => l.split(" ")[0]);
    assert.deepEqual(order, ["planner", "researcher", "planner", "researcher"]);
  });

  it("the same line edited by both agents resolves to one winner, the greater text, identical on both replicas", () => {
    const { edits, winner, kept, identical } = final.conflict;
    assert.notEqual(edits.planner, edits.researcher);
    const greater = edits.planner > edits.researcher ? edits.planner : edits.researcher;
    assert.equal(winner, greater);
    assert.deepEqual(kept, { planner: greater, researcher: greater });
    assert.equal(identical, true);
    assert.ok(result.stdout.includes(`kept on both replicas: ${greater} `), result.stdout);
  });
});
