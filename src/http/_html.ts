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

/**
 * `n` and a noun, plural unless `n` is 1: `1 attempt`, `2 attempts`, `1,200 jobs`.
 *
 * @param n The number.
 * @param one The noun for one.
 * @param many The noun for others (default: `one` and an `s`).
 * @returns The text.
 */
export function plural(n: number, one: string, many = `${one}s`): string {
  return `${count(n)} ${n === 1 ? one : many}`;
}

/**
 * The first words of a text, at most `max` characters, cut between words (never inside one
 * unless the first word alone is longer), with `…` when anything was left out.
 *
 * @param text The text (whitespace is collapsed).
 * @param max The most characters to keep, before the `…`.
 * @returns The text.
 */
export function firstWords(text: string, max: number): string {
  const flat = text.replace(/\s+/g, " ").trim();
  if (flat.length <= max) return flat;
  const cut = flat.slice(0, max + 1);
  const space = cut.lastIndexOf(" ");
  const kept = space > 0 ? cut.slice(0, space) : flat.slice(0, max);
  return `${kept.replace(/[\s,;:.(–-]+$/, "")}…`;
}
