// Smoke test of examples/multi_tenant.ts (Deno and Bun each run it): the example
// runs in a child process of the current runtime without an account (every
// tenant's service syncs against a refused port on 127.0.0.1), on a free port
// with DATA_DIR in a fresh temp dir; the tests create 50 tenants, read them
// back, send bad input, read the status app, then SIGTERM it.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { ROOT, run, runtimeArgv, SKIP_LOG_ENV, tempDir, testExtensionPath } from "../_helpers.ts";

const SCRIPT = join(ROOT, "examples", "multi_tenant.ts");
const TENANTS = Array.from({ length: 50 }, (_, i) => `tenant-${String(i).padStart(2, "0")}`);
// Each service costs an executor (a Worker in Deno, a child process in Bun): generous limits.
const SLOW = { timeout: 120_000 };

let dir: ReturnType<typeof tempDir>;
let dataDir = "";
let child: ChildProcess;
let stdout = "";
let stderr = "";
let exited: Promise<{ code: number | null; signal: string | null }>;
let base = "";
let firstLine = "";

async function request(
  method: string,
  path: string,
  body?: string,
): Promise<{ status: number; text: string; json: () => Json }> {
  const response = await fetch(base + path, {
    method,
    body,
    headers: body === undefined ? {} : { "Content-Type": "application/json" },
  });
  const text = await response.text();
  return { status: response.status, text, json: () => JSON.parse(text) };
}

/**
 * Polls `probe` (a cheap read) until it returns a value, or fails naming `what`. A poll with a
 * deadline, not an event: the example prints nothing when a tenant's sync fails, so /ops/status
 * is the only place that shows it.
 */
async function until<T>(probe: () => Promise<T | undefined>, ms: number, what: string): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}\n${stdout}\n${stderr}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/** Runs `fn` over `items`, `width` at a time. */
async function pool<T>(items: T[], width: number, fn: (item: T) => Promise<void>): Promise<void> {
  const queue = [...items];
  const lane = async () => {
    for (let item = queue.shift(); item !== undefined; item = queue.shift()) await fn(item);
  };
  await Promise.all(Array.from({ length: width }, lane));
}

// deno-lint-ignore no-explicit-any
type Json = any;

