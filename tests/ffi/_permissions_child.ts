/**
 * Test-only child process, run by permissions_test.ts under Deno with narrow
 * permission flags. Prints one JSON line.
 *
 * - `resolve`: resolves the extension (cache from SQLITE_SYNC_CACHE_DIR) and loads it with
 *   node:sqlite: `{ source, verified, version }`, or `{ error, kind, code }`.
 * - `lock <path>`: takes the lock file, giving up after 5 s: `{ got, polls, parentAlive }`
 *   (`polls`: how often it waited before taking the lock).
 */
import process from "node:process";
import { acquireLock, isProcessAlive } from "../../ffi/lock.ts";
import { resolveExtension } from "../../ffi/resolve.ts";
import { cloudsyncVersion } from "./_resolve_child.ts";

const [mode, arg] = process.argv.slice(2);
try {
  if (mode === "lock") {
    const started = Date.now();
    let polls = 0;
    const lock = await acquireLock(arg, {
      whileWaiting: () => (polls++, Date.now() - started > 5000),
    });
    lock?.release();
    console.log(
      JSON.stringify({
        got: lock !== undefined,
        polls,
        parentAlive: isProcessAlive(process.ppid) ?? "unknown",
      }),
    );
  } else {
    const resolved = await resolveExtension();
    const version = await cloudsyncVersion(resolved.path);
    console.log(JSON.stringify({ source: resolved.source, verified: resolved.verified, version }));
  }
} catch (err) {
  const e = err as { message?: string; kind?: string; code?: string };
  console.log(JSON.stringify({ error: e.message ?? String(err), kind: e.kind, code: e.code }));
  process.exit(1);
}
