/**
 * Why a download could not connect, read from the whole cause chain of what
 * `fetch` threw (Deno, Bun and Node word it differently), and for a TLS
 * trust failure the way to trust a TLS-inspecting proxy's authority in the
 * runtime at hand. Private to `download.ts`.
 *
 * @module
 */
import { detectRuntime, type RuntimeName } from "./runtime.ts";

/** What went wrong underneath a failed connection. */
export type RootCauseKind =
  | "tls-untrusted"
  | "tls"
  | "dns"
  | "refused"
  | "timeout"
  | "unreachable"
  | "reset"
  | "blocked-port"
  | "unknown";

/** A root cause, ready for a message. */
export interface RootCause {
  /** The category. */
  kind: RootCauseKind;
  /** The first `code` found in the chain (`ECONNREFUSED`, `UNABLE_TO_VERIFY_LEAF_SIGNATURE`…). */
  code?: string;
  /** What to say: the cause in words, the runtime's own words, and the fix when there is one. */
  text: string;
}

/** Checked in order: the first match names the cause. */
const CAUSES: readonly [RootCauseKind, RegExp][] = [
  [
    "tls-untrusted",
    /UnknownIssuer|UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT|SELF_SIGNED_CERT_IN_CHAIN|DEPTH_ZERO_SELF_SIGNED_CERT|self[- ]signed certificate|unable to verify the first certificate|unable to get local issuer certificate|CaUsedAsEndEntity/i,
  ],
  ["tls", /certificate|CERT_|ERR_TLS|\bTLS\b|\bSSL\b|handshake|NotValidForName/i],
  [
    "dns",
    /ENOTFOUND|EAI_AGAIN|EAI_NONAME|EAI_FAIL|dns error|failed to lookup address|getaddrinfo|Name or service not known|Could not resolve/i,
  ],
  ["refused", /ECONNREFUSED|Connection refused/i],
  ["timeout", /ETIMEDOUT|UND_ERR_CONNECT_TIMEOUT|timed out|Timeout/i],
  ["unreachable", /ENETUNREACH|EHOSTUNREACH|Network is unreachable|No route to host/i],
  ["reset", /ECONNRESET|EPIPE|Connection reset|socket hang up|connection closed/i],
  ["blocked-port", /port \d+ (?:are|is) blocked|bad port/i],
];

/**
 * How to make a runtime trust an extra certificate authority (measured with
 * Deno 2.9.6, Bun 1.4.5 and Node 22 against a server whose certificate a
 * private CA signed).
 *
 * @param runtime The runtime.
 * @returns The fix, as a sentence.
 */
export function tlsTrustFix(runtime: RuntimeName): string {
  switch (runtime) {
    case "deno":
      return "Deno: set DENO_TLS_CA_STORE=system when that authority is installed in the " +
        "operating system's store, or DENO_CERT=/path/to/proxy-ca.pem (NODE_EXTRA_CA_CERTS " +
        "works too)";
    case "bun":
      return "Bun: set NODE_EXTRA_CA_CERTS=/path/to/proxy-ca.pem";
    case "node":
      return "Node: set NODE_EXTRA_CA_CERTS=/path/to/proxy-ca.pem";
  }
}

/** Every error of a chain (`cause`, and `AggregateError.errors`), outermost first. */
function chainOf(err: unknown): unknown[] {
  const out: unknown[] = [];
  const visit = (e: unknown, depth: number): void => {
    if (e === undefined || e === null || depth > 6 || out.includes(e)) return;
    out.push(e);
    const errors = (e as { errors?: unknown }).errors;
    if (Array.isArray(errors)) { for (const x of errors.slice(0, 4)) visit(x, depth + 1); }
    visit((e as { cause?: unknown }).cause, depth + 1);
  };
  visit(err, 0);
  return out;
}

/**
 * The first string `code` in an error's cause chain.
 *
 * @param err What was thrown.
 * @returns The code, e.g. `ECONNREFUSED`, or `undefined`.
 */
export function errorCode(err: unknown): string | undefined {
  for (const e of chainOf(err)) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string") return code;
  }
  return undefined;
}

/**
 * The innermost message of the chain, the most specific one, without Deno's
 * `error sending request for url (…): ` preamble (the caller shows the URL).
 */
function innermostMessage(chain: unknown[]): string {
  const messages = chain.map((e) => (e instanceof Error ? e.message : String(e)))
    .filter((m) => m.length > 0);
  const last = messages.at(-1) ?? "unknown error";
  return last.replace(/^error sending request for url \([^)]*\): (?:client error \(\w+\): )?/, "");
}

/**
 * Names the root cause of a failed connection from the whole cause chain.
 *
 * @param err What `fetch` threw.
 * @param runtime The runtime, for the TLS fix. Defaults to the running one.
 * @returns The category, the first code and the text to show.
 *
 * @example Usage
 * ```ts
 * import { rootCause } from "./_network_cause.ts";
 * const err = new TypeError("fetch failed", { cause: Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:9"), { code: "ECONNREFUSED" }) });
 * console.log(rootCause(err, "node").kind); // "refused"
 * ```
 */
export function rootCause(err: unknown, runtime: RuntimeName = detectRuntime().name): RootCause {
  const chain = chainOf(err);
  const code = errorCode(err);
  const detail = innermostMessage(chain);
  const haystack = chain.map((e) =>
    `${e instanceof Error ? e.message : String(e)} ${(e as { code?: unknown }).code ?? ""}`
  ).join("\n");
  const kind = CAUSES.find(([, pattern]) => pattern.test(haystack))?.[0] ?? "unknown";
  const said = `${detail}${code && !detail.includes(code) ? ` (${code})` : ""}`;
  const text: Record<RootCauseKind, string> = {
    "tls-untrusted": `TLS certificate not trusted: ${said}. The server's certificate was issued ` +
      `by an authority this runtime does not trust, as happens behind a TLS-inspecting proxy or ` +
      `with a private CA. Trust that authority: ${tlsTrustFix(runtime)}`,
    tls: `TLS certificate error: ${said}`,
    dns: `DNS lookup failed: ${said}; check the host name, the DNS and any proxy settings`,
    refused: `connection refused: ${said}; nothing listens there or a firewall rejects it`,
    timeout: `connection timed out: ${said}`,
    unreachable: `network unreachable: ${said}`,
    reset: `connection reset: ${said}`,
    "blocked-port": `the runtime refuses this port: ${said}`,
    unknown: said,
  };
  return { kind, code, text: text[kind] };
}
