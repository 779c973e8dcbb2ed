/**
 * The daemon's log: one JSON object per line on stdout (`time`, `level`,
 * `event`, then the event's fields), for journald, `jq` and log shippers.
 * Every secret the daemon holds is registered here and scrubbed from any
 * line as a last defence; the fields themselves never carry one.
 *
 * @module
 */
import process from "node:process";
import { redact } from "../../common/redact.ts";
import { LOG_LEVELS, type LogLevel } from "./_config_types.ts";

/** Where lines go (stdout by default; tests pass a collector). */
export type LogSink = (line: string) => void;

/**
 * A JSON-lines logger with a level and a scrub list.
 *
 * @example Usage
 * ```ts
 * import { Logger } from "./_log.ts";
 * const lines: string[] = [];
 * const log = new Logger("info", (l) => lines.push(l));
 * log.info("http.listening", { host: "127.0.0.1", port: 8787 });
 * console.log(JSON.parse(lines[0]).event); // "http.listening"
 * ```
 */
export class Logger {
  #rank: number;
  #sink: LogSink;
  #secrets = new Set<string>();

  /**
   * Creates a logger.
   *
   * @param level The least severe level written.
   * @param sink Where lines go.
   */
  constructor(level: LogLevel = "info", sink: LogSink = (line) => process.stdout.write(line)) {
    this.#rank = LOG_LEVELS.indexOf(level);
    this.#sink = sink;
  }

  /** Changes the level (on reload). */
  set level(level: LogLevel) {
    this.#rank = LOG_LEVELS.indexOf(level);
  }

  /**
   * Replaces the values scrubbed from every line (the config's secrets).
   *
   * @param secrets The secrets.
   */
  setSecrets(secrets: Iterable<string | undefined>): void {
    this.#secrets = new Set([...secrets].filter((s): s is string => !!s && s.length >= 4));
  }

  /** Writes a line at `level`. */
  write(level: LogLevel, event: string, fields: Record<string, unknown> = {}): void {
    if (LOG_LEVELS.indexOf(level) < this.#rank) return;
    // The one redaction (every encoding of the config's secrets, and credential shapes).
    const line = redact(
      JSON.stringify({ time: new Date().toISOString(), level, event, ...fields }),
      [...this.#secrets],
    );
    this.#sink(line + "\n");
  }

  /** Writes at `debug`. */
  debug(event: string, fields?: Record<string, unknown>): void {
    this.write("debug", event, fields);
  }

  /** Writes at `info`. */
  info(event: string, fields?: Record<string, unknown>): void {
    this.write("info", event, fields);
  }

  /** Writes at `warn`. */
  warn(event: string, fields?: Record<string, unknown>): void {
    this.write("warn", event, fields);
  }

  /** Writes at `error`. */
  error(event: string, fields?: Record<string, unknown>): void {
    this.write("error", event, fields);
  }
}

/**
 * An error as a log field: kind, code, HTTP status and message (errors from
 * the library are already redacted), never a stack.
 *
 * @param err What was thrown.
 * @returns The field.
 */
export function errorField(err: unknown): Record<string, unknown> {
  if (!(err instanceof Error)) return { message: String(err) };
  const e = err as Error & { kind?: string; code?: string; status?: number };
  const out: Record<string, unknown> = { name: e.name };
  if (e.kind !== undefined) out.kind = e.kind;
  if (e.code !== undefined) out.code = e.code;
  if (e.status !== undefined) out.status = e.status;
  out.message = e.message.replace(/\s*\n\s*/g, " ");
  return out;
}
