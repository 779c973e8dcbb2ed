/**
 * Small text helpers of the status page: HTML escaping and the way times and
 * counts are written for people.
 *
 * @module
 */
import { duration } from "./_health.ts";

const ENTITIES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

/**
 * Escapes text for HTML content and quoted attribute values.
 *
 * @param value Any value; it is turned into a string first.
 * @returns The escaped text.
 */
export function escapeHtml(value: unknown): string {
  return String(value).replace(/[&<>"']/g, (c) => ENTITIES[c]);
}

/**
 * A time as `2026-06-01 12:00:00 UTC`.
 *
 * @param ms Milliseconds since the epoch.
 * @returns The text.
 */
export function utc(ms: number): string {
  const iso = new Date(ms).toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)} UTC`;
}

/**
 * A time relative to now: `3 min ago`, `in 45 s`.
 *
 * @param ms The time, ms since the epoch.
 * @param now The current time.
 * @returns The text.
 */
export function relative(ms: number, now: number): string {
  return ms <= now ? `${duration(now - ms)} ago` : `in ${duration(ms - now)}`;
}

/**
 * A `<time>` element: UTC text with the relative time after it.
 *
 * @param ms The time, ms since the epoch.
 * @param now The current time.
 * @returns HTML.
 */
export function timeHtml(ms: number, now: number): string {
  const iso = new Date(ms).toISOString();
  return `<time datetime="${iso}">${utc(ms)}</time> <span class="rel">(${
    relative(ms, now)
  })</span>`;
}

/**
 * An integer with thousands separators (`12,345`), the same in every runtime.
 *
 * @param n The number.
 * @returns The text.
 */
export function count(n: number): string {
  return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}
