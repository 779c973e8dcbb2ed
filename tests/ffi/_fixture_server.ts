/**
 * Test-only HTTP fixture: serves npm metadata, npm-shaped tarballs and
 * GitHub-release-shaped archives built from dummy (or real) binaries, and
 * misbehaves on demand (404, 500, truncation, stalls, redirects). Plain
 * node:http on 127.0.0.1, so it runs in Deno and Bun. Not a CloudSync server:
 * it only hands out files.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { Server, Socket } from "node:net";
import { createHash } from "node:crypto";
import { createTar } from "nanotar";
import { zipSync } from "fflate";
import { readdirSync } from "node:fs";
import type { ResolveOptions } from "../../ffi/resolve.ts";
import { platformAsset, type PlatformId } from "../../ffi/platform.ts";
import { listen, tempDir } from "../_helpers.ts";

/** Handles one request. */
export type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/** A running fixture server. */
export interface FixtureServer {
  /** `http://127.0.0.1:<port>`. */
  url: string;
  /** Adds or replaces the handler of an exact path. */
  route(path: string, handler: Handler): void;
  /** How many requests a path received. */
  count(path: string): number;
  /** Stops the server, cutting open connections. */
  close(): Promise<void>;
}

/** Options of {@linkcode startFixtureServer}. */
export interface FixtureServerOptions {
  /** Serve https with this PEM key and certificate chain; the URL becomes `https://…`. */
  tls?: { key: string; cert: string };
}

