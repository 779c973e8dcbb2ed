/**
 * Secrets canary, network side: every network error kind with the canary API
 * key and token set (a refused port, a listener that never answers with 1 s
 * time-outs, servers answering every request with 401, 403, 503, some of them
 * echoing the request's headers, Authorization included, in their body), the
 * 1.1.4 sync trap's partial result, and bad options (a key passed as address,
 * as database id, as the address' host name). Some servers echo the
 * Authorization header's value, and the credential alone, in every encoding
 * (base64 and base64url at each byte offset, percent-encoded in either case or
 * in part, hex): no form of a canary (tests/_canary.ts) may show. Fixtures are
 * non-protocol only.
 */
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { refusedPort, tempDir, testExtensionPath } from "./_helpers.ts";
import { errorServer, silentListener } from "./src/_error_servers.ts";
import { SyncDatabase } from "../src/database.ts";
import type { SqliteSyncError } from "../common/errors.ts";
import { API_KEY, expectCanaryFree, PASSWORD, TOKEN } from "./_canary.ts";

/** A database with one synced table, 1 s time-outs and the network pointed at `address`. */
async function openAt(
  dir: string,
  address: string,
  credentials: { apiKey?: string; token?: string; databaseId?: string },
  dirty = true,
): Promise<SyncDatabase> {
  const db = await SyncDatabase.open(join(dir, `${crypto.randomUUID()}.db`), {
    extensionPath: await testExtensionPath(),
  });
  db.exec("CREATE TABLE notes (id TEXT PRIMARY KEY NOT NULL, body TEXT)");
  db.init("notes");
  db.set("network_request_timeout", 1);
  db.set("network_connect_timeout", 1);
  const { databaseId = "canary-db", ...auth } = credentials;
  db.network.init({ databaseId, address, ...auth });
  if (dirty) db.run("INSERT INTO notes (id, body) VALUES (?, ?)", db.uuid(), "local");
  return db;
}

/** Every network call of the public API, each of which can fail. */
function networkCalls(db: SyncDatabase): [string, () => unknown][] {
  return [
    ["sendChanges()", () => db.network.sendChanges()],
    ["sync()", () => db.network.sync()],
    ["receiveChanges()", () => db.network.receiveChanges()],
    ["status()", () => db.network.status()],
    ["hasUnsentChanges()", () => db.network.hasUnsentChanges()],
  ];
}

/** The last line of the fixture's {@link errorServer} `{{AUTH_ENCODED}}` echo, masked: it all came. */
const ENCODED_ECHO = /\[credential base64url @2\] [^\n]*\*\*\*[\s\S]*\[credential HEX\] \*\*\*/;

