/**
 * Typed results of the network functions. The extension returns JSON text;
 * these parsers turn it into objects with numbers as numbers and reject
 * shapes they do not know instead of guessing.
 *
 * @module
 */
import { SqliteSyncError } from "../common/errors.ts";
import type {
  ReceiveResult,
  SendResult,
  ServerFailure,
  SyncResult,
  SyncStatus,
} from "../common/sync_result.ts";

const STATUSES: readonly SyncStatus[] = ["synced", "syncing", "out-of-sync", "error"];

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function bad(what: string, text: string): SqliteSyncError {
  // The JSON is the extension's own output: no secrets in it, but keep it short.
  return new SqliteSyncError(
    "sql",
    `Unexpected ${what} result from the extension: ${text.slice(0, 300)}`,
  );
}

function num(obj: Json, key: string, what: string, text: string): number {
  const v = obj[key];
  if (typeof v === "number" && Number.isFinite(v)) return v;
  if (v === undefined) return 0;
  throw bad(what, text);
}

function failure(value: unknown): ServerFailure | undefined {
  if (!isObject(value)) return undefined;
  const out: ServerFailure = {};
  for (const k of ["jobId", "code", "stage", "message", "failedAt"] as const) {
    if (typeof value[k] === "string") out[k] = value[k] as string;
  }
  if (typeof value.retryable === "boolean") out.retryable = value.retryable;
  if (typeof value.dbVersion === "number") out.dbVersion = value.dbVersion;
  if (typeof value.seq === "number") out.seq = value.seq;
  return out;
}

function parseJson(text: string, what: string): Json {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw bad(what, text);
  }
  if (!isObject(value)) throw bad(what, text);
  return value;
}

/**
 * Converts the `send` object of a result.
 *
 * @param value The parsed `send` member.
 * @param text The whole JSON text, for error messages.
 * @returns The typed send result.
 */
function toSend(value: unknown, text: string): SendResult {
  if (!isObject(value)) throw bad("send", text);
  const status = value.status;
  if (typeof status !== "string" || !(STATUSES as readonly string[]).includes(status)) {
    throw bad("send", text);
  }
  const out: SendResult = {
    status: status as SyncStatus,
    localVersion: num(value, "localVersion", "send", text),
    serverVersion: num(value, "serverVersion", "send", text),
    chunks: num(value, "chunks", "send", text),
    bytes: num(value, "bytes", "send", text),
  };
  const lf = failure(value.lastFailure);
  if (lf) out.lastFailure = lf;
  return out;
}

function toReceive(value: unknown, text: string): ReceiveResult {
  if (!isObject(value)) throw bad("receive", text);
  const tables = Array.isArray(value.tables)
    ? value.tables.filter((t): t is string => typeof t === "string")
    : [];
  // 1.1.4 always says whether the drain finished; a result that does not is a shape we do not
  // know, and guessing "complete" would hide pending changes.
  if (typeof value.complete !== "boolean") throw bad("receive", text);
  const out: ReceiveResult = {
    rows: num(value, "rows", "receive", text),
    tables,
    chunks: num(value, "chunks", "receive", text),
    bytes: num(value, "bytes", "receive", text),
    complete: value.complete,
  };
  if (typeof value.error === "string") out.error = value.error;
  const lf = failure(value.lastFailure);
  if (lf) out.lastFailure = lf;
  return out;
}

/**
 * Parses the JSON of `cloudsync_network_send_changes()`.
 *
 * @param text The JSON text.
 * @returns The typed result.
 * @throws {SqliteSyncError} `sql` when the text is not a send result.
 *
 * @example Usage
 * ```ts
 * import { parseSendResult } from "./results.ts";
 * const r = parseSendResult('{"send":{"status":"synced","localVersion":1,"serverVersion":1,"chunks":1,"bytes":163}}');
 * console.log(r.status); // "synced"
 * ```
 */
export function parseSendResult(text: string): SendResult {
  return toSend(parseJson(text, "send").send, text);
}

/**
 * Parses the JSON of `cloudsync_network_receive_changes()`.
 *
 * @param text The JSON text.
 * @returns The typed result.
 * @throws {SqliteSyncError} `sql` when the text is not a receive result.
 *
 * @example Usage
 * ```ts
 * import { parseReceiveResult } from "./results.ts";
 * const r = parseReceiveResult('{"receive":{"rows":0,"tables":[],"chunks":0,"bytes":0,"complete":true}}');
 * console.log(r.rows); // 0
 * ```
 */
export function parseReceiveResult(text: string): ReceiveResult {
  return toReceive(parseJson(text, "receive").receive, text);
}

/**
 * Parses the JSON of `cloudsync_network_sync()`.
 *
 * @param text The JSON text.
 * @returns The typed result.
 * @throws {SqliteSyncError} `sql` when the text is not a sync result.
 *
 * @example Usage
 * ```ts
 * import { parseSyncResult } from "./results.ts";
 * const r = parseSyncResult(
 *   '{"send":{"status":"synced","localVersion":0,"serverVersion":0,"chunks":0,"bytes":0},' +
 *     '"receive":{"rows":2,"tables":["notes"],"chunks":1,"bytes":90,"complete":true}}',
 * );
 * console.log(r.receive.tables); // ["notes"]
 * ```
 */
export function parseSyncResult(text: string): SyncResult {
  const json = parseJson(text, "sync");
  return { send: toSend(json.send, text), receive: toReceive(json.receive, text) };
}

/**
 * Recognises a sync result thrown as an error message (the 1.1.4 trap: a
 * failed receive after a good send raises the whole JSON as the SQL error).
 *
 * @param message An error message, possibly followed by a driver's suffix.
 * @returns The partial result, or `undefined` when the message is not one.
 *
 * @example Usage
 * ```ts
 * import { syncResultFromMessage } from "./results.ts";
 * console.log(syncResultFromMessage("Failed to connect")); // undefined
 * ```
 */
export function syncResultFromMessage(message: string): SyncResult | undefined {
  const start = message.indexOf("{");
  const end = message.lastIndexOf("}");
  if (start !== 0 || end < 0) return undefined;
  try {
    const json = JSON.parse(message.slice(0, end + 1));
    if (!isObject(json) || !isObject(json.send) || !isObject(json.receive)) return undefined;
    const text = message.slice(0, end + 1);
    return { send: toSend(json.send, text), receive: toReceive(json.receive, text) };
  } catch {
    return undefined;
  }
}
