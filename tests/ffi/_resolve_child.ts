/**
 * Test-only child process: resolves the extension with the options given as
 * JSON in argv, loads it with this runtime's own SQLite and prints one JSON
 * line `{ source, version, path, started, resolved }` (`started`/`resolved`: Date.now()
 * before and after resolving). With SQLITE_SYNC_TEST_STARTED_DIR set, it first
 * creates a file named after its pid there, so a test can tell when all children
 * are about to resolve. Also exports the loader for in-process tests.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { resolveExtension, type ResolveOptions } from "../../ffi/resolve.ts";

/**
 * Loads an extension into an in-memory database of the runtime's own SQLite
 * (Deno: node:sqlite, Bun: bun:sqlite), returns `cloudsync_version()`, and
 * calls `cloudsync_terminate()` before closing.
 */
export async function cloudsyncVersion(path: string): Promise<string> {
  // Specifiers in variables: each runtime only ever imports its own module.
  if ("Bun" in globalThis) {
    const spec = "bun:sqlite";
    const { Database } = await import(spec);
    const db = new Database(":memory:");
    try {
      db.loadExtension(path);
      const row = db.query("select cloudsync_version() as v").get() as { v: string };
      db.query("select cloudsync_terminate()").get();
      return row.v;
    } finally {
      db.close();
    }
  }
  const spec = "node:sqlite";
  const { DatabaseSync } = await import(spec);
  const db = new DatabaseSync(":memory:", { allowExtension: true });
  try {
    db.loadExtension(path);
    const row = db.prepare("select cloudsync_version() as v").get() as { v: string };
    db.prepare("select cloudsync_terminate()").get();
    return row.v;
  } finally {
    db.close();
  }
}

if (import.meta.main) {
  const options = JSON.parse(process.argv[process.argv.length - 1]) as ResolveOptions;
  try {
    const startedDir = process.env.SQLITE_SYNC_TEST_STARTED_DIR;
    const started = Date.now();
    if (startedDir) writeFileSync(join(startedDir, String(process.pid)), String(started));
    const resolved = await resolveExtension({ ...options, env: {} });
    const done = Date.now();
    const version = await cloudsyncVersion(resolved.path);
    console.log(
      JSON.stringify({
        source: resolved.source,
        version,
        path: resolved.path,
        started,
        resolved: done,
      }),
    );
  } catch (err) {
    console.log(JSON.stringify({ error: String(err) }));
    process.exit(1);
  }
}
