/**
 * Turns what the extension throws into a typed {@linkcode SqliteSyncError},
 * in the order the 1.1.4 facts dictate: a sync result thrown as JSON, then a
 * server error body, then curl's transport text, then SQLite's own errors.
 *
 * @module
 */
import { SqliteSyncError, type SqliteSyncErrorKind } from "../common/errors.ts";
import { redact, rememberSecret } from "../common/redact.ts";
import type { SyncResult } from "../common/sync_result.ts";
import { syncResultFromMessage } from "./results.ts";

const OFFLINE =
  /Failed to connect|Could not resolve|Couldn't resolve|Connection refused|Network is unreachable|No route to host|SSL|certificate|Recv failure|Send failure|Empty reply|Connection reset|Connection died/i;
const TIMEOUT = /timed out|Timeout was reached/i;
/** Credential refusals in a body without a status (plain text, `{"message":…}`). */
const AUTH =
  /unauthori[sz]ed|forbidden|invalid (?:api[ _-]?)?key|(?:token|jwt).*(?:expired|invalid)|(?:expired|invalid).*(?:token|jwt)/i;
/**
 * What 1.1.4 reports for an HTTP error with an EMPTY body (checked with a
 * fixed-error fixture answering 401 with no body): send says it could not
 * apply the changes remotely, receive and status say "Memory error.".
 */
const NO_DETAILS =
  /^(?:cloudsync_network_\w+ unable to apply changes to remote host\.?|Memory error\.?)$/;
const NO_CONTEXT = /Unable to retrieve CloudSync network context/;
const NOT_INITIALIZED = /cloudsync is not initialized|has no tables configured/;
// 1.1.4 reports a payload too short to decode as "Error on cloudsync_payload_decode: …".
const APPLY =
  /Error on cloudsync_payload_(?:apply|decode)|schema hash is unknown|Unable to read payload|payload_apply|payload_load/i;
/**
 * Deno's `node:sqlite` appends ` in <sql> at offset <n>` to errors SQLite
 * locates in the SQL text (seen with `exec()`); the SQL is the last ` in `.
 */
const DRIVER_SUFFIX = / in (?:(?! in )[\s\S])* at offset \d+$/;

/**
 * Removes the location suffix some drivers append to SQLite's message, so
 * the extension's own text (JSON included) can be recognised.
 *
 * @param message A driver error message.
 * @returns The message without a trailing ` in <sql> at offset <n>`.
 */
export function stripDriverSuffix(message: string): string {
  return message.replace(DRIVER_SUFFIX, "");
}

/** An HTTP status from a body field: an integer from 100 to 599, or its three digits as text. */
function httpStatus(value: unknown): number | undefined {
  const n = typeof value === "number"
    ? value
    : typeof value === "string" && /^\d{3}$/.test(value.trim())
    ? Number(value)
    : NaN;
  return Number.isInteger(n) && n >= 100 && n <= 599 ? n : undefined;
}

/**
 * What a JSON error body says. 1.1.4 raises the body of an HTTP error as the SQL error
 * and drops the status line (`network_receive_buffer` keeps the response code to itself),
 * so the status is known only when the body names it. Read in the envelopes servers use:
 * `{"errors":[{…}]}` (JSON:API), `{"error":{…}}`, `{"error":"…","status":…}` and a flat
 * object; the status as `status`, `statusCode` or a numeric `code`.
 */
function serverError(
  message: string,
): { status?: number; code?: string; title?: string } | undefined {
  if (!message.startsWith("{")) return undefined;
  let body: unknown;
  try {
    body = JSON.parse(message);
  } catch {
    return undefined;
  }
  if (typeof body !== "object" || body === null || Array.isArray(body)) return {};
  const root = body as Record<string, unknown>;
  const nested = [
    Array.isArray(root.errors) ? root.errors[0] : undefined,
    root.error,
  ].filter((v): v is Record<string, unknown> => typeof v === "object" && v !== null);
  const places = [...nested, root];
  const first = <T>(read: (o: Record<string, unknown>) => T | undefined): T | undefined => {
    for (const o of places) {
      const v = read(o);
      if (v !== undefined) return v;
    }
    return undefined;
  };
  const text = (v: unknown) => typeof v === "string" && v.trim() !== "" ? v : undefined;
  return {
    status: first((o) => httpStatus(o.status) ?? httpStatus(o.statusCode) ?? httpStatus(o.code)),
    code: first((o) =>
      typeof o.code === "string" && httpStatus(o.code) === undefined ? o.code : undefined
    ),
    title: first((o) =>
      text(o.title) ?? text(o.message) ?? text(o.detail) ?? (o === root ? text(o.error) : undefined)
    ),
  };
}

/**
 * What the send phase did, as a partial sync result says it (for messages). Only a
 * result with chunks uploaded had a send; 0 chunks means nothing left this machine (the
 * send found nothing to upload: a fresh database, no local change since the last send).
 *
 * @param partial The result the extension raised (send phase, receive so far).
 * @returns E.g. `"the send phase uploaded 2 chunks, 812 bytes, send status syncing"` or
 *   `"nothing was uploaded: 0 chunks, send status synced"`.
 *
 * @example Usage
 * ```ts
 * import { sendPhaseNote } from "./classify.ts";
 * const send = { status: "synced", localVersion: 0, serverVersion: 0, chunks: 0, bytes: 0 } as const;
 * const receive = { rows: 0, tables: [], chunks: 0, bytes: 0, complete: false };
 * console.log(sendPhaseNote({ send, receive })); // "nothing was uploaded: 0 chunks, send status synced"
 * ```
 */
