/**
 * The Network class behind db.network (src/_network.ts) with a recording host
 * instead of the extension: the cleartext check on init() addresses, the
 * trap diagnosis's wording by chunks sent, and the bounded list of
 * credentials kept for redaction.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Network, type NetworkHost } from "../../src/_network.ts";
import { classifyError } from "../../src/classify.ts";
import { API_KEY, expectError, UNAUTHORIZED } from "./_network_fixtures.ts";

describe("db.network (src/_network.ts Network) with a recording host", () => {
  /** A host that answers every call with "{}" and records the secrets it is given. */
  function recordingHost(): NetworkHost & { calls: { sql: string; secrets: string[] }[] } {
    const calls: { sql: string; secrets: string[] }[] = [];
    return {
      calls,
      call: (sql, _params, _op, secrets) => {
        calls.push({ sql, secrets: [...secrets] });
        return "{}";
      },
      assertOpen: () => {},
      afterLogout: () => {},
      blockTables: () => [],
    };
  }

  it("network.init() refuses plain http:// to a non-loopback host, saying the key would travel in cleartext", () => {
    for (
      const address of [
        "http://example.com",
        "http://10.0.0.5:8080",
        "http://127.0.0.1.nip.io",
        "http://[::2]:80",
      ]
    ) {
      const host = recordingHost();
      const network = new Network(host);
      assert.throws(
        () => network.init({ databaseId: "db", address, apiKey: API_KEY }),
        (err) => {
          assert.ok(err instanceof TypeError, String(err));
          assert.match(err.message, /cleartext.*https:\/\/.*loopback/);
          assert.ok(!err.message.includes(API_KEY), err.message);
          return true;
        },
        address,
      );
      assert.equal(host.calls.length, 0, "validated before any call");
    }
  });

  it("network.init() accepts https:// anywhere and http:// on 127.0.0.1, [::1] and localhost", () => {
    for (
      const address of [
        "https://example.sqlite.cloud",
        "http://127.0.0.1:8080",
        "http://[::1]:8080",
        "http://localhost:8080",
        "http://LOCALHOST",
      ]
    ) {
      const host = recordingHost();
      new Network(host).init({ databaseId: "db", address, apiKey: API_KEY });
      assert.match(host.calls[0].sql, /cloudsync_network_init_custom/, address);
    }
  });

  it("network.sync() diagnosing a trap whose result has chunks sent says the send phase uploaded them; with none, that nothing was uploaded", () => {
    for (
      const [chunks, said] of [[2, /the send phase uploaded 2 chunks, 812 bytes/], [
        0,
        /nothing was uploaded: 0 chunks/,
      ]] as const
    ) {
      const trap =
        `{"send":{"status":"syncing","localVersion":3,"serverVersion":3,"chunks":${chunks},` +
        `"bytes":${chunks ? 812 : 0}},"receive":{"rows":0,"tables":[],"chunks":0,"bytes":0,` +
        `"complete":false,"error":"receive failed"}}`;
      const host: NetworkHost = {
        // What the database's call hook makes of the extension's errors (classified).
        call: (sql, _params, operation) => {
          if (/cloudsync_network_sync/.test(sql)) {
            throw classifyError(new Error(trap), operation, { network: true });
          }
          if (/cloudsync_network_status/.test(sql)) {
            throw classifyError(new Error(UNAUTHORIZED), operation, { network: true });
          }
          return 0;
        },
        assertOpen: () => {},
        afterLogout: () => {},
        blockTables: () => [],
      };
      const network = new Network(host);
      network.init({ databaseId: "db", address: "http://127.0.0.1:1", apiKey: API_KEY });
      const err = expectError(() => network.sync(), "auth", said);
      assert.equal(err.status, 401);
      assert.equal(err.partial?.send.chunks, chunks);
      assert.doesNotMatch(err.message, /send phase completed/);
    }
  });

  it("network.setToken() refreshed 100 times remembers only the last 8 credentials for redaction", () => {
    const host = recordingHost();
    const network = new Network(host);
    network.init({ databaseId: "db", address: "http://127.0.0.1:1", apiKey: API_KEY });
    for (let i = 0; i < 100; i++) network.setToken(`token.refresh.${String(i).padStart(3, "0")}`);
    network.resetSyncVersion();
    const last = host.calls.at(-1)!;
    assert.equal(last.secrets.length, 8);
    assert.equal(last.secrets.at(-1), "token.refresh.099");
    assert.ok(last.secrets.includes("token.refresh.092"));
    // Setting a remembered credential again makes it the most recent, not a duplicate.
    network.setToken("token.refresh.095");
    network.resetSyncVersion();
    const again = host.calls.at(-1)!.secrets;
    assert.equal(again.length, 8);
    assert.equal(new Set(again).size, 8);
    assert.equal(again.at(-1), "token.refresh.095");
  });
});
