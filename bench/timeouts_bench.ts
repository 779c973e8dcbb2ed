/**
 * How long the download limits take to fire, printed, not asserted (wall-clock
 * windows flake on a loaded machine; tests/ffi/download_test.ts checks which
 * limit fired, from the error):
 *
 *   deno run -A bench/timeouts_bench.ts      bun bench/timeouts_bench.ts
 *
 * idle       fetchBytes() against a server that never answers, timeoutMs 150
 * deadline   fetchBytes() against a body dripping one byte every 100 ms, timeoutMs 300,
 *            deadlineMs 1000
 *
 * Each runs BENCH_RUNS times (default 5) and prints the median and the range, in ms,
 * next to the configured limit.
 */
import { createServer, type ServerResponse } from "node:http";
import type { Socket } from "node:net";
import process from "node:process";
import { fetchBytes } from "../ffi/download.ts";

const RUNS = Number(process.env.BENCH_RUNS ?? 5);

const timers = new Set<ReturnType<typeof setInterval>>();
const sockets = new Set<Socket>();
const server = createServer((req, res: ServerResponse) => {
  if (req.url === "/silent") return; // never answers
  res.writeHead(200, { "content-length": "200" });
  const timer = setInterval(() => res.write(new Uint8Array([1])), 100);
  timers.add(timer);
  res.on("close", () => {
    clearInterval(timer);
    timers.delete(timer);
  });
});
server.on("connection", (socket: Socket) => {
  sockets.add(socket);
  socket.on("close", () => sockets.delete(socket));
});
await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
const address = server.address();
const base = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`;

async function measure(label: string, limit: string, run: () => Promise<unknown>): Promise<void> {
  const took: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const started = performance.now();
    try {
      await run();
      throw new Error(`${label}: the download finished instead of timing out`);
    } catch (err) {
      if (!(err instanceof Error) || !/timed out|deadline/.test(err.message)) throw err;
    }
    took.push(performance.now() - started);
  }
  took.sort((a, b) => a - b);
  const median = took[Math.floor(took.length / 2)];
  console.log(
    `${label.padEnd(9)} limit ${limit.padEnd(17)} median ${median.toFixed(0)} ms ` +
      `(${took[0].toFixed(0)}–${took.at(-1)!.toFixed(0)} ms, ${RUNS} runs)`,
  );
}

try {
  console.log(
    process.versions.bun ? `bun ${process.versions.bun}` : `deno ${process.versions.deno}`,
  );
  await measure("idle", "timeoutMs 150", () => fetchBytes(`${base}/silent`, { timeoutMs: 150 }));
  await measure(
    "deadline",
    "deadlineMs 1000",
    () => fetchBytes(`${base}/drip`, { timeoutMs: 300, deadlineMs: 1000 }),
  );
} finally {
  for (const timer of timers) clearInterval(timer);
  for (const socket of sockets) socket.destroy();
  server.close();
}
