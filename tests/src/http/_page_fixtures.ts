/**
 * What the status page's tests share (page_test.ts, page_timeline_test.ts): the page rendered
 * from fake services as the app renders it, a card by name, the text a person reads, and the
 * three databases of the issue (a refused port, a 401, one that works).
 */
import assert from "node:assert/strict";
import { type NamedService, snapshotAll } from "../../../src/http/_snapshot.ts";
import { renderPage } from "../../../src/http/page.ts";
import { attemptOf, FakeService, NOW, statusOf } from "./_fakes.ts";

export function render(services: NamedService[], refreshSeconds = 10): string {
  return renderPage(snapshotAll(services, NOW, true), { now: NOW, refreshSeconds, base: "/" });
}

/** The card of the database named `name` (plain name). */
export function card(html: string, name: string): string {
  const all = [...html.matchAll(/<section class="db [\s\S]*?<\/section>/g)].map((m) => m[0]);
  const found = all.find((s) => s.includes(`>${name}</h2>`));
  assert.ok(found, `no card named ${name}`);
  return found;
}

/** What a person reads: the text without tags (SVG titles and hidden labels left out). */
export function text(html: string): string {
  return html
    .replace(/<style>[\s\S]*?<\/style>/g, "")
    .replace(/<svg[\s\S]*?<\/svg>/g, " ")
    .replace(/<[^>]+>/g, " ")
    .replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&quot;/g, '"').replace(/&#39;/g, "'")
    .replace(/&amp;/g, "&")
    .replace(/\s+/g, " ")
    .trim();
}

/** The three databases of the issue: refused port, a 401, a listener that never answers. */
export function issueServices(): NamedService[] {
  const offline = new FakeService(
    statusOf({
      state: "offline",
      lastSuccessAt: null,
      lastResult: null,
      lastSyncAt: NOW - 4000,
      consecutiveErrors: 3,
      lastError: {
        kind: "offline",
        message: "Failed to connect to 127.0.0.1 port 9: Connection refused",
      },
      nextRunAt: NOW + 6000,
      queueDepth: 1,
      oldestJobAt: NOW - 5000,
      unsentChanges: 4,
      databaseId: "db_refused",
      address: "http://127.0.0.1:9",
    }),
    [
      attemptOf(1, "retry", 125_000),
      attemptOf(1, "retry", 60_000),
      attemptOf(1, "retry", 5000),
    ],
  );
  const auth = new FakeService(
    statusOf({
      state: "failed",
      permanentReason: "auth",
      lastSuccessAt: null,
      lastResult: null,
      lastSyncAt: NOW - 3000,
      consecutiveErrors: 1,
      lastError: { kind: "auth", message: "Unauthorized", status: 401 },
      nextRunAt: NOW + 6000, // the page must not show it
      databaseId: "db_unauthorized",
      address: "http://127.0.0.1:4011",
    }),
    [
      attemptOf(2, "dead-letter", 3500, {
        error: { kind: "auth", message: "Unauthorized", status: 401 },
      }),
    ],
  );
  const fine = new FakeService(
    statusOf({ lastSuccessAt: NOW - 60_000, databaseId: "db_fine" }),
    [attemptOf(3, "success", 60_000, { chunksSent: 3, rowsReceived: 250 })],
  );
  return [
    { name: "fine", service: fine },
    { name: "refused", service: offline },
    { name: "unauthorized", service: auth },
  ];
}
