// The npm/Bun distribution (lib/build.mjs) works outside Deno: built with
// esbuild and tsc, installed as a package in a temp project, imported by Bun
// and Node 22 in child processes that use the typed API with the real
// extension, and type-checked by TypeScript through its declarations. Without
// Node 22 its test is a listed skip, and under CI=true a failure.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  itUnless,
  node22Missing,
  node22Path,
  ROOT,
  run,
  tempDir,
  testExtensionPath,
} from "../_helpers.ts";

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
