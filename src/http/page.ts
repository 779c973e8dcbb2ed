/**
 * `GET /`: the status page for a person at a browser. One HTML document, no script, no external
 * asset, inline CSS and inline SVG; it reloads itself with `<meta http-equiv="refresh">`.
 *
 * The headline counts the databases of each health class (`_health.ts`). One card per database,
 * most severe first (`HEALTH_CLASSES` order, then name): its class as a word and a shape (color
 * is never the only signal), why, and for `failed` what unblocks it instead of a next run; the
 * last error once and whole; the database id, address and schedule; the queue, the age of its
 * oldest job and the unsent local changes; attempts in the last hour; and every attempt of the
 * last 24 hours as a timeline (`_timeline.ts`). Every value that comes from a service or a name
 * is escaped.
 *
 * @module
 */
import type { SyncSchedule, SyncServiceState, SyncServiceStatus } from "../scheduler/status.ts";
import { duration, errorText, HEALTH_CLASSES, type HealthClass } from "./_health.ts";
import { count, escapeHtml, firstWords, plural, timeHtml, utc } from "./_html.ts";
import type { DatabaseSnapshot } from "./_snapshot.ts";
import { timelineHtml } from "./_timeline.ts";

/** Options of {@linkcode renderPage}. */
export interface PageOptions {
  /** The current time, ms since the epoch. */
  now: number;
  /** Seconds between reloads. */
  refreshSeconds: number;
  /** The path the page's links start with, ending in `/` (the app's mount point). */
  base: string;
}

/** The page's colors, for a light and a dark color scheme. */
export interface Palette {
  /** Page background. */
  bg: string;
  /** Card background. */
  card: string;
  /** Body text. */
  fg: string;
  /** Secondary text (labels, times). */
  muted: string;
  /** Borders and grid lines (decoration only). */
  line: string;
  /** Links. */
  link: string;
  /** Class `ok`, and successful attempts. */
  ok: string;
  /** Class `degraded`, and retried attempts. */
  degraded: string;
  /** Class `failed`, and dead-lettered attempts. */
  failed: string;
  /** Class `stopped`. */
  stopped: string;
  /** Interrupted attempts. */
  interrupted: string;
  /** Running attempts. */
  running: string;
  /** The rows bars of the timeline. */
  bar: string;
}

/** The colors (GitHub Primer's, checked for contrast by the tests). */
export const PALETTE: { light: Palette; dark: Palette } = {
  light: {
    bg: "#ffffff",
    card: "#f6f8fa",
    fg: "#1f2328",
    muted: "#59636e",
    line: "#d1d9e0",
    link: "#0969da",
    ok: "#1a7f37",
    degraded: "#8a5d00",
    failed: "#cf222e",
    stopped: "#59636e",
    interrupted: "#8250df",
    running: "#0969da",
    bar: "#6e7781",
  },
  dark: {
    bg: "#0d1117",
    card: "#151b23",
    fg: "#e6edf3",
    muted: "#9198a1",
    line: "#3d444d",
    link: "#4493f8",
    ok: "#3fb950",
    degraded: "#d29922",
    failed: "#f85149",
    stopped: "#9198a1",
    interrupted: "#ab7df8",
    running: "#4493f8",
    bar: "#8b949e",
  },
};

/**
 * The color pairs the page draws, foreground on background, and the contrast each needs:
 * 4.5:1 for text (WCAG 2 AA), 3:1 for the marks and icons (non-text contrast).
 */
export const CONTRAST_PAIRS: readonly [keyof Palette, keyof Palette, number][] = [
  ["fg", "bg", 4.5],
  ["fg", "card", 4.5],
  ["muted", "bg", 4.5],
  ["muted", "card", 4.5],
  ["link", "bg", 4.5],
  ...(["ok", "degraded", "failed", "stopped"] as const).flatMap((
    c,
  ): [keyof Palette, keyof Palette, number][] => [[c, "bg", 4.5], [c, "card", 4.5]]),
  ["interrupted", "card", 3],
  ["running", "card", 3],
  ["bar", "card", 3],
];

function vars(p: Palette): string {
  return Object.entries(p).map(([k, v]) => `--${k}:${v}`).join(";");
}