export function sendPhaseNote(partial: SyncResult): string {
  const send = partial.send;
  return send.chunks > 0
    ? `the send phase uploaded ${send.chunks} chunk${send.chunks === 1 ? "" : "s"}, ` +
      `${send.bytes} bytes, send status ${send.status}`
    : `nothing was uploaded: 0 chunks, send status ${send.status}`;
}

/**
 * Classifies an error thrown by a `cloudsync_*` call.
 *
 * @param err What the call threw (usually a driver `SqliteSyncError` of kind `sql`).
 * @param operation The method name, for the message (e.g. `"sync()"`).
 * @param options `network`: the call talks to the server, so an unrecognised
 *   message is taken as an HTTP error body; `secrets`: credentials in play, remembered
 *   for redaction (`SqliteSyncError` redacts its message and cause chain itself).
 * @returns The classified error (argument errors pass through unchanged).
 *
 * @example Usage
 * ```ts
 * import { classifyError } from "./classify.ts";
 * const e = classifyError(new Error("Failed to connect to 127.0.0.1 port 1 after 0 ms: Error"), "sync()");
 * console.log(e instanceof Error && (e as { kind?: string }).kind); // "offline"
 * ```
 */
export function classifyError(
  err: unknown,
  operation: string,
  options: { network?: boolean; secrets?: readonly string[] } = {},
): Error {
  if (err instanceof TypeError || err instanceof RangeError) return err;
  for (const secret of options.secrets ?? []) rememberSecret(secret);
  // Redacted before anything is cut short: a secret cut in half could not be recognised later.
  const message = redact(err instanceof Error ? err.message : String(err));
  // What the extension said, for matching; `message` (with any SQL location) is what we show.
  const text = stripDriverSuffix(message);
  const driverKind = err instanceof SqliteSyncError ? err.kind : undefined;
  const make = (
    kind: SqliteSyncErrorKind,
    shown: string,
    extra: { status?: number; code?: string } = {},
  ) =>
    new SqliteSyncError(kind, `${operation} failed: ${shown}`, {
      cause: err,
      code: extra.code ?? (err instanceof SqliteSyncError ? err.code : undefined),
      status: extra.status,
    });

  const partial = syncResultFromMessage(text);
  if (partial) {
    // The 1.1.4 sync trap: the extension raised its result JSON and kept the
    // receive phase's network error out of it. What the send phase did is known
    // (it may have had nothing to send); why the receive failed is not
    // (unreachable server, time-out or HTTP error).
    return new SqliteSyncError(
      "offline",
      `${operation} failed: ${partial.receive.error ?? "receive failed"}; ${
        sendPhaseNote(partial)
      }. The extension does not say why the receive phase failed (unreachable server, ` +
        `time-out or an HTTP error such as 401): network.receiveChanges() reports the cause. ` +
        `The partial result is attached as 'partial'.`,
      { cause: err, partial },
    );
  }
  if (driverKind === "busy" || driverKind === "interrupted") return make(driverKind, message);
  if (NO_CONTEXT.test(text)) {
    return make("state", `${message} Call network.init() first.`);
  }
  if (NOT_INITIALIZED.test(text)) return make("state", message);
  if (APPLY.test(text)) return make("apply", message);
  const server = serverError(text);
  if (server) {
    const kind = server.status === 401 || server.status === 403 ||
        (server.status === undefined && AUTH.test(text))
      ? "auth"
      : "http";
    // A code and a title that say the same ("unauthorized", "Unauthorized") are shown once.
    const same = (x: unknown): string => String(x).toLowerCase().replace(/[_-]/g, " ");
    const parts = [server.status, server.code, server.title].filter((x) => x !== undefined);
    const what = parts.filter((x, i) => parts.findIndex((y) => same(y) === same(x)) === i)
      .join(" ");
    return make(kind, `server answered ${what || text}`, {
      status: server.status,
      code: server.code,
    });
  }
  if (TIMEOUT.test(text)) return make("timeout", message);
  if (OFFLINE.test(text)) return make("offline", message);
  if (/server rejected check/.test(text)) return make("http", message);
  if (options.network && NO_DETAILS.test(text)) {
    return make(
      "http",
      `the server answered with an error but gave no details (empty body; status unknown), ` +
        `the extension says only: ${text}`,
    );
  }
  if (options.network && AUTH.test(text)) {
    return make("auth", `server answered: ${text.slice(0, 500)}`);
  }
  if (options.network && !/^(no such|SQL logic error|near |constraint)/i.test(text)) {
    return make("http", `server answered: ${text.slice(0, 500)}`);
  }
  return make(driverKind ?? "sql", message);
}

/**
 * A connection loads cloudsync's table list when the extension loads: a table
 * init()ed later on another connection is unknown here, and its triggers fail
 * with "Unable to retrieve table name X in cloudsync_insert". Say how to fix it.
 *
 * @param err What a plain statement threw.
 * @returns A `state` error naming the fix, or `err` unchanged.
 */
export function staleContext(err: unknown): unknown {
  const m = err instanceof Error
    ? /Unable to retrieve table name (.+?) in cloudsync_\w+/.exec(err.message)
    : null;
  if (!m) return err;
  return new SqliteSyncError(
    "state",
    `Table ${JSON.stringify(m[1])} was enabled for sync on another connection after this one ` +
      `opened, so this connection does not track it yet: call init(${
        JSON.stringify(m[1])
      }) on this connection too (init is idempotent), or open it after init.`,
    { cause: err },
  );
}
