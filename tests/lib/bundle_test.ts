// The npm/Bun distribution (lib/build.mjs) works outside Deno: built with
// esbuild and tsc, installed as a package in a temp project, imported by Bun
// and Node 22 in child processes that use the typed API with the real
// extension, and type-checked by TypeScript through its declarations. Its
// `sqlite-sync` bin runs in both, through its `#!/usr/bin/env node` line too,
// and its executor entry (`_executor_entry.js`) is found by the bundled code
// that starts executors. Without Node 22 its tests are listed skips, and under
// CI=true failures.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import process from "node:process";
import {
  itUnless,
  node22Missing,
  node22Path,
  refusedPort,
  ROOT,
  run,
  SHARED_TEST_CACHE,
  tempDir,
  testExtensionPath,
} from "../_helpers.ts";
import { makeDatabase } from "../src/cli/_cli.ts";
import { DaemonChild } from "../src/cli/_daemon_harness.ts";

const bin = (name: string) => join(ROOT, "node_modules", ".bin", name);

const USE = `import { EXTENSION_VERSION, SyncDatabase } from "@sqliteai/sync";
const a = await SyncDatabase.open(":memory:");
const b = await SyncDatabase.open(":memory:");
for (const db of [a, b]) {
  db.exec("CREATE TABLE t (id TEXT PRIMARY KEY NOT NULL, v TEXT)");
  db.init("t");
}
a.run("INSERT INTO t VALUES (?, ?)", a.uuid(), "hello");
const payload = a.encodeChanges();
const applied = payload ? b.applyChanges(payload) : 0;
const rows = b.all("SELECT v FROM t").map((r) => r.v);
console.log(JSON.stringify({ version: a.version(), pinned: EXTENSION_VERSION, applied, rows }));
a.close();
b.close();
`;

// Compiles only when the declarations carry the real types.
const TYPED = `import { SqliteSyncError, SyncDatabase, type SyncResult } from "@sqliteai/sync";
export async function check(): Promise<number> {
  const db: SyncDatabase = await SyncDatabase.open(":memory:");
  const version: number = db.dbVersion();
  // @ts-expect-error internal checkpoints are not settable keys
  db.set("send_dbversion", 0);
  db.set("network_request_timeout", 30);
  try {
    const result: SyncResult = db.network.sync({ waitMs: 100, maxAttempts: 2 });
    return result.receive.rows + version;
  } catch (err) {
    if (err instanceof SqliteSyncError && err.kind === "auth") return err.status ?? 0;
    throw err;
  } finally {
    db.close();
  }
}
`;

// Starts a SyncService from the bundle against a refused port: its executor (a child process
// running _executor_entry.js) makes the sync, which fails as 'offline'.
const SERVICE = `import { SyncService } from "@sqliteai/sync";
const [path, port] = process.argv.slice(2);
const service = await SyncService.start(path, {
  databaseId: "db_bundle",
  address: "http://127.0.0.1:" + port,
  apiKey: "bundle-test-key",
  tables: ["notes"],
  syncOnStart: false,
  executor: "process",
});
let kind = "none";
try {
  await service.syncNow();
} catch (err) {
  kind = err.kind;
}
const { executor, lastError } = service.status();
await service.stop();
console.log(JSON.stringify({ kind, executor, lastErrorKind: lastError?.kind ?? null }));
`;

/** Whether mod.ts exports SyncService yet (the bundle's service test needs it). */
function serviceNotExported(): string | undefined {
  const text = readFileSync(join(ROOT, "mod.ts"), "utf8");
  return /export\s*\{[^}]*\bSyncService\b[^}]*\}\s*from/.test(text)
    ? undefined
    : "mod.ts does not export SyncService yet";
}

