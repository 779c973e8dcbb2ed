// Smoke test of examples/cloud_sync.ts (Deno and Bun each run it), without an
// account: the example runs in a child process of the current runtime, in an
// empty temporary folder. Without credentials it must stop before touching any
// file (exit 2, one line naming the variables); with credentials and an address
// on a refused port it must fail with the `offline` kind (exit 1) without ever
// printing the credential; a malformed variable is named, never echoed (exit 2).
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { API_KEY, FORMS, TOKEN } from "../_canary.ts";
import {
  type ChildResult,
  refusedPort,
  ROOT,
  run,
  runtimeArgv,
  tempDir,
  testExtensionPath,
} from "../_helpers.ts";

const SCRIPT = join(ROOT, "examples", "cloud_sync.ts");

/** Every variable the example reads, unset unless a test sets it. */
const UNSET = {
  SQLITE_SYNC_DATABASE_ID: undefined,
  SQLITE_SYNC_API_KEY: undefined,
  SQLITE_SYNC_TOKEN: undefined,
  SQLITE_SYNC_ADDRESS: undefined,
  TODOS_DB: undefined,
};

let extension = "";
let dir: ReturnType<typeof tempDir>;

before(async () => {
  extension = await testExtensionPath();
});
after(() => dir?.cleanup());

/** Runs the example in a fresh empty folder (its working directory) with `env` on top of UNSET. */
async function example(env: Record<string, string | undefined>): Promise<ChildResult> {
  dir?.cleanup();
  dir = tempDir("sqlite-sync-cloud-sync-");
  return await run(runtimeArgv(SCRIPT), {
    env: { ...UNSET, SQLITE_SYNC_EXTENSION_PATH: extension, ...env },
    cwd: dir.path,
    timeoutMs: 60_000,
  });
}

function shown(r: ChildResult): string {
  return `exit ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;
}

/** Exit `code`, nothing on stdout, exactly one line on stderr matching every pattern, no stack. */
function assertOneLine(r: ChildResult, code: number, ...patterns: RegExp[]): void {
  assert.equal(r.code, code, shown(r));
  assert.equal(r.stdout, "", shown(r));
  const lines = r.stderr.split("\n");
  assert.equal(lines.length, 2, `stderr must be exactly one line: ${shown(r)}`);
  assert.equal(lines[1], "", shown(r));
  assert.doesNotMatch(r.stderr, /\bat .*:\d+:\d+|^\s*at |error: Uncaught/m, `a stack: ${shown(r)}`);
  for (const pattern of patterns) assert.match(lines[0], pattern, shown(r));
}

function assertNoCredential(r: ChildResult): void {
  const text = `${r.stdout}\n${r.stderr}`.toLowerCase();
  for (const form of FORMS) {
    assert.ok(!text.includes(form.toLowerCase()), `a credential leaked:\n${shown(r)}`);
  }
}

describe("examples/cloud_sync.ts", () => {
  it("without credentials: exit 2, one line naming SQLITE_SYNC_DATABASE_ID and SQLITE_SYNC_API_KEY/SQLITE_SYNC_TOKEN, no file created", async () => {
    for (
      const env of [
        {},
        { TODOS_DB: "todos-here.db" },
        { SQLITE_SYNC_DATABASE_ID: "db_example" },
        { SQLITE_SYNC_API_KEY: API_KEY },
        { SQLITE_SYNC_TOKEN: TOKEN, SQLITE_SYNC_ADDRESS: "http://127.0.0.1:9" },
      ]
    ) {
      const r = await example(env);
      assertOneLine(r, 2, /SQLITE_SYNC_DATABASE_ID/, /SQLITE_SYNC_API_KEY/, /SQLITE_SYNC_TOKEN/);
      assertNoCredential(r);
      assert.deepEqual(
        readdirSync(dir.path),
        [],
        `no file may be created (${JSON.stringify(env)})`,
      );
    }
  });

  it("with an API key and SQLITE_SYNC_ADDRESS on a refused port: exit 1, one line naming 'offline', the key never shown", async () => {
    const port = await refusedPort();
    const r = await example({
      SQLITE_SYNC_DATABASE_ID: "db_example",
      SQLITE_SYNC_API_KEY: API_KEY,
      SQLITE_SYNC_ADDRESS: `http://127.0.0.1:${port}`,
    });
    assertOneLine(r, 1, /^sync failed \(offline\): /, new RegExp(`127\\.0\\.0\\.1.*${port}`));
    assertNoCredential(r);
    assert.ok(readdirSync(dir.path).includes("todos.db"), "the todo is written locally");
  });

  it("with a token and TODOS_DB: the same 'offline' failure, the token never shown", async () => {
    const r = await example({
      SQLITE_SYNC_DATABASE_ID: "db_example",
      SQLITE_SYNC_TOKEN: TOKEN,
      SQLITE_SYNC_ADDRESS: `http://127.0.0.1:${await refusedPort()}`,
      TODOS_DB: "mine.db",
    });
    assertOneLine(r, 1, /^sync failed \(offline\): /);
    assertNoCredential(r);
    assert.ok(readdirSync(dir.path).includes("mine.db"), "TODOS_DB names the file");
  });

  it("a malformed or contradictory variable: exit 2, one line naming it, its value never shown", async () => {
    const cases: [Record<string, string>, RegExp][] = [
      [{ SQLITE_SYNC_API_KEY: API_KEY, SQLITE_SYNC_TOKEN: TOKEN }, /not both/],
      [
        { SQLITE_SYNC_API_KEY: API_KEY, SQLITE_SYNC_ADDRESS: "ftp://127.0.0.1" },
        /^Invalid SQLITE_SYNC_ADDRESS: /,
      ],
      // What network.init() refuses: plain http:// to a host that is not loopback.
      [
        { SQLITE_SYNC_API_KEY: API_KEY, SQLITE_SYNC_ADDRESS: "http://example.com" },
        /^Invalid SQLITE_SYNC_ADDRESS: .*cleartext/,
      ],
      [
        { SQLITE_SYNC_API_KEY: API_KEY, SQLITE_SYNC_ADDRESS: `https://${API_KEY}` + "@x" },
        /^Invalid SQLITE_SYNC_ADDRESS: /,
      ],
      [{ SQLITE_SYNC_API_KEY: `${API_KEY} ${API_KEY}` }, /^Invalid SQLITE_SYNC_API_KEY: /],
      [
        { SQLITE_SYNC_API_KEY: API_KEY, SQLITE_SYNC_DATABASE_ID: `id ${API_KEY}` },
        /^Invalid SQLITE_SYNC_DATABASE_ID: /,
      ],
    ];
    for (const [env, pattern] of cases) {
      const r = await example({ SQLITE_SYNC_DATABASE_ID: "db_example", ...env });
      assertOneLine(r, 2, pattern);
      assertNoCredential(r);
    }
  });
});
