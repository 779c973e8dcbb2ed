/**
 * Hostile values for hostile_test.ts: UUIDs, settings, payloads
 * (applyChanges(), encodeChanges()) and network options (ids, addresses,
 * credentials with control characters, sync arguments, logout, a call before
 * init), each refused with a message that never echoes a credential.
 */
import type { SettingKey } from "../../src/settings.ts";
import { any, type Case, LONG } from "./_hostile_fixtures.ts";

// Fixed bytes (no CLSY signature), so the case is reproducible.
const JUNK = Uint8Array.from({ length: 64 }, (_, i) => (i * 37 + 11) & 0xff);
const FAKE_CLSY = new Uint8Array([0x43, 0x4c, 0x53, 0x59, 1, 2, 3, 4, 5, 6, 7, 8]);

/** Calls with hostile values and network options, in the order hostile_test.ts runs them. */
export const VALUE_CASES: Case[] = [
  // ---- values ----
  {
    name: "uuidBlob() not a uuid",
    run: (db) => db.uuidBlob("not-a-uuid"),
    expect: TypeError,
    message: /expected a UUID, got "not-a-uuid"/,
  },
  {
    name: "uuidText() 15 bytes",
    run: (db) => db.uuidText(new Uint8Array(15)),
    expect: TypeError,
    message: /16 bytes, got Uint8Array\(15\)/,
  },
  {
    name: "set() send_dbversion",
    run: (db) => db.set(any("send_dbversion"), 0),
    expect: TypeError,
    message: /"send_dbversion".*never writable/,
  },
  {
    name: "set() check_seq",
    run: (db) => db.set(any("check_seq"), 1),
    expect: TypeError,
    message: /"check_seq"/,
  },
  ...[-1, NaN, 1.5, "10", 1e12].map((value): Case => ({
    name: `set() network_request_timeout ${String(value)}`,
    run: (db) => db.set("network_request_timeout" as SettingKey, any(value)),
    expect: RangeError,
    message: /network_request_timeout: expected an integer from 1 to 86400 seconds/,
  })),
  {
    name: "applyChanges() random bytes",
    run: (db) => db.applyChanges(JUNK),
    expect: "apply",
    message: /invalid signature/,
  },
  {
    name: "applyChanges() fake CLSY header",
    run: (db) => db.applyChanges(FAKE_CLSY),
    expect: "apply",
    message: /invalid input size/,
  },
  {
    name: "applyChanges() empty",
    run: (db) => db.applyChanges(new Uint8Array(0)),
    expect: TypeError,
    message: /non-empty Uint8Array/,
  },
  {
    name: "applyChanges() string",
    run: (db) => db.applyChanges(any("CLSY")),
    expect: TypeError,
    message: /non-empty Uint8Array/,
  },
  {
    name: "encodeChanges() sinceDbVersion -1",
    run: (db) => db.encodeChanges({ sinceDbVersion: -1 }),
    expect: RangeError,
    message: /sinceDbVersion.*-1/,
  },
  {
    name: "encodeChanges() excludeSiteId zz",
    run: (db) => db.encodeChanges({ excludeSiteId: "zz" }),
    expect: TypeError,
    message: /site id.*"zz"/,
  },
  // ---- network ----
  {
    name: "network.init() databaseId with /",
    run: (db) => db.network.init({ databaseId: "a/../b" }),
    expect: TypeError,
    message: /databaseId: a 6-character string .*'\/'/,
  },
  {
    name: "network.init() databaseId with spaces",
    run: (db) => db.network.init({ databaseId: "my db" }),
    expect: TypeError,
    message: /databaseId: a 5-character string .*whitespace/,
  },
  {
    name: "network.init() databaseId 10 KB",
    run: (db) => db.network.init({ databaseId: LONG }),
    expect: TypeError,
    message: /databaseId/,
  },
  {
    name: "network.init() ftp address",
    run: (db) => db.network.init({ databaseId: "db", address: "ftp://x" }),
    expect: TypeError,
    message: /ftp: is not http/,
  },
  {
    name: "network.init() credentials in address",
    run: (db) => db.network.init({ databaseId: "db", address: "https://user:pw@host" }),
    expect: TypeError,
    message: /credentials belong in apiKey or token/,
    secret: "pw",
  },
  {
    name: "network.init() apiKey with newline",
    run: (db) => db.network.init({ databaseId: "db", apiKey: "sqa_KEY123\r\nX-Evil: 1" }),
    expect: TypeError,
    message: /apiKey.*control characters/,
    secret: "sqa_KEY123",
  },
  {
    name: "network.init() apiKey with NUL",
    run: (db) => db.network.init({ databaseId: "db", apiKey: "sqa_KEY456\0tail" }),
    expect: TypeError,
    message: /apiKey.*control characters/,
    secret: "sqa_KEY456",
  },
  {
    name: "network.init() empty apiKey",
    run: (db) => db.network.init({ databaseId: "db", apiKey: "" }),
    expect: TypeError,
    message: /apiKey.*non-empty/,
  },
  {
    name: "network.init() token with newline",
    run: (db) => db.network.init({ databaseId: "db", token: "eyJsecret.token\n" }),
    expect: TypeError,
    message: /token.*control characters/,
    secret: "eyJsecret",
  },
  {
    name: "network.sync() waitMs -1",
    run: (db) => db.network.sync({ waitMs: -1 }),
    expect: RangeError,
    message: /waitMs.*-1/,
  },
  {
    name: "network.sync() maxAttempts 0",
    run: (db) => db.network.sync({ maxAttempts: 0 }),
    expect: RangeError,
    message: /maxAttempts.*got 0/,
  },
  {
    name: "network.receiveChanges() maxChunks 1.5",
    run: (db) => db.network.receiveChanges({ maxChunks: 1.5 }),
    expect: RangeError,
    message: /maxChunks.*1.5/,
  },
  {
    name: "network.logout({})",
    run: (db) => db.network.logout(any({})),
    expect: TypeError,
    message: /deleteLocalData: true/,
  },
  {
    name: "network.sendChanges() before init",
    run: (db) => db.network.sendChanges(),
    expect: "state",
    message: /network.init\(\) first/,
  },
];
