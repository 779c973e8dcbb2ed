/**
 * Secrets canary of the CLI and the daemon against servers that echo the
 * credential they were sent in every encoding (tests/src/_http_error_server.ts
 * `{{AUTH_ENCODED}}`: the Authorization value and the credential alone, as is,
 * base64 and base64url at each byte offset, percent-encoded in upper and lower
 * case and every other byte, hex). No form of a canary (tests/_canary.ts) may
 * reach `sqlite-sync sync`'s stderr or stdout, the daemon's JSON log, its
 * HTTP answers (/status, /healthz, /metrics, the page, POST /sync), the
 * `.sync-queue` files on disk, or `sqlite-sync status` reading them. The echo's
 * masked labels prove each body came. Fixtures are non-protocol only.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { API_KEY, FORMS, TOKEN } from "../../_canary.ts";
import { tempDir, testExtensionPath } from "../../_helpers.ts";
import { errorServer } from "../_error_servers.ts";
import { queuePathFor } from "../../../src/scheduler/_queue_path.ts";
import {
  assertJsonFailure,
  assertNoCanaryOutput,
  assertOneLineError,
  cli,
  makeDatabase,
  secretFile,
  shown,
} from "./_cli.ts";
import {
  createTable,
  daemonArgv,
  DaemonChild,
  daemonEnv,
  get,
  writeSecret,
} from "./_daemon_harness.ts";

/** A 401 and a 503 that echo the credential in every encoding (no `Authorization:` line first). */
const ECHO_401 =
  '{"errors":[{"status":"401","code":"unauthorized","title":"You sent:\\n{{AUTH_ENCODED}}"}]}';
const ECHO_503 =
  '{"errors":[{"status":"503","code":"database_paused","title":"You sent:\\n{{AUTH_ENCODED}}"}]}';
/** The echo's first and last encodings, masked: the whole body came, redacted. */
const ECHOED = /\[auth base64 @0\] \*\*\*[\s\S]*\[credential HEX\] \*\*\*/;

/** Where a canary form occurs in `text` (case-insensitively), if anywhere. */
function leak(text: string): string | undefined {
  const lower = text.toLowerCase();
  return FORMS.find((form) => lower.includes(form.toLowerCase()));
}

function assertClean(text: string, label: string): void {
  const form = leak(text);
  assert.equal(form, undefined, `${label}: the canary form ${form} leaked in:\n${text}`);
}

let dir: ReturnType<typeof tempDir>;
let echo401: { port: number; stop: () => Promise<void> };
let echo503: { port: number; stop: () => Promise<void> };
before(async () => {
  dir = tempDir("sqlite-sync-cli-canary-");
  echo401 = await errorServer(401, "Unauthorized", ECHO_401);
  echo503 = await errorServer(503, "Service Unavailable", ECHO_503);
});
after(async () => {
  await echo401?.stop();
  await echo503?.stop();
  dir?.cleanup();
});

describe("sqlite-sync sync secrets canary: servers echoing the credential in every encoding", () => {
  const cases: [string, () => string[], Record<string, string | undefined>][] = [
    ["the key from SQLITE_SYNC_API_KEY", () => [], { SQLITE_SYNC_API_KEY: API_KEY }],
    [
      "the key from --api-key-file",
      () => ["--api-key-file", secretFile(join(dir.path, "api-key"), API_KEY)],
      {},
    ],
    [
      "the token from --token-file",
      () => ["--token-file", secretFile(join(dir.path, "token"), TOKEN)],
      {},
    ],
    ["the token from SQLITE_SYNC_TOKEN", () => [], { SQLITE_SYNC_TOKEN: TOKEN }],
  ];
  for (const [what, flags, env] of cases) {
    it(`sync with ${what} against a 401 and a 503 echoing it in every encoding exits 1 with one line (or --json's failure document) showing no form of it`, async () => {
      const db = await makeDatabase(join(dir.path, `${crypto.randomUUID()}.db`), {
        init: true,
        rows: 1,
      });
      for (const [server, kind] of [[echo401, "auth"], [echo503, "http"]] as const) {
        for (const json of [[], ["--json"]]) {
          const args = [
            "sync",
            db,
            "--database-id",
            "db_cli_canary",
            "--address",
            `http://127.0.0.1:${server.port}`,
            ...flags(),
            ...json,
          ];
          const r = await cli(args, { env });
          const label = `${what}, ${kind}${json.length ? ", --json" : ""}`;
          if (json.length) assertJsonFailure(r, 1, kind, ECHOED);
          else assertOneLineError(r, 1, new RegExp(`^sqlite-sync: sync failed \\(${kind}\\): `));
          assert.match(r.stderr, ECHOED, `${label}: the echo came, masked: ${shown(r)}`);
          assertNoCanaryOutput(r, label);
        }
      }
    });
  }
});

