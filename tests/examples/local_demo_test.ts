// Smoke test of examples/local_demo.ts, the README's `npm run demo` (Deno and
// Bun each run it): the demo runs once in a child process of the current
// runtime with the test extension; the tests read what it printed, in order.
import { before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import process from "node:process";
import {
  type ChildResult,
  ROOT,
  run,
  RUNTIME,
  runtimeArgv,
  testExtensionPath,
} from "../_helpers.ts";

const SCRIPT = join(ROOT, "examples", "local_demo.ts");

let extension = "";
let result: ChildResult;
let elapsedMs = 0;
let lines: string[] = [];

/** The one line starting with `prefix`, and its index. */
function line(prefix: string): { text: string; at: number } {
  const found = lines.map((text, at) => ({ text, at })).filter((l) => l.text.startsWith(prefix));
  assert.equal(
    found.length,
    1,
    `one line starting with ${JSON.stringify(prefix)} in\n${result.stdout}`,
  );
  return found[0];
}

before(async () => {
  extension = await testExtensionPath();
  const started = performance.now();
  result = await run(runtimeArgv(SCRIPT), {
    env: { SQLITE_SYNC_EXTENSION_PATH: extension },
    timeoutMs: 60_000,
  });
  elapsedMs = performance.now() - started;
  lines = result.stdout.split("\n");
});

describe("examples/local_demo.ts (npm run demo)", () => {
  it("exits 0 within 10 s with nothing on stderr", () => {
    assert.equal(result.code, 0, result.stdout + result.stderr);
    assert.equal(result.stderr, "");
    assert.ok(elapsedMs < 10_000, `took ${Math.round(elapsedMs)} ms`);
  });

  it("the two replicas converge after the offline edits: both keep every edit (title, done, both lines)", () => {
    const merged =
      '{"title":"Groceries (Sat)","body":["oat milk","bread","eggs","coffee"],"done":1}';
    assert.equal(line("laptop: ").text, `laptop: ${merged}`);
    assert.equal(line("phone:  ").text, `phone:  ${merged}`);
    line("Converged: both kept every edit.");
  });

  it("then a SyncService without an account targets a refused 127.0.0.1 port", () => {
    const intro = line("A SyncService on the laptop, no account: ");
    assert.match(intro.text, /its address is http:\/\/127\.0\.0\.1:\d+, where nothing listens/);
    assert.ok(intro.at > line("Converged: ").at, "after the merge");
  });

  it("a local write fires the change trigger: sync #1 starts with reason 'change' no sooner than the 100 ms debounce", () => {
    const fired = line("change trigger fired: ").text;
    const m = /^change trigger fired: sync #1 started (\d+) ms after the write \(reason: change;/
      .exec(fired);
    assert.ok(m, fired);
    assert.ok(Number(m[1]) >= 99, fired);
  });

  it("the sync attempt fails 'offline' (connection refused) and a retry is scheduled within the 300 ms retry base", () => {
    const port = /127\.0\.0\.1:(\d+)/.exec(line("A SyncService on the laptop").text)![1];
    assert.match(
      line("sync attempt failed: ").text,
      new RegExp(`^sync attempt failed: offline \\(.*127\\.0\\.0\\.1 port ${port}\\b`),
    );
    const retry = /^retry scheduled: attempt 2 in (\d+\.\d\d) s /.exec(
      line("retry scheduled: ").text,
    );
    assert.ok(retry, line("retry scheduled: ").text);
    assert.ok(Number(retry[1]) <= 0.3);
  });

  it("status() shows state offline, unsent changes > 0, the next run and a queue depth of 1", () => {
    const m =
      /^status\(\): state (\S+), (\d+) unsent changes, next run in (\d+\.\d\d) s, queue depth (\d+)$/
        .exec(line("status(): ").text);
    assert.ok(m, line("status(): ").text);
    assert.equal(m[1], "offline");
    assert.ok(Number(m[2]) > 0);
    assert.ok(Number(m[3]) <= 0.3);
    assert.equal(m[4], "1");
  });

  it("the retry fails offline too, the job is given up after 2 attempts, and history() shows both offline runs", () => {
    assert.match(
      line("attempt 2 failed ").text,
      /^attempt 2 failed offline too: sync #1 given up \(max_attempts_exceeded;/,
    );
    assert.equal(
      line("history(): ").text,
      "history(): sync #1 dead, reasons change, 2 attempts, runs: retry (offline), dead (offline)",
    );
  });

  it("stop() leaves the service stopped, and the last line says how to point it at SQLite Cloud", () => {
    assert.equal(line("stop(): ").text, "stop(): state stopped");
    const last = lines.filter((l) => l !== "").at(-1)!;
    assert.match(
      last,
      /^To sync with SQLite Cloud: set SQLITE_SYNC_DATABASE_ID and SQLITE_SYNC_API_KEY/,
    );
    assert.match(last, /without 'address'/);
  });

  it("the service's lines come in the order things happen", () => {
    const order = [
      "Converged: ",
      "A SyncService on the laptop",
      "laptop adds a line",
      "change trigger fired: ",
      "sync attempt failed: ",
      "retry scheduled: ",
      "status(): ",
      "attempt 2 failed ",
      "history(): ",
      "stop(): ",
      "To sync with SQLite Cloud: ",
    ].map((prefix) => line(prefix).at);
    assert.deepEqual(order, [...order].sort((a, b) => a - b));
  });

  // Deno's permissions make "no network" checkable: only 127.0.0.1 is allowed here.
  if (RUNTIME === "deno") {
    it("runs with network access limited to 127.0.0.1 (Deno --allow-net=127.0.0.1, no -A)", async () => {
      const r = await run([
        process.execPath,
        "run",
        "--no-check",
        "--allow-read",
        "--allow-write",
        "--allow-env",
        "--allow-ffi",
        "--allow-net=127.0.0.1",
        SCRIPT,
      ], { env: { SQLITE_SYNC_EXTENSION_PATH: extension }, timeoutMs: 60_000 });
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.match(r.stdout, /^stop\(\): state stopped$/m);
    });
  }
});
