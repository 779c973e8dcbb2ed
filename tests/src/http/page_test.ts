/**
 * The status page: its content, order, wording, escaping and colors, rendered by renderPage()
 * from snapshots of fake services (snapshotAll(), as the app reads them), and GET / through the
 * app for the headers. The timeline of attempts is page_timeline_test.ts's part, the
 * headless-browser test page_browser_test.ts's.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createApp } from "../../../src/http/app.ts";
import type { NamedService } from "../../../src/http/_snapshot.ts";
import { CONTRAST_PAIRS, LONG_ERROR, PALETTE, scheduleText } from "../../../src/http/page.ts";
import { attemptOf, FakeService, NOW, statusOf } from "./_fakes.ts";
import { card, issueServices, render, text } from "./_page_fixtures.ts";

const XSS_NAME = `<script>alert("name")</script><img src=x onerror=alert(1)>`;
const XSS_MESSAGE = `</code><script>alert('msg')</script>" onmouseover="alert(2)`;

/** The `<section>` of the card at position `index`. */
function section(html: string, index: number): string {
  const m = new RegExp(`<section class="db [^"]*" id="db-${index}"[\\s\\S]*?</section>`).exec(
    html,
  );
  assert.ok(m, `no section db-${index}`);
  return m[0];
}

/** WCAG 2 relative luminance and contrast ratio. */
function contrast(a: string, b: string): number {
  const lum = (hex: string) => {
    const [r, g, bl] = [1, 3, 5].map((i) => {
      const v = parseInt(hex.slice(i, i + 2), 16) / 255;
      return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * bl;
  };
  const [hi, lo] = [lum(a), lum(b)].sort((x, y) => y - x);
  return (hi + 0.05) / (lo + 0.05);
}

describe("the status page", () => {
  it("is an HTML page that reloads itself every refreshSeconds", () => {
    const html = render([{ name: "a", service: new FakeService() }], 7);
    assert.match(html, /^<!doctype html>/);
    assert.match(html, /<meta http-equiv="refresh" content="7">/);
    assert.match(html, /<meta name="viewport" content="width=device-width, initial-scale=1">/);
  });

  it("has no script, no external asset, no event handler", () => {
    const html = render(issueServices());
    assert.doesNotMatch(html, /<script|<link|<img|<iframe|\ssrc=|url\(|@import|\son\w+=/i);
    assert.doesNotMatch(html, /https?:\/\/(?!127\.0\.0\.1|sync\.example\.test)/);
    assert.match(html, /<style>/);
  });

  it("the headline counts each class, most severe first, each with a word and a shape", () => {
    const html = render(issueServices());
    const head = /<p class="summary">([\s\S]*?)<\/p>/.exec(html)![1];
    assert.equal(text(head), "1 failed · 1 degraded · 1 ok");
    const counts = [
      ...head.matchAll(
        /<span class="count s-(\w+)" data-class="\w+" data-count="(\d+)">(?:<span class="sep">· <\/span>)?<svg class="icon"/g,
      ),
    ]
      .map((m) => [m[1], Number(m[2])]);
    assert.deepEqual(counts, [["failed", 1], ["degraded", 1], ["ok", 1]]);
    assert.match(html, /<title>sqlite-sync: 1 failed · 1 degraded · 1 ok<\/title>/);
    assert.match(html, /3 databases at <time datetime="2026-06-01T12:00:00\.000Z">/);
  });

  it("the headline and title name no class that has no database", () => {
    const html = render([{ name: "a", service: new FakeService() }]);
    assert.equal(text(/<p class="summary">([\s\S]*?)<\/p>/.exec(html)![1]), "1 ok");
    assert.match(html, /<title>sqlite-sync: 1 ok<\/title>/);
    assert.match(render([]), /<p class="summary">No database is configured\.<\/p>/);
  });

  it("sorts the cards by severity (failed, degraded, stopped, ok), then by name", () => {
    const services: NamedService[] = [
      { name: "b-ok", service: new FakeService() },
      { name: "a-ok", service: new FakeService() },
      { name: "stopped", service: new FakeService(statusOf({ state: "stopped" })) },
      ...issueServices(),
    ];
    const html = render(services);
    const order = [...html.matchAll(/<section class="db s-(\w+)"[^>]*><h2[^>]*>([^<]*)</g)]
      .map((m) => `${m[1]}:${m[2]}`);
    assert.deepEqual(order, [
      "failed:unauthorized",
      "degraded:refused",
      "stopped:stopped",
      "ok:a-ok",
      "ok:b-ok",
      "ok:fine",
    ]);
  });

  it("an offline database that never synced is Degraded, and its card never says healthy or ok", () => {
    const html = render(issueServices());
    const c = card(html, "refused");
    assert.match(c, /<section class="db s-degraded" id="db-1" data-state="degraded"/);
    assert.match(
      c,
      /<p class="state"><svg class="icon"[^>]*>[\s\S]*?<\/svg><span class="word">Degraded<\/span>: <span class="reason">offline, retrying after 3 failures in a row; no successful sync yet<\/span><\/p>/,
    );
    assert.doesNotMatch(text(c), /\b(healthy|ok)\b/i);
    assert.match(c, /<dd class="last-success">never<\/dd>/);
    assert.match(
      c,
      /<dd class="next-run"><time datetime="2026-06-01T12:00:06\.000Z">2026-06-01 12:00:06 UTC<\/time> <span class="rel">\(in 6 s\)<\/span><\/dd>/,
    );
    assert.match(
      c,
      /<dt>Unsent<\/dt>/,
    );
    assert.match(
      c,
      /<dd class="queue">1 job pending or running, the oldest queued 5 s ago<\/dd>/,
    );
    assert.match(c, /<dd class="unsent">4 local changes not yet sent<\/dd>/);
    assert.match(c, /<dd class="attempts-hour">3 in the last hour<\/dd>/);
    assert.match(c, /<dd class="database-id"><code>db_refused<\/code><\/dd>/);
    assert.match(c, /<dd class="address"><code>http:\/\/127\.0\.0\.1:9<\/code><\/dd>/);
  });

  it("a failed database shows no next run, and what unblocks it", () => {
    const c = card(render(issueServices()), "unauthorized");
    assert.match(c, /data-state="failed"/);
    assert.match(
      c,
      /<span class="word">Failed<\/span>: <span class="reason">retries stopped \(auth\)<\/span>/,
    );
    assert.match(
      c,
      /<p class="action"><strong>To unblock:<\/strong> fix the API key or token, then POST \/sync \(or send the daemon SIGHUP\)<\/p>/,
    );
    assert.doesNotMatch(c, /Next run|next-run|12:00:06/);
    assert.doesNotMatch(text(c), /\b(healthy|ok)\b/i);
  });

  it("a database whose sync is running says 'running now', not the time of a later run", () => {
    const busy = new FakeService(
      statusOf({ state: "syncing", nextRunAt: NOW + 17 * 60_000, databaseId: "db_busy" }),
      [attemptOf(1, "running", 2000)],
    );
    const c = card(render([{ name: "busy", service: busy }]), "busy");
    assert.match(c, /<dt>Next run<\/dt><dd class="next-run">running now<\/dd>/);
    assert.doesNotMatch(c, /in 17 min/);
  });

  it("a stopped database shows no next run and no action; an ok one shows both its successes", () => {
    const html = render([
      { name: "s", service: new FakeService(statusOf({ state: "stopped", nextRunAt: null })) },
      { name: "o", service: new FakeService(statusOf({ lastSuccessAt: NOW - 180_000 })) },
    ]);
    const s = card(html, "s");
    assert.match(s, /<span class="word">Stopped<\/span>: <span class="reason">stopped<\/span>/);
    assert.doesNotMatch(s, /next-run|class="action"/);
    const o = card(html, "o");
    assert.match(
      o,
      /<span class="word">OK<\/span>: <span class="reason">last sync succeeded 3 min ago/,
    );
    assert.match(
      o,
      /<dd class="last-success"><time[^>]*>2026-06-01 11:57:00 UTC<\/time> <span class="rel">\(3 min ago\)<\/span><\/dd>/,
    );
    assert.match(o, /<dd class="next-run"><time[^>]*>2026-06-01 12:00:30 UTC/);
    assert.doesNotMatch(o, /Last error/);
    // Only an ok card says what the service is doing: elsewhere the reason already does.
    assert.match(o, /<dt>Activity<\/dt><dd class="activity">idle, waiting for the next run<\/dd>/);
    assert.doesNotMatch(s, /Activity/);
  });

  it("shows the last error once, whole, with its time", () => {
    const c = card(render(issueServices()), "refused");
    const message = "Failed to connect to 127.0.0.1 port 9: Connection refused";
    assert.equal(c.split(message).length - 1, 1, "the message appears exactly once");
    assert.match(
      c,
      /<dt>Last error<\/dt><dd class="last-error"><code>offline: Failed to connect to 127\.0\.0\.1 port 9: Connection refused<\/code><span class="when">at <time datetime="2026-06-01T11:59:56\.000Z">/,
    );
    assert.doesNotMatch(c, /<details/);
    assert.doesNotMatch(c, /send phase/);
  });

  it(`folds an error longer than ${LONG_ERROR} characters into <details>: kind, status, first words`, () => {
    const long = "The server answered 503 Service Unavailable while the database was resuming " +
      "from a pause; this can take a minute or two after a period without traffic, and the " +
      "request will be retried with back-off: nothing to do unless it lasts.";
    const html = render([{
      name: "a",
      service: new FakeService(statusOf({
        state: "backing-off",
        lastSuccessAt: null,
        consecutiveErrors: 1,
        lastError: { kind: "http", message: long, status: 503 },
      })),
    }]);
    const c = card(html, "a");
    const m = /<details><summary><code>([^<]*)<\/code><\/summary><code>([^<]*)<\/code><\/details>/
      .exec(c);
    assert.ok(m, c);
    assert.equal(m[1], "http (HTTP 503): The server answered 503 Service Unavailable while the…");
    assert.equal(m[2], `http (HTTP 503): ${long}`, "the whole message, not cut");
  });

  it("writes each kind of schedule", () => {
    assert.equal(
      scheduleText({ kind: "cron", cron: "*/5 * * * *", timezone: "Europe/Rome" }, null),
      "cron “*/5 * * * *” (Europe/Rome)",
    );
    assert.equal(
      scheduleText({ kind: "cron", cron: "0 3 * * *", timezone: null }, null),
      "cron “0 3 * * *” (the host's time zone)",
    );
    assert.equal(scheduleText({ kind: "interval", intervalMs: 300_000 }, null), "every 5 min");
    assert.equal(
      scheduleText({ kind: "adaptive", baseMs: 30_000, maxMs: 600_000 }, 120_000),
      "adaptive polling, every 30 s to 10 min, now 2 min",
    );
    assert.equal(
      scheduleText({ kind: "none" }, null),
      "none: on local changes and POST /sync only",
    );
    const c = card(render(issueServices()), "fine");
    assert.match(c, /<dd class="schedule">adaptive polling, every 30 s to 10 min, now 30 s<\/dd>/);
  });

  it("escapes a hostile name, message, error kind, id, address and cron: no tag or attribute gets in", () => {
    const hostile = `<b onmouseover="x">"'&`;
    const service = new FakeService(
      statusOf({
        state: "backing-off",
        consecutiveErrors: 1,
        lastError: { kind: "http", message: XSS_MESSAGE, status: 500 },
        databaseId: hostile,
        address: hostile,
        schedule: { kind: "cron", cron: hostile, timezone: hostile },
      }),
      [attemptOf(1, "retry", 1000, {
        error: { kind: hostile as never, message: XSS_MESSAGE, status: 500 },
      })],
    );
    const html = render([{ name: XSS_NAME, service }]);
    assert.doesNotMatch(html, /<script|<img|<b |<\/code><script|" onmouseover=/i);
    assert.ok(html.includes(
      '<h2 class="name" id="db-0-name">&lt;script&gt;alert(&quot;name&quot;)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;</h2>',
    ));
    assert.ok(html.includes(
      "<code>http (HTTP 500): &lt;/code&gt;&lt;script&gt;alert(&#39;msg&#39;)&lt;/script&gt;&quot; onmouseover=&quot;alert(2)</code>",
    ));
    assert.ok(html.includes(
      "<code>&lt;b onmouseover=&quot;x&quot;&gt;&quot;&#39;&amp;</code>",
    ));
    assert.match(
      html,
      /<title>[^<]*failed, retried · &lt;b onmouseover=&quot;x&quot;&gt;&quot;&#39;&amp;, HTTP 500/,
    );
    assert.match(
      html,
      /tl-sum[^>]*>[^<]*\(1 &lt;b onmouseover=&quot;x&quot;&gt;&quot;&#39;&amp;\)/,
    );
  });

  it("shows a database whose status() throws as Failed with its action, the others as usual", () => {
    const broken = {
      status: () => {
        throw new Error("closed");
      },
      attempts: () => [],
      syncNow: () => Promise.reject(new Error("closed")),
    };
    const html = render([
      { name: "fine", service: new FakeService() },
      { name: "gone", service: broken as never },
    ]);
    const gone = section(html, 0);
    assert.match(
      gone,
      /<h2 class="name" id="db-0-name">gone<\/h2><p class="state"><svg[\s\S]*?<span class="word">Failed<\/span>: <span class="reason">its status cannot be read \(status\(\) threw\)<\/span><\/p><p class="action"><strong>To unblock:<\/strong> see the log/,
    );
    assert.match(section(html, 1), /<span class="word">OK<\/span>/);
  });

  it("the layout: a grid of cards that fit from 360 px up, a timeline that scales", () => {
    const html = render(issueServices());
    const css = /<style>([\s\S]*?)<\/style>/.exec(html)![1];
    assert.match(css, /grid-template-columns:repeat\(auto-fill,minmax\(min\(100%,24rem\),1fr\)\)/);
    assert.match(css, /svg\.tl\{display:block;width:100%;height:auto/);
    // No fixed width or min-width in px or rem wider than a 360 px screen.
    for (const m of css.matchAll(/(?:^|[;{])(?:min-)?width:([\d.]+)(px|rem|em)/g)) {
      const px = +m[1] * (m[2] === "px" ? 1 : 15);
      assert.ok(px <= 300, `fixed width ${m[0]}`);
    }
  });

  it("every color pair of the page meets WCAG contrast (text 4.5:1, marks 3:1), light and dark", () => {
    const rows: string[] = [];
    for (const [scheme, palette] of Object.entries(PALETTE)) {
      for (const [fg, bg, min] of CONTRAST_PAIRS) {
        const ratio = contrast(palette[fg], palette[bg]);
        rows.push(`${scheme} ${fg} ${palette[fg]} on ${bg} ${palette[bg]}: ${ratio.toFixed(2)}`);
        assert.ok(ratio >= min, `${scheme}: ${fg} on ${bg} is ${ratio.toFixed(2)}:1 < ${min}:1`);
      }
    }
    assert.equal(rows.length, 2 * CONTRAST_PAIRS.length);
    // The CSS uses exactly the palette.
    const css = /<style>([\s\S]*?)<\/style>/.exec(render([]))![1];
    for (const [k, v] of Object.entries(PALETTE.light)) assert.ok(css.includes(`--${k}:${v}`));
    for (const [k, v] of Object.entries(PALETTE.dark)) assert.ok(css.includes(`--${k}:${v}`));
    assert.equal(
      (css.match(/#[0-9a-f]{3,6}\b/gi) ?? []).length,
      2 * Object.keys(PALETTE.light).length,
    );
  });
});

describe("GET / (the status page through the app)", () => {
  it("GET / answers the page with a CSP that forbids scripts, and reloads", async () => {
    const res = await createApp(issueServices(), { now: () => NOW, refreshSeconds: 7 })
      .request("/");
    const html = await res.text();
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type")!, /^text\/html/);
    assert.equal(
      res.headers.get("content-security-policy"),
      "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; " +
        "frame-ancestors 'none'",
    );
    assert.match(html, /<meta http-equiv="refresh" content="7">/);
    assert.match(html, /<p class="summary">/);
    assert.equal((html.match(/<g class="mark /g) ?? []).length, 5);
  });
});
