/**
 * The status page's sync timeline: every run of the recent finished jobs
 * (oldest first, left to right) as one colored block whose height grows with
 * the rows it moved, and whose title and hidden text say when it ran, how it
 * ended, the rows and the error.
 *
 * @module
 */
import type { JobHistoryEntry, RunOutcome } from "../scheduler/queue.ts";
import { errorText } from "./_health.ts";
import { count, escapeHtml, utc } from "./_html.ts";

/** The most runs the timeline shows. */
export const TIMELINE_RUNS = 40;

/** One block of the timeline. */
export interface TimelineEntry {
  /** When it ended (or started, or was claimed), ms since the epoch. */
  at: number;
  /** How it ended (`state` of the job when it kept no runs). */
  outcome: RunOutcome;
  /** Rows received. */
  rowsReceived: number;
  /** Rows sent. */
  rowsSent: number;
  /** The job it belongs to. */
  jobId: number;
  /** Its error, for failed and lost runs. */
  error?: { kind: string; message: string; status?: number };
}

const LABELS: Record<RunOutcome, string> = {
  succeeded: "succeeded",
  retry: "failed, retried",
  dead: "failed, given up",
  worker_lost: "lost (its worker ended)",
  released: "released unfinished",
  running: "running",
};

const CLASSES: Record<RunOutcome, string> = {
  succeeded: "ok",
  retry: "fail",
  dead: "fail",
  worker_lost: "fail",
  released: "other",
  running: "other",
};

/**
 * The runs of the history, oldest first, the last {@linkcode TIMELINE_RUNS}.
 *
 * @param history Finished jobs, newest first (as `history()` returns them).
 * @returns The entries.
 */
export function timelineOf(history: readonly JobHistoryEntry[]): TimelineEntry[] {
  const entries: TimelineEntry[] = [];
  for (const job of [...history].reverse()) {
    if (job.runs.length === 0) {
      entries.push({
        at: job.finishedAt ?? job.createdAt,
        outcome: job.state === "succeeded" ? "succeeded" : "dead",
        rowsReceived: job.rowsReceived ?? 0,
        rowsSent: job.rowsSent ?? 0,
        jobId: job.id,
        ...(job.lastError ? { error: job.lastError } : {}),
      });
      continue;
    }
    for (const run of job.runs) {
      entries.push({
        at: run.finishedAt ?? run.startedAt ?? run.claimedAt,
        outcome: run.outcome,
        rowsReceived: run.rowsReceived ?? 0,
        rowsSent: run.rowsSent ?? 0,
        jobId: job.id,
        ...(run.error ? { error: run.error } : {}),
      });
    }
  }
  return entries.slice(-TIMELINE_RUNS);
}

function level(rows: number): number {
  return rows === 0 ? 0 : Math.min(4, Math.floor(Math.log10(rows)) + 1);
}

function describeEntry(e: TimelineEntry): string {
  const parts = [
    utc(e.at),
    LABELS[e.outcome],
    `${count(e.rowsReceived)} rows received, ${count(e.rowsSent)} sent`,
    `job ${e.jobId}`,
  ];
  if (e.error) parts.push(errorText(e.error));
  return parts.join(" · ");
}

/**
 * The timeline's HTML: a list of blocks and a one-line summary.
 *
 * @param history Finished jobs, newest first.
 * @returns HTML.
 */
export function timelineHtml(history: readonly JobHistoryEntry[]): string {
  const entries = timelineOf(history);
  if (entries.length === 0) return `<p class="muted">No finished sync yet.</p>`;
  const items = entries.map((e) => {
    const text = escapeHtml(describeEntry(e));
    const rows = e.rowsReceived + e.rowsSent;
    return `<li class="run ${CLASSES[e.outcome]} ${e.outcome} l${level(rows)}" title="${text}">` +
      `<span class="sr">${text}</span></li>`;
  });
  const ok = entries.filter((e) => e.outcome === "succeeded").length;
  const failed = entries.filter((e) => CLASSES[e.outcome] === "fail").length;
  const received = entries.reduce((n, e) => n + e.rowsReceived, 0);
  const sent = entries.reduce((n, e) => n + e.rowsSent, 0);
  return `<ol class="timeline">${items.join("")}</ol>` +
    `<p class="legend">${
      entries.length === 1 ? "Last run" : `Last ${entries.length} runs, oldest first`
    }: ` +
    `<span class="k ok"></span>${ok} succeeded · <span class="k fail"></span>${failed} failed · ` +
    `${count(received)} rows received, ${
      count(sent)
    } sent (a green block grows with the rows it moved)</p>`;
}
