/**
 * Secrets written with escapes, for `common/redact.ts` (private to it): any
 * of their bytes percent-encoded (`%73`, `%2F`, in either case), or a
 * character JSON-escaped (`\u0073`, `\"`, `\\`, `\/`), mixed with literal
 * characters in any way. Instead of a regular expression per secret (the
 * engines take milliseconds to compile one that allows each byte its escapes),
 * the text around each escape is decoded to bytes, searched for each secret's
 * bytes (ASCII letters in either case), and what was found is masked where it
 * was written. A text without an escape costs one scan.
 *
 * @module
 */

/** An escape that can hold a secret's byte or character. */
const ESCAPE = /%[0-9a-fA-F]{2}|\\u[0-9a-fA-F]{4}|\\["\\/]/g;
/** What decoding rewrites: an escape, or a character outside ASCII (written as its UTF-8 bytes). */
const UNIT =
  /%[0-9a-fA-F]{2}|\\u[0-9a-fA-F]{4}|\\["\\/]|[\ud800-\udbff][\udc00-\udfff]|[\u0080-\uffff]/g;
/** The most characters one byte takes written out (`\u0073`). */
const WIDEST = 6;
const encoder = new TextEncoder();

const alphanumeric = (code: number) =>
  (code >= 0x30 && code <= 0x39) || (code >= 0x61 && code <= 0x7a) ||
  (code >= 0x41 && code <= 0x5a);

/** Bytes as a string of one character per byte. */
function byteString(bytes: Uint8Array): string {
  let out = "";
  for (let i = 0; i < bytes.length; i += 8192) {
    out += String.fromCharCode(...bytes.subarray(i, i + 8192));
  }
  return out;
}

/** The bytes a unit of {@linkcode UNIT} stands for, one character per byte. */
function unitBytes(unit: string): string {
  if (unit.length === 3) return String.fromCharCode(parseInt(unit.slice(1), 16));
  if (unit.length === 6) {
    const code = parseInt(unit.slice(2), 16);
    return code < 0x80
      ? String.fromCharCode(code)
      : byteString(encoder.encode(String.fromCharCode(code)));
  }
  if (unit.length === 2 && unit[0] === "\\") return unit[1];
  return byteString(encoder.encode(unit));
}

/** Where a rewritten unit sits: in the decoded text and in the text. */
interface Segment {
  decoded: number;
  decodedLength: number;
  start: number;
  length: number;
}

/**
 * The text from `from` to `to` as the bytes it holds, one character per
 * byte, lower-cased, with a function from a decoded position to where its
 * byte was written in `text` (the unit's start and end).
 */
function decode(text: string, from: number, to: number) {
  const segments: Segment[] = [];
  let shift = 0;
  const bytes = text.slice(from, to).replace(UNIT, (unit: string, offset: number) => {
    const decoded = unitBytes(unit);
    segments.push({
      decoded: offset + shift,
      decodedLength: decoded.length,
      start: from + offset,
      length: unit.length,
    });
    shift += decoded.length - unit.length;
    return decoded;
  }).toLowerCase();
  /** The `[start, end)` in `text` of the unit that wrote decoded byte `d`. */
  const origin = (d: number): [number, number] => {
    let lo = 0;
    let hi = segments.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (segments[mid].decoded <= d) (found = mid, lo = mid + 1);
      else hi = mid - 1;
    }
    if (found < 0) return [from + d, from + d + 1];
    const s = segments[found];
    if (d < s.decoded + s.decodedLength) return [s.start, s.start + s.length];
    const at = s.start + s.length + (d - s.decoded - s.decodedLength);
    return [at, at + 1];
  };
  return { bytes, origin };
}

/**
 * A function masking the secrets' escaped forms in a text.
 *
 * @param secrets The secrets, longest first.
 * @param boundedBelow Shorter secrets are found only between non-alphanumerics.
 * @returns `(text, mask) => text` with each escaped form of a secret replaced by `mask`.
 */
export function escapedMatcher(
  secrets: readonly string[],
  boundedBelow: number,
): (text: string, mask: string) => string {
  const needles = secrets.map((s) => ({
    bytes: byteString(encoder.encode(s)).toLowerCase(),
    bounded: s.length < boundedBelow,
  }));
  // Around an escape, a secret holding it can reach this far either way.
  const reach = WIDEST * Math.max(0, ...needles.map((n) => n.bytes.length));
  return (text, mask) => {
    if (needles.length === 0) return text;
    const windows: [number, number][] = [];
    ESCAPE.lastIndex = 0;
    for (let m = ESCAPE.exec(text); m !== null; m = ESCAPE.exec(text)) {
      const from = Math.max(0, m.index - reach);
      const to = Math.min(text.length, m.index + m[0].length + reach);
      const last = windows.at(-1);
      if (last && from <= last[1]) last[1] = Math.max(last[1], to);
      else windows.push([from, to]);
    }
    const spans: [number, number][] = [];
    for (const [from, to] of windows) {
      const { bytes, origin } = decode(text, from, to);
      const before = (k: number) =>
        k > 0 ? bytes.charCodeAt(k - 1) : from > 0 ? text.charCodeAt(from - 1) : 0;
      for (const needle of needles) {
        for (let k = bytes.indexOf(needle.bytes); k >= 0; k = bytes.indexOf(needle.bytes, k + 1)) {
          const end = k + needle.bytes.length;
          if (
            needle.bounded &&
            (alphanumeric(before(k)) || (end < bytes.length && alphanumeric(bytes.charCodeAt(end))))
          ) continue;
          spans.push([origin(k)[0], origin(end - 1)[1]]);
        }
      }
    }
    if (spans.length === 0) return text;
    spans.sort((a, b) => a[0] - b[0] || b[1] - a[1]);
    let out = "";
    let at = 0;
    for (const [start, end] of spans) {
      if (end <= at) continue;
      out += start >= at ? text.slice(at, start) + mask : "";
      at = end;
    }
    return out + text.slice(at);
  };
}
