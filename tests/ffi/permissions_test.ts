/**
 * Deno with the README's permission flags, not -A: a first download into an empty cache, a
 * crashed holder's lock, and the message of a missing permission. Bun has no permissions.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, utimesSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { itUnless, ROOT, run, RUNTIME, tempDir } from "../_helpers.ts";

const CHILD = join(ROOT, "tests", "ffi", "_permissions_child.ts");
const host = `${process.platform}-${process.arch}`;

/** Runs the child under `deno run <flags>`; returns its JSON line and exit code. */
async function child(
  flags: string[],
  args: string[],
  env: Record<string, string | undefined> = {},
): Promise<{ code: number | null; out: Record<string, unknown>; stderr: string }> {
  const r = await run([process.execPath, "run", ...flags, CHILD, ...args], {
    timeoutMs: 60_000,
    env: { SQLITE_SYNC_EXTENSION_PATH: "", SQLITE_SYNC_MIRROR: "", ...env },
  });
  const line = r.stdout.trim().split("\n").at(-1) ?? "";
  let out: Record<string, unknown>;
  try {
    out = JSON.parse(line);
  } catch {
    out = { unparsed: r.stdout };
  }
  return { code: r.code, out, stderr: r.stderr };
}

// Bun has no permission flags: the suite is Deno's only, neither run nor skipped in Bun.
if (RUNTIME === "deno") {
  describe("Deno permissions", () => {
    itUnless(
      host === "linux-x64"
        ? undefined
        : `the real binary only loads on linux-x64, this host is ${host}`,
      "resolveExtension() downloads, verifies and loads 1.1.4 into an empty cache with exactly the README's flags",
      async () => {
        const dir = tempDir();
        try {
          const cache = join(dir.path, "cache");
          const readme = [
            "--allow-ffi",
            "--allow-read",
            "--allow-write",
            "--allow-env",
            "--allow-net=registry.npmjs.org",
          ];
          const r = await child(readme, ["resolve"], { SQLITE_SYNC_CACHE_DIR: cache });
          assert.equal(r.code, 0, `${JSON.stringify(r.out)}\n${r.stderr}`);
          assert.deepEqual(r.out, { source: "npm", verified: true, version: "1.1.4" });
          assert.ok(existsSync(join(cache, "1.1.4", "linux-x86_64", "LICENSE.md")));
        } finally {
          dir.cleanup();
        }
      },
    );

    it("acquireLock() takes over a crashed holder's lock without --allow-run or --allow-sys", async () => {
      const dir = tempDir();
      try {
        const path = join(dir.path, "x.lock");
        // A holder that died 20 s ago; its pid is the parent's, alive, and uncheckable without --allow-run.
        const then = Date.now() - 20_000;
        writeFileSync(
          path,
          JSON.stringify({ pid: process.pid, host: hostname(), time: then, token: "crashed" }),
        );
        utimesSync(path, then / 1000, then / 1000);
        const r = await child(["--allow-read", "--allow-write"], ["lock", path]);
        assert.equal(r.code, 0, `${JSON.stringify(r.out)}\n${r.stderr}`);
        // Taken over at once: not a single wait.
        assert.deepEqual(r.out, { got: true, polls: 0, parentAlive: "unknown" });
      } finally {
        dir.cleanup();
      }
    });

    it("resolveExtension() names a missing Deno permission instead of blaming the cache directory", async () => {
      const dir = tempDir();
      try {
        const cache = join(dir.path, "cache");
        mkdirSync(cache);
        const r = await child(["--allow-read", "--allow-env"], ["resolve"], {
          SQLITE_SYNC_CACHE_DIR: cache,
        });
        assert.equal(r.code, 1, r.stderr);
        assert.equal(r.out.code, "NotCapable", JSON.stringify(r.out));
        assert.match(String(r.out.error), /Deno permission missing/);
        assert.match(String(r.out.error), /--allow-write/);
        assert.doesNotMatch(String(r.out.error), /Cannot write the sqlite-sync cache directory/);
      } finally {
        dir.cleanup();
      }
    });
  });
}