before(async () => {
  const extension = await testExtensionPath();
  dir = tempDir("sqlite-sync-multi-tenant-");
  dataDir = join(dir.path, "tenants");
  const env: Record<string, string | undefined> = {
    ...process.env,
    [SKIP_LOG_ENV]: undefined,
    SQLITE_SYNC_EXTENSION_PATH: extension,
    SQLITE_SYNC_DATABASE_ID: undefined,
    SQLITE_SYNC_API_KEY: undefined,
    OPS_TOKEN: undefined,
    MAX_TENANTS: undefined,
    PORT: "0",
    HOST: undefined,
    DATA_DIR: dataDir,
  };
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete env[k];
  const argv = runtimeArgv(SCRIPT);
  child = spawn(argv[0], argv.slice(1), {
    cwd: ROOT,
    env: env as Record<string, string>,
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stdout!.setEncoding("utf8").on("data", (d: string) => (stdout += d));
  child.stderr!.setEncoding("utf8").on("data", (d: string) => (stderr += d));
  exited = new Promise((resolve) => child.on("close", (code, signal) => resolve({ code, signal })));
  firstLine = await new Promise<string>((resolve, reject) => {
    const onData = () => {
      if (!stdout.includes("\n")) return;
      child.stdout!.off("data", onData);
      resolve(stdout.slice(0, stdout.indexOf("\n")));
    };
    child.stdout!.on("data", onData);
    child.once("close", () => reject(new Error(`exited before listening\n${stdout}\n${stderr}`)));
  });
  const m = /^listening on (http:\/\/127\.0\.0\.1:(\d+))$/.exec(firstLine);
  base = m ? m[1] : "";
}, SLOW);

after(async () => {
  if (child && child.exitCode === null && child.signalCode === null) {
    child.kill("SIGKILL");
    await exited;
  }
  dir?.cleanup();
});

describe("examples/multi_tenant.ts (no account: 50 tenants sync against a refused port)", () => {
  it("prints 'listening on http://127.0.0.1:<port>' first for PORT=0; /ops/status lists no tenant yet", async () => {
    assert.match(firstLine, /^listening on http:\/\/127\.0\.0\.1:[1-9]\d*$/, stdout + stderr);
    const status = await request("GET", "/ops/status");
    assert.equal(status.status, 200, status.text);
    assert.deepEqual(status.json().databases, []);
  });

  it(
    "creates 50 tenants 10 at a time, each from two simultaneous first requests, one replica each",
    SLOW,
    async () => {
      await pool(TENANTS, 10, async (name) => {
        // The tenant's first two requests arrive together: both must reach one replica.
        const [created, listed] = await Promise.all([
          request("POST", `/t/${name}/notes`, JSON.stringify({ text: ` note of ${name} ` })),
          request("GET", `/t/${name}/notes`),
        ]);
        assert.equal(created.status, 201, created.text);
        assert.equal(listed.status, 200, listed.text);
        assert.ok(listed.json().length <= 1, listed.text);
        const note = created.json();
        assert.equal(note.text, `note of ${name}`);
        assert.match(note.id, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
      });
      for (const name of TENANTS) {
        const lines = stdout.split("\n").filter((l) => l.startsWith(`tenant ${name}: new replica`));
        assert.equal(lines.length, 1, `one replica for ${name}\n${stdout}`);
      }
      const files = readdirSync(dataDir).filter((f) => f.endsWith(".db")).sort();
      assert.deepEqual(files, TENANTS.map((name) => `${name}.db`));
    },
  );

  it("each tenant reads back only its own note", SLOW, async () => {
    const ids = new Set<string>();
    await pool(TENANTS, 10, async (name) => {
      const listed = await request("GET", `/t/${name}/notes`);
      assert.equal(listed.status, 200, listed.text);
      const notes = listed.json();
      assert.equal(notes.length, 1, `${name}: ${listed.text}`);
      assert.equal(notes[0].text, `note of ${name}`);
      ids.add(notes[0].id);
    });
    assert.equal(ids.size, TENANTS.length);
  });

  it("a bad tenant name or a bad body answers 400 with a JSON message, and creates no tenant", async () => {
    const badTenant = /^the tenant must be 1 to 40 of a-z 0-9 -$/;
    const note = JSON.stringify({ text: "x" });
    const cases: [string, string, string | undefined, RegExp][] = [
      ["POST", "/t/Acme/notes", note, badTenant],
      ["POST", "/t/a_b/notes", note, badTenant],
      ["POST", "/t/a.b/notes", note, badTenant],
      ["POST", `/t/${"a".repeat(41)}/notes`, note, badTenant],
      ["GET", "/t/a%20b/notes", undefined, badTenant],
      ["POST", "/t/fresh/notes", "{not json", /not valid JSON/],
      ["POST", "/t/fresh/notes", undefined, /not valid JSON/],
      ["POST", "/t/fresh/notes", "[1]", /must be a JSON object/],
      ["POST", "/t/fresh/notes", JSON.stringify({ text: "x", tag: 1 }), /unknown field "tag"/],
      ["POST", "/t/fresh/notes", JSON.stringify({}), /'text' must be a non-empty string/],
      ["POST", "/t/fresh/notes", JSON.stringify({ text: "  " }), /'text' must be a non-empty/],
      ["POST", "/t/fresh/notes", JSON.stringify({ text: 7 }), /'text' must be a non-empty/],
      ["POST", "/t/fresh/notes", JSON.stringify({ text: "x".repeat(2001) }), /longer than 2000/],
    ];
    for (const [method, path, body, pattern] of cases) {
      const r = await request(method, path, body);
      const label = `${method} ${path} ${body?.slice(0, 40)}`;
      assert.equal(r.status, 400, `${label}: ${r.text}`);
      assert.match(r.json().error, pattern, label);
    }
    assert.ok(!existsSync(join(dataDir, "fresh.db")), "a rejected body opens no replica");
  });

  it(
    "/ops/status lists the 50 tenants; each write started a change sync that failed offline",
    SLOW,
    async () => {
      const databases = await until(
        async () => {
          const list = (await request("GET", "/ops/status")).json().databases as Json[];
          const synced = list.filter((d) => d.status.lastError?.kind === "offline");
          return synced.length === TENANTS.length ? list : undefined;
        },
        90_000,
        "a failed offline sync on every tenant",
      );
      assert.deepEqual(databases.map((d) => d.name), TENANTS);
      for (const d of databases) {
        assert.ok(d.status.unsentChanges > 0, `${d.name}: ${JSON.stringify(d.status)}`);
        assert.equal(d.health.state, "degraded", d.name); // offline, never synced: not ok
      }
      const health = await request("GET", "/ops/healthz");
      assert.equal(health.status, 200, health.text);
      const page = await request("GET", "/ops");
      assert.equal(page.status, 200);
      for (const name of TENANTS) assert.ok(page.text.includes(name), `the page shows ${name}`);
    },
  );

  it(
    "a lone SQLITE_SYNC_* variable, or a database id without {tenant}: exit 2 with one line",
    SLOW,
    async () => {
      const cases: [Record<string, string | undefined>, RegExp][] = [
        [{ SQLITE_SYNC_DATABASE_ID: "db-{tenant}" }, /^Set both/],
        [{ SQLITE_SYNC_DATABASE_ID: "db-shared", SQLITE_SYNC_API_KEY: "a-key" }, /\{tenant\}/],
      ];
      for (const [env, pattern] of cases) {
        const r = await run(runtimeArgv(SCRIPT), {
          env: {
            SQLITE_SYNC_DATABASE_ID: undefined,
            SQLITE_SYNC_API_KEY: undefined,
            DATA_DIR: join(dir.path, "never"),
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
      assert.ok(!existsSync(join(dir.path, "never")), "nothing created before the check");
    },
  );

  it("SIGTERM stops the 50 services, closes the replicas and exits 0", SLOW, async () => {
    assert.equal(child.exitCode, null, "still running before the signal");
    // process.kill, not child.kill: with the latter Deno's node:child_process reports the
    // exit as the signal even when the child handled it and exited 0 (Deno 2.9.6).
    process.kill(child.pid!, "SIGTERM");
    const exit = await Promise.race([
      exited,
      new Promise<{ code: null; signal: "timeout" }>((resolve) =>
        setTimeout(() => resolve({ code: null, signal: "timeout" }), 60_000)
      ),
    ]);
    assert.deepEqual(exit, { code: 0, signal: null }, stderr);
    assert.match(stdout, /^SIGTERM: stopping 50 tenant\(s\)$/m);
    assert.equal(stderr, "");
    const files = readdirSync(dataDir).filter((f) => f.endsWith(".db"));
    assert.equal(files.length, TENANTS.length, "DATA_DIR given: the replicas are kept");
  });
});
