/**
 * HTTP (and `file:`) downloads with a stall time-out, a size cap and progress,
 * plus the Subresource Integrity (SRI) helpers that verify what was fetched.
 * Web `fetch` and `node:*` only, so it runs unchanged in Deno, Bun and Node.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { SqliteSyncError } from "../common/errors.ts";
import { redact, rememberUrlCredentials, shapeOf } from "../common/redact.ts";
import { isPermissionError, permissionError } from "./_permission.ts";
import { errorCode, rootCause } from "./_network_cause.ts";

/** Progress of one download, as passed to `onProgress`. */
export interface DownloadProgress {
  /** The URL being downloaded, without credentials. */
  url: string;
  /** Bytes received so far. */
  received: number;
  /** Bytes expected, when the server said (the last call always has it). */
  total?: number;
}

/** Options of {@linkcode fetchBytes}. */
export interface FetchOptions {
  /**
   * Abort when no bytes (or no response headers) arrive for this long.
   * @default {30000}
   */
  timeoutMs?: number;
  /**
   * Abort when the whole download (headers and body) takes longer than this, however steadily
   * bytes arrive: a server dripping bytes just inside `timeoutMs` cannot hold it forever.
   * @default {600000}
   */
  deadlineMs?: number;
  /**
   * Refuse bodies larger than this.
   * @default {DEFAULT_MAX_BYTES}
   */
  maxBytes?: number;
  /** Called as bytes arrive. */
  onProgress?: (progress: DownloadProgress) => void;
  /** The `Accept` header. */
  accept?: string;
}

// Longer delays overflow setTimeout's 32-bit millisecond count and fire at once.
const MAX_TIMER_MS = 2 ** 31 - 1;

/** The largest body {@linkcode fetchBytes} accepts by default: 200 MB. */
export const DEFAULT_MAX_BYTES = 200 * 1024 * 1024;

/**
 * Downloads a URL into memory. `http:`/`https:` go through `fetch` (redirects
 * followed, credentials in the URL sent as Basic auth); `file:` URLs are read
 * from disk, so a mirror may be a plain directory.
 *
 * @param url The URL.
 * @param options Time-out, size cap, progress callback, `Accept` header.
 * @returns The body.
 * @throws {SqliteSyncError} `http` (with `status`) for an HTTP error or a missing file,
 * `timeout` when no bytes arrive for `timeoutMs` or the download outlasts `deadlineMs`,
 * `offline` when the host cannot be reached (the message names the root cause: DNS, refused,
 * untrusted TLS certificate with the runtime's fix…), `download` for a truncated or oversized
 * body or a missing Deno permission (code `NotCapable`).
 *
 * @example Usage
 * ```ts ignore
 * import { fetchBytes } from "./download.ts";
 * const body = await fetchBytes("https://registry.npmjs.org/", { timeoutMs: 10_000 });
 * ```
 */
