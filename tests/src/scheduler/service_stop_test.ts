/**
 * The stop() promise of SyncService, per runtime: a script whose sync hangs
 * on a listener that never answers (the extension's default 300 s request
 * time-out) calls stop() once the listener holds the sync's connection, and
 * does nothing else; it must then exit on its own, long before that request
 * could end, and the cut-short job must be back in the queue as pending
 * (released, not counted as an attempt). How soon it exits after stop() is
 * measured in bench/latency_bench.ts.
 */
import { describe } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { makeOwner } from "../../../src/scheduler/_queue_owner.ts";
import { queuePathFor } from "../../../src/scheduler/_queue_path.ts";
import { SyncQueue } from "../../../src/scheduler/queue.ts";
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
import { guard } from "./_service_events.ts";
import {
  spawnLines,
  type WatchedListener,
  watchedListener,
  writeDirtyNotes,
} from "./_service_real.ts";

const CHILD = join(ROOT, "tests", "src", "scheduler", "_service_child.ts");
/**
 * A failure guard on the exit after stop() resolved, far below the sync's 300 s request
 * time-out: an exit before it did not wait for the request.
 */
const EXIT_GUARD_MS = 60_000;

interface StopRun {
  code: number | null;
  signal: string | null;
  lines: string[];
  err: string;
  jobId: number;
  executor: string;
}

async function runStopChild(
  argv: string[],
  kind: string,
  path: string,
  listener: WatchedListener,
): Promise<StopRun> {
  const args = [
    ...argv,
    CHILD,
    "stop",
    path,
    await testExtensionPath(),
    String(listener.port),
    "200",
    kind,
  ];
  const child = spawnLines(args);
  try {
    const started = await child.line(/^STARTED (\d+) (\w+)$/);
    await listener.connected(1); // the sync is inside its request
    child.endInput(); // the child's cue to call stop({ graceMs: 200 })
    await child.line(/^STOPPED /);
    const exit = await guard(
      child.exited,
      "the script's exit after stop() resolved",
      EXIT_GUARD_MS,
    );
    return {
      ...exit,
      lines: child.lines,
      err: child.stderr(),
      jobId: Number(started[1]),
      executor: started[2],
    };
  } finally {
    child.kill();
  }
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
        `executor ${kind}: once stop() resolves the script exits on its own (code 0) while its sync's request (300 s time-out) still hangs, and the cut-short job is pending again (released, attempts 0) and free to claim`,
        async () => {
          const dir = tempDir("service-stop-");
          const listener = await watchedListener();
          try {
            const path = join(dir.path, "stop.db");
            await writeDirtyNotes(path, await testExtensionPath());
            const r = await runStopChild(argv!, kind, path, listener);
            const out = `${r.lines.join("\n")}\n${r.err}`;
            assert.deepEqual({ code: r.code, signal: r.signal }, { code: 0, signal: null }, out);
            assert.equal(r.executor, kind === "default" ? defaultKind : kind);
            assert.match(r.lines.at(-1) ?? "", /^STOPPED /, `output after STOPPED:\n${out}`);
            const q = await SyncQueue.open(queuePathFor(path));
            try {
              const pending = q.current().pending;
              assert.equal(pending?.id, r.jobId);
              assert.equal(pending?.attempts, 0);
              assert.deepEqual(q.runs(r.jobId).map((run) => run.outcome), ["released"]);
              // Free, or held (a Worker left blocked: Deno's 'worker' kind) by the script, now
              // gone with everything it ran: another process may take the job at once.
              const claim = q.claim({ owner: makeOwner(), now: Date.now(), leaseMs: 1000 });
              assert.equal(claim.claimed, true, JSON.stringify(q.lease()));
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