const CSS = `
:root{color-scheme:light dark;${vars(PALETTE.light)}}
@media (prefers-color-scheme:dark){:root{${vars(PALETTE.dark)}}}
*{box-sizing:border-box}
body{margin:0;padding:1.5rem;font:15px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;
background:var(--bg);color:var(--fg);overflow-wrap:anywhere}
@media (max-width:40rem){body{padding:.75rem}}
header{margin-bottom:1rem}h1{font-size:1.4rem;margin:0 0 .25rem}
.muted,.rel,dt,.tl-axis{color:var(--muted)}a{color:var(--link)}
.summary{font-size:1.1rem;margin:.25rem 0;display:flex;flex-wrap:wrap;gap:.25rem .5rem}
.sep{color:var(--muted);font-weight:400}
.count{font-weight:600;white-space:nowrap}
main{display:grid;gap:1rem;grid-template-columns:repeat(auto-fill,minmax(min(100%,24rem),1fr));
align-items:start}
section.db{background:var(--card);border:1px solid var(--line);border-left:6px solid var(--s);
border-radius:8px;padding:.75rem 1rem;min-width:0}
h2{font-size:1.1rem;margin:0 0 .25rem}h3{font-size:.95rem;margin:.75rem 0 .25rem}
.s-ok{--s:var(--ok)}.s-degraded{--s:var(--degraded)}.s-failed{--s:var(--failed)}
.s-stopped{--s:var(--stopped)}
.state{margin:.25rem 0}.state .word,.count{color:var(--s)}.state .word{font-weight:700}
.icon{width:1em;height:1em;vertical-align:-.15em;margin-right:.3em;fill:var(--s);flex:none}
.icon .ic{fill:none;stroke:var(--bg);stroke-width:2;stroke-linecap:round}
section .icon .ic{stroke:var(--card)}
.action{margin:.25rem 0;padding:.4rem .6rem;border:1px solid var(--failed);border-radius:6px}
dl{display:grid;grid-template-columns:max-content minmax(0,1fr);gap:.15rem .75rem;margin:.5rem 0}
dd{margin:0;min-width:0}
code{font-size:.85em;overflow-wrap:anywhere;white-space:pre-wrap}.when{display:block;color:var(--muted)}
details summary{cursor:pointer}details[open] summary{margin-bottom:.25rem}
.tl-sum{margin:.25rem 0;font-size:.9rem}
svg.tl{display:block;width:100%;height:auto;border-bottom:1px solid var(--line)}
.tl .grid{stroke:var(--line);stroke-width:.5}.tl .axis{stroke:var(--muted);stroke-width:.5}
.tl .bar,.key .bar{fill:var(--bar)}
.o-success .shape{fill:var(--ok)}
.o-empty .shape{fill:var(--card);stroke:var(--ok);stroke-width:1.6}
.o-retry .shape{fill:var(--degraded)}.o-dead-letter .shape{fill:var(--failed)}
.o-interrupted .shape{fill:var(--interrupted)}.o-running .shape{fill:var(--running)}
.tl-axis{display:flex;justify-content:space-between;font-size:.75rem}
.legend{list-style:none;margin:.35rem 0 0;padding:0;display:flex;flex-wrap:wrap;gap:.15rem .9rem;
font-size:.8rem}
.key{width:.85rem;height:.85rem;vertical-align:-.1em;margin-right:.25rem}
`;

/** A class's word, as the headline and the cards write it. */
const WORD: Record<HealthClass, string> = {
  ok: "OK",
  degraded: "Degraded",
  failed: "Failed",
  stopped: "Stopped",
};

/**
 * A class's shape (inline SVG, colored by the class): ok a disc with a tick, degraded a
 * triangle with `!`, failed an octagon with `×`, stopped a square.
 */
function iconSvg(state: HealthClass): string {
  const shapes: Record<HealthClass, string> = {
    ok: `<circle cx="8" cy="8" r="7.5"/><path class="ic" d="M4.6 8.3l2.3 2.3 4.6-4.8"/>`,
    degraded: `<path d="M8 .8 15.6 14.6H.4z"/><path class="ic" d="M8 5.8v4M8 12.4v.2"/>`,
    failed: `<path d="M5 .5h6L15.5 5v6L11 15.5H5L.5 11V5z"/>` +
      `<path class="ic" d="M5.6 5.6l4.8 4.8M10.4 5.6l-4.8 4.8"/>`,
    stopped: `<rect x="1.5" y="1.5" width="13" height="13" rx="1.5"/>` +
      `<path class="ic" d="M6 5.5v5M10 5.5v5"/>`,
  };
  return `<svg class="icon" viewBox="0 0 16 16" aria-hidden="true" focusable="false">${
    shapes[state]
  }</svg>`;
}

