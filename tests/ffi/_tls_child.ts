/**
 * Child process for download_tls_test.ts: resolves the extension from one npm
 * registry URL into a cache directory, in whatever runtime runs it (Deno, Bun,
 * Node 22), so the runtime's CA environment variables (read at start-up) can
 * be set per run. Prints one JSON line: the result or the error's kind and
 * message. Always exits 0 unless the script itself breaks.
 *
 *   <runtime> tests/ffi/_tls_child.ts <registry> <cacheDir> <platform> <version>
 */
import process from "node:process";
import { resolveExtension } from "../../ffi/resolve.ts";
import type { PlatformId } from "../../ffi/platform.ts";
import { SqliteSyncError } from "../../common/errors.ts";

const [npmRegistry, cacheDir, platform, version] = process.argv.slice(2);
try {
  const r = await resolveExtension({
    npmRegistry,
    cacheDir,
    platform: platform as PlatformId,
    version,
    sources: ["npm"],
    timeoutMs: 10_000,
    env: {},
  });
  console.log(JSON.stringify({ ok: true, source: r.source, verified: r.verified }));
} catch (err) {
  console.log(JSON.stringify({
    ok: false,
    kind: err instanceof SqliteSyncError ? err.kind : String(err),
    message: err instanceof Error ? err.message : String(err),
  }));
}
