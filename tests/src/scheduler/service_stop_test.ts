/**
 * The stop() promise of SyncService, per runtime: a script whose sync hangs
 * on a listener that never answers (the extension's default 300 s request
 * time-out) calls stop() and does nothing else; it must exit on its own
 * within 1 s of stop() resolving, and the cut-short job must be back in the
 * queue as pending (released, not counted as an attempt).
 */
import { describe } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { join } from "node:path";
import { SyncDatabase } from "../../../src/database.ts";
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
  const child = spawn(args[0], args.slice(1), { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  let stoppedAt: number | undefined;
  child.stdout!.on("data", (d) => {
    out += d;
    if (stoppedAt === undefined && /^STOPPED /m.test(out)) stoppedAt = performance.now();
  });
  child.stderr!.on("data", (d) => (err += d));
  const killer = setTimeout(() => child.kill("SIGKILL"), 30_000);
  const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
  clearTimeout(killer);
  const exitedAt = performance.now();
  assert.ok(stoppedAt !== undefined, `the child never printed STOPPED:\n${out}\n${err}`);
  const started = /^STARTED (\d+) (\w+)/m.exec(out)!;
  return {
    code,
    out,
    err,
    exitAfterStopMs: exitedAt - stoppedAt,
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
            const db = await SyncDatabase.open(path, { extensionPath: await testExtensionPath() });
            db.exec("CREATE TABLE notes (id TEXT PRIMARY KEY NOT NULL, body TEXT)");
            db.init("notes");
            db.run("INSERT INTO notes (id, body) VALUES (?, ?)", db.uuid(), "local");
            db.close();
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
