// Smoke test of examples/edge_api.ts (Deno and Bun each run it): the example
// runs in a child process of the current runtime without an account (its
// service syncs against a refused port on 127.0.0.1), on a free port and a
// fresh database file; the tests drive its routes in order, then SIGTERM it.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { ROOT, run, runtimeArgv, SKIP_LOG_ENV, tempDir, testExtensionPath } from "../_helpers.ts";
import { guard, Wakeups } from "../src/cli/_daemon_harness.ts";

const SCRIPT = join(ROOT, "examples", "edge_api.ts");

let dir: ReturnType<typeof tempDir>;
let child: ChildProcess;
let stdout = "";
let stderr = "";
let exited: Promise<{ code: number | null; signal: string | null }>;
let base = "";
let firstLine = "";
let todoId = "";
/** Woken each time the example prints that a sync failed: the service has just recorded it. */
const syncFailed = new Wakeups();

async function request(
  method: string,
  path: string,
  body?: string,
): Promise<{ status: number; headers: Headers; text: string; json: () => unknown }> {
  const response = await fetch(base + path, {
    method,
    body,
    headers: body === undefined ? {} : { "Content-Type": "application/json" },
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, text, json: () => JSON.parse(text) };
}

/**
 * What `probe` (a read of /ops/status) returns once it is not undefined: tried now, then each
 * time the example prints that a sync failed (the service is then offline until its retry, and
 * each retry's failure comes after the previous sync's count of unsent changes), never on a
 * timer. Fails naming `what` when the example exits first, or after `ms` (a failure guard).
 */
async function until<T>(probe: () => Promise<T | undefined>, ms: number, what: string): Promise<T> {
  try {
    return await syncFailed.until(probe, ms, what);
  } catch (err) {
    throw new Error(`${(err as Error).message}\n${stdout}\n${stderr}`);
  }
}

// deno-lint-ignore no-explicit-any
type Json = any;

before(async () => {
  const extension = await testExtensionPath();
  dir = tempDir("sqlite-sync-edge-api-");
  const env: Record<string, string | undefined> = {
    ...process.env,
    [SKIP_LOG_ENV]: undefined,
    SQLITE_SYNC_EXTENSION_PATH: extension,
    SQLITE_SYNC_DATABASE_ID: undefined,
    SQLITE_SYNC_API_KEY: undefined,
    OPS_TOKEN: undefined,
    PORT: "0",
    HOST: undefined,
    TODOS_DB: join(dir.path, "todos.db"),
  };
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete env[k];
  const argv = runtimeArgv(SCRIPT);
  child = spawn(argv[0], argv.slice(1), {
    cwd: ROOT,
    env: env as Record<string, string>,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let partial = "";
  child.stdout!.setEncoding("utf8").on("data", (d: string) => {
    stdout += d;
    const lines = (partial + d).split("\n");
    partial = lines.pop()!;
    if (lines.some((line) => /^sync #\d+ failed: /.test(line))) syncFailed.notify();
  });
  child.stderr!.setEncoding("utf8").on("data", (d: string) => (stderr += d));
  exited = new Promise((resolve) => child.on("close", (code, signal) => resolve({ code, signal })));
  child.once("close", () => syncFailed.end("the example exited"));
  const listening = new Promise<string>((resolve, reject) => {
    const onData = () => {
      if (!stdout.includes("\n")) return;
      child.stdout!.off("data", onData);
      resolve(stdout.slice(0, stdout.indexOf("\n")));
    };
    child.stdout!.on("data", onData);
    child.once(
      "close",
      () => reject(new Error(`exited before its first line\n${stdout}\n${stderr}`)),
    );
  });
  firstLine = await guard(listening, "the first line", 60_000);
  const m = /^listening on (http:\/\/127\.0\.0\.1:(\d+))$/.exec(firstLine);
  base = m ? m[1] : "";
});

after(async () => {
  if (child && child.exitCode === null && child.signalCode === null) {
    child.kill("SIGKILL");
    await exited;
  }
  dir?.cleanup();
});

describe("examples/edge_api.ts (no account: the service syncs against a refused port)", () => {
  it("prints 'listening on http://127.0.0.1:<port>' as its first line for PORT=0, and the port answers", async () => {
    assert.match(firstLine, /^listening on http:\/\/127\.0\.0\.1:[1-9]\d*$/, stdout + stderr);
    assert.notEqual(base, "");
    const index = await request("GET", "/");
    assert.equal(index.status, 200);
  });

  it("GET /ops/healthz answers 200 (liveness) with the database degraded until a first success, and /ops/status names the 'todos' database with 0 unsent changes before any write", async () => {
    const health = await request("GET", "/ops/healthz");
    assert.equal(health.status, 200, health.text);
    assert.match(health.text, /^1 degraded\n"todos": degraded: /);
    const status = (await request("GET", "/ops/status")).json() as Json;
    assert.equal(status.databases.length, 1);
    assert.equal(status.databases[0].name, "todos");
    assert.equal(status.databases[0].status.unsentChanges, 0);
  });

  it("POST /todos answers 201 with the todo and its Location; GET /todos/:id and GET /todos return it", async () => {
    const created = await request("POST", "/todos", JSON.stringify({ title: "  buy milk " }));
    assert.equal(created.status, 201, created.text);
    const todo = created.json() as Json;
    assert.match(todo.id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    assert.deepEqual(todo, { id: todo.id, title: "buy milk", done: false });
    assert.equal(created.headers.get("location"), `/todos/${todo.id}`);
    todoId = todo.id;
    const one = await request("GET", `/todos/${todoId}`);
    assert.equal(one.status, 200);
    assert.deepEqual(one.json(), todo);
    const all = await request("GET", "/todos");
    assert.deepEqual(all.json(), [todo]);
  });

  it("after the POST, /ops/status shows the write queued: unsentChanges > 0, state offline, last error 'offline'", async () => {
    const status = await until(
      async () => {
        const db = ((await request("GET", "/ops/status")).json() as Json).databases[0];
        return db.status.unsentChanges > 0 && db.status.lastError !== null ? db : undefined;
      },
      30_000,
      "unsent changes in /ops/status",
    );
    assert.equal(status.name, "todos");
    assert.equal(status.status.state, "offline");
    assert.equal(status.status.lastError.kind, "offline");
    assert.equal(status.health.state, "degraded");
    assert.equal((await request("GET", "/ops/healthz")).status, 200, "offline is alive");
  });

  it("PATCH /todos/:id changes title and done; DELETE answers 204, then GET and DELETE answer 404", async () => {
    assert.notEqual(todoId, "", "the POST test created a todo");
    const done = await request("PATCH", `/todos/${todoId}`, JSON.stringify({ done: true }));
    assert.equal(done.status, 200, done.text);
    assert.deepEqual(done.json(), { id: todoId, title: "buy milk", done: true });
    const renamed = await request(
      "PATCH",
      `/todos/${todoId}`,
      JSON.stringify({ title: "oat milk" }),
    );
    assert.deepEqual(renamed.json(), { id: todoId, title: "oat milk", done: true });
    assert.deepEqual((await request("GET", `/todos/${todoId}`)).json(), renamed.json());
    const removed = await request("DELETE", `/todos/${todoId}`);
    assert.equal(removed.status, 204);
    assert.equal(removed.text, "");
    assert.equal((await request("GET", `/todos/${todoId}`)).status, 404);
    assert.equal((await request("DELETE", `/todos/${todoId}`)).status, 404);
    assert.equal(
      (await request("PATCH", `/todos/${todoId}`, JSON.stringify({ done: false }))).status,
      404,
    );
    assert.deepEqual((await request("GET", "/todos")).json(), []);
  });

  it("bad input answers 400 with a JSON message naming the problem, and writes nothing", async () => {
    const cases: [string, string, string | undefined, RegExp][] = [
      ["POST", "/todos", "{not json", /not valid JSON/],
      ["POST", "/todos", "", /not valid JSON/],
      ["POST", "/todos", undefined, /not valid JSON/],
      ["POST", "/todos", "[1]", /must be a JSON object/],
      ["POST", "/todos", "null", /must be a JSON object/],
      ["POST", "/todos", JSON.stringify({ title: "x", owner: "me" }), /unknown field "owner"/],
      ["POST", "/todos", JSON.stringify({}), /'title' must be a non-empty string/],
      ["POST", "/todos", JSON.stringify({ title: "   " }), /'title' must be a non-empty string/],
      ["POST", "/todos", JSON.stringify({ title: 7 }), /'title' must be a non-empty string/],
      ["POST", "/todos", JSON.stringify({ title: "x", done: "yes" }), /'done' must be true/],
      ["POST", "/todos", JSON.stringify({ title: "x".repeat(501) }), /longer than 500/],
      ["POST", "/todos", JSON.stringify({ title: "x".repeat(20_000) }), /larger than/],
      ["PATCH", "/todos/anything", "{", /not valid JSON/],
      ["PATCH", "/todos/anything", JSON.stringify({}), /give 'title', 'done' or both/],
      ["PATCH", "/todos/anything", JSON.stringify({ done: 1 }), /'done' must be true/],
    ];
    for (const [method, path, body, pattern] of cases) {
      const r = await request(method, path, body);
      const label = `${method} ${path} ${body?.slice(0, 40)}`;
      assert.equal(r.status, 400, `${label}: ${r.text}`);
      assert.match((r.json() as Json).error, pattern, label);
    }
    assert.deepEqual((await request("GET", "/todos")).json(), []);
  });

  it("only one of SQLITE_SYNC_DATABASE_ID and SQLITE_SYNC_API_KEY, or a bad PORT: exit 2 with one line naming the fix", async () => {
    const cases: [Record<string, string | undefined>, RegExp][] = [
      [{ SQLITE_SYNC_DATABASE_ID: "db-id", SQLITE_SYNC_API_KEY: undefined }, /Set both/],
      [{ SQLITE_SYNC_DATABASE_ID: undefined, SQLITE_SYNC_API_KEY: "a-key" }, /Set both/],
      [{ PORT: "http" }, /^PORT must be a port number from 0 to 65535/],
      [{ PORT: "70000" }, /^PORT must be a port number from 0 to 65535/],
    ];
    for (const [env, pattern] of cases) {
      const r = await run(runtimeArgv(SCRIPT), {
        env: {
          SQLITE_SYNC_DATABASE_ID: undefined,
          SQLITE_SYNC_API_KEY: undefined,
          TODOS_DB: join(dir.path, "never.db"),
          ...env,
        },
        timeoutMs: 60_000,
      });
      assert.equal(r.code, 2, JSON.stringify(env) + r.stdout + r.stderr);
      assert.equal(r.stdout, "");
      assert.equal(r.stderr.trimEnd().split("\n").length, 1, r.stderr);
      assert.match(r.stderr, pattern);
      assert.ok(!r.stderr.includes("a-key"), "the key is not echoed");
    }
    assert.ok(!existsSync(join(dir.path, "never.db")), "nothing opened before the check");
  });

  it("SIGTERM stops the service and the server, and the process exits 0", async () => {
    assert.equal(child.exitCode, null, "still running before the signal");
    // process.kill, not child.kill: with the latter Deno's node:child_process reports the
    // exit as the signal even when the child handled it and exited 0 (Deno 2.9.6).
    process.kill(child.pid!, "SIGTERM");
    const exit = await Promise.race([
      exited,
      new Promise<{ code: null; signal: "timeout" }>((resolve) =>
        setTimeout(() => resolve({ code: null, signal: "timeout" }), 10_000)
      ),
    ]);
    assert.deepEqual(exit, { code: 0, signal: null }, stderr);
    assert.match(stdout, /^SIGTERM: stopping$/m);
    assert.ok(existsSync(join(dir.path, "todos.db")), "the replica is a file in TODOS_DB");
  });
});