/** Starts a fixture server on 127.0.0.1 and a free port (http, or https with `tls`). */
export async function startFixtureServer(
  options: FixtureServerOptions = {},
): Promise<FixtureServer> {
  const routes = new Map<string, Handler>();
  const counts = new Map<string, number>();
  const sockets = new Set<Socket>();
  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const path = decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname);
    counts.set(path, (counts.get(path) ?? 0) + 1);
    const handler = routes.get(path);
    if (handler) handler(req, res);
    else status(404)(req, res);
  };
  const server: Server = options.tls
    ? createHttpsServer({ key: options.tls.key, cert: options.tls.cert }, handle)
    : createServer(handle);
  server.on("connection", (socket: Socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  const port = await listen(server);
  return {
    url: `${options.tls ? "https" : "http"}://127.0.0.1:${port}`,
    route: (path, handler) => routes.set(path, handler),
    count: (path) => counts.get(path) ?? 0,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** Responds with bytes (200, Content-Length set). */
export function bytes(body: Uint8Array | string, type = "application/octet-stream"): Handler {
  const data = typeof body === "string" ? new TextEncoder().encode(body) : body;
  return (_req, res) => {
    res.writeHead(200, { "content-type": type, "content-length": String(data.byteLength) });
    res.end(data);
  };
}

/** Responds with JSON. */
export function json(value: unknown): Handler {
  return bytes(JSON.stringify(value), "application/json");
}

/** Responds with an empty body and a status. */
export function status(code: number): Handler {
  return (_req, res) => {
    res.writeHead(code, { "content-length": "0" });
    res.end();
  };
}

/** Announces the full length, sends `sent` bytes, then cuts the connection. */
export function truncated(body: Uint8Array, sent: number): Handler {
  return (req, res) => {
    res.writeHead(200, { "content-length": String(body.byteLength) });
    res.write(body.subarray(0, sent), () => setTimeout(() => req.socket.destroy(), 20));
  };
}

/** Sends headers (and `sent` bytes), then stays silent. */
export function stallAfterHeaders(body: Uint8Array, sent = 0): Handler {
  return (_req, res) => {
    res.writeHead(200, { "content-length": String(body.byteLength) });
    res.write(body.subarray(0, Math.max(sent, 0)));
  };
}

/** Sends headers, then one byte every `everyMs` (never long enough silent to trip a stall time-out). */
export function drip(body: Uint8Array, everyMs: number): Handler {
  return (req, res) => {
    res.writeHead(200, { "content-length": String(body.byteLength) });
    let sent = 0;
    const timer = setInterval(() => {
      if (sent >= body.byteLength) {
        clearInterval(timer);
        res.end();
        return;
      }
      res.write(body.subarray(sent, ++sent));
    }, everyMs);
    req.socket.on("close", () => clearInterval(timer));
  };
}

/** Never answers. */
export function noResponse(): Handler {
  return () => {};
}

/** Redirects (302) to another path of the same server. */
export function redirect(location: string): Handler {
  return (_req, res) => {
    res.writeHead(302, { location, "content-length": "0" });
    res.end();
  };
}

/** Runs `handler` after `ms`. */
export function delayed(ms: number, handler: Handler): Handler {
  return (req, res) => void setTimeout(() => handler(req, res), ms);
}

/** sha512 SRI of bytes. */
export function sri(data: Uint8Array): string {
  return `sha512-${createHash("sha512").update(data).digest("base64")}`;
}

/** gzip with CompressionStream. */
export async function gzip(data: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([data as Uint8Array<ArrayBuffer>]).stream().pipeThrough(
    new CompressionStream("gzip"),
  );
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** A `.tar.gz` of files. */
export async function tarGz(files: Record<string, Uint8Array | string>): Promise<Uint8Array> {
  return await gzip(createTar(Object.entries(files).map(([name, data]) => ({ name, data }))));
}

/** A `.zip` of files. */
export function zip(files: Record<string, Uint8Array | string>): Uint8Array {
  const encoded: Record<string, Uint8Array> = {};
  for (const [name, data] of Object.entries(files)) {
    encoded[name] = typeof data === "string" ? new TextEncoder().encode(data) : data;
  }
  return zipSync(encoded);
}

/** The licence text the fixtures ship. */
export const LICENSE_TEXT = "Elastic License 2.0 (fixture copy)\n";

/** An npm platform package tarball: `package/<binary>`, `package/LICENSE.md`, `package.json`, `index.js`. */
export async function npmTarball(
  pkg: string,
  version: string,
  binaryName: string,
  binary: Uint8Array,
): Promise<Uint8Array> {
  return await tarGz({
    "package/package.json": JSON.stringify({ name: pkg, version, main: "index.js" }),
    "package/index.js":
      `module.exports = { path: require("path").join(__dirname, "${binaryName}") };\n`,
    [`package/${binaryName}`]: binary,
    "package/LICENSE.md": LICENSE_TEXT,
  });
}

/** Serves one npm package version: metadata at `/<pkg %2f-encoded>` and its tarball. */
export function serveNpmPackage(
  server: FixtureServer,
  pkg: string,
  version: string,
  tarball: Uint8Array,
  options: { integrity?: string | null; tarballHandler?: Handler } = {},
): { metaPath: string; tarballPath: string } {
  const metaPath = `/${pkg}`; // the server decodes %2f
  const tarballPath = `/${pkg}/-/${pkg.split("/")[1]}-${version}.tgz`;
  const dist: Record<string, string> = { tarball: `${server.url}${tarballPath}` };
  if (options.integrity !== null) dist.integrity = options.integrity ?? sri(tarball);
  server.route(
    metaPath,
    json({ name: pkg, versions: { [version]: { name: pkg, version, dist } } }),
  );
  server.route(tarballPath, options.tarballHandler ?? bytes(tarball));
  return { metaPath, tarballPath };
}

/** A fixture server plus an empty cache directory, for one test. */
export interface Fixture {
  /** The server. */
  server: FixtureServer;
  /** An empty cache directory. */
  cacheDir: string;
  /** Resolve options pointing at the server and the cache, with an empty environment. */
  options(extra?: ResolveOptions): ResolveOptions;
  /** Every path under the cache directory (files and folders), sorted. */
  cacheListing(): string[];
  /** Stops the server and removes the cache. */
  dispose(): Promise<void>;
}

/** Starts a server and makes an empty cache. */
export async function fixture(): Promise<Fixture> {
  const server = await startFixtureServer();
  const dir = tempDir("sqlite-sync-resolve-");
  return {
    server,
    cacheDir: dir.path,
    options: (extra = {}) => ({
      cacheDir: dir.path,
      npmRegistry: server.url,
      githubBaseUrl: `${server.url}/gh`,
      timeoutMs: 3000,
      env: {},
      ...extra,
    }),
    cacheListing: () => (readdirSync(dir.path, { recursive: true }) as string[]).map(String).sort(),
    dispose: async () => {
      await server.close();
      dir.cleanup();
    },
  };
}

/** Runs `fn` with a fresh fixture, always disposing it. */
export async function withFixture(fn: (f: Fixture) => Promise<void>): Promise<void> {
  const f = await fixture();
  try {
    await fn(f);
  } finally {
    await f.dispose();
  }
}

/** A dummy binary, distinct per platform. */
export function dummyBinary(platform: string): Uint8Array {
  return new TextEncoder().encode(`dummy cloudsync for ${platform}\n`);
}

/** The npm package tarball of a platform (a dummy binary unless one is given). */
export async function platformTarball(
  platform: PlatformId,
  binary: Uint8Array = dummyBinary(platform),
  version = "0.0.0-test",
): Promise<Uint8Array> {
  const asset = platformAsset(platform);
  return await npmTarball(asset.npmPackage, version, asset.binaryName, binary);
}
