/**
 * GET /: the status page's content and escaping, through app.request()
 * (the headless-browser test is page_browser_test.ts).
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createApp } from "../../../src/http/app.ts";
import { TIMELINE_RUNS } from "../../../src/http/_timeline.ts";
import { FakeService, jobOf, NOW, statusOf } from "./_fakes.ts";

const XSS_NAME = `<script>alert("name")</script><img src=x onerror=alert(1)>`;
const XSS_MESSAGE = `</code><script>alert('msg')</script>" onmouseover="alert(2)`;

async function page(
  services: { name: string; service: FakeService }[],
  options: { refreshSeconds?: number } = {},
): Promise<{ res: Response; html: string }> {
  const res = await createApp(services, { now: () => NOW, ...options }).request("/");
  return { res, html: await res.text() };
}

/** The `<section>` of database `index`. */
function section(html: string, index: number): string {
  const m = new RegExp(`<section class="db" id="db-${index}"[\\s\\S]*?</section>`).exec(html);
  assert.ok(m, `no section db-${index}`);
  return m[0];
}

describe("GET / (the status page)", () => {
  it("GET / is an HTML page that reloads itself every refreshSeconds", async () => {
    const { res, html } = await page([{ name: "a", service: new FakeService() }], {
      refreshSeconds: 7,
    });
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type")!, /^text\/html/);
    assert.match(html, /^<!doctype html>/);
    assert.match(html, /<meta http-equiv="refresh" content="7">/);
  });

  it("GET / has no script, no external asset and a CSP that forbids both", async () => {
    const { res, html } = await page([{ name: "a", service: new FakeService() }]);
    assert.doesNotMatch(html, /<script|<link|<img|<iframe|\ssrc=|url\(|@import|https?:\/\//i);
    assert.match(html, /<style>/);
    assert.equal(
      res.headers.get("content-security-policy"),
      "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; " +
        "frame-ancestors 'none'",
    );
  });

  it("GET / shows each database's state, last success, last error and next run", async () => {
    const ok = new FakeService(statusOf({ lastSuccessAt: NOW - 180_000, nextRunAt: NOW + 45_000 }));
    const bad = new FakeService(statusOf({
      state: "failed",
      permanentReason: "schema",
      lastSuccessAt: null,
      lastSyncAt: NOW - 5000,
      nextRunAt: null,
      consecutiveErrors: 1,
      lastError: { kind: "schema", message: "Table notes has no primary key" },
    }));
    const { html } = await page([{ name: "orders", service: ok }, {
      name: "sensors",
      service: bad,
    }]);
    const a = section(html, 0);
    assert.match(a, /<span class="name">orders<\/span><span class="state idle">idle<\/span>/);
    assert.match(
      a,
      /<dd class="last-success"><time datetime="2026-06-01T11:57:00\.000Z">2026-06-01 11:57:00 UTC<\/time> <span class="rel">\(3 min ago\)<\/span>/,
    );
    assert.match(a, /<dd class="last-error">none<\/dd>/);
    assert.match(
      a,
      /<dd class="next-run"><time[^>]*>2026-06-01 12:00:45 UTC<\/time> <span class="rel">\(in 45 s\)<\/span> · polling every 30 s<\/dd>/,
    );
    assert.match(a, /<p class="health good">Healthy<\/p>/);
    const b = section(html, 1);
    assert.match(b, /<span class="name">sensors<\/span><span class="state failed">failed<\/span>/);
    assert.match(b, /<dd class="last-success">never<\/dd>/);
    assert.match(
      b,
      /<dd class="last-error"><code>schema: Table notes has no primary key<\/code> at <time/,
    );
    assert.match(b, /<dd class="next-run">not scheduled · polling every 30 s<\/dd>/);
    assert.match(b, /<dt>Stopped retrying<\/dt><dd>schema<\/dd>/);
    assert.match(b, /<p class="health bad">Unhealthy: failed \(schema\)/);
    assert.match(html, /<p class="summary">1 of 2 databases unhealthy\.<\/p>/);
    assert.match(html, /<title>sqlite-sync status \(1 unhealthy\)<\/title>/);
  });

  it("GET / draws every run of the history as a timeline block, oldest first", async () => {
    const history = [
      jobOf(3, [{ outcome: "dead", error: { kind: "auth", message: "refused", status: 401 } }]),
      jobOf(2, [
        { outcome: "retry", error: { kind: "offline", message: "no route" } },
        { outcome: "succeeded", rows: 250, sent: 3 },
      ]),
      jobOf(1, [{ outcome: "succeeded", rows: 0 }]),
    ];
    const { html } = await page([{ name: "a", service: new FakeService(statusOf(), history) }]);
    const blocks = [...section(html, 0).matchAll(/<li class="run ([^"]+)" title="([^"]+)">/g)]
      .map((m) => [m[1], m[2]]);
    assert.deepEqual(blocks.map((b) => b[0]), [
      "ok succeeded l0",
      "fail retry l0",
      "ok succeeded l3",
      "fail dead l0",
    ]);
    assert.match(
      blocks[2][1],
      /^2026-06-01 10:22:01 UTC · succeeded · 250 rows received, 3 sent · job 2$/,
    );
    assert.match(
      blocks[1][1],
      / · failed, retried · 0 rows received, 0 sent · job 2 · offline: no route$/,
    );
    assert.match(blocks[3][1], / · failed, given up · .* · auth \(HTTP 401\): refused$/);
    assert.match(
      section(html, 0),
      /Last 4 runs, oldest first: <span class="k ok"><\/span>2 succeeded · <span class="k fail"><\/span>2 failed · 250 rows received, 3 sent/,
    );
  });

  it(`GET / shows at most the last ${TIMELINE_RUNS} runs`, async () => {
    const history = Array.from(
      { length: 60 },
      (_, i) => jobOf(60 - i, [{ outcome: "succeeded", rows: 1 }]),
    );
    const { html } = await page([{ name: "a", service: new FakeService(statusOf(), history) }]);
    const titles = [...html.matchAll(/<li class="run [^"]*" title="([^"]*)"/g)].map((m) => m[1]);
    assert.equal(titles.length, TIMELINE_RUNS);
    assert.match(titles[0], /job 21$/);
    assert.match(titles[TIMELINE_RUNS - 1], /job 60$/);
  });

  it("GET / says so when a database has no finished sync yet", async () => {
    const { html } = await page([{ name: "a", service: new FakeService() }]);
    assert.match(section(html, 0), /<p class="muted">No finished sync yet\.<\/p>/);
  });

  it("GET / escapes a hostile database name and error message: no tag or attribute gets in", async () => {
    const history = [
      jobOf(1, [{ outcome: "retry", error: { kind: "http", message: XSS_MESSAGE } }]),
    ];
    const service = new FakeService(
      statusOf({
        state: "backing-off",
        consecutiveErrors: 1,
        lastError: { kind: "http", message: XSS_MESSAGE, status: 500 },
      }),
      history,
    );
    const { html } = await page([{ name: XSS_NAME, service }]);
    assert.doesNotMatch(html, /<script|<img|<\/code><script|" onmouseover=/i);
    assert.ok(html.includes(
      '<span class="name">&lt;script&gt;alert(&quot;name&quot;)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;</span>',
    ));
    assert.ok(html.includes(
      "<code>http (HTTP 500): &lt;/code&gt;&lt;script&gt;alert(&#39;msg&#39;)&lt;/script&gt;&quot; onmouseover=&quot;alert(2)</code>",
    ));
    // In an attribute too: the block's title.
    assert.match(
      html,
      /title="[^"]*&lt;\/code&gt;&lt;script&gt;alert\(&#39;msg&#39;\)&lt;\/script&gt;&quot; onmouseover=&quot;alert\(2\)"/,
    );
  });

  it("GET / shows a database whose status() throws as unknown and unhealthy, the others as usual", async () => {
    const broken = {
      status: () => {
        throw new Error("closed");
      },
      history: () => [],
      syncNow: () => Promise.reject(new Error("closed")),
    };
    const res = await createApp([
      { name: "gone", service: broken },
      { name: "fine", service: new FakeService() },
    ], { now: () => NOW }).request("/");
    const html = await res.text();
    assert.match(
      section(html, 0),
      /<span class="state unknown">unknown<\/span><\/h2><p class="health bad">Unhealthy: status unavailable/,
    );
    assert.match(section(html, 1), /<span class="state idle">idle<\/span>/);
  });
});