export async function fetchBytes(url: string, options: FetchOptions = {}): Promise<Uint8Array> {
  const {
    timeoutMs = 30_000,
    deadlineMs = 600_000,
    maxBytes = DEFAULT_MAX_BYTES,
    onProgress,
    accept,
  } = options;
  // Credentials in the URL are remembered, so no later error (an echo, a cause) shows them.
  rememberUrlCredentials(url);
  const shown = redact(url);
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    // URL parsing echoes the whole value, credentials included.
    throw new TypeError(`Cannot download: ${shapeOf(url)} that is not a URL`);
  }
  if (parsed.protocol === "file:") return await readLocal(parsed, shown, maxBytes, onProgress);
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    throw new TypeError(
      `Cannot download '${shown}': only http:, https: and file: URLs are supported`,
    );
  }
  const headers: Record<string, string> = {};
  if (accept) headers.accept = accept;
  if (parsed.username || parsed.password) {
    const user = decodeURIComponent(parsed.username);
    const password = decodeURIComponent(parsed.password);
    headers.authorization = `Basic ${btoa(`${user}:${password}`)}`;
    parsed.username = "";
    parsed.password = "";
  }

  const controller = new AbortController();
  let timedOut: "stall" | "deadline" | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const arm = (): void => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      timedOut ??= "stall";
      controller.abort();
    }, Math.min(timeoutMs, MAX_TIMER_MS));
  };
  const deadline = setTimeout(() => {
    timedOut ??= "deadline";
    controller.abort();
  }, Math.min(deadlineMs, MAX_TIMER_MS));
  const stalled = (received: number): SqliteSyncError =>
    new SqliteSyncError(
      "timeout",
      timedOut === "deadline"
        ? `${shown}: timed out, not finished within the ${deadlineMs} ms deadline (deadlineMs) ` +
          `after ${received} bytes`
        : `${shown}: timed out, no data for ${timeoutMs} ms (timeoutMs) after ${received} bytes`,
    );

  arm();
  try {
    let response: Response;
    try {
      response = await fetch(parsed.href, {
        headers,
        signal: controller.signal,
        redirect: "follow",
      });
    } catch (err) {
      if (timedOut) throw stalled(0);
      if (isPermissionError(err)) throw permissionError("download", err, `downloading ${shown}`);
      const root = rootCause(err);
      throw new SqliteSyncError(
        root.kind === "timeout" ? "timeout" : "offline",
        `${shown}: cannot connect: ${root.text}`,
        { cause: err, code: root.code },
      );
    }
    if (!response.ok) {
      await response.body?.cancel().catch(() => {});
      throw new SqliteSyncError("http", `${shown}: HTTP ${response.status}`, {
        status: response.status,
      });
    }
    const encoded = (response.headers.get("content-encoding") ?? "identity") !== "identity";
    const length = Number(response.headers.get("content-length") ?? NaN);
    const total = !encoded && Number.isSafeInteger(length) && length >= 0 ? length : undefined;
    if (total !== undefined && total > maxBytes) {
      await response.body?.cancel().catch(() => {});
      throw new SqliteSyncError("download", `${shown}: ${total} bytes exceeds the ${maxBytes} cap`);
    }
    return await readBody(response, {
      shown,
      total,
      maxBytes,
      onProgress,
      arm,
      stalled,
      timedOut: () => timedOut !== undefined,
    });
  } finally {
    clearTimeout(timer);
    clearTimeout(deadline);
  }
}

interface BodyContext {
  shown: string;
  total: number | undefined;
  maxBytes: number;
  onProgress: ((progress: DownloadProgress) => void) | undefined;
  arm: () => void;
  stalled: (received: number) => SqliteSyncError;
  timedOut: () => boolean;
}

async function readBody(response: Response, ctx: BodyContext): Promise<Uint8Array> {
  const { shown, total, maxBytes, onProgress } = ctx;
  const chunks: Uint8Array[] = [];
  let received = 0;
  onProgress?.({ url: shown, received, total });
  if (response.body) {
    const reader = response.body.getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        ctx.arm();
        received += value.byteLength;
        if (received > maxBytes) {
          throw new SqliteSyncError("download", `${shown}: body exceeds the ${maxBytes} byte cap`);
        }
        chunks.push(value);
        onProgress?.({ url: shown, received, total });
      }
    } catch (err) {
      await reader.cancel().catch(() => {});
      if (err instanceof SqliteSyncError) throw err;
      if (ctx.timedOut()) throw ctx.stalled(received);
      throw new SqliteSyncError(
        "download",
        `${shown}: connection lost after ${received}${
          total === undefined ? "" : ` of ${total}`
        } bytes: ${rootCause(err).text}`,
        { cause: err },
      );
    }
  }
  if (total !== undefined && received !== total) {
    throw new SqliteSyncError(
      "download",
      `${shown}: truncated body, ${received} of ${total} bytes`,
    );
  }
  onProgress?.({ url: shown, received, total: received });
  return chunks.length === 1 ? chunks[0] : concatBytes(chunks, received);
}

async function readLocal(
  url: URL,
  shown: string,
  maxBytes: number,
  onProgress: FetchOptions["onProgress"],
): Promise<Uint8Array> {
  try {
    const data = new Uint8Array(await readFile(fileURLToPath(url)));
    if (data.byteLength > maxBytes) {
      throw new SqliteSyncError(
        "download",
        `${shown}: ${data.byteLength} bytes exceeds the ${maxBytes} cap`,
      );
    }
    onProgress?.({ url: shown, received: data.byteLength, total: data.byteLength });
    return data;
  } catch (err) {
    if (err instanceof SqliteSyncError) throw err;
    if (isPermissionError(err)) throw permissionError("download", err, `reading ${shown}`);
    const code = errorCode(err);
    const status = code === "ENOENT" || code === "ENOTDIR" ? 404 : 500;
    const why = code ?? (err instanceof Error ? err.message : String(err));
    throw new SqliteSyncError("http", `${shown}: cannot read (${why})`, {
      cause: err,
      code,
      status,
    });
  }
}

