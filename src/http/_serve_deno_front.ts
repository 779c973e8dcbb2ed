/**
 * The time-outs `Deno.serve` lacks (Deno 2.9 has none: a client that opens a
 * connection and sends nothing, or half a header block, keeps it for good),
 * as a TCP front of the Deno adapter: it accepts the connections, relays each
 * byte to `Deno.serve` listening on a Unix socket in a private folder, and
 * watches the client's side of each connection:
 *
 * - headers: from the connection's start, and from the first byte after an
 *   answer, the header block (up to its blank line) must arrive within
 *   `headersTimeoutMs`;
 * - idle: after an answer, the next byte must arrive within
 *   `keepAliveTimeoutMs`.
 *
 * Either ends the connection (checked a few times per shorter limit by one
 * sweep for all connections). Nothing is timed while a request's body
 * arrives (the app answers a stalled one with 408) or while its answer is
 * awaited (a long sync is not cut). No HTTP is parsed beyond the blank line
 * that ends a header block: bytes pass through unchanged.
 *
 * @module
 */
import type { ServeLimits } from "./serve.ts";

/** The time-outs the front applies: `headersTimeoutMs` and `keepAliveTimeoutMs` of `serve.ts`. */
export type FrontLimits = Pick<ServeLimits, "headersTimeoutMs" | "keepAliveTimeoutMs">;

/** A running front. */
export interface Front {
  /** The TCP address it accepts on. */
  readonly addr: Deno.NetAddr;
  /** Stops accepting; resolves once every relayed connection has ended. */
  close(): Promise<void>;
}

/** Read sizes: requests are small (the app takes 64 KB at most); answers run to 150 KB a database. */
const REQUEST_CHUNK = 16 * 1024;
const ANSWER_CHUNK = 64 * 1024;
const CR = 13;
const LF = 10;

/**
 * Finds the blank line that ends a header block (`\r\n\r\n`), in a stream
 * that arrives in chunks split anywhere.
 */
export class HeaderEnd {
  /** How many bytes of `\r\n\r\n` were seen in a row. */
  #matched = 0;

  /**
   * Reads the next chunk.
   *
   * @param bytes The chunk.
   * @returns Whether the header block ended in it.
   */
  feed(bytes: Uint8Array): boolean {
    for (const byte of bytes) {
      if (byte === (this.#matched % 2 === 0 ? CR : LF)) this.#matched++;
      else this.#matched = byte === CR ? 1 : 0;
      if (this.#matched === 4) {
        this.#matched = 0;
        return true;
      }
    }
    return false;
  }

  /** Starts over, for the next request. */
  reset(): void {
    this.#matched = 0;
  }
}

/** Where a connection stands: `head` (header block due), `body`, or `answered`. */
type Phase = "head" | "body" | "answered";

/** One client connection and its relay to the Unix socket. */
class Relay {
  #client: Deno.Conn;
  #server: Deno.Conn | undefined;
  #limits: FrontLimits;
  #phase: Phase = "head";
  #headerEnd = new HeaderEnd();
  /** When it ends unless something happens first (`performance.now()` ms; none while Infinity). */
  deadline = Infinity;
  #ended = false;

  constructor(client: Deno.Conn, limits: FrontLimits) {
    this.#client = client;
    this.#limits = limits;
    this.#arm(limits.headersTimeoutMs);
  }

  /** Relays until either side ends (or a time-out ends both). */
  async run(socketPath: string): Promise<void> {
    try {
      this.#server = await Deno.connect({ transport: "unix", path: socketPath });
    } catch {
      this.end();
      return;
    }
    if (this.#ended) {
      this.#server.close();
      return;
    }
    await Promise.all([
      this.#pump(this.#client, this.#server, REQUEST_CHUNK, (bytes) => this.#fromClient(bytes)),
      this.#pump(this.#server, this.#client, ANSWER_CHUNK, () => this.#fromServer()),
    ]);
  }

  /** Ends both sides; idempotent. */
  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.deadline = Infinity;
    for (const conn of [this.#client, this.#server]) {
      try {
        conn?.close();
      } catch {
        // Already closed.
      }
    }
  }

  /**
   * Copies `from` to `to` until `from` ends. The client's end only half-closes the relay (its
   * answer still comes back); the server's end, or any error, ends both sides.
   */
  async #pump(
    from: Deno.Conn,
    to: Deno.Conn,
    size: number,
    seen: (bytes: Uint8Array) => void,
  ): Promise<void> {
    const buffer = new Uint8Array(size);
    try {
      for (;;) {
        const n = await from.read(buffer);
        if (n === null) break;
        seen(buffer.subarray(0, n));
        for (let at = 0; at < n;) at += await to.write(buffer.subarray(at, n));
      }
      if (from === this.#client) return await to.closeWrite();
    } catch {
      // A reset, or closed by end(): either way this connection is over.
    }
    this.end();
  }

  #fromClient(bytes: Uint8Array): void {
    if (this.#phase === "answered") {
      this.#phase = "head";
      this.#headerEnd.reset();
      this.#arm(this.#limits.headersTimeoutMs);
    }
    if (this.#phase === "head" && this.#headerEnd.feed(bytes)) {
      this.#phase = "body";
      this.deadline = Infinity;
    }
  }

  #fromServer(): void {
    this.#phase = "answered";
    this.#arm(this.#limits.keepAliveTimeoutMs);
  }

  #arm(ms: number): void {
    this.deadline = performance.now() + ms;
  }
}

/**
 * Accepts TCP connections on `host:port` and relays them to `socketPath`,
 * with the time-outs of the module's doc.
 *
 * @param host The address to bind.
 * @param port The port (0: a free one).
 * @param socketPath The Unix socket `Deno.serve` listens on.
 * @param limits The time-outs.
 * @returns The front.
 * @throws The bind error of `Deno.listen` (`AddrInUse`…, with `code`).
 */
export function listenFront(
  host: string,
  port: number,
  socketPath: string,
  limits: FrontLimits,
): Front {
  const listener = Deno.listen({ hostname: host, port, transport: "tcp" });
  const relays = new Set<Relay>();
  const running = new Set<Promise<void>>();
  // One sweep for every connection, not a timer per request: a time-out ends up to a fifth of the
  // shorter limit late.
  const sweepMs = Math.max(10, Math.min(limits.headersTimeoutMs, limits.keepAliveTimeoutMs) / 5);
  const sweep = setInterval(() => {
    const now = performance.now();
    for (const relay of relays) if (relay.deadline <= now) relay.end();
  }, sweepMs);
  const accepting = (async () => {
    try {
      for await (const client of listener) {
        // Answers go out as they come: with Nagle's algorithm an answer written in two parts waits
        // for the client's delayed ACK (p99 15 → 50 ms in bench/soak_bench.ts).
        (client as Deno.TcpConn).setNoDelay(true);
        const relay = new Relay(client, limits);
        relays.add(relay);
        const run = relay.run(socketPath).finally(() => {
          relays.delete(relay);
          running.delete(run);
        });
        running.add(run);
      }
    } catch {
      // The listener was closed.
    }
  })();
  let closing: Promise<void> | undefined;
  return {
    addr: listener.addr as Deno.NetAddr,
    close: () =>
      closing ??= (async () => {
        listener.close();
        await accepting;
        await Promise.all(running);
        clearInterval(sweep);
      })(),
  };
}