describe("secrets canary: network errors", () => {
  const dir = tempDir("sqlite-sync-canary-");
  after(() => dir.cleanup());

  for (
    const [auth, credentials] of [["API key", { apiKey: API_KEY }], ["token", {
      token: TOKEN,
    }]] as const
  ) {
    it(`network errors at a refused port ('offline') never show the ${auth}`, async () => {
      const db = await openAt(dir.path, `http://127.0.0.1:${await refusedPort()}`, credentials);
      try {
        for (const [name, call] of networkCalls(db)) {
          expectCanaryFree(`refused ${name}`, call, "offline");
        }
      } finally {
        db.close();
      }
    });

    it(`network errors against a listener that never answers ('timeout') never show the ${auth}`, async () => {
      const listener = await silentListener();
      const db = await openAt(dir.path, `http://127.0.0.1:${listener.port}`, credentials);
      try {
        expectCanaryFree("silent sendChanges()", () => db.network.sendChanges(), "timeout");
        expectCanaryFree("silent receiveChanges()", () => db.network.receiveChanges(), "timeout");
      } finally {
        db.close();
        await listener.close();
      }
    });
  }

  const servers: [string, number, string, string, string, RegExp?][] = [
    [
      "401 (JSON envelope)",
      401,
      "Unauthorized",
      '{"errors":[{"status":"401","code":"unauthorized","title":"Unauthorized"}]}',
      "auth",
    ],
    ["403 (plain text)", 403, "Forbidden", "Forbidden", "auth"],
    [
      "503 (JSON envelope)",
      503,
      "Service Unavailable",
      '{"errors":[{"status":"503","code":"database_paused","title":"Database paused"}]}',
      "http",
    ],
    // Echoes: the credential comes back in the body; the masked header proves redaction ran.
    [
      "401 echoing the request headers (JSON)",
      401,
      "Unauthorized",
      '{"errors":[{"status":"401","code":"unauthorized","title":"You sent {{HEADERS}}"}]}',
      "auth",
      /Authorization: \*\*\*/,
    ],
    [
      "403 echoing the request headers (text)",
      403,
      "Forbidden",
      "Forbidden. You sent: {{HEADERS}}",
      "auth",
      /Authorization: \*\*\*/,
    ],
    [
      "503 echoing the request headers (text)",
      503,
      "Service Unavailable",
      "Down. You sent: {{HEADERS}}",
      "http",
      /Authorization: \*\*\*/,
    ],
    // The Authorization value and the credential alone, base64/base64url at each byte offset,
    // percent-encoded (upper, lower, every other byte) and hex: the labels prove the body came
    // (a text body is cut at 500 characters, after redaction: its first encodings come).
    [
      "401 echoing the Authorization header in every encoding (JSON)",
      401,
      "Unauthorized",
      '{"errors":[{"status":"401","code":"unauthorized","title":"You sent {{AUTH_ENCODED}}"}]}',
      "auth",
      ENCODED_ECHO,
    ],
    [
      "403 echoing the Authorization header in every encoding (text)",
      403,
      "Forbidden",
      "Forbidden. You sent:\n{{AUTH_ENCODED}}",
      "auth",
      /\[auth base64 @0\] \*\*\*[\s\S]*\[auth HEX\] \*\*\*/,
    ],
    [
      "503 echoing the credential in every encoding (text)",
      503,
      "Service Unavailable",
      "Down. You sent:\n{{CREDENTIAL_ENCODED}}",
      "http",
      /\[credential base64 @0\] \*\*\*[\s\S]*\[credential percent\] \*\*\*/,
    ],
  ];
  for (const [label, code, reason, body, kind, pattern] of servers) {
    for (
      const [auth, credentials] of [["API key", { apiKey: API_KEY }], ["token", {
        token: TOKEN,
      }]] as const
    ) {
      it(`network errors from a server answering ${label} never show the ${auth}`, async () => {
        const server = await errorServer(code, reason, body);
        const db = await openAt(dir.path, `http://127.0.0.1:${server.port}`, credentials);
        try {
          for (const [name, call] of networkCalls(db)) {
            expectCanaryFree(`${label} ${name}`, call, kind, pattern);
          }
        } finally {
          db.close();
          await server.stop();
        }
      });
    }
  }

  it("network.sync() diagnosing the 1.1.4 trap against an echoing 401 keeps a canary-free partial result", async () => {
    const server = await errorServer(
      401,
      "Unauthorized",
      "Unauthorized. You sent: {{HEADERS}}\n{{AUTH_ENCODED}}",
    );
    const db = await openAt(
      dir.path,
      `http://127.0.0.1:${server.port}`,
      { apiKey: API_KEY },
      false,
    );
    try {
      const err = expectCanaryFree(
        "trap",
        () => db.network.sync(),
        "auth",
        /follow-up status request/,
      );
      assert.ok((err as SqliteSyncError).partial, "the trap's partial result is attached");
      expectCanaryFree("trap undiagnosed", () => db.network.sync({ diagnose: false }), "offline");
    } finally {
      db.close();
      await server.stop();
    }
  });

  it("network errors never show a key pasted into the address's host name, though curl lower-cases it", async () => {
    const db = await openAt(dir.path, `https://${API_KEY}.invalid`, { apiKey: API_KEY });
    try {
      const err = expectCanaryFree("key as host", () => db.network.sendChanges(), "offline");
      assert.match(err.message, /\*\*\*\.invalid/, "the host name reached the message, masked");
    } finally {
      db.close();
    }
  });

  it("network errors never show a key pasted as the database id, echoed back by the server", async () => {
    const server = await errorServer(404, "Not Found", "No database. You sent: {{HEADERS}}");
    const db = await openAt(dir.path, `http://127.0.0.1:${server.port}`, {
      databaseId: API_KEY,
      token: TOKEN,
    });
    try {
      for (const [name, call] of networkCalls(db)) {
        expectCanaryFree(`id as key ${name}`, call, "http");
      }
    } finally {
      db.close();
      await server.stop();
    }
  });

  it("network.init() rejects a key passed as address or database id, or a credential in the URL, without showing it", async () => {
    const db = await SyncDatabase.open(join(dir.path, "init.db"), {
      extensionPath: await testExtensionPath(),
    });
    try {
      const cases: [string, Record<string, unknown>][] = [
        ["key as address", { databaseId: "db", address: API_KEY }],
        ["key with a colon as address", { databaseId: "db", address: `key:${API_KEY}` }],
        ["password as database id", { databaseId: PASSWORD }],
        ["long key as database id", { databaseId: API_KEY.repeat(20) }],
        ["key in the address' user info", {
          databaseId: "db",
          address: `https://u:${API_KEY}@h.example`,
        }],
        ["key in the address' query", {
          databaseId: "db",
          address: `https://h.example/?apikey=${API_KEY}`,
        }],
        ["key over plain http", { databaseId: "db", address: `http://${API_KEY}.example` }],
        ["key with whitespace", { databaseId: "db", apiKey: `${API_KEY} x` }],
        ["token with a newline", { databaseId: "db", token: `${TOKEN}\n` }],
      ];
      for (const [label, options] of cases) {
        // deno-lint-ignore no-explicit-any
        expectCanaryFree(label, () => db.network.init(options as any), TypeError);
      }
    } finally {
      db.close();
    }
  });
});