/** What the service is doing, for people. */
const ACTIVITY: Record<SyncServiceState, string> = {
  idle: "idle, waiting for the next run",
  syncing: "syncing now",
  "backing-off": "backing off after a failure",
  offline: "offline: the server cannot be reached",
  failed: "retries stopped",
  stopped: "stopped",
};

/** An error longer than this is folded into a `<details>` (its summary: kind, status, words). */
export const LONG_ERROR = 160;

/**
 * What starts the scheduled syncs, for people.
 *
 * @param schedule The schedule.
 * @param currentIntervalMs The current adaptive interval.
 * @returns The text.
 */
export function scheduleText(schedule: SyncSchedule, currentIntervalMs: number | null): string {
  switch (schedule.kind) {
    case "cron":
      return `cron “${schedule.cron}” (${schedule.timezone ?? "the host's time zone"})`;
    case "interval":
      return `every ${duration(schedule.intervalMs)}`;
    case "adaptive": {
      const now = currentIntervalMs === null ? "" : `, now ${duration(currentIntervalMs)}`;
      return `adaptive polling, every ${duration(schedule.baseMs)} to ${
        duration(schedule.maxMs)
      }${now}`;
    }
    case "none":
      return "none: on local changes and POST /sync only";
  }
}

function lastErrorHtml(st: SyncServiceStatus, now: number): string {
  const error = st.lastError;
  if (error === null) return "";
  const text = errorText(error);
  const at = st.lastSyncAt === null
    ? ""
    : `<span class="when">at ${timeHtml(st.lastSyncAt, now)}</span>`;
  let body: string;
  if (text.length <= LONG_ERROR) {
    body = `<code>${escapeHtml(text)}</code>`;
  } else {
    const status = error.status === undefined ? "" : ` (HTTP ${error.status})`;
    const head = `${error.kind}${status}: ${firstWords(error.message, 60)}`;
    body = `<details><summary><code>${escapeHtml(head)}</code></summary>` +
      `<code>${escapeHtml(text)}</code></details>`;
  }
  return `<dt>Last error</dt><dd class="last-error">${body}${at}</dd>`;
}

function nextRunHtml(s: DatabaseSnapshot, st: SyncServiceStatus, now: number): string {
  if (s.health.state === "failed" || s.health.state === "stopped") return "";
  const when = st.state === "syncing"
    ? "running now"
    : st.nextRunAt === null
    ? st.schedule.kind === "none" ? "on the next local change or POST /sync" : "not scheduled"
    : st.nextRunAt <= now
    ? `due now <span class="rel">(since ${utc(st.nextRunAt)})</span>`
    : timeHtml(st.nextRunAt, now);
  return `<dt>Next run</dt><dd class="next-run">${when}</dd>`;
}

function queueHtml(st: SyncServiceStatus, now: number): string {
  if (st.queueDepth === 0) return "empty";
  const oldest = st.oldestJobAt === null
    ? ""
    : `, the oldest queued ${duration(now - st.oldestJobAt)} ago`;
  return `${plural(st.queueDepth, "job")} pending or running${oldest}`;
}

function stateHtml(s: DatabaseSnapshot): string {
  const { state, reason, action } = s.health;
  return `<p class="state">${iconSvg(state)}<span class="word">${WORD[state]}</span>: ` +
    `<span class="reason">${escapeHtml(reason)}</span></p>` +
    (state === "failed" && action
      ? `<p class="action"><strong>To unblock:</strong> ${escapeHtml(action)}</p>`
      : "");
}