describe("sqlite-sync daemon secrets canary: servers echoing the credential in every encoding", () => {
  it(
    "the daemon shows no form of the key or token in its log, /status, /healthz, /metrics, the page, POST /sync, the queue files, or `sqlite-sync status` of them",
    { timeout: 120_000 },
    async () => {
      const folder = join(dir.path, "daemon");
      mkdirSync(folder);
      writeSecret(join(folder, "api-key"), API_KEY);
      writeSecret(join(folder, "token"), TOKEN);
      writeSecret(join(folder, "http-token"), "http-token-for-canary-test");
      const databases = [
        { name: "keyed", credential: { apiKeyFile: "api-key" }, port: echo401.port },
        { name: "tokened", credential: { tokenFile: "token" }, port: echo401.port },
        { name: "paused", credential: { apiKeyFile: "api-key" }, port: echo503.port },
      ];
      const table =
        "CREATE TABLE IF NOT EXISTS notes (id TEXT PRIMARY KEY NOT NULL, body TEXT NOT NULL DEFAULT '')";
      for (const d of databases) await createTable(join(folder, `${d.name}.db`), table);
      const config = join(folder, "daemon.jsonc");
      writeFileSync(
        config,
        JSON.stringify({
          databases: databases.map((d) => ({
            name: d.name,
            path: `${d.name}.db`,
            databaseId: "db_daemon_canary",
            address: `http://127.0.0.1:${d.port}`,
            tables: ["notes"],
            intervalMs: 60_000,
            ...d.credential,
          })),
          http: { host: "127.0.0.1", port: 0, tokenFile: "http-token" },
          stopGraceMs: 1500,
        }),
      );
      const daemon = new DaemonChild(daemonArgv(config), daemonEnv(await testExtensionPath()));
      try {
        const port = await daemon.port();
        for (const d of databases) {
          const failed = await daemon.waitFor((l) =>
            l.event === "sync.failed" && l.database === d.name
          );
          assert.match(JSON.stringify(failed), /\[auth base64 @0\] \*\*\*/, d.name);
        }
        const seen: [string, string][] = [];
        for (const path of ["/status", "/healthz", "/metrics", "/"]) {
          const r = await get(port, path);
          seen.push([`GET ${path} (${r.status})`, r.text]);
        }
        assert.match(seen[0][1], ECHOED, "/status carries the (masked) echo");
        const sync = await fetch(`http://127.0.0.1:${port}/sync?database=keyed&database=tokened`, {
          method: "POST",
          headers: { Authorization: "Bearer http-token-for-canary-test" },
        });
        const body = await sync.text();
        assert.equal(sync.status, 502, body);
        assert.match(body, ECHOED, "POST /sync carries the (masked) echo");
        seen.push(["POST /sync", body]);
        const exit = await daemon.signal("SIGTERM");
        assert.equal(exit.code, 0, daemon.stderr);
        seen.push(["daemon stdout (the JSON log)", daemon.stdout]);
        seen.push(["daemon stderr", daemon.stderr]);
        for (const [label, text] of seen) assertClean(text, label);

        for (const d of databases) {
          const db = join(folder, `${d.name}.db`);
          const queue = queuePathFor(db);
          assert.ok(existsSync(queue), `${d.name}: no queue file`);
          const files = [queue, `${queue}-wal`].filter(existsSync)
            .map((file) => [file, readFileSync(file).toString("latin1")] as const);
          for (const [file, bytes] of files) assertClean(bytes, `${d.name}: ${file}`);
          assert.ok(
            files.some(([, bytes]) => bytes.includes("[auth base64 @0] ***")),
            `${d.name}: the queue keeps the (masked) echo`,
          );
          for (const json of [[], ["--json"]]) {
            const r = await cli(["status", db, ...json]);
            assert.equal(r.code, 0, shown(r));
            // A dead job shows its error (the masked echo); the retried one has not finished.
            if (d.port === echo401.port) {
              assert.match(r.stdout, /\*\*\*/, `${d.name}: status shows the masked echo`);
            }
            assertNoCanaryOutput(r, `status ${d.name} ${json.join(" ")}`);
          }
        }
      } finally {
        daemon.kill();
      }
    },
  );
});
