/**
 * What the one redaction (common/redact.ts) costs per call, before and after
 * it learnt the encoded forms of a secret (base64 and base64url at each
 * alignment, hex, fully percent-encoded), side by side in one run: a 1 KB and
 * a 64 KB text with 0, 3 and 20 known secrets (an API key, a 300-character
 * JWT-like token and a UUID database id, in turn), for an ordinary text (error
 * envelopes, URLs, a base64 blob, no secret), the same with a line of
 * percent- and JSON-escapes (the text around them is then decoded and
 * searched) and the same echoing the first secret once in each encoding. "before" is the previous matcher, kept
 * here verbatim in its essentials (one case-insensitive pattern per secret,
 * applied most recent first); "after" is common/redact.ts itself. Both apply
 * the same credential shapes, so the difference is the matching of known
 * secrets. Also prints how many of the echoed encodings each leaves readable.
 *
 * Prints the median ns per call of 7 interleaved rounds, then what the first
 * call after the secret set changes costs (the patterns are built once per
 * set: the sources, then each family's expressions, compiled by the engine on
 * first use; "before" compiled one expression per new secret).
 *
 * Run: `deno run -A bench/redact_bench.ts` or `bun bench/redact_bench.ts`.
 *
 * @module
 */
import process from "node:process";
import { redact, rememberSecret } from "../common/redact.ts";

// ---- before: the previous matcher (plain, any case, percent-encoded punctuation, JSON escapes).

const BOUNDED_BELOW = 12;
const SCHEME = String.raw`\b[a-z][a-z0-9+.-]*:\/\/`;
const SECRET_NAME = String
  .raw`(?:[a-z0-9]+[_-])*(?:api[_-]?key|apikey|token|secret|password|passwd|pwd|signature|sig|credentials?)`;
