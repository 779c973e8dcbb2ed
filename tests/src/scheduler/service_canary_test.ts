/**
 * Secrets canary for SyncService: an API key, tokens from getToken and a
 * canary inside the databaseId must never show in status() (but for its
 * `databaseId` field, the option as given), attempts(), in any event
 * payload, in any error (String, stack, JSON, util.inspect at depth 10,
 * causes) or in the bytes of the queue file and its WAL, in any letter case
 * or encoding (tests/_canary.ts: percent-encoded wholly or in part, hex,
 * base64 and base64url at each byte offset). Fixtures echo the request's
 * headers (Authorization included) back in their error bodies, and the
 * Authorization value and the credential alone in every encoding, so a leak
 * would show.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { inspect } from "node:util";
import { SyncService, type SyncServiceOptions } from "../../../src/scheduler/service.ts";
import { queuePathFor } from "../../../src/scheduler/_queue_path.ts";
import { refusedPort, tempDir, testExtensionPath } from "../../_helpers.ts";
import { errorServer } from "../_error_servers.ts";
import { logEvents, SERVICE_EVENTS } from "./_service_events.ts";
import { writeDirtyNotes } from "./_service_real.ts";
import { canaryForms } from "../../_canary.ts";

const API_KEY = "CanaryKEY9f2dQx7LmZ";
const TOKENS = ["canary-token-5b8e1c0d9a71", "canary-token-77e0aa41c3f2"];
const DB_CANARY = "dbCanary4d1e9b7c";
const CANARIES = [API_KEY, ...TOKENS, DB_CANARY];
const FORMS = CANARIES.flatMap(canaryForms);
const ECHO_401 =
  '{"errors":[{"status":"401","code":"unauthorized","title":"{{HEADERS}}\\n{{AUTH_ENCODED}}"}]}';
const ECHO_503 =
  '{"errors":[{"status":"503","code":"paused","title":"{{HEADERS}}\\n{{AUTH_ENCODED}}"}]}';
/** The echo's last encodings, masked, in an error: the whole body came, redacted. */
const ENCODED_ECHO = /\[credential base64url @2\] [^\n]*\*\*\*[\s\S]*\[credential HEX\] \*\*\*/;

/** Every text a caller or logger could see of a value (an error, an event, a status). */
function textsOf(value: unknown): string[] {
  const texts = [String(value), inspect(value, { depth: 10 })];
  try {
    texts.push(JSON.stringify(value) ?? "");
  } catch (e) {
    texts.push(`JSON.stringify threw ${e}`);
  }
  const visit = (e: unknown, depth: number): void => {
    if (!(e instanceof Error) || depth > 10) return;
    texts.push(e.message, e.stack ?? "", String(e));
    texts.push(JSON.stringify((e as { partial?: unknown }).partial) ?? "");
    visit(e.cause, depth + 1);
  };
  visit(value, 0);
  return texts;
}

function assertClean(texts: string[], label: string): void {
  for (const text of texts) {
    const lower = text.toLowerCase();
    for (const form of FORMS) {
      assert.ok(!lower.includes(form.toLowerCase()), `${label}: a canary leaked in:\n${text}`);
    }
  }
}

/**
 * What status() shows, for the canary check. Its `databaseId` is the option as given, by
 * design (the id is no credential; the status app shows which database it is): checked
 * for equality here and left out of the canary check, which still covers every other
 * field, the errors, the events and the queue file.
 */
function statusTexts(service: SyncService, databaseId: string): string[] {
  const status = service.status();
  assert.equal(status.databaseId, databaseId);
  return textsOf({ ...status, databaseId: "<the databaseId option>" });
}

/** Runs a service against `port`, collects everything it shows, and checks it. */
async function exercise(
  label: string,
  port: number,
  options: Partial<SyncServiceOptions>,
): Promise<{ errors: unknown[]; events: number }> {
  const dir = tempDir("service-canary-");
  try {
    const path = join(dir.path, "app.db");
    const extensionPath = await testExtensionPath();
    await writeDirtyNotes(path, extensionPath);
    const seen: string[] = [];
    const errors: unknown[] = [];
    let events = 0;
    const service = await SyncService.start(path, {
      databaseId: DB_CANARY,
      address: `http://127.0.0.1:${port}`,
      extensionPath,
      connectTimeoutS: 2,
      requestTimeoutS: 2,
      syncOnStart: false,
      polling: false,
      changeDebounceMs: false,
      retry: { baseMs: 50, capMs: 50, maxAttempts: 3 },
      ...options,
    } as SyncServiceOptions);
    try {
      for (const type of SERVICE_EVENTS) {
        service.on(type, (e) => {
          events++;
          seen.push(...textsOf(e), ...statusTexts(service, DB_CANARY));
        });
      }
      seen.push(...statusTexts(service, DB_CANARY));
      const log = logEvents(service);
      for (let i = 0; i < 2; i++) {
        await service.syncNow().catch((e: unknown) => errors.push(e));
        // The job's retries (or token refresh) run to its end: every fixture ends it dead-lettered.
        await log.nth("dead-lettered", i + 1);
      }
      seen.push(...statusTexts(service, DB_CANARY));
      // The attempts timeline carries the same redacted errors.
      seen.push(...textsOf(service.attempts()));
    } finally {
      await service.stop();
    }
    for (const e of errors) seen.push(...textsOf(e));
    assertClean(seen, label);
    const queuePath = queuePathFor(path);
    for (const file of [queuePath, `${queuePath}-wal`].filter(existsSync)) {
      assertClean([readFileSync(file).toString("latin1")], `${label}: ${file}`);
    }
    return { errors, events };
  } finally {
    dir.cleanup();
  }
}

describe("SyncService secrets canary: no secret in status, events, errors or the queue file", () => {
  it("API key and databaseId canaries against a server echoing the request headers, and the Authorization value in every encoding, in a 401 (auth, permanent)", async () => {
    const server = await errorServer(401, "Unauthorized", ECHO_401);
    try {
      const r = await exercise("401 api key", server.port, { apiKey: API_KEY });
      assert.equal(r.errors.length, 2);
      // The echo reached the error (redacted): the canary check above saw where a key would be.
      assert.match(String(r.errors[0]), /authorization/i);
      assert.match(String(r.errors[0]), ENCODED_ECHO);
      assert.ok(r.events >= 6);
    } finally {
      await server.stop();
    }
  });

  it("tokens from getToken (refreshed once after the 401) against the 401 echoing them in every encoding", async () => {
    const server = await errorServer(401, "Unauthorized", ECHO_401);
    let n = 0;
    try {
      const r = await exercise("401 getToken", server.port, {
        getToken: () => TOKENS[Math.min(n++, 1)],
      });
      // Start, once after the first 401; syncNow() after the permanent failure starts over
      // (one more refresh after its 401).
      assert.equal(n, 3, "getToken was not called once per 401 episode");
      assert.equal(r.errors.length, 2);
    } finally {
      await server.stop();
    }
  });

  it("API key against a server echoing the request headers, and the Authorization value in every encoding, in a 503 (http, retried), and a refused port", async () => {
    const server = await errorServer(503, "Service Unavailable", ECHO_503);
    try {
      const r = await exercise("503 api key", server.port, { apiKey: API_KEY });
      assert.equal(r.errors.length, 2);
      assert.match(String(r.errors[0]), ENCODED_ECHO);
    } finally {
      await server.stop();
    }
    const r = await exercise("refused", await refusedPort(), { token: TOKENS[0] });
    assert.equal(r.errors.length, 2);
  });
});
