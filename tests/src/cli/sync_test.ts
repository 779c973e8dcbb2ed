/**
 * `sqlite-sync sync` end to end in child processes, against
 * non-protocol fixtures alone: a refused port and the fixed-error HTTP server
 * (tests/src/_http_error_server.ts, 503 and 401). A network failure is one
 * line with its kind and exit code 1; the credential (from the environment or
 * a file) reaches the server but never the output, even when the server
 * echoes it back. The database id comes from --database-id, else from
 * SQLITE_SYNC_DATABASE_ID; without either: exit 2, one line naming both.
 * Without a credential: exit 2 before any network access (a silent listener
 * at --address sees no connection). With --json, a failure is one JSON
 * document on stdout.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { connect, createServer, type Socket } from "node:net";
import { join } from "node:path";
import { API_KEY, TOKEN } from "../../_canary.ts";
import { listen, refusedPort, tempDir } from "../../_helpers.ts";
import { errorServer } from "../_error_servers.ts";
import { describeResult } from "../../../src/cli/sync.ts";
import {
  assertJsonFailure,
  assertNoCanaryOutput,
  assertOneLineError,
  cli,
  makeDatabase,
  secretFile,
  shown,
} from "./_cli.ts";

// Error bodies as the CloudSync service shapes them (1.1.4 reports the status from the body).
const PAUSED = '{"errors":[{"status":"503","code":"database_paused","title":"Database paused"}]}';
const UNAUTHORIZED_ECHO =
  '{"errors":[{"status":"401","code":"unauthorized","title":"Unauthorized: {{HEADERS}}"}]}';

/** The echoed Authorization header: the credential reached the server, and is masked in the line. */
const SENT_AND_MASKED = /Authorization: (Bearer )?\*\*\*/;

/**
 * A listener that accepts connections and never answers (a silent listener),
 * recording the peer port of each. `acceptedBeforeSentinel()` connects once
 * itself and waits until that connection is accepted: connections are
 * accepted in the order they arrived, so any the CLI opened earlier are
 * recorded by then, with no sleep.
 */
