/**
 * Turns what the extension throws into a typed {@linkcode SqliteSyncError},
 * in the order the 1.1.4 facts dictate: a sync result thrown as JSON, then a
 * server error body, then curl's transport text, then SQLite's own errors.
 *
 * @module
 */
import { SqliteSyncError, type SqliteSyncErrorKind } from "./errors.ts";
import { syncResultFromMessage } from "./results.ts";

const OFFLINE =
  /Failed to connect|Could not resolve|Couldn't resolve|Connection refused|Network is unreachable|No route to host|SSL|certificate|Recv failure|Send failure|Empty reply|Connection reset|Connection died/i;
const TIMEOUT = /timed out|Timeout was reached/i;
const NO_CONTEXT = /Unable to retrieve CloudSync network context/;
const NOT_INITIALIZED = /cloudsync is not initialized|has no tables configured/;
const APPLY =
  /Error on cloudsync_payload_apply|schema hash is unknown|Unable to read payload|payload_apply|payload_load/i;

/** Replaces every secret occurring in `text` with `***`. */
export function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) if (s.length >= 4) out = out.split(s).join("***");
  return out;
}

function serverError(
  message: string,
): { status?: number; code?: string; title?: string } | undefined {
  if (!message.startsWith("{")) return undefined;
  try {
    const body = JSON.parse(message);
    const first = Array.isArray(body?.errors) ? body.errors[0] : body?.error ?? body;
    if (typeof first !== "object" || first === null) return {};
    const status = Number(first.status ?? body.status);
    return {
      status: Number.isInteger(status) && status >= 100 ? status : undefined,
      code: typeof first.code === "string" ? first.code : undefined,
      title: typeof first.title === "string"
        ? first.title
        : typeof first.message === "string"
        ? first.message
        : undefined,
    };
  } catch {
    return undefined;
  }
}

/**
 * Classifies an error thrown by a `cloudsync_*` call.
 *
 * @param err What the call threw (usually a driver `SqliteSyncError` of kind `sql`).
 * @param operation The method name, for the message (e.g. `"sync()"`).
 * @param options `network`: the call talks to the server, so an unrecognised
 *   message is taken as an HTTP error body; `secrets`: strings to redact.
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
  const raw = err instanceof Error ? err.message : String(err);
  const message = redact(raw, options.secrets ?? []);
  const driverKind = err instanceof SqliteSyncError ? err.kind : undefined;
  const make = (
    kind: SqliteSyncErrorKind,
    text: string,
    extra: { status?: number; code?: string } = {},
  ) =>
    new SqliteSyncError(kind, `${operation} failed: ${text}`, {
      cause: err,
      code: extra.code ?? (err instanceof SqliteSyncError ? err.code : undefined),
      status: extra.status,
    });

  const partial = syncResultFromMessage(message);
  if (partial) {
    // The extension kept the network error out of the JSON: all we know is
    // that the receive phase could not reach the server.
    return new SqliteSyncError(
      "offline",
      `${operation} failed: ${
        partial.receive.error ?? "receive failed"
      } (send status ${partial.send.status}); the partial result is attached as 'partial'`,
      { cause: err, partial },
    );
  }
  if (driverKind === "busy" || driverKind === "interrupted") return make(driverKind, message);
  if (NO_CONTEXT.test(message)) {
    return make("state", `${message} Call network.init() first.`);
  }
  if (NOT_INITIALIZED.test(message)) return make("state", message);
  if (APPLY.test(message)) return make("apply", message);
  const server = serverError(message);
  if (server) {
    const kind = server.status === 401 || server.status === 403 ? "auth" : "http";
    const what = [server.status, server.code, server.title].filter((x) => x !== undefined)
      .join(" ");
    return make(kind, `server answered ${what || message}`, {
      status: server.status,
      code: server.code,
    });
  }
  if (TIMEOUT.test(message)) return make("timeout", message);
  if (OFFLINE.test(message)) return make("offline", message);
  if (/server rejected check/.test(message)) return make("http", message);
  if (options.network && !/^(no such|SQL logic error|near |constraint)/i.test(message)) {
    return make("http", `server answered: ${message.slice(0, 500)}`);
  }
  return make(driverKind ?? "sql", message);
}