describe("lib/build.mjs distribution", () => {
  // Built once, installed as a package in a temp project; each runtime then uses it.
  let dir: { path: string; cleanup: () => void } | undefined;
  let project = "";
  before(async () => {
    dir = tempDir();
    project = dir.path;
    const dist = join(project, "dist");
    const built = await run(["node", join(ROOT, "lib", "build.mjs"), dist]);
    assert.equal(built.code, 0, built.stdout + built.stderr);
    mkdirSync(join(project, "node_modules", "@sqliteai"), { recursive: true });
    symlinkSync(dist, join(project, "node_modules", "@sqliteai", "sync"), "dir");
    symlinkSync(join(ROOT, "node_modules", "@types"), join(project, "node_modules", "@types"));
    writeFileSync(join(project, "package.json"), '{ "type": "module" }\n');
    writeFileSync(join(project, "use.mjs"), USE);
    writeFileSync(join(project, "typed.ts"), TYPED);
    writeFileSync(join(project, "service.mjs"), SERVICE);
    // What npm does for a dependency's bin: a link in node_modules/.bin.
    const pkg = JSON.parse(readFileSync(join(dist, "package.json"), "utf8"));
    mkdirSync(join(project, "node_modules", ".bin"));
    symlinkSync(
      join("..", "@sqliteai", "sync", pkg.bin["sqlite-sync"]),
      join(project, "node_modules", ".bin", "sqlite-sync"),
    );
  });
  after(() => dir?.cleanup());

  async function syncsTwoReplicas(argv: string[]): Promise<void> {
    assert.ok(project !== "", "the bundle was not built");
    const env = { SQLITE_SYNC_EXTENSION_PATH: await testExtensionPath() };
    const r = await run(argv, { env, cwd: project });
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout.trim().split("\n").pop()!);
    assert.deepEqual(out, { version: "1.1.4", pinned: "1.1.4", applied: 1, rows: ["hello"] });
  }

  it("the bundle, installed as a package, syncs two local replicas in Bun", async () => {
    await syncsTwoReplicas([bin("bun"), "use.mjs"]);
  });

  itUnless(
    node22Missing(),
    "the bundle, installed as a package, syncs two local replicas in Node 22",
    async () => {
      await syncsTwoReplicas([node22Path()!, "--no-warnings", "use.mjs"]);
    },
  );

  /** Runs the bundle's cli.js (or its bin) with the suite's extension cache; returns the child. */
  async function sqliteSync(argv: string[], env: Record<string, string | undefined> = {}) {
    assert.ok(project !== "", "the bundle was not built");
    return await run(argv, {
      cwd: project,
      env: {
        SQLITE_SYNC_CACHE_DIR: SHARED_TEST_CACHE,
        SQLITE_SYNC_EXTENSION_PATH: undefined,
        ...env,
      },
    });
  }

  async function doctorReports(runtime: string, argv: string[]): Promise<void> {
    await testExtensionPath();
    const r = await sqliteSync([...argv, "node_modules/@sqliteai/sync/cli.js", "doctor", "--json"]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal(r.stderr, "", "no warning or other stderr output");
    const report = JSON.parse(r.stdout);
    assert.equal(report.ok, true, r.stdout);
    assert.equal(report.runtime.name, runtime);
    assert.equal(report.extension.version, "1.1.4");
    assert.equal(report.extension.verified, true);
    assert.equal(report.connection.recursiveTriggers, true);
  }

  it("the bundle's cli.js runs 'doctor --json' in Bun", async () => {
    await doctorReports("bun", [bin("bun")]);
  });

  itUnless(node22Missing(), "the bundle's cli.js runs 'doctor --json' in Node 22", async () => {
    await doctorReports("node", [node22Path()!]);
  });

  itUnless(
    node22Missing(),
    "the package's bin 'sqlite-sync' runs through its #!/usr/bin/env node line: version, and bad input as one line with exit 2",
    async () => {
      const sqliteSyncBin = join(project, "node_modules", ".bin", "sqlite-sync");
      const path = `${dirname(node22Path()!)}:${process.env.PATH ?? ""}`;
      const version = await sqliteSync([sqliteSyncBin, "--version"], { PATH: path });
      assert.equal(version.code, 0, version.stderr);
      assert.match(version.stdout, /^sqlite-sync \d+\.\d+\.\d+ \(cloudsync 1\.1\.4\)\n$/);
      const bad = await sqliteSync([sqliteSyncBin, "status", "missing.db"], { PATH: path });
      assert.equal(bad.code, 2);
      assert.equal(bad.stdout, "");
      assert.match(bad.stderr, /^sqlite-sync: no database file 'missing\.db': [^\n]*\n$/);
    },
  );

  /** Runs the bundled daemon until its executor reports a sync failure, then stops it. */
  async function daemonExecutorSyncs(runtime: string, argv: string[]): Promise<void> {
    assert.ok(project !== "", "the bundle was not built");
    await testExtensionPath();
    const db = await makeDatabase(join(project, `${runtime}.db`), { init: true, rows: 1 });
    const config = join(project, `${runtime}.json`);
    writeFileSync(
      config,
      JSON.stringify({
        databases: [{
          path: db,
          databaseId: "db_bundle",
          address: `http://127.0.0.1:${await refusedPort()}`,
          tables: ["notes"],
          intervalMs: 600_000,
        }],
        http: { host: "127.0.0.1", port: 0 },
      }),
    );
    const daemon = new DaemonChild(
      [...argv, join(project, "node_modules/@sqliteai/sync/cli.js"), "daemon", "--config", config],
      {
        SQLITE_SYNC_CACHE_DIR: SHARED_TEST_CACHE,
        SQLITE_SYNC_EXTENSION_PATH: undefined,
        SQLITE_SYNC_API_KEY: "bundle-test-key",
      },
      project,
    );
    try {
      const started = await daemon.waitFor((l) => l.event === "service.started");
      assert.equal(started.executor, "process");
      const failed = await daemon.waitFor((l) => l.event === "sync.failed");
      const error = failed.error as { kind: string; message: string };
      assert.equal(error.kind, "offline", JSON.stringify(failed));
      assert.match(error.message, /^network\.sync\(\) failed: Failed to connect to 127\.0\.0\.1/);
      const exit = await daemon.signal("SIGTERM");
      assert.equal(exit.code, 0, daemon.stderr);
    } finally {
      daemon.kill();
    }
  }

  it("the bundled daemon's executor (_executor_entry.js in a child process) runs a sync in Bun", async () => {
    await daemonExecutorSyncs("bun", [bin("bun")]);
  });

  itUnless(
    node22Missing(),
    "the bundled daemon's executor (_executor_entry.js in a child process) runs a sync in Node 22",
    async () => {
      await daemonExecutorSyncs("node", [node22Path()!]);
    },
  );

  async function serviceStartsExecutor(runtime: string, argv: string[]): Promise<void> {
    assert.ok(project !== "", "the bundle was not built");
    const db = await makeDatabase(join(project, `service-${runtime}.db`), { init: true, rows: 1 });
    const r = await sqliteSync([...argv, "service.mjs", db, String(await refusedPort())]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.deepEqual(JSON.parse(r.stdout.trim().split("\n").pop()!), {
      kind: "offline",
      executor: "process",
      lastErrorKind: "offline",
    });
  }

  itUnless(
    serviceNotExported(),
    "a SyncService imported from the bundle starts its executor and syncs (offline) in Bun",
    async () => {
      await serviceStartsExecutor("bun", [bin("bun")]);
    },
  );

  itUnless(
    serviceNotExported() || node22Missing(),
    "a SyncService imported from the bundle starts its executor and syncs (offline) in Node 22",
    async () => {
      await serviceStartsExecutor("node", [node22Path()!, "--no-warnings"]);
    },
  );

  it("the bundle's declarations type-check under tsc --strict with the real types", async () => {
    assert.ok(project !== "", "the bundle was not built");
    const tsc = await run([
      bin("tsc"),
      "--noEmit",
      "--strict",
      "--target",
      "es2022",
      "--module",
      "nodenext",
      "--moduleResolution",
      "nodenext",
      "--lib",
      "es2022,esnext.disposable",
      "--types",
      "node",
      "typed.ts",
    ], { cwd: project });
    assert.equal(tsc.code, 0, tsc.stdout + tsc.stderr);
  });
});
