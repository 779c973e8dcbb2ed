/**
 * The status page's timeline: EVERY attempt of the last 24 hours (or of the span the retained
 * attempts cover, when shorter, so the marks are not crushed), drawn server-side as inline SVG
 * (no script). One mark per attempt at the time it started, colored AND shaped by its outcome,
 * failures on a lane of their own below the others; chunks sent rise above the lanes and rows
 * received hang below them (log scale); each mark has a `<title>` (time, outcome, error kind,
 * rows, job). A visible sentence above the drawing counts
 * the attempts by outcome and names the SVG for screen readers, and a legend below it explains
 * the shapes.
 *
 * @module
 */
import type { AttemptOutcome, SyncAttempt } from "../scheduler/status.ts";
import { ATTEMPTS_LIMIT, ATTEMPTS_WINDOW_MS } from "./_snapshot.ts";
import { duration } from "./_health.ts";
import { count, escapeHtml, plural, utc } from "./_html.ts";

/** The most attempts the timeline draws (the newest): as many as the app reads. */
export const TIMELINE_RUNS = ATTEMPTS_LIMIT;

/** The outcomes, in the order the legend and the summary name them. */
export const OUTCOMES: readonly AttemptOutcome[] = [
  "success",
  "empty",
  "retry",
  "dead-letter",
  "interrupted",
  "running",
];

/** How each outcome is named in a mark's title and the legend. */
const LABELS: Record<AttemptOutcome, string> = {
  success: "succeeded",
  empty: "succeeded, nothing to move",
  retry: "failed, retried",
  "dead-letter": "failed, given up",
  interrupted: "interrupted",
  running: "running",
};

/** How `n` attempts of an outcome are counted in the summary: `2 failed and were retried`. */
function counted(outcome: AttemptOutcome, n: number): string {
  const was = n === 1 ? "was" : "were";
  switch (outcome) {
    case "success":
      return `${count(n)} succeeded`;
    case "empty":
      return `${count(n)} succeeded with nothing to move`;
    case "retry":
      return `${count(n)} failed and ${was} retried`;
    case "dead-letter":
      return `${count(n)} failed and ${was} given up`;
    case "interrupted":
      return `${count(n)} ${was} interrupted`;
    case "running":
      return `${count(n)} ${n === 1 ? "is" : "are"} running`;
  }
}

/** Failed attempts sit on the lower lane, the others on the upper one. */
function failed(outcome: AttemptOutcome): boolean {
  return outcome === "retry" || outcome === "dead-letter" || outcome === "interrupted";
}

/** Failures draw over successes, so an outage stays visible among many marks. */
const LAYER: Record<AttemptOutcome, number> = {
  success: 0,
  empty: 0,
  running: 1,
  interrupted: 2,
  retry: 3,
  "dead-letter": 4,
};

/**
 * The drawing's coordinates (viewBox units; the SVG scales to the card's width): rows-sent bars
 * rise from `SENT_BASE`, the upper lane (succeeded, empty, running) is at `LANE_OK`, the lower
 * lane (failed: retried, given up, interrupted) at `LANE_FAIL`, rows-received bars hang from
 * `RECEIVED_BASE`. Failures on their own lane stay visible among many successes.
 */
const W = 400;
const H = 84;
const PAD = 6;
const BAR_MAX = 26;
const SENT_BASE = 2 + BAR_MAX;
const LANE_OK = SENT_BASE + 8;
const LANE_FAIL = LANE_OK + 12;
const RECEIVED_BASE = LANE_FAIL + 8;
/** Rows at which a bar is full height (log scale): a million. */
const LOG_TOP = 6;
/** The shortest span drawn: attempts a few seconds apart stay apart, not one blot. */
const MIN_SPAN_MS = 10_000;

function n1(v: number): string {
  return String(Math.round(v * 10) / 10);
}

/**
 * A mark's shape, centered on (`x`, `y`), about `2r` wide: success a disc, empty a ring, retry
 * a triangle pointing up, dead-letter a square, interrupted a diamond, running a triangle
 * pointing right.
 *
 * @param outcome The outcome.
 * @param x Its center.
 * @param y Its center.
 * @param r Its half size.
 * @returns An SVG element.
 */
