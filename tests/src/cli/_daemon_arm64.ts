/**
 * The single-file ARM64 daemon: built by scripts/build-daemon.sh with
 * `bun build --compile --target=bun-linux-arm64` and run under
 * qemu-aarch64-static (installed by scripts/setup-arm64.sh). Shared by
 * daemon_test.ts and bench/daemon_bench.ts.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { ROOT, run } from "../../_helpers.ts";

/** qemu user-mode for aarch64, where scripts/setup-arm64.sh installs it. */
export const QEMU = ["/usr/bin/qemu-aarch64-static", "/usr/local/bin/qemu-aarch64-static"].find(
  existsSync,
);

/** Why the arm64 binary cannot run here, or `undefined`. */
export const ARM64_MISSING: string | undefined = !QEMU
  ? "qemu-aarch64-static is not installed: run scripts/setup-arm64.sh (CI does)"
  : !existsSync("/lib/ld-linux-aarch64.so.1")
  ? "the arm64 C library (libc6:arm64) is not installed: run scripts/setup-arm64.sh (CI does)"
  : undefined;

/** Builds the binary for `target` (e.g. `bun-linux-arm64`) into `out`; returns the build's output. */
export async function buildDaemon(out: string, target?: string): Promise<string> {
  const r = await run([
    "bash",
    join(ROOT, "scripts", "build-daemon.sh"),
    out,
    ...(target ? [target] : []),
  ], {
    timeoutMs: 300_000,
  });
  if (r.code !== 0) {
    throw new Error(`scripts/build-daemon.sh failed (${r.code}):\n${r.stdout}${r.stderr}`);
  }
  return r.stdout + r.stderr;
}
