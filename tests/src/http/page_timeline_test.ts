/**
 * The status page's timeline: one mark per attempt of the last 24 h, colored and shaped by
 * outcome, with a title each, over a span that fits the attempts; 500 attempts drawn no
 * thinner than the floor; the line that says there was none.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { timelineSpan } from "../../../src/http/_timeline.ts";
import type { SyncAttempt } from "../../../src/scheduler/status.ts";
import { attemptOf, FakeService, NOW, statusOf } from "./_fakes.ts";
import { card, issueServices, render, text } from "./_page_fixtures.ts";

const HOUR = 3_600_000;

describe("the status page", () => {
  it("draws one timeline mark per attempt, colored and shaped by outcome, with a title each", () => {
    const attempts: SyncAttempt[] = [
      attemptOf(1, "success", 5 * HOUR, { chunksSent: 12, rowsReceived: 3000 }),
      attemptOf(2, "empty", 4 * HOUR),
      attemptOf(3, "retry", 3 * HOUR),
      attemptOf(3, "retry", 2 * HOUR, {
        error: { kind: "http", message: "Service Unavailable", status: 503 },
      }),
      attemptOf(3, "dead-letter", HOUR, {
        error: { kind: "auth", message: "Unauthorized", status: 401 },
      }),
      attemptOf(4, "interrupted", 30 * 60_000, {
        error: { kind: "interrupted", message: "the executor died" },
      }),
      attemptOf(5, "running", 2000),
    ];
    const html = render([{
      name: "a",
      service: new FakeService(statusOf(), attempts),
    }]);
    const c = card(html, "a");
    assert.match(c, /data-attempts="7"/);
    const marks = [
      ...c.matchAll(
        /<g class="mark o-([\w-]+)" data-outcome="[\w-]+"><title>([^<]*)<\/title>((?:<rect class="bar"[^>]*>)*)<(circle|polygon|rect) class="shape"/g,
      ),
    ]
      .map((m) => ({
        outcome: m[1],
        title: m[2],
        bars: (m[3].match(/<rect/g) ?? []).length,
        shape: m[4],
      }));
    assert.equal(marks.length, 7);
    // Failures are drawn over successes: success and empty first, then by severity.
    assert.deepEqual(marks.map((m) => [m.outcome, m.shape]), [
      ["success", "circle"],
      ["empty", "circle"],
      ["running", "polygon"],
      ["interrupted", "polygon"],
      ["retry", "polygon"],
      ["retry", "polygon"],
      ["dead-letter", "rect"],
    ]);
    assert.equal(marks[0].bars, 2, "chunks sent up, rows received down");
    // Failures on the lower lane (y 48), the others on the upper one (y 36).
    assert.match(c, /<g class="mark o-success"[^>]*>.*?<circle class="shape" cx="[\d.]+" cy="36"/);
    assert.match(
      c,
      /<g class="mark o-dead-letter"[^>]*>.*?<rect class="shape" x="[\d.]+" y="44"/,
    );
    assert.match(
      c,
      /<g class="mark o-running"[^>]*>.*?<polygon class="shape" points="[\d.]+,3\d\.\d /,
    );
    assert.match(
      c,
      /<g class="mark o-retry"[^>]*>.*?<polygon class="shape" points="[\d.]+,4\d\.\d /,
    );
    assert.equal(
      marks[0].title,
      "2026-06-01 07:00:00 UTC · succeeded · 12 chunks sent, 3,000 rows received · took 1 s · job 1",
    );
    assert.equal(
      marks[5].title,
      "2026-06-01 10:00:00 UTC · failed, retried · http, HTTP 503 · took 1 s · job 3",
    );
    assert.equal(
      marks[6].title,
      "2026-06-01 11:00:00 UTC · failed, given up · auth, HTTP 401 · took 1 s · job 3",
    );
    assert.match(marks[2].title, /running · job 5$/);
    const sum =
      /<p class="tl-sum" id="db-0-tl-sum">([^<]*)<\/p><svg class="tl" viewBox="0 0 400 84" role="img" aria-labelledby="db-0-tl-sum"/
        .exec(c);
    assert.ok(sum, c);
    assert.equal(
      sum[1],
      "7 attempts in the last 5 h 15 min: 1 succeeded, 1 succeeded with nothing to move, " +
        "2 failed and were retried (1 http, 1 offline), 1 failed and was given up (1 auth), " +
        "1 was interrupted (1 interrupted), 1 is running; 12 chunks sent, 3,000 rows received.",
    );
    const legend = /<ul class="legend">([\s\S]*?)<\/ul>/.exec(c)![1];
    assert.equal(
      text(legend),
      "succeeded succeeded, nothing to move failed, retried failed, given up interrupted running " +
        "failures on the lower line " +
        "chunks sent (up) and rows received (down), log scale",
    );
    assert.equal((legend.match(/<svg class="key"/g) ?? []).length, 7);
    assert.match(
      c,
      /<div class="tl-axis" aria-hidden="true"><span>5 h 15 min ago<\/span><span>2 h 37 min ago<\/span><span>now<\/span><\/div>/,
    );
  });

  it("the timeline spans 24 h at most, and the attempts' own span when shorter (10 s at least)", () => {
    assert.deepEqual(timelineSpan([attemptOf(1, "retry", 2 * 24 * HOUR)], NOW), {
      start: NOW - 24 * HOUR,
      end: NOW,
    });
    assert.deepEqual(timelineSpan([attemptOf(1, "retry", 200_000)], NOW), {
      start: NOW - 210_000,
      end: NOW,
    });
    assert.deepEqual(timelineSpan([attemptOf(1, "retry", 1000)], NOW), {
      start: NOW - 10_000,
      end: NOW,
    });
    // Three retries over two minutes spread over the drawing, not crushed at its right end.
    const c = card(render(issueServices()), "refused");
    const svg = /<svg class="tl"[\s\S]*?<\/svg>/.exec(c)![0];
    const xs = [...svg.matchAll(/<polygon class="shape" points="([\d.]+),/g)].map((m) => +m[1]);
    assert.equal(xs.length, 3);
    assert.ok(xs[0] < 40 && xs[2] > 370, `x: ${xs}`);
    assert.match(c, /3 attempts in the last 2 min: 3 failed and were retried \(3 offline\)\./);
  });

  it("500 attempts: 500 marks, none drawn thinner than the floor, and the summary says older ones are left out", () => {
    const attempts = Array.from({ length: 500 }, (_, i) =>
      attemptOf(
        i + 1,
        i % 10 === 0 ? "retry" : "success",
        (500 - i) * 170_000,
        { rowsReceived: i % 10 === 0 ? 0 : 10 ** (i % 7) },
      ));
    const html = render([{
      name: "a",
      service: new FakeService(statusOf(), attempts),
    }]);
    const c = card(html, "a");
    assert.equal((c.match(/<g class="mark /g) ?? []).length, 500);
    const radii = [...c.matchAll(/<circle class="shape" cx="[\d.]+" cy="[\d.]+" r="([\d.]+)"/g)]
      .map((m) => +m[1]);
    assert.ok(radii.every((r) => r >= 2.5), "marks at least 5 units (about 4 px at 360 px)");
    const widths = [...c.matchAll(/<rect class="bar" x="[\d.]+" y="[\d.]+" width="([\d.]+)"/g)]
      .map((m) => +m[1]);
    assert.ok(widths.length > 0 && widths.every((w) => w >= 1.5), `bar widths ${widths[0]}`);
    const heights = [...c.matchAll(/<rect class="bar"[^>]* height="([\d.]+)"/g)].map((m) => +m[1]);
    assert.ok(heights.every((h) => h >= 2 && h <= 32), "bars between 2 and 32 units");
    assert.match(
      c,
      /<p class="tl-sum" id="db-0-tl-sum">The newest 500 attempts \(older ones are not drawn\), in the last 24 h: 450 succeeded, 50 failed and were retried \(50 offline\); 0 chunks sent, /,
    );
  });

  it("says so when a database has no attempt in 24 h", () => {
    const c = card(render([{ name: "a", service: new FakeService() }]), "a");
    assert.match(c, /<p class="muted tl-none">No sync attempt in the last 24 h\.<\/p>/);
    assert.doesNotMatch(c, /<svg class="tl"/);
  });
});
