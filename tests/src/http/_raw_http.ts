/**
 * One HTTP/1.1 connection, byte for byte: what a test of "the next request on
 * the SAME connection" needs (fetch and node:http pool and retry connections
 * behind the caller's back). Writes what it is given, reads responses one at a
 * time (Content-Length, chunked, or until the server closes) and says when the
 * server closed. Used by tests/src/http/serve_test.ts and bench/soak_bench.ts.
 */
import { Buffer } from "node:buffer";
import { connect, type Socket } from "node:net";

/** One response read off the connection. */
export interface RawResponse {
  status: number;
  /** Header names in lower case; a repeated header's values joined with ", ". */
  headers: Record<string, string>;
  body: Buffer;
}

/** The connection ended (or failed) before a whole response arrived. */
export class ConnectionClosed extends Error {
  constructor(detail: string) {
    super(`the server closed the connection before a whole response: ${detail}`);
    this.name = "ConnectionClosed";
  }
}

/** No whole response within the time allowed. */
export class NoAnswer extends Error {
  constructor(ms: number) {
    super(`no whole response within ${ms} ms`);
    this.name = "NoAnswer";
  }
}

const HEAD_END = Buffer.from("\r\n\r\n");

/** A request's bytes: the request line and headers (`Host` added unless given), then the body. */
export function requestBytes(
  method: string,
  path: string,
  headers: Record<string, string> = {},
  body?: string | Uint8Array,
): Buffer {
  const all: Record<string, string> = { host: "127.0.0.1", ...lower(headers) };
  if (body !== undefined && all["content-length"] === undefined) {
    all["content-length"] = String(Buffer.byteLength(body));
  }
  const head = `${method} ${path} HTTP/1.1\r\n` +
    Object.entries(all).map(([k, v]) => `${k}: ${v}\r\n`).join("") + "\r\n";
  return body === undefined
    ? Buffer.from(head)
    : Buffer.concat([Buffer.from(head), Buffer.from(body)]);
}

function lower(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
}

/** One TCP connection to an HTTP/1.1 server. */
export class RawConnection {
  readonly socket: Socket;
  /** Set once the server ended or reset the connection (or it failed). */
  closed: string | undefined;
  #buffer: Buffer = Buffer.alloc(0);
  #wake: (() => void) | undefined;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on("data", (chunk: Buffer) => {
      this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
      this.#wake?.();
    });
    const end = (why: string) => {
      this.closed ??= why;
      this.#wake?.();
    };
    socket.on("end", () => end("end"));
    socket.on("close", () => end("close"));
    socket.on("error", (err: Error & { code?: string }) => end(err.code ?? err.message));
  }

  /** Connects to `host:port`. */
  static open(port: number, host = "127.0.0.1"): Promise<RawConnection> {
    return new Promise((resolve, reject) => {
      const socket = connect({ port, host, noDelay: true });
      socket.once("error", reject);
      socket.once("connect", () => {
        socket.off("error", reject);
        resolve(new RawConnection(socket));
      });
    });
  }

  /** Writes bytes; resolves once they are handed to the kernel (rejects if the socket failed). */
  write(bytes: string | Uint8Array): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.socket.destroyed) {
        reject(new ConnectionClosed(this.closed ?? "destroyed"));
        return;
      }
      this.socket.write(bytes, (err) => (err ? reject(err) : resolve()));
    });
  }

  /** Writes a request and reads its response. */
  async request(
    method: string,
    path: string,
    options: { headers?: Record<string, string>; body?: string | Uint8Array; timeoutMs?: number } =
      {},
  ): Promise<RawResponse> {
    await this.write(requestBytes(method, path, options.headers, options.body));
    return await this.read({ timeoutMs: options.timeoutMs, head: method === "HEAD" });
  }

  /**
   * Reads the next response.
   *
   * @throws {ConnectionClosed} When the server closed before a whole response.
   * @throws {NoAnswer} After `timeoutMs` (default 20 s) without one.
   */
  async read(options: { timeoutMs?: number; head?: boolean } = {}): Promise<RawResponse> {
    const timeoutMs = options.timeoutMs ?? 20_000;
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const parsed = this.#parse(options.head ?? false);
      if (parsed) return parsed;
      if (this.closed !== undefined) throw new ConnectionClosed(this.closed);
      const left = deadline - performance.now();
      if (left <= 0) throw new NoAnswer(timeoutMs);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#wake = () => {
          clearTimeout(timer);
          this.#wake = undefined;
          resolve();
        };
      });
    }
  }

  /** A whole response from the front of the buffer (removed from it), or `undefined`. */
  #parse(head: boolean): RawResponse | undefined {
    const end = this.#buffer.indexOf(HEAD_END);
    if (end < 0) return undefined;
    const lines = this.#buffer.subarray(0, end).toString("latin1").split("\r\n");
    const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(lines[0])?.[1]);
    if (!Number.isInteger(status)) throw new Error(`not an HTTP response: ${lines[0]}`);
    const headers: Record<string, string> = {};
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(":");
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
    }
    const start = end + 4;
    let body: Buffer;
    let next: number;
    if (head || status < 200 || status === 204 || status === 304) {
      body = Buffer.alloc(0);
      next = start;
    } else if (/chunked/i.test(headers["transfer-encoding"] ?? "")) {
      const parts: Buffer[] = [];
      let at = start;
      for (;;) {
        const lineEnd = this.#buffer.indexOf("\r\n", at);
        if (lineEnd < 0) return undefined;
        const size = parseInt(this.#buffer.subarray(at, lineEnd).toString("latin1"), 16);
        if (size === 0) {
          const trailerEnd = this.#buffer.indexOf("\r\n", lineEnd + 2);
          if (trailerEnd < 0) return undefined;
          next = trailerEnd + 2; // trailers are not expected
          break;
        }
        if (this.#buffer.length < lineEnd + 2 + size + 2) return undefined;
        parts.push(this.#buffer.subarray(lineEnd + 2, lineEnd + 2 + size));
        at = lineEnd + 2 + size + 2;
      }
      body = Buffer.concat(parts);
    } else if (headers["content-length"] !== undefined) {
      const length = Number(headers["content-length"]);
      if (this.#buffer.length < start + length) return undefined;
      body = Buffer.from(this.#buffer.subarray(start, start + length));
      next = start + length;
    } else {
      if (this.closed === undefined) return undefined; // the body runs to the end of the connection
      body = Buffer.from(this.#buffer.subarray(start));
      next = this.#buffer.length;
    }
    this.#buffer = this.#buffer.subarray(next);
    return { status, headers, body };
  }

  /** Ends the connection. */
  close(): void {
    this.socket.destroy();
  }
}
