/**
 * Child-process entry for the daemon tests: the CLI root (src/cli/main.ts)
 * when it exists, else the daemon command alone under citty (while the root
 * is being written).
 */
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import process from "node:process";

const root = fileURLToPath(new URL("../../../src/cli/main.ts", import.meta.url));
if (existsSync(root)) {
  const { main } = await import(root);
  process.exitCode = await main(process.argv.slice(2));
} else {
  const { defineCommand, runMain } = await import("citty");
  const { daemonCommand } = await import("../../../src/cli/daemon.ts");
  await runMain(defineCommand({ subCommands: { daemon: daemonCommand } }));
}
