/**
 * The one redaction of the library. {@linkcode SqliteSyncError} applies it to
 * its message, its cause chain and its partial result, so every error the
 * library raises passes through here; nothing else redacts.
 *
 * Two things are removed: the secrets the library was given (API keys,
 * tokens, database ids, registry and mirror URL credentials, remembered with
 * {@linkcode rememberSecret}), in every form a server may echo them in (see
 * `_redact_forms.ts`): in any letter case, with any of their bytes
 * percent-encoded, JSON-escaped, in hex, and base64- or base64url-encoded,
 * alone or as `Bearer <secret>`, at any offset of a longer encoded text; and
 * generic credential shapes, so a secret nobody registered is still caught
 * when it looks like one (URL user info, URL query strings, `Authorization:`
 * values, `Bearer`/`Basic` credentials, `key=value` pairs named like a
 * secret, JWTs).
 *
 * The patterns for a set of secrets are built once, when the set changes, and
 * kept (a few sets at a time: the remembered set, with each list of extra
 * `secrets` given to {@linkcode redact}); percent-encoded and JSON-escaped
 * forms are found by decoding the text around each escape
 * (`_redact_escaped.ts`). bench/redact_bench.ts measures a call.
 *
 * A value that fails validation cannot be redacted (it was never registered):
 * describe it with {@linkcode shapeOf} instead of echoing it.
 *
 * @module
 */
import { BOUNDED_BELOW, type Forms, formsOf } from "./_redact_forms.ts";
import { escapedMatcher } from "./_redact_escaped.ts";

/** What a removed secret becomes. */
const MASK = "***";
/** Shorter values are too likely to be ordinary words to redact. */
const MIN_SECRET_LENGTH = 4;
/** How many secrets the process remembers (most recent kept). */
const MAX_REMEMBERED = 64;
/** How deep a cause chain (or a partial result) is followed. */
const MAX_DEPTH = 8;
/** How many secret sets keep their compiled pattern (the remembered set, with each `secrets` list). */
const MAX_CACHED_SETS = 16;
/** How many secrets keep their pattern sources. */
const MAX_CACHED_FORMS = 256;
/**
 * The longest source of one compiled pattern: V8 stops optimising a regular
 * expression past 20 KB of source (then 100 times slower), so a larger set is
 * split into several patterns, applied in turn.
 */
const MAX_SOURCE = 16_000;

const SCHEME = String.raw`\b[a-z][a-z0-9+.-]*:\/\/`;
/** Names that say the value next to them is a secret (`api_key`, `access_token`, `password`…). */
const SECRET_NAME = String
  .raw`(?:[a-z0-9]+[_-])*(?:api[_-]?key|apikey|token|secret|password|passwd|pwd|signature|sig|credentials?)`;
