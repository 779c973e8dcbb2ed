/**
 * The real executor entry, plus a way for executor_pool_test.ts to kill its
 * Worker while it is idle: when the file named by EXECUTOR_CRASH_FILE
 * appears, the first Worker to delete it dies of an uncaught error (in this
 * process, or in the pool's host process).
 */
import { existsSync, unlinkSync } from "node:fs";
import process from "node:process";
import "../../../src/scheduler/_executor_entry.ts";

const file = process.env.EXECUTOR_CRASH_FILE;
if (file) {
  setInterval(() => {
    if (!existsSync(file)) return;
    try {
      unlinkSync(file);
    } catch {
      return; // Another Worker took it.
    }
    throw new Error("crashy executor: dying while idle, on purpose");
  }, 20);
}
