/**
 * The secrets canary's values and checks, shared by
 * secrets_canary_network_test.ts and secrets_canary_resolve_test.ts: distinct
 * recognisable credentials (an API key with upper case, so a lower-cased echo
 * is caught; a token; a URL password needing percent-encoding), every form
 * each can take in a text ({@linkcode canaryForms}: as is, percent-encoded
 * wholly or in part, hex, and the part of its base64 and base64url that does
 * not depend on its neighbours, at each of the three byte offsets), and an
 * assertion that none of them appears, in any letter case, anywhere a caller
 * or a logger could look: String(err), err.stack, JSON.stringify(err),
 * util.inspect(err), every cause (and AggregateError member) message and
 * stack, and the partial result.
 *
 * The forms are computed here independently of common/redact.ts (from btoa
 * and plain byte arithmetic), so the redaction is checked against a second
 * derivation, not against itself.
 */
import assert from "node:assert/strict";
import { inspect } from "node:util";
import { SqliteSyncError } from "../common/errors.ts";

export const API_KEY = "CanaryKEY9f2dQx7LmZ";
export const TOKEN = "canary-token-5b8e1c0d9a71";
export const PASSWORD = "CanaryPw:3e7d@1a0b";
const CANARIES = [API_KEY, TOKEN, PASSWORD];

/**
 * The characters of the base64 of `secret` that depend on its bytes alone, when it starts
 * at offset 0, 1 or 2 of a 3-byte group of a longer encoded text, in both alphabets: any
 * base64 text holding the secret holds one of them, whatever surrounds it.
 */
export function base64Cores(secret: string): string[] {
  const bytes = new TextEncoder().encode(secret);
  const cores: string[] = [];
  for (const offset of [0, 1, 2]) {
    const padded = new Uint8Array(offset + bytes.length);
    padded.set(bytes, offset);
    const core = btoa(String.fromCharCode(...padded))
      .slice(Math.ceil((8 * offset) / 6), Math.floor((8 * padded.length) / 6));
    cores.push(core, core.replace(/\+/g, "-").replace(/\//g, "_"));
  }
  return cores;
}

/**
 * Every form `secret` can take in a text, for a case-insensitive search: as is,
 * `encodeURIComponent`d, every byte percent-encoded, every other byte percent-encoded
 * (starting with the first or the second), hex, and its {@linkcode base64Cores}.
 */
export function canaryForms(secret: string): string[] {
  const bytes = [...new TextEncoder().encode(secret)];
  const pct = (b: number) => `%${b.toString(16).padStart(2, "0")}`;
  const mixed = (phase: number) =>
    bytes.map((b, i) => (i % 2 === phase ? pct(b) : String.fromCharCode(b))).join("");
  return [
    ...new Set([
      secret,
      encodeURIComponent(secret),
      bytes.map(pct).join(""),
      mixed(0),
      mixed(1),
      bytes.map((b) => b.toString(16).padStart(2, "0")).join(""),
      ...base64Cores(secret),
    ]),
  ];
}

/** Every form a canary could take in a text (checked case-insensitively). */
export const FORMS: readonly string[] = CANARIES.flatMap(canaryForms);

/** Every text of an error a caller or a logger can see. */
function textsOf(err: unknown): string[] {
  const texts = [String(err), inspect(err, { depth: 10 })];
  try {
    texts.push(JSON.stringify(err) ?? "");
  } catch (e) {
    texts.push(`JSON.stringify threw ${e}`);
  }
  texts.push(JSON.stringify((err as { partial?: unknown })?.partial) ?? "");
  const visit = (e: unknown, depth: number): void => {
    if (!(e instanceof Error) || depth > 10) return;
    texts.push(e.message, e.stack ?? "", String(e));
    const errors = (e as { errors?: unknown }).errors;
    if (Array.isArray(errors)) { for (const x of errors) visit(x, depth + 1); }
    visit(e.cause, depth + 1);
  };
  visit(err, 0);
  return texts;
}

/** Asserts no canary form occurs in any text of `err`, case-insensitively. */
export function assertNoCanary(err: unknown, label: string): void {
  assert.ok(err !== undefined, `${label}: nothing was thrown`);
  for (const text of textsOf(err)) {
    const lower = text.toLowerCase();
    for (const form of FORMS) {
      assert.ok(!lower.includes(form.toLowerCase()), `${label}: a canary leaked in:\n${text}`);
    }
  }
}

/** Runs `fn`, expects an error of `kind` (a SqliteSyncError kind or a constructor), checks it. */
export function expectCanaryFree(
  label: string,
  fn: () => unknown,
  kind: string | (new (...args: never[]) => Error),
  pattern?: RegExp,
): Error {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  assertKind(label, caught, kind, pattern);
  return caught as Error;
}

export async function expectCanaryFreeAsync(
  label: string,
  promise: Promise<unknown>,
  kind: string,
  pattern?: RegExp,
): Promise<Error> {
  let caught: unknown;
  try {
    await promise;
  } catch (err) {
    caught = err;
  }
  assertKind(label, caught, kind, pattern);
  return caught as Error;
}

function assertKind(
  label: string,
  caught: unknown,
  kind: string | (new (...args: never[]) => Error),
  pattern?: RegExp,
): void {
  if (typeof kind === "string") {
    assert.ok(caught instanceof SqliteSyncError, `${label}: got ${String(caught)}`);
    assert.equal(caught.kind, kind, `${label}: ${caught.message}`);
  } else {
    assert.ok(caught instanceof kind, `${label}: got ${String(caught)}`);
  }
  if (pattern) assert.match((caught as Error).message, pattern, label);
  assertNoCanary(caught, label);
}