export function shapeSvg(outcome: AttemptOutcome, x: number, y: number, r: number): string {
  const pts = (p: [number, number][]) =>
    `<polygon class="shape" points="${p.map(([a, b]) => `${n1(x + a)},${n1(y + b)}`).join(" ")}"/>`;
  switch (outcome) {
    case "success":
      return `<circle class="shape" cx="${n1(x)}" cy="${n1(y)}" r="${n1(r)}"/>`;
    case "empty":
      return `<circle class="shape" cx="${n1(x)}" cy="${n1(y)}" r="${n1(r - 0.8)}"/>`;
    case "retry":
      return pts([[0, -r * 1.15], [r * 1.1, r * 0.85], [-r * 1.1, r * 0.85]]);
    case "dead-letter":
      return `<rect class="shape" x="${n1(x - r * 0.9)}" y="${n1(y - r * 0.9)}" width="${
        n1(r * 1.8)
      }" height="${n1(r * 1.8)}"/>`;
    case "interrupted":
      return pts([[0, -r * 1.25], [r * 1.25, 0], [0, r * 1.25], [-r * 1.25, 0]]);
    case "running":
      return pts([[-r * 0.8, -r * 1.1], [r * 1.1, 0], [-r * 0.8, r * 1.1]]);
  }
}

/** A small SVG of one outcome's shape, for the legend. */
function keySvg(outcome: AttemptOutcome): string {
  return `<svg class="key" viewBox="0 0 12 12" aria-hidden="true" focusable="false">` +
    `<g class="o-${outcome}">${shapeSvg(outcome, 6, 6, 4.2)}</g></svg>`;
}

/** The height of the bar of `rows` rows: 0 for none, else 2 to {@linkcode BAR_MAX}, log scale. */
function barHeight(rows: number): number {
  if (!(rows > 0)) return 0;
  return Math.min(BAR_MAX, Math.max(2, (BAR_MAX * Math.log10(1 + rows)) / LOG_TOP));
}

function errorLabel(error: SyncAttempt["error"]): string {
  if (error === null) return "";
  return error.status === undefined ? error.kind : `${error.kind}, HTTP ${error.status}`;
}

/**
 * A mark's title: time, outcome, error kind, rows and job.
 *
 * @param a The attempt.
 * @returns The text.
 */
export function attemptTitle(a: SyncAttempt): string {
  const parts = [utc(a.startedAt), LABELS[a.outcome]];
  if (a.error !== null) parts.push(errorLabel(a.error));
  if (a.chunksSent > 0 || a.rowsReceived > 0) {
    parts.push(`${count(a.chunksSent)} chunks sent, ${count(a.rowsReceived)} rows received`);
  }
  if (a.finishedAt !== null) parts.push(`took ${duration(a.finishedAt - a.startedAt)}`);
  parts.push(`job ${a.jobId}`);
  return parts.join(" · ");
}

/** The time span drawn, ending now. */
export interface TimelineSpan {
  /** Its start, ms since the epoch. */
  start: number;
  /** Its end (now). */
  end: number;
}

/**
 * The span the timeline draws: the last 24 hours, or less when the attempts cover less (from a
 * little before the oldest one to now), at least ten seconds.
 *
 * @param attempts The attempts.
 * @param now The current time.
 * @returns The span.
 */
export function timelineSpan(attempts: readonly SyncAttempt[], now: number): TimelineSpan {
  const oldest = attempts.reduce((m, a) => Math.min(m, a.startedAt), now);
  const covered = Math.max(0, now - oldest) * 1.05;
  const span = Math.min(ATTEMPTS_WINDOW_MS, Math.max(MIN_SPAN_MS, covered));
  return { start: now - span, end: now };
}

function kindsOf(attempts: readonly SyncAttempt[]): string {
  const kinds = new Map<string, number>();
  for (const a of attempts) {
    if (a.error !== null) kinds.set(a.error.kind, (kinds.get(a.error.kind) ?? 0) + 1);
  }
  if (kinds.size === 0) return "";
  const list = [...kinds].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
  return ` (${list.map(([kind, n]) => `${count(n)} ${kind}`).join(", ")})`;
}

/**
 * The timeline in one sentence: `42 attempts in the last 24 h: 30 succeeded, 10 failed and were
 * retried (10 offline), 2 failed and were given up (2 auth); 1,200 chunks sent, 80 rows received.`
 *
 * @param attempts The attempts drawn.
 * @param span The span drawn.
 * @returns The text.
 */
export function timelineSummary(attempts: readonly SyncAttempt[], span: TimelineSpan): string {
  const within = `in the last ${duration(span.end - span.start)}`;
  const head = attempts.length >= ATTEMPTS_LIMIT
    ? `The newest ${count(attempts.length)} attempts (older ones are not drawn), ${within}`
    : `${plural(attempts.length, "attempt")} ${within}`;
  const parts: string[] = [];
  for (const outcome of OUTCOMES) {
    const these = attempts.filter((a) => a.outcome === outcome);
    if (these.length === 0) continue;
    parts.push(`${counted(outcome, these.length)}${failed(outcome) ? kindsOf(these) : ""}`);
  }
  const sent = attempts.reduce((n, a) => n + a.chunksSent, 0);
  const received = attempts.reduce((n, a) => n + a.rowsReceived, 0);
  const rows = sent > 0 || received > 0
    ? `; ${count(sent)} chunks sent, ${count(received)} rows received`
    : "";
  return `${head}: ${parts.join(", ")}${rows}.`;
}

