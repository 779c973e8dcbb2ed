/**
 * A stand-in for `_executor_entry.ts` (a pool `entry` in executor_pool_test.ts)
 * that misbehaves on purpose, as a Worker in this process or in the pool's
 * host process. No database, no network. The mode comes from
 * EXECUTOR_FAKE_MODE:
 *
 * - `crash-on-sync`: ready; answers every other request with `null`; dies of
 *   an uncaught error on the first `sync` it gets after EXECUTOR_FAKE_ARMED
 *   names an existing file (which it deletes), answers `sync` otherwise;
 * - `exit-before-ready`: writes a line to stderr and dies of an uncaught error;
 * - `old-protocol`: announces protocol version 0.
 */
import { existsSync, unlinkSync } from "node:fs";
import process from "node:process";
import { parentPort } from "node:worker_threads";
import { postText, readText } from "../../../src/scheduler/_executor_protocol.ts";

const mode = process.env.EXECUTOR_FAKE_MODE;
const armed = process.env.EXECUTOR_FAKE_ARMED;
const port = parentPort!;

type Message = { t: string; id?: number };

/** Takes the one crash the test armed (several Workers may look). */
function takeArm(): boolean {
  if (!armed || !existsSync(armed)) return false;
  try {
    unlinkSync(armed);
    return true;
  } catch {
    return false;
  }
}

if (mode === "exit-before-ready") {
  process.stderr.write("fake executor: cannot start\n");
  throw new Error("fake executor: cannot start");
}

port.on("message", (data: string) => {
  const request = readText<Message>(data);
  if (request.t === "sync" && takeArm()) {
    setTimeout(() => {
      throw new Error("fake executor: crashing on purpose");
    }, 10);
    return;
  }
  const value = request.t === "sync"
    ? "synced"
    : request.t === "open"
    ? { dbVersion: 0, syncedTables: [] }
    : null;
  postText(port, { t: "ok", id: request.id, value });
});
postText(port, { t: "ready", protocol: mode === "old-protocol" ? 0 : 2 });