async function recordingListener() {
  const peers: number[] = [];
  const sockets = new Set<Socket>();
  let wake: () => void = () => {};
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on("error", () => {});
    socket.resume();
    peers.push(socket.remotePort ?? -1);
    wake();
  });
  const port = await listen(server);
  return {
    port,
    async acceptedBeforeSentinel(): Promise<number[]> {
      const sentinel = connect(port, "127.0.0.1");
      await new Promise<void>((resolve, reject) => {
        sentinel.once("connect", resolve);
        sentinel.once("error", reject);
      });
      const own = sentinel.localPort;
      await new Promise<void>((resolve) => {
        const check = () => (peers.includes(own!) ? resolve() : (wake = check));
        check();
      });
      sentinel.destroy();
      return peers.slice(0, peers.indexOf(own!));
    },
    close(): Promise<void> {
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

describe("sqlite-sync sync", () => {
  let dir: { path: string; cleanup: () => void };
  let db = "";
  let keyFile = "";
  let tokenFile = "";
  let unavailable: { port: number; stop: () => Promise<void> };
  let echo401: { port: number; stop: () => Promise<void> };
  before(async () => {
    dir = tempDir();
    db = await makeDatabase(join(dir.path, "app.db"), { init: true, rows: 2 });
    keyFile = secretFile(join(dir.path, "api-key"), API_KEY);
    tokenFile = secretFile(join(dir.path, "token"), TOKEN);
    unavailable = await errorServer(503, "Service Unavailable", PAUSED);
    // Echoes the request's headers (the Authorization header included) in its error body.
    echo401 = await errorServer(401, "Unauthorized", UNAUTHORIZED_ECHO);
  });
  after(async () => {
    await unavailable?.stop();
    await echo401?.stop();
    dir.cleanup();
  });

  const syncTo = (port: number, ...extra: string[]) => [
    "sync",
    db,
    "--database-id",
    "db_cli_test",
    "--address",
    `http://127.0.0.1:${port}`,
    ...extra,
  ];

  it("sync to a refused port exits 1 with one line naming the kind 'offline'", async () => {
    const r = await cli(syncTo(await refusedPort()), { env: { SQLITE_SYNC_API_KEY: API_KEY } });
    assertOneLineError(r, 1, /^sqlite-sync: sync failed \(offline\): .*127\.0\.0\.1/);
    assertNoCanaryOutput(r, "refused port");
  });

  it("sync --json to a refused port prints one JSON failure { ok: false, kind: 'offline' } on stdout and the line on stderr (exit 1)", async () => {
    const r = await cli(syncTo(await refusedPort(), "--json"), {
      env: { SQLITE_SYNC_TOKEN: TOKEN },
    });
    assertJsonFailure(r, 1, "offline", /^sync failed \(offline\): /);
    assertNoCanaryOutput(r, "--json to a refused port");
  });

  it("sync without any credential exits 2 naming both ways to give one, before any network access (a listener at --address sees no connection)", async () => {
    const listener = await recordingListener();
    try {
      const address = `http://127.0.0.1:${listener.port}`;
      for (const json of [false, true]) {
        // A short time-out: were a request made, the silent listener would hold it that long.
        const r = await cli(syncTo(listener.port, "--timeout", "2", ...(json ? ["--json"] : [])), {
          env: { SQLITE_SYNC_API_KEY: undefined, SQLITE_SYNC_TOKEN: undefined },
        });
        const pattern =
          /no credential: set SQLITE_SYNC_API_KEY \(an API key\) or SQLITE_SYNC_TOKEN \(an access token\), or pass --api-key-file <file> or --token-file <file>/;
        if (json) assertJsonFailure(r, 2, "usage", pattern);
        else assertOneLineError(r, 2, pattern);
        assert.ok(!r.stderr.includes(address), "no address is named: nothing was tried");
      }
      assert.deepEqual(await listener.acceptedBeforeSentinel(), []);
    } finally {
      await listener.close();
    }
  });

  it("sync against a server answering 503 exits 1 with one line naming its kind and status", async () => {
    const r = await cli(syncTo(unavailable.port), { env: { SQLITE_SYNC_API_KEY: API_KEY } });
    assertOneLineError(
      r,
      1,
      /^sqlite-sync: sync failed \(http\): .*server answered 503 database_paused$/,
    );
    assertNoCanaryOutput(r, "503");
  });

  it("sync with a key from SQLITE_SYNC_API_KEY against a server echoing it in a 401 exits 1 ('auth') without showing it", async () => {
    const r = await cli(syncTo(echo401.port), { env: { SQLITE_SYNC_API_KEY: API_KEY } });
    assertOneLineError(
      r,
      1,
      /^sqlite-sync: sync failed \(auth\): .*server answered 401 unauthorized Unauthorized: /,
    );
    assertNoCanaryOutput(r, "echoing 401, key from env");
    assert.match(r.stderr, SENT_AND_MASKED, "the credential was sent (and masked in the echo)");
  });

  it("sync with --api-key-file against a server echoing the key in a 401 exits 1 ('auth') without showing it", async () => {
    const r = await cli(syncTo(echo401.port, "--api-key-file", keyFile), {
      env: { SQLITE_SYNC_TOKEN: undefined },
    });
    assertOneLineError(
      r,
      1,
      /^sqlite-sync: sync failed \(auth\): .*server answered 401 unauthorized Unauthorized: /,
    );
    assertNoCanaryOutput(r, "echoing 401, key from file");
    assert.match(r.stderr, SENT_AND_MASKED, "the credential was sent (and masked in the echo)");
  });

  it("sync with --token-file against a server echoing the token in a 401 exits 1 ('auth') without showing it", async () => {
    // The file wins over the variable, and neither value is shown.
    const r = await cli(syncTo(echo401.port, "--token-file", tokenFile), {
      env: { SQLITE_SYNC_API_KEY: API_KEY },
    });
    assertOneLineError(
      r,
      1,
      /^sqlite-sync: sync failed \(auth\): .*server answered 401 unauthorized Unauthorized: /,
    );
    assertNoCanaryOutput(r, "echoing 401, token from file");
    assert.match(r.stderr, SENT_AND_MASKED, "the credential was sent (and masked in the echo)");
  });

  it("sync without --database-id reads SQLITE_SYNC_DATABASE_ID (refused port: exit 1 'offline')", async () => {
    const r = await cli(
      ["sync", db, "--address", `http://127.0.0.1:${await refusedPort()}`],
      { env: { SQLITE_SYNC_DATABASE_ID: "db_from_env", SQLITE_SYNC_API_KEY: API_KEY } },
    );
    assertOneLineError(r, 1, /^sqlite-sync: sync failed \(offline\): .*127\.0\.0\.1/);
    assertNoCanaryOutput(r, "database id from the environment");
  });

  it("a malformed SQLITE_SYNC_DATABASE_ID is named (exit 2, value not shown); --database-id wins over it", async () => {
    const address = `http://127.0.0.1:${await refusedPort()}`;
    const env = { SQLITE_SYNC_DATABASE_ID: `id ${API_KEY}`, SQLITE_SYNC_API_KEY: API_KEY };
    const bad = await cli(["sync", db, "--address", address], { env });
    assertOneLineError(
      bad,
      2,
      /^sqlite-sync: Invalid SQLITE_SYNC_DATABASE_ID: .*\(it contains whitespace\).*the value is not shown/,
    );
    assertNoCanaryOutput(bad, "malformed SQLITE_SYNC_DATABASE_ID");
    const flag = await cli(["sync", db, "--database-id", "db_flag", "--address", address], { env });
    assertOneLineError(flag, 1, /^sqlite-sync: sync failed \(offline\): /);
    assertNoCanaryOutput(flag, "--database-id over the variable");
  });

  it("sync without --database-id and without SQLITE_SYNC_DATABASE_ID exits 2 with one line naming both", async () => {
    for (const value of [undefined, ""]) {
      const r = await cli(["sync", db], {
        env: { SQLITE_SYNC_DATABASE_ID: value, SQLITE_SYNC_API_KEY: API_KEY },
      });
      assertOneLineError(
        r,
        2,
        /^sqlite-sync: missing --database-id: sqlite-sync sync <db> --database-id <id>, or set SQLITE_SYNC_DATABASE_ID$/,
      );
      assertNoCanaryOutput(r, "no database id");
    }
  });

  it("sync leaves the local changes unsent after a failure (status still counts them)", async () => {
    const failed = await cli(syncTo(await refusedPort()), {
      env: { SQLITE_SYNC_API_KEY: API_KEY },
    });
    assert.equal(failed.code, 1, shown(failed));
    const status = await cli(["status", db, "--json"]);
    assert.equal(status.code, 0, shown(status));
    assert.equal(JSON.parse(status.stdout).unsentChanges, 2);
  });
});

describe("sqlite-sync sync: the result as text", () => {
  it("describeResult() shows what was sent and received", () => {
    const lines = describeResult("app.db", {
      send: { status: "synced", localVersion: 7, serverVersion: 7, chunks: 1, bytes: 2048 },
      receive: { rows: 3, tables: ["notes", "tags"], chunks: 2, bytes: 512, complete: false },
    });
    assert.deepEqual(lines, [
      "synced app.db: synced",
      "sent      1 chunk (2.0 KB), local version 7, server version 7",
      "received  3 rows in notes, tags (2 chunks, 512 B), more to receive",
    ]);
  });
});
