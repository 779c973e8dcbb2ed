/**
 * One sync at a time per database file across processes, even when the
 * lease holder is killed with SIGKILL: three processes share a file, each
 * with a SyncService whose syncs hang on a listener that never answers; the
 * holder is killed ten times, a fresh process replacing it each time. The
 * listener must never see two connections at once: a lease is taken over
 * only once the killed holder AND its executor (the pool's host process, for
 * the "process" kind) are gone. Run per executor kind, in Deno and in Bun.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import type { ExecutorKind } from "../../../src/scheduler/executor.ts";
import { ROOT, RUNTIME, runtimeArgv, tempDir, testExtensionPath } from "../../_helpers.ts";
import { silentListener } from "../_error_servers.ts";
import { guard } from "./_service_events.ts";
import { type LineChild, spawnLines, writeDirtyNotes } from "./_service_real.ts";

const CHILD = join(ROOT, "tests", "src", "scheduler", "_exclusion_child.ts");
const KILLS = 10;

/** Whether the child's last STARTED/ENDED line is STARTED: it holds the lease, in a sync. */
function holding(child: LineChild): boolean {
  const last = child.lines.filter((l) => /^(STARTED|ENDED) /.test(l)).at(-1);
  return last?.startsWith("STARTED ") ?? false;
}

for (const kind of ["worker", "process"] as ExecutorKind[]) {
  describe(`SyncService exclusion across processes (${RUNTIME}, executor kind ${kind})`, () => {
    it(`${KILLS} SIGKILLs of the lease holder among 3 processes: each time another process takes the job over, and the listener never sees 2 connections at once`, async () => {
      const dir = tempDir("service-exclusion-");
      const listener = await silentListener();
      const children: LineChild[] = [];
      try {
        const path = join(dir.path, "shared.db");
        const extensionPath = await testExtensionPath();
        await writeDirtyNotes(path, extensionPath);
        const start = async () => {
          const child = spawnLines(
            runtimeArgv(CHILD, [path, extensionPath, String(listener.port), kind]),
          );
          children.push(child);
          await child.line(/^READY /, { guardMs: 60_000 });
          return child;
        };
        const live: LineChild[] = [];
        for (let i = 0; i < 3; i++) live.push(await start());
        for (let kill = 1; kill <= KILLS; kill++) {
          // The kill-th connection: some process's sync is in its request now.
          await guard(listener.accepting(kill), `connection ${kill}`, 60_000);
          const holders = live.filter(holding);
          assert.equal(
            holders.length,
            1,
            `holders: ${holders.length} (${live.map((c) => c.lines.join("|")).join(" / ")})`,
          );
          assert.equal(
            listener.open,
            1,
            `open ${listener.open}, accepted ${listener.accepted}: ${
              live.map((c) => c.lines.join("|")).join(" / ")
            }`,
          );
          holders[0].kill();
          await holders[0].exited;
          live.splice(live.indexOf(holders[0]), 1);
          live.push(await start());
        }
        await guard(listener.accepting(KILLS + 1), `connection ${KILLS + 1}`, 60_000);
        assert.equal(listener.maxOpen, 1, "two connections were open at once");
      } finally {
        for (const child of children) child.endInput();
        await Promise.all(
          children.map((c) => guard(c.exited, "a child's exit", 30_000).catch(() => c.kill())),
        );
        await listener.close();
        dir.cleanup();
      }
    });
  });
}