/** Options of {@linkcode timelineHtml}. */
export interface TimelineOptions {
  /** The current time, ms since the epoch (the right edge). */
  now: number;
  /** A prefix for the element ids, unique in the page. */
  id: string;
}

/**
 * The timeline's HTML: a summary sentence, the SVG, its time axis and its legend.
 *
 * @param attempts The attempts, in any order.
 * @param options The time and an id prefix.
 * @returns HTML.
 */
export function timelineHtml(attempts: readonly SyncAttempt[], options: TimelineOptions): string {
  const { now, id } = options;
  if (attempts.length === 0) {
    return `<p class="muted tl-none">No sync attempt in the last ${
      duration(ATTEMPTS_WINDOW_MS)
    }.</p>`;
  }
  const span = timelineSpan(attempts, now);
  const summary = timelineSummary(attempts, span);
  const plotW = W - 2 * PAD;
  const slot = plotW / attempts.length;
  const r = Math.min(4.5, Math.max(2.5, slot / 2));
  const bw = Math.min(4, Math.max(1.5, slot * 0.8));
  const xOf = (t: number) => {
    const f = (t - span.start) / (span.end - span.start);
    return PAD + Math.min(1, Math.max(0, f)) * plotW;
  };
  const ordered = attempts
    .map((a, i) => ({ a, i }))
    .sort((p, q) =>
      LAYER[p.a.outcome] - LAYER[q.a.outcome] || p.a.startedAt - q.a.startedAt ||
      p.i - q.i
    );
  const marks = ordered.map(({ a }) => {
    const x = xOf(a.startedAt);
    const up = barHeight(a.chunksSent);
    const down = barHeight(a.rowsReceived);
    const bars = (up > 0
      ? `<rect class="bar" x="${n1(x - bw / 2)}" y="${n1(SENT_BASE - up)}" width="${
        n1(bw)
      }" height="${n1(up)}"/>`
      : "") +
      (down > 0
        ? `<rect class="bar" x="${n1(x - bw / 2)}" y="${RECEIVED_BASE}" width="${n1(bw)}" height="${
          n1(down)
        }"/>`
        : "");
    const y = failed(a.outcome) ? LANE_FAIL : LANE_OK;
    return `<g class="mark o-${a.outcome}" data-outcome="${a.outcome}">` +
      `<title>${escapeHtml(attemptTitle(a))}</title>${bars}${shapeSvg(a.outcome, x, y, r)}</g>`;
  });
  const grid = [0, 0.25, 0.5, 0.75, 1].map((f) => {
    const x = n1(PAD + f * plotW);
    return `<line class="grid" x1="${x}" y1="2" x2="${x}" y2="${H - 2}"/>`;
  }).join("") +
    [LANE_OK, LANE_FAIL].map((y) =>
      `<line class="axis" x1="${PAD}" y1="${y}" x2="${W - PAD}" y2="${y}"/>`
    ).join("");
  const spanMs = span.end - span.start;
  const ticks = [1, 0.5].map((f) => `<span>${duration(spanMs * f)} ago</span>`);
  const present = OUTCOMES.filter((o) => attempts.some((a) => a.outcome === o));
  const legend = present.map((o) => `<li>${keySvg(o)}${LABELS[o]}</li>`);
  if (present.some(failed)) legend.push(`<li>failures on the lower line</li>`);
  if (attempts.some((a) => a.chunksSent > 0 || a.rowsReceived > 0)) {
    legend.push(
      `<li><svg class="key" viewBox="0 0 12 12" aria-hidden="true" focusable="false">` +
        `<rect class="bar" x="4.5" y="0" width="3" height="5.5"/>` +
        `<rect class="bar" x="4.5" y="6.5" width="3" height="5.5"/></svg>` +
        `chunks sent (up) and rows received (down), log scale</li>`,
    );
  }
  return `<p class="tl-sum" id="${id}-sum">${escapeHtml(summary)}</p>` +
    `<svg class="tl" viewBox="0 0 ${W} ${H}" role="img" aria-labelledby="${id}-sum" ` +
    `data-attempts="${attempts.length}" data-start="${new Date(span.start).toISOString()}" ` +
    `focusable="false">${grid}${marks.join("")}</svg>` +
    `<div class="tl-axis" aria-hidden="true">${ticks.join("")}<span>now</span></div>` +
    `<ul class="legend">${legend.join("")}</ul>`;
}