/**
 * Downloads a URL and parses it as JSON.
 *
 * @param url The URL.
 * @param options As for {@linkcode fetchBytes}.
 * @returns The parsed value.
 * @throws {SqliteSyncError} as {@linkcode fetchBytes}, or `download` when the body is not JSON.
 *
 * @example Usage
 * ```ts ignore
 * import { fetchJson } from "./download.ts";
 * const meta = await fetchJson("https://registry.npmjs.org/fflate");
 * ```
 */
export async function fetchJson(url: string, options: FetchOptions = {}): Promise<unknown> {
  const body = await fetchBytes(url, options);
  try {
    return JSON.parse(new TextDecoder().decode(body));
  } catch (err) {
    throw new SqliteSyncError("download", `${redact(url)}: not valid JSON`, { cause: err });
  }
}

const SRI_ALGORITHMS = new Set(["sha256", "sha384", "sha512"]);

/** One hash of an SRI string. */
export interface IntegrityHash {
  /** `sha256`, `sha384` or `sha512`. */
  algorithm: string;
  /** The base64 digest. */
  digest: string;
}

/**
 * Parses a Subresource Integrity string (`sha512-<base64>`, several separated by spaces).
 *
 * @param integrity The SRI string.
 * @returns Its hashes.
 * @throws {TypeError} when the string is not SRI with sha256, sha384 or sha512.
 *
 * @example Usage
 * ```ts
 * import { parseIntegrity } from "./download.ts";
 * console.log(parseIntegrity("sha512-AAAA")[0].algorithm); // "sha512"
 * ```
 */
export function parseIntegrity(integrity: string): IntegrityHash[] {
  const parts = typeof integrity === "string" ? integrity.trim().split(/\s+/).filter(Boolean) : [];
  const hashes = parts.map((part) => {
    const match = /^(sha256|sha384|sha512)-([A-Za-z0-9+/]+={0,2})(\?.*)?$/.exec(part);
    return match && SRI_ALGORITHMS.has(match[1])
      ? { algorithm: match[1], digest: match[2] }
      : undefined;
  });
  if (hashes.length === 0 || hashes.some((h) => h === undefined)) {
    throw new TypeError(
      `Cannot use integrity '${
        String(integrity).slice(0, 120)
      }': expected an SRI string such as 'sha512-<base64>'`,
    );
  }
  return hashes as IntegrityHash[];
}

/**
 * The SRI string of some bytes.
 *
 * @param data The bytes.
 * @param algorithm The hash.
 * @returns `<algorithm>-<base64 digest>`.
 *
 * @example Usage
 * ```ts
 * import { integrityOf } from "./download.ts";
 * console.log(integrityOf(new Uint8Array([1, 2, 3])).startsWith("sha512-")); // true
 * ```
 */
export function integrityOf(data: Uint8Array, algorithm = "sha512"): string {
  return `${algorithm}-${createHash(algorithm).update(data).digest("base64")}`;
}

/**
 * Tells whether bytes match an SRI string (any of its hashes).
 *
 * @param data The bytes.
 * @param integrity The SRI string.
 * @returns `true` when one hash matches.
 * @throws {TypeError} when `integrity` is malformed.
 *
 * @example Usage
 * ```ts
 * import { integrityOf, matchesIntegrity } from "./download.ts";
 * const data = new Uint8Array([1]);
 * console.log(matchesIntegrity(data, integrityOf(data))); // true
 * ```
 */
export function matchesIntegrity(data: Uint8Array, integrity: string): boolean {
  return parseIntegrity(integrity).some((h) =>
    createHash(h.algorithm).update(data).digest("base64") === h.digest
  );
}

/**
 * Copies chunks into one new array (a fresh buffer: nanotar reads `data.buffer` from offset 0).
 *
 * @param chunks The chunks, in order.
 * @param size Their total length.
 * @returns The bytes.
 *
 * @example Usage
 * ```ts
 * import { concatBytes } from "./download.ts";
 * console.log(concatBytes([new Uint8Array([1]), new Uint8Array([2])], 2)); // Uint8Array(2) [ 1, 2 ]
 * ```
 */
export function concatBytes(chunks: Uint8Array[], size: number): Uint8Array {
  const out = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return out;
}
