/**
 * `GET /`: the status page for a person at a browser. One HTML document, no
 * script, no external asset, inline CSS; it reloads itself with
 * `<meta http-equiv="refresh">`. Per database: its state and health, last
 * success, last error, next run, queue and totals, and the recent syncs as a
 * timeline. Every value that comes from a service or a name is escaped.
 *
 * @module
 */
import { errorText } from "./_health.ts";
import { count, escapeHtml, timeHtml, utc } from "./_html.ts";
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

const CSS = `
:root{color-scheme:light dark;--ok:#1a7f37;--fail:#cf222e;--warn:#9a6700;--other:#8c959f;
--run:#0969da;--bg:#fff;--fg:#1f2328;--muted:#59636e;--card:#f6f8fa;--line:#d1d9e0}
@media (prefers-color-scheme:dark){:root{--bg:#0d1117;--fg:#e6edf3;--muted:#9198a1;
--card:#151b23;--line:#3d444d}}
*{box-sizing:border-box}
body{margin:0;padding:1.5rem;font:15px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;
background:var(--bg);color:var(--fg)}
header{margin-bottom:1rem}h1{font-size:1.4rem;margin:0 0 .25rem}
.muted,.rel,.legend{color:var(--muted)}a{color:var(--run)}
main{display:grid;gap:1rem;grid-template-columns:repeat(auto-fill,minmax(26rem,1fr))}
section.db{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:1rem}
h2{font-size:1.1rem;margin:0 0 .5rem;display:flex;gap:.5rem;align-items:center;flex-wrap:wrap}
h2 .name{overflow-wrap:anywhere}h3{font-size:.95rem;margin:.75rem 0 .25rem}
.state{font-size:.8rem;font-weight:600;padding:.1rem .5rem;border-radius:1rem;color:#fff;
background:var(--other)}
.state.idle{background:var(--ok)}.state.syncing{background:var(--run)}
.state.backing-off,.state.offline{background:var(--warn)}.state.failed{background:var(--fail)}
.health{margin:.25rem 0;font-weight:600}.health.bad{color:var(--fail)}
.health.degraded{color:var(--warn)}.health.good{color:var(--ok)}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.15rem .75rem;margin:.5rem 0}
dt{color:var(--muted)}dd{margin:0;overflow-wrap:anywhere}
code{font-size:.85em}
ol.timeline{list-style:none;margin:.25rem 0;padding:0;display:flex;gap:2px;align-items:flex-end;
height:34px;border-bottom:1px solid var(--line)}
.run{width:10px;border-radius:2px 2px 0 0;background:var(--other)}
.run.ok{background:var(--ok)}.run.fail{background:var(--fail)}
.run.l0{height:6px}.run.l1{height:12px}.run.l2{height:18px}.run.l3{height:26px}.run.l4{height:34px}
.run.fail{height:14px}
.k{display:inline-block;width:.7em;height:.7em;border-radius:2px;margin-right:.25em}
.k.ok{background:var(--ok)}.k.fail{background:var(--fail)}
.legend{font-size:.8rem;margin:.25rem 0 0}
.sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}
`;

function healthHtml(s: DatabaseSnapshot): string {
  const { healthy, reason } = s.health;
  if (!healthy) return `<p class="health bad">Unhealthy: ${escapeHtml(reason)}</p>`;
  if (reason) return `<p class="health degraded">Healthy, degraded: ${escapeHtml(reason)}</p>`;
  return `<p class="health good">Healthy</p>`;
}

function databaseHtml(s: DatabaseSnapshot, index: number, now: number): string {
  const name = `<span class="name">${escapeHtml(s.name)}</span>`;
  const st = s.status;
  if (st === null) {
    return `<section class="db" id="db-${index}"><h2>${name}` +
      `<span class="state unknown">unknown</span></h2>${healthHtml(s)}</section>`;
  }
  const lastSuccess = st.lastSuccessAt === null ? "never" : timeHtml(st.lastSuccessAt, now);
  const lastError = st.lastError === null
    ? "none"
    : `<code>${escapeHtml(errorText(st.lastError))}</code>` +
      (st.lastSyncAt === null ? "" : ` at ${timeHtml(st.lastSyncAt, now)}`);
  const nextRun = st.nextRunAt === null ? "not scheduled" : timeHtml(st.nextRunAt, now);
  const permanent = st.permanentReason === null
    ? ""
    : `<dt>Stopped retrying</dt><dd>${escapeHtml(st.permanentReason)}</dd>`;
  const interval = st.currentIntervalMs === null
    ? ""
    : ` · polling every ${count(Math.round(st.currentIntervalMs / 1000))} s`;
  const t = st.totals;
  return `<section class="db" id="db-${index}" data-state="${escapeHtml(st.state)}">` +
    `<h2>${name}<span class="state ${escapeHtml(st.state)}">${escapeHtml(st.state)}</span></h2>` +
    healthHtml(s) +
    `<dl><dt>Last success</dt><dd class="last-success">${lastSuccess}</dd>` +
    `<dt>Last error</dt><dd class="last-error">${lastError}</dd>` +
    `<dt>Next run</dt><dd class="next-run">${nextRun}${interval}</dd>` +
    permanent +
    `<dt>Queue</dt><dd>${count(st.queueDepth)} pending or running · ` +
    `${count(st.unsentChanges)} local changes not yet sent</dd>` +
    `<dt>Since start</dt><dd>${count(t.succeeded)} succeeded · ${count(t.failed)} failed · ` +
    `${count(t.rowsReceived)} rows received · ${count(t.chunksSent)} chunks sent</dd></dl>` +
    `<h3>Recent syncs</h3>${timelineHtml(s.history)}</section>`;
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
  const unhealthy = snapshots.filter((s) => !s.health.healthy).length;
  const summary = snapshots.length === 0
    ? "No database is configured."
    : unhealthy === 0
    ? `${snapshots.length} database${snapshots.length === 1 ? "" : "s"}, all healthy.`
    : `${unhealthy} of ${snapshots.length} database${snapshots.length === 1 ? "" : "s"} unhealthy.`;
  const link = (path: string) => `<a href="${escapeHtml(base + path)}">${path}</a>`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="refresh" content="${refreshSeconds}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>sqlite-sync status${unhealthy === 0 ? "" : ` (${unhealthy} unhealthy)`}</title>
<style>${CSS}</style></head>
<body><header><h1>sqlite-sync</h1>
<p class="summary">${summary}</p>
<p class="muted">At <time datetime="${new Date(now).toISOString()}">${utc(now)}</time>, ` +
    `reloads every ${refreshSeconds} s · ${link("status")} · ${link("metrics")} · ` +
    `${link("healthz")}</p></header>
<main>${snapshots.map((s, i) => databaseHtml(s, i, now)).join("\n")}</main>
</body></html>
`;
}
