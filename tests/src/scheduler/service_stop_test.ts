/**
 * The stop() promise of SyncService, per runtime: a script whose sync hangs
 * on a listener that never answers (the extension's default 300 s request
 * time-out) calls stop() and does nothing else; it must exit on its own
 * within 1 s of stop() resolving, and the cut-short job must be back in the
 * queue as pending (released, not counted as an attempt).
 */
import { describe } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { queuePathFor, SyncQueue } from "../../../src/scheduler/queue.ts";
import {
  itUnless,
  node22Missing,
  node22Path,
  ROOT,
  RUNTIME,
  runtimeArgv,
  tempDir,
  testExtensionPath,
} from "../../_helpers.ts";
import { silentListener } from "../_error_servers.ts";
import { exitAfterLine, writeDirtyNotes } from "./_service_fake.ts";

const CHILD = join(ROOT, "tests", "src", "scheduler", "_service_child.ts");

interface StopRun {
  code: number | null;
  out: string;
  err: string;
  exitAfterStopMs: number;
  jobId: number;
  executor: string;
}

async function runStopChild(
  argv: string[],
  kind: string,
  path: string,
  port: number,
): Promise<StopRun> {
  const args = [...argv, CHILD, "stop", path, await testExtensionPath(), String(port), "200", kind];
  const { code, out, err, exitAfterLineMs } = await exitAfterLine(args, "STOPPED", 30_000);
  const started = /^STARTED (\d+) (\w+)/m.exec(out)!;
  return {
    code,
    out,
    err,
    exitAfterStopMs: exitAfterLineMs,
    jobId: Number(started[1]),
    executor: started[2],
  };
}

const RUNTIMES: {
  name: string;
  argv: string[] | undefined;
  kinds: string[];
  defaultKind: string;
  unavailable?: string;
}[] = [
  RUNTIME === "deno"
    ? {
      name: "Deno",
      argv: runtimeArgv("").slice(0, -1),
      kinds: ["default", "process"],
      defaultKind: "worker",
    }
    : {
      name: "Bun",
      argv: runtimeArgv("").slice(0, -1),
      kinds: ["default"],
      defaultKind: "process",
    },
  {
    name: "Node 22",
    argv: node22Path() === undefined
      ? undefined
      : [node22Path()!, "--disable-warning=ExperimentalWarning"],
    kinds: ["default"],
    defaultKind: "process",
    unavailable: node22Missing(),
  },
];

for (const { name, argv, kinds, defaultKind, unavailable } of RUNTIMES) {
  describe(`${name}: SyncService.stop() while a sync hangs (300 s request time-out)`, () => {
    for (const kind of kinds) {
      itUnless(
        unavailable,
        `executor ${kind}: the script exits within 1 s after stop() resolves, and the cut-short job is pending again (released, attempts 0)`,
        async () => {
          const dir = tempDir("service-stop-");
          const listener = await silentListener();
          try {
            const path = join(dir.path, "stop.db");
            await writeDirtyNotes(path, await testExtensionPath());
            const r = await runStopChild(argv!, kind, path, listener.port);
            assert.equal(r.code, 0, `${r.out}\n${r.err}`);
            assert.equal(r.executor, kind === "default" ? defaultKind : kind);
            assert.ok(
              r.exitAfterStopMs < 1000,
              `exited ${r.exitAfterStopMs.toFixed(0)} ms after stop() (executor ${r.executor})`,
            );
            const q = await SyncQueue.open(queuePathFor(path));
            try {
              const pending = q.current().pending;
              assert.equal(pending?.id, r.jobId);
              assert.equal(pending?.attempts, 0);
              assert.deepEqual(q.runs(r.jobId).map((run) => run.outcome), ["released"]);
              assert.equal(q.lease(), undefined);
            } finally {
              q.close();
            }
          } finally {
            await listener.close();
            dir.cleanup();
          }
        },
      );
    }
  });
}