const VALUE = String.raw`(?!\*\*\*)[^\s"'&,;}<>)]{4,}`;
const SHAPES: readonly [RegExp, string | ((match: string, ...groups: string[]) => string)][] = [
  [new RegExp(`(${SCHEME})[^\\s/?#'"<>()]*@`, "gi"), "$1"],
  [/(^|[\s'"`(<[=,])[^\s'"`(<[=,/@:]+:[^\s'"`/@]*@(?=[^\s@])/g, "$1"],
  [new RegExp(`(${SCHEME}[^\\s?#'"<>()]*)\\?[^\\s#'"<>()]*`, "gi"), "$1?…"],
  [/\b((?:proxy-)?authorization["']?\s*[:=]\s*["']?)[^\r\n"']+/gi, "$1***"],
  [/\b(Bearer\s+)[A-Za-z0-9._~+/=-]+/gi, "$1***"],
  [/\b(Basic\s+)([A-Za-z0-9+/]{4,}={0,2})/g, (m, p, b64) => (b64.length % 4 === 0 ? p + "***" : m)],
  [new RegExp(`(\\b${SECRET_NAME}\\s*=\\s*["']?)${VALUE}`, "gi"), "$1***"],
  [new RegExp(`(["']${SECRET_NAME}["']\\s*:\\s*["']?)${VALUE}`, "gi"), "$1***"],
  [new RegExp(`(\\b(?:x-)?api[-_]?key\\s*:\\s*)${VALUE}`, "gi"), "$1***"],
  [/\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*/g, "***"],
];

function beforePattern(secret: string): RegExp {
  let body = "";
  for (const char of secret) {
    const escaped = char.replace(/[.*+?^${}()|[\]\\/-]/g, "\\$&");
    if (/[A-Za-z0-9]/.test(char)) body += escaped;
    else {
      const hex = [...new TextEncoder().encode(char)]
        .map((b) => `%${b.toString(16).padStart(2, "0")}`).join("");
      const alternatives = [escaped, hex];
      if (char === '"' || char === "\\") alternatives.push(`\\\\${escaped}`);
      body += `(?:${alternatives.join("|")})`;
    }
  }
  const bounded = secret.length < BOUNDED_BELOW;
  return new RegExp(bounded ? `(?<![A-Za-z0-9])${body}(?![A-Za-z0-9])` : body, "gi");
}

const beforeRemembered = new Map<string, RegExp>();

function beforeRedact(text: string): string {
  let out = text;
  for (const pattern of [...beforeRemembered.values()].reverse()) out = out.replace(pattern, "***");
  for (const [pattern, replacement] of SHAPES) {
    out = typeof replacement === "string"
      ? out.replace(pattern, replacement)
      : out.replace(pattern, replacement);
  }
  return out;
}

// ---- inputs

let seed = 0x5eed;
function random(): number {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
function randomBytes(n: number): Uint8Array {
  return Uint8Array.from({ length: n }, () => Math.floor(random() * 256));
}
const base64 = (bytes: Uint8Array) => btoa(String.fromCharCode(...bytes));
const ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const word = (n: number) =>
  Array.from({ length: n }, () => ALNUM[Math.floor(random() * 62)]).join("");

/** An API key, a JWT-like token, a UUID, in turn. */
function secret(i: number): string {
  switch (i % 3) {
    case 0:
      return `sk_live_${word(36)}`;
    case 1:
      return `eyJ${word(60)}.${word(180)}.${word(52)}`;
    default:
      return crypto.randomUUID();
  }
}

const LINES = [
  'sync failed (http): server answered 503 database_paused {"errors":[{"status":"503",' +
  '"code":"database_paused","title":"Database paused"}]}',
  "Failed to connect to sync.example.com port 443 after 1003 ms: Connection refused",
  '{"time":"2025-01-01T00:00:00.000Z","level":"warn","event":"sync.failed","database":"alpha"}',
  "GET https://sync.example.com/v2/cloudsync/databases/db_0001/status answered 401 unauthorized",
];

function ordinary(size: number): string {
  let text = "";
  for (let i = 0; text.length < size; i++) {
    text += `${LINES[i % LINES.length]}\n`;
    if (i % 4 === 3) text += `payload ${base64(randomBytes(180))}\n`;
  }
  return text.slice(0, size);
}

const encoded = new Map<string, string[]>();

/** The secret in each encoding a server might echo (the same strings for a secret every time). */
function encodings(s: string): string[] {
  const known = encoded.get(s);
  if (known) return known;
  const bytes = new TextEncoder().encode(s);
  const pad = (n: number) => new Uint8Array([...randomBytes(n), ...bytes, ...randomBytes(2)]);
  const b64 = [0, 1, 2].map((n) => base64(pad(n)));
  const forms = [
    s,
    ...b64,
    b64[1].replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, ""),
    base64(new TextEncoder().encode(`Bearer ${s}`)),
    [...bytes].map((b) => `%${b.toString(16).toUpperCase().padStart(2, "0")}`).join(""),
    [...bytes].map((b) => b.toString(16).padStart(2, "0")).join(""),
  ];
  encoded.set(s, forms);
  return forms;
}

function echoing(size: number, s: string): string {
  const echo = encodings(s).map((e) => `you sent ${e}\n`).join("");
  return ordinary(size - echo.length) + echo;
}

/**
 * How many of `s`'s encodings are still readable in `text`: the whole form, or for base64 its
 * middle (the first and last 4 characters also encode the random bytes around the secret).
 */
function readable(text: string, s: string): number {
  const lower = text.toLowerCase();
  return encodings(s).filter((e, i) =>
    i >= 1 && i <= 5 ? text.includes(e.slice(4, -4)) : lower.includes(e.toLowerCase())
  ).length;
}

// ---- timing

function nsPerCall(fn: () => void, budgetMs: number): number {
  let n = 1;
  for (;;) {
    const t0 = performance.now();
    for (let i = 0; i < n; i++) fn();
    const ms = performance.now() - t0;
    if (ms >= budgetMs) return (ms * 1e6) / n;
    n *= ms < budgetMs / 8 ? 8 : 2;
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

const ROUNDS = 7;
const fmt = (ns: number) =>
  ns >= 1e6 ? `${(ns / 1e6).toFixed(2)} ms` : `${(ns / 1e3).toFixed(1)} µs`.padStart(8);

const secrets = Array.from({ length: 20 }, (_, i) => secret(i));
const sizes = [1024, 65536];
/** Ordinary text with percent-escapes: the text around them is decoded and searched too. */
const ESCAPED_LINE = 'GET /search?q=caf%C3%A9%20au%20lait answered 404 {"path":"\\/search"}\n';
const withEscapes = (size: number) => `${ESCAPED_LINE}${ordinary(size - ESCAPED_LINE.length)}`;
const texts = new Map(sizes.map((size) => [size, {
  ordinary: ordinary(size),
  escaped: withEscapes(size),
  echoing: echoing(size, secrets[0]),
}]));

console.log(
  `redact() per call, median of ${ROUNDS} rounds (${process.versions.bun ? "bun" : "deno"})`,
);
console.log(
  "secrets  size   text       before      after     after/before  readable encodings (of 8): before → after",
);
/** The first call after one more secret, for a set of `count` secrets: before and after, ns. */
function firstCalls(count: number): string[] {
  const rows: string[] = [];
  for (const [kind, text] of Object.entries(texts.get(1024)!)) {
    if (kind === "echoing") continue;
    const before: number[] = [];
    const after: number[] = [];
    for (let i = 0; i < 9; i++) {
      const fresh = secret(i);
      let t0 = performance.now();
      const pattern = beforePattern(fresh);
      beforeRedact(text);
      text.replace(pattern, "***");
      before.push((performance.now() - t0) * 1e6);
      // An extra secret makes a new set without growing the remembered one.
      t0 = performance.now();
      redact(text, [fresh]);
      after.push((performance.now() - t0) * 1e6);
    }
    rows.push(
      `${String(count + 1).padStart(7)}   1 KB  ${kind.padEnd(9)} ${
        fmt(median(before)).padStart(9)
      }  ${fmt(median(after)).padStart(9)}`,
    );
  }
  return rows;
}

const changes: string[] = [];
let known = 0;
for (const count of [0, 3, 20]) {
  for (; known < count; known++) {
    rememberSecret(secrets[known]);
    beforeRemembered.set(secrets[known], beforePattern(secrets[known]));
  }
  for (const size of sizes) {
    for (const [kind, text] of Object.entries(texts.get(size)!)) {
      if (count === 0 && kind !== "ordinary") continue;
      const before: number[] = [];
      const after: number[] = [];
      for (let r = 0; r < ROUNDS; r++) {
        before.push(nsPerCall(() => beforeRedact(text), size > 2048 ? 40 : 15));
        after.push(nsPerCall(() => redact(text), size > 2048 ? 40 : 15));
      }
      const b = median(before);
      const a = median(after);
      const leaks = kind === "echoing"
        ? `${readable(beforeRedact(text), secrets[0])} → ${readable(redact(text), secrets[0])}`
        : "";
      console.log(
        `${String(count).padStart(7)}  ${size === 1024 ? " 1 KB" : "64 KB"}  ${kind.padEnd(9)} ${
          fmt(b).padStart(9)
        }  ${fmt(a).padStart(9)}  ${(a / b).toFixed(2).padStart(8)}×      ${leaks}`,
      );
    }
  }
  if (count > 0) changes.push(...firstCalls(count));
}

console.log("\nthe first redact() after the set gains a secret (its patterns built), median of 9");
console.log("secrets  size   text       before      after");
for (const row of changes) console.log(row);
