// ARM64 (Raspberry Pi) proof under qemu user-mode: the arm64 builds of Deno
// and Bun detect the host as linux-arm64, and the extension-free parts of the
// native layer (platform, archives, download, lock, sources) pass their own
// tests there. No arm64 extension binary is reachable from CI, so loading it is
// not tested here. Needs scripts/setup-arm64.sh (CI runs it); skips without it.
import { describe } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { itUnless, ROOT, run, SKIP_LOG_ENV } from "../_helpers.ts";

const qemu = ["/usr/bin/qemu-aarch64-static", "/usr/local/bin/qemu-aarch64-static"].find(
  existsSync,
);
const arm = join(ROOT, ".cache", "arm64", "node_modules");
const deno = join(arm, "@deno", "linux-arm64-glibc", "deno");
const bun = join(arm, "@oven", "bun-linux-aarch64", "bin", "bun");
const missing = !qemu
  ? "qemu-aarch64-static is not installed"
  : !existsSync(deno) || !existsSync(bun)
  ? "arm64 Deno/Bun are not installed"
  : undefined;
const skip = missing ? `${missing}: run scripts/setup-arm64.sh (CI does)` : undefined;

const probe = join(ROOT, "tests", "ffi", "_platform_child.ts");

describe("linux-arm64 under qemu", () => {
  itUnless(
    skip,
    "currentPlatformId() is linux-arm64 in arm64 Deno and Bun alike",
    { timeout: 300_000 },
    async () => {
      const outputs = [];
      for (const argv of [[qemu!, deno, "run", "-A", "--no-check", probe], [qemu!, bun, probe]]) {
        const r = await run(argv, { timeoutMs: 120_000 });
        assert.equal(r.code, 0, r.stderr);
        outputs.push(JSON.parse(r.stdout.trim()));
      }
      for (const o of outputs) {
        assert.deepEqual(o, {
          host: { os: "linux", arch: "arm64", libc: "glibc" },
          id: "linux-arm64",
        });
      }
    },
  );

  itUnless(
    skip,
    "extension-free native-layer tests pass in arm64 Bun",
    { timeout: 300_000 },
    async () => {
      const files = ["platform", "archive", "download", "lock", "sources", "progress"].map((f) =>
        `./tests/ffi/${f}_test.ts`
      );
      const r = await run([qemu!, bun, "test", "--timeout=60000", ...files], {
        timeoutMs: 300_000,
        // Its skips are not this run's: keep them out of the skip log scripts/test.mjs reads.
        env: { [SKIP_LOG_ENV]: "" },
      });
      const summary = (r.stdout + r.stderr).match(/(\d+) pass[\s\S]*?(\d+) fail/);
      console.log(`arm64 bun: ${summary?.[0].replace(/\s+/g, " ") ?? "no summary"}`);
      assert.equal(r.code, 0, r.stdout + r.stderr);
    },
  );
});
