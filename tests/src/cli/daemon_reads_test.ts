/**
 * Who may read the daemon's status app: on a bind that is not loopback with
 * `http.tokenFile`, the token guards `/status`, `/metrics` and the page too
 * (`/healthz` stays open); `"public": true` opens them on purpose.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { refusedPort, tempDir, testExtensionPath } from "../../_helpers.ts";
import { API_KEY, TOKEN } from "../../_canary.ts";
import { createTable, daemonArgv, DaemonChild, daemonEnv, writeSecret } from "./_daemon_harness.ts";

let extension = "";
let dir: ReturnType<typeof tempDir>;
let refused = 0;
const children: DaemonChild[] = [];

before(async () => {
  extension = await testExtensionPath();
  dir = tempDir("sqlite-sync-daemon-reads-");
  refused = await refusedPort();
  writeSecret(join(dir.path, "api-key"), API_KEY);
  writeSecret(join(dir.path, "http-token"), TOKEN);
  await createTable(join(dir.path, "a.db"), "CREATE TABLE notes (id TEXT PRIMARY KEY NOT NULL)");
});
after(() => {
  for (const c of children) c.kill();
  dir?.cleanup();
});

/** A daemon bound to every address (`0.0.0.0`) with the token file, reached on 127.0.0.1. */
async function daemonOnTheNetwork(http: Record<string, unknown>): Promise<number> {
  const config = join(dir.path, `daemon-${children.length}.json`);
  writeFileSync(
    config,
    JSON.stringify({
      databases: [{
        name: "a",
        path: "a.db",
        databaseId: "db_reads_test",
        address: `http://127.0.0.1:${refused}`,
        apiKeyFile: "api-key",
        tables: ["notes"],
        intervalMs: 60_000,
      }],
      http: { host: "0.0.0.0", port: 0, ...http },
    }),
  );
  const child = new DaemonChild(daemonArgv(config), daemonEnv(extension));
  children.push(child);
  return await child.port();
}

async function statusOf(port: number, path: string, authorization?: string): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, {
    headers: authorization === undefined ? {} : { authorization },
  });
  await res.body?.cancel();
  return res.status;
}

describe("sqlite-sync daemon on a network bind", () => {
  it(
    "with http.tokenFile: /status, /metrics and the page need the token (bearer or Basic password), /healthz does not",
    {
      timeout: 60_000,
    },
    async () => {
      const port = await daemonOnTheNetwork({ tokenFile: "http-token" });
      const basic = `Basic ${btoa(`ops:${TOKEN}`)}`;
      for (const path of ["/status", "/metrics", "/"]) {
        assert.equal(await statusOf(port, path), 401, path);
        assert.equal(await statusOf(port, path, "Bearer not-the-token-0000"), 401, path);
        assert.equal(await statusOf(port, path, `Bearer ${TOKEN}`), 200, path);
        assert.equal(await statusOf(port, path, basic), 200, path);
      }
      assert.equal(await statusOf(port, "/healthz"), 200);
    },
  );

  it(
    'with "public": true and http.tokenFile: the reads are open, POST /sync still needs the token',
    {
      timeout: 60_000,
    },
    async () => {
      const port = await daemonOnTheNetwork({ tokenFile: "http-token", public: true });
      for (const path of ["/status", "/metrics", "/", "/healthz"]) {
        assert.equal(await statusOf(port, path), 200, path);
      }
      const sync = await fetch(`http://127.0.0.1:${port}/sync`, { method: "POST" });
      await sync.body?.cancel();
      assert.equal(sync.status, 401);
    },
  );
});