/** The value after such a name: no spaces, not already masked. */
const VALUE = String.raw`(?!\*\*\*)[^\s"'&,;}<>)]{4,}`;
/** The generic credential shapes, applied after the registered secrets. */
const SHAPES: readonly [RegExp, string | ((match: string, ...groups: string[]) => string)][] = [
  // `scheme://user:pass@host` → `scheme://host` (greedy: a password may hold an unencoded @).
  [new RegExp(`(${SCHEME})[^\\s/?#'"<>()]*@`, "gi"), "$1"],
  // `user:pass@host` without a scheme (an env var such as `me:token@npm.corp.example/`).
  [/(^|[\s'"`(<[=,])[^\s'"`(<[=,/@:]+:[^\s'"`/@]*@(?=[^\s@])/g, "$1"],
  // URL query strings: `https://host/x?sig=…` → `https://host/x?…`.
  [new RegExp(`(${SCHEME}[^\\s?#'"<>()]*)\\?[^\\s#'"<>()]*`, "gi"), "$1?…"],
  // `Authorization: <anything up to the end of the line>` (headers echoed in a body).
  [/\b((?:proxy-)?authorization["']?\s*[:=]\s*["']?)[^\r\n"']+/gi, `$1${MASK}`],
  // `Bearer <token>`; `Basic <base64>` (length a multiple of 4, so "Basic usage" survives).
  [/\b(Bearer\s+)[A-Za-z0-9._~+/=-]+/gi, `$1${MASK}`],
  [/\b(Basic\s+)([A-Za-z0-9+/]{4,}={0,2})/g, (m, p, b64) => (b64.length % 4 === 0 ? p + MASK : m)],
  // A value named like a secret: `apikey=…`, `"password":"…"`, `X-Api-Key: …` (header-like names
  // only take a bare colon, so a sentence such as "invalid token: expected …" survives).
  [new RegExp(`(\\b${SECRET_NAME}\\s*=\\s*["']?)${VALUE}`, "gi"), `$1${MASK}`],
  [new RegExp(`(["']${SECRET_NAME}["']\\s*:\\s*["']?)${VALUE}`, "gi"), `$1${MASK}`],
  [new RegExp(`(\\b(?:x-)?api[-_]?key\\s*:\\s*)${VALUE}`, "gi"), `$1${MASK}`],
  // JWT-shaped tokens.
  [/\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*/g, MASK],
];

/** The secrets remembered, oldest first; `version` changes whenever the set does. */
const remembered = new Set<string>();
let version = 0;
/** Each secret's forms (see `_redact_forms.ts`), built once. */
const forms = new Map<string, Forms>();
/** The compiled patterns of each secret set: the remembered set's version and the extra secrets. */
const patterns = new Map<string, Patterns>();

/** The patterns of a secret set, by family of forms; each list is applied in turn. */
interface Patterns {
  base64: RegExp[];
  hex: RegExp[];
  literal: RegExp[];
  /** Masks the percent-encoded and JSON-escaped forms. */
  escaped: (text: string, mask: string) => string;
}

function formsFor(secret: string): Forms {
  let found = forms.get(secret);
  if (found === undefined) {
    if (forms.size >= MAX_CACHED_FORMS) forms.clear();
    found = formsOf(secret);
    forms.set(secret, found);
  }
  return found;
}

/** `sources` as alternatives of as few expressions as {@linkcode MAX_SOURCE} allows. */
function compile(sources: string[], flags: string): RegExp[] {
  const compiled: RegExp[] = [];
  let chunk: string[] = [];
  let size = 0;
  for (const source of sources) {
    if (size > 0 && size + source.length > MAX_SOURCE) {
      compiled.push(new RegExp(chunk.join("|"), flags));
      chunk = [];
      size = 0;
    }
    chunk.push(source);
    size += source.length + 1;
  }
  if (chunk.length > 0) compiled.push(new RegExp(chunk.join("|"), flags));
  return compiled;
}

/**
 * The patterns matching every form of every remembered secret and of
 * `extra`, compiled once per set. Longer secrets come first, so a secret
 * holding another is removed whole.
 */
function patternsFor(extra: readonly string[]): Patterns {
  const valid = extra.filter((s) => typeof s === "string" && s.length >= MIN_SECRET_LENGTH);
  const key = valid.length === 0 ? `${version}` : `${version}\0${valid.join("\0")}`;
  let compiled = patterns.get(key);
  if (compiled === undefined) {
    const secrets = [...new Set([...valid, ...remembered])].sort((a, b) => b.length - a.length);
    const all = secrets.map(formsFor);
    compiled = {
      base64: compile(all.flatMap((f) => f.base64), "g"),
      hex: compile(all.flatMap((f) => f.hex), "gi"),
      literal: compile(all.flatMap((f) => f.literal), "gi"),
      escaped: escapedMatcher(secrets, BOUNDED_BELOW),
    };
    if (patterns.size >= MAX_CACHED_SETS) patterns.clear();
    patterns.set(key, compiled);
  }
  return compiled;
}

/**
 * Remembers a secret for the rest of the process, so every later error
 * removes it (in any letter case, percent-encoded, JSON-escaped, in hex, or
 * base64-encoded, alone or as `Bearer <secret>`). The
 * network layer calls it for API keys, tokens and database ids, resolution
 * for registry and mirror URL credentials. The most recent
 * 64 are kept; values under 4 characters are ignored.
 *
 * @param value The secret (anything but a string is ignored).
 *
 * @example Usage
 * ```ts
 * import { redact, rememberSecret } from "./redact.ts";
 * rememberSecret("Example-Key-0000");
 * console.log(redact("Could not resolve host: example-key-0000.invalid")); // "Could not resolve host: ***.invalid"
 * ```
 */
export function rememberSecret(value: unknown): void {
  if (typeof value !== "string" || value.length < MIN_SECRET_LENGTH) return;
  if (remembered.delete(value)) {
    remembered.add(value); // Most recent last; the set is the same.
    return;
  }
  remembered.add(value);
  while (remembered.size > MAX_REMEMBERED) remembered.delete(remembered.values().next().value!);
  version++;
  patterns.clear();
}

/**
 * Remembers the credentials of a URL: its password, or its user name when
 * there is no password (`https://<token>@host`). Does nothing for a URL
 * without credentials or a value that is not a URL.
 *
 * @param url A registry, mirror or release URL.
 *
 * @example Usage
 * ```ts
 * import { redact, rememberUrlCredentials } from "./redact.ts";
 * rememberUrlCredentials("https://me:Example-Pass-0@npm.example.com/");
 * console.log(redact("the server said: Example-Pass-0")); // "the server said: ***"
 * ```
 */
export function rememberUrlCredentials(url: string): void {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return;
  }
  const secret = parsed.password || parsed.username;
  if (!secret) return;
  rememberSecret(secret);
  try {
    rememberSecret(decodeURIComponent(secret));
  } catch {
    // A malformed escape: the raw form is remembered.
  }
}

/**
 * Removes secrets from a text: every remembered secret and the extra
 * `secrets` given, in each of their forms (see {@linkcode rememberSecret}),
 * and generic credential shapes (URL user info and query strings,
 * `Authorization:` values, `Bearer`/`Basic` credentials, secret-named
 * `key=value` pairs, JWTs).
 *
 * @param text The text (anything else is converted with `String`).
 * @param secrets More secrets to remove from this text only.
 * @returns The text without them.
 *
 * @example Usage
 * ```ts
 * import { redact } from "./redact.ts";
 * console.log(redact("https://me:hunter2@npm.example.com/x?sig=abc")); // "https://npm.example.com/x?…"
 * console.log(redact("bad key Example-Key-1", ["Example-Key-1"])); // "bad key ***"
 * // base64("Bearer Example-Key-00"), as a server might echo the Authorization header:
 * console.log(redact("echo QmVhcmVyIEV4YW1wbGUtS2V5LTAw", ["Example-Key-00"])); // "echo ***"
 * ```
 */
export function redact(text: string, secrets: readonly string[] = []): string {
  let out = typeof text === "string" ? text : String(text);
  const { base64, hex, literal, escaped } = patternsFor(secrets);
  for (const pattern of [...base64, ...hex, ...literal]) out = out.replace(pattern, MASK);
  out = escaped(out, MASK);
  for (const [pattern, replacement] of SHAPES) {
    out = typeof replacement === "string"
      ? out.replace(pattern, replacement)
      : out.replace(pattern, replacement);
  }
  return out;
}

/**
 * Redacts every string in a JSON-like value (plain objects and arrays),
 * returning the value itself when nothing changed.
 *
 * @param value The value, e.g. a partial sync result.
 * @returns The value, or a copy with its strings redacted.
 *
 * @example Usage
 * ```ts
 * import { redactValue } from "./redact.ts";
 * console.log(redactValue({ error: "Bearer abc.def" })); // { error: "Bearer ***" }
 * ```
 */
export function redactValue<T>(value: T, depth = 0): T {
  if (typeof value === "string") return redact(value) as T;
  if (depth > MAX_DEPTH || typeof value !== "object" || value === null) return value;
  if (Array.isArray(value)) {
    const items = value.map((v) => redactValue(v, depth + 1));
    return (items.some((v, i) => v !== value[i]) ? items : value) as T;
  }
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return value;
  const entries = Object.entries(value).map(([k, v]) => [k, redactValue(v, depth + 1)] as const);
  const changed = entries.some(([k, v]) => v !== (value as Record<string, unknown>)[k]);
  return changed ? Object.fromEntries(entries) as T : value;
}

/**
 * Returns an error (and its whole cause chain, `AggregateError.errors`
 * included) with every message, stack and string property redacted: the
 * error itself when nothing needed it, otherwise a copy keeping names, codes
 * and the chain's shape. Used by `SqliteSyncError` for its `cause`. A stack
 * that V8 has not formatted yet stays unformatted: it is redacted when read
 * (the error's own `stack` is redefined for that).
 *
 * @param value An error, or any thrown value.
 * @returns The same value, or its redacted copy.
 *
 * @example Usage
 * ```ts
 * import { redactError } from "./redact.ts";
 * const safe = redactError(new Error("GET https://me:pw@host/x failed")) as Error;
 * console.log(safe.message); // "GET https://host/x failed"
 * ```
 */
export function redactError(value: unknown, depth = 0): unknown {
  if (!(value instanceof Error)) return redactValue(value, depth);
  if (depth > MAX_DEPTH) return new Error("(cause chain truncated)");
  const e = value as Error & { errors?: unknown };
  const message = redact(e.message);
  const lazy = redactsStackOnRead(e);
  const stack = lazy ? undefined : typeof e.stack === "string" ? redact(e.stack) : e.stack;
  const hasCause = "cause" in e;
  const cause = hasCause ? redactError(e.cause, depth + 1) : undefined;
  const errors = Array.isArray(e.errors)
    ? e.errors.map((x) => redactError(x, depth + 1))
    : undefined;
  const props = Object.keys(e).filter((k) => !["cause", "errors", "message", "stack"].includes(k))
    .map((k) => [k, redactValue((e as unknown as Record<string, unknown>)[k], depth + 1)] as const);
  const changed = message !== e.message || (!lazy && stack !== e.stack) || cause !== e.cause ||
    errors?.some((x, i) => x !== (e.errors as unknown[])[i]) ||
    props.some(([k, v]) => v !== (e as unknown as Record<string, unknown>)[k]);
  if (!changed) return e;
  const copy: Error = errors ? new AggregateError(errors, message) : new Error(message);
  Object.defineProperty(copy, "name", { value: e.name, writable: true, configurable: true });
  for (const [k, v] of props) (copy as unknown as Record<string, unknown>)[k] = v;
  Object.defineProperty(
    copy,
    "stack",
    lazy
      ? { get: sourceStack, set: assignCopyStack, configurable: true }
      : { value: stack, writable: true, configurable: true },
  );
  if (lazy) stackSources.set(copy, e);
  if (hasCause) {
    Object.defineProperty(copy, "cause", { value: cause, writable: true, configurable: true });
  }
  return copy;
}

/** V8's own accessor of an error's `stack` (one per realm), taken from the first error seen. */
let v8Stack: { get: () => unknown; set: (value: unknown) => void } | undefined;
/** The error whose stack each redacted copy shows. */
const stackSources = new WeakMap<Error, Error>();

// One getter and setter for every error: a new pair per error left Deno ~1.3 KB a sync for good.
function redactedStack(this: Error): unknown {
  const text = v8Stack!.get.call(this);
  return typeof text === "string" ? redact(text) : text;
}
function assignStack(this: Error, value: unknown): void {
  v8Stack!.set.call(this, value);
}
function sourceStack(this: Error): unknown {
  return stackSources.get(this)?.stack;
}
function assignCopyStack(this: Error, value: unknown): void {
  Object.defineProperty(this, "stack", { value, writable: true, configurable: true });
}

/**
 * Makes `e.stack` redact itself when read, instead of reading it now, where
 * the stack is still V8's accessor (Deno, Node): formatting a stack costs
 * time and, in Deno, about 1 KB of native memory that stays (a daemon
 * formatted one per failed sync: bench/soak_bench.ts). Where the stack is
 * plain data (Bun's), or cannot be redefined, the caller redacts it now.
 *
 * @returns Whether `e.stack` now redacts itself.
 */
function redactsStackOnRead(e: Error): boolean {
  const own = Object.getOwnPropertyDescriptor(e, "stack");
  if (own?.get === redactedStack) return true;
  if (own?.get === undefined || own.set === undefined || own.configurable !== true) return false;
  v8Stack ??= { get: own.get, set: own.set };
  if (own.get !== v8Stack.get) return false;
  Object.defineProperty(e, "stack", { get: redactedStack, set: assignStack, configurable: true });
  return true;
}

/**
 * Describes a value without showing any of it, for messages about values
 * that failed validation (an API key pasted into the wrong field must not be
 * printed, and it was never registered, so it could not be redacted).
 *
 * @param value Any value.
 * @returns E.g. `a 41-character string`, `an empty string`, `a number`, `undefined`.
 *
 * @example Usage
 * ```ts
 * import { shapeOf } from "./redact.ts";
 * console.log(shapeOf("x".repeat(41))); // "a 41-character string"
 * ```
 */
export function shapeOf(value: unknown): string {
  if (typeof value === "string") {
    return value.length === 0 ? "an empty string" : `a ${value.length}-character string`;
  }
  if (value === null || value === undefined) return String(value);
  if (Array.isArray(value)) return "an array";
  const type = typeof value;
  return `${/^[aeiou]/.test(type) ? "an" : "a"} ${type}`;
}