function databaseHtml(s: DatabaseSnapshot, index: number, now: number): string {
  const id = `db-${index}`;
  const open = `<section class="db s-${s.health.state}" id="${id}" ` +
    `data-state="${s.health.state}" data-attempts="${s.attempts.length}" ` +
    `aria-labelledby="${id}-name"><h2 class="name" id="${id}-name">${escapeHtml(s.name)}</h2>` +
    stateHtml(s);
  const st = s.status;
  if (st === null) return `${open}</section>`;
  const lastSuccess = st.lastSuccessAt === null ? "never" : timeHtml(st.lastSuccessAt, now);
  const restarts = st.executorRestarts > 0
    ? `<dt>Executor</dt><dd>restarted ${plural(st.executorRestarts, "time")}</dd>`
    : "";
  const t = st.totals;
  return open +
    `<dl>${lastErrorHtml(st, now)}${nextRunHtml(s, st, now)}` +
    `<dt>Last success</dt><dd class="last-success">${lastSuccess}</dd>` +
    // For the other classes the reason already says what the service is doing.
    (s.health.state === "ok"
      ? `<dt>Activity</dt><dd class="activity">${ACTIVITY[st.state]}</dd>`
      : "") +
    `<dt>Database</dt><dd class="database-id"><code>${escapeHtml(st.databaseId)}</code></dd>` +
    `<dt>Address</dt><dd class="address"><code>${escapeHtml(st.address)}</code></dd>` +
    `<dt>Schedule</dt><dd class="schedule">${
      escapeHtml(scheduleText(st.schedule, st.currentIntervalMs))
    }</dd>` +
    `<dt>Queue</dt><dd class="queue">${queueHtml(st, now)}</dd>` +
    `<dt>Unsent</dt><dd class="unsent">${
      plural(st.unsentChanges, "local change")
    } not yet sent</dd>` +
    `<dt>Attempts</dt><dd class="attempts-hour">${
      count(s.attemptsLastHour)
    } in the last hour</dd>` +
    restarts +
    `<dt>Since start</dt><dd>${count(t.succeeded)} succeeded · ${count(t.failed)} failed · ` +
    `${count(t.rowsReceived)} rows received</dd></dl>` +
    `<h3>Sync attempts</h3>${timelineHtml(s.attempts, { now, id: `${id}-tl` })}</section>`;
}

/**
 * The databases, most severe first: by `HEALTH_CLASSES` order, then by name.
 *
 * @param snapshots The databases.
 * @returns A sorted copy.
 */
export function bySeverity(snapshots: readonly DatabaseSnapshot[]): DatabaseSnapshot[] {
  const rank = (s: DatabaseSnapshot) => HEALTH_CLASSES.indexOf(s.health.state);
  return [...snapshots].sort((a, b) =>
    rank(a) - rank(b) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)
  );
}

/**
 * How many databases are in each class, most severe first, classes with none left out.
 *
 * @param snapshots The databases.
 * @returns `[class, count]` pairs.
 */
export function classCounts(snapshots: readonly DatabaseSnapshot[]): [HealthClass, number][] {
  return HEALTH_CLASSES
    .map((c): [HealthClass, number] => [c, snapshots.filter((s) => s.health.state === c).length])
    .filter(([, n]) => n > 0);
}

/**
 * Renders the page.
 *
 * @param snapshots The databases, read once for this request.
 * @param options The time, the refresh period and the links' base path.
 * @returns The HTML document.
 *
 * @example Usage
 * ```ts ignore
 * import { renderPage } from "./page.ts";
 * const html = renderPage([], { now: Date.now(), refreshSeconds: 10, base: "/" });
 * ```
 */
export function renderPage(snapshots: readonly DatabaseSnapshot[], options: PageOptions): string {
  const { now, refreshSeconds, base } = options;
  const counts = classCounts(snapshots);
  const headline = snapshots.length === 0
    ? `<p class="summary">No database is configured.</p>`
    : `<p class="summary">${
      counts.map(([c, n], i) =>
        `<span class="count s-${c}" data-class="${c}" data-count="${n}">${
          i === 0 ? "" : `<span class="sep">· </span>`
        }${iconSvg(c)}${n} ${c}</span>`
      ).join(" ")
    }</p>`;
  const title = snapshots.length === 0
    ? "no database"
    : counts.map(([c, n]) => `${n} ${c}`).join(" · ");
  const link = (path: string) => `<a href="${escapeHtml(base + path)}">${path}</a>`;
  const cards = bySeverity(snapshots).map((s, i) => databaseHtml(s, i, now));
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="refresh" content="${refreshSeconds}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>sqlite-sync: ${title}</title>
<style>${CSS}</style></head>
<body><header><h1>sqlite-sync</h1>
${headline}
<p class="muted">${plural(snapshots.length, "database")} at <time datetime="${
    new Date(now).toISOString()
  }">${utc(now)}</time>, reloads every ${refreshSeconds} s · ${link("status")} · ` +
    `${link("metrics")} · ${link("healthz")}</p></header>
<main>${cards.join("\n")}</main>
</body></html>
`;
}
