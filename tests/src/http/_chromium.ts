/**
 * Debian's Chromium, headless, driven from the command line (no Playwright):
 * `--dump-dom` prints the DOM after load, `--screenshot` writes a PNG; or,
 * for layout checks, through the DevTools protocol over a WebSocket
 * ({@linkcode BrowserPage}: a viewport of any size, measurements of the laid-out
 * page, full-page screenshots), with the same JavaScript-off profile.
 *
 * JavaScript is turned off through the profile, not `--blink-settings=scriptEnabled=false`:
 * with that flag Chromium 156's headless mode prints an empty DOM (`--dump-dom`
 * reads the DOM with script, which the flag forbids too). A fresh profile whose
 * `Default/Preferences` blocks JavaScript for every site stops page scripts and
 * leaves `--dump-dom` working; a probe page in the tests proves it.
 *
 * The flags are those known to work on these machines: no sandbox (the tests
 * run as root), no GPU, and no background networking (the network is closed).
 */
import { spawn } from "node:child_process";
import { Buffer } from "node:buffer";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { run, tempDir } from "../../_helpers.ts";

/** Where Chromium is: `CHROMIUM_PATH`, else Debian's `/usr/bin/chromium`. */
export function chromiumPath(): string | undefined {
  return [process.env.CHROMIUM_PATH, "/usr/bin/chromium", "/usr/bin/chromium-browser"]
    .find((p) => p !== undefined && p !== "" && existsSync(p));
}

/** Why the browser tests cannot run here, or `undefined` when they can. */
export function chromiumMissing(): string | undefined {
  return chromiumPath() === undefined
    ? "no Chromium (Debian package chromium, which .ci/run installs; or CHROMIUM_PATH)"
    : undefined;
}

const FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--hide-scrollbars",
];

/** A fresh profile whose preferences block JavaScript for every site. */
function jsOffProfile(): { path: string; cleanup: () => void } {
  const profile = tempDir("sqlite-sync-chromium-");
  mkdirSync(join(profile.path, "Default"));
  writeFileSync(
    join(profile.path, "Default", "Preferences"),
    JSON.stringify({ profile: { default_content_setting_values: { javascript: 2 } } }),
  );
  return profile;
}

/** Runs Chromium once on `url` with a fresh JavaScript-off profile; resolves with its stdout. */
export async function chromium(url: string, args: string[]): Promise<string> {
  const profile = jsOffProfile();
  try {
    const r = await run(
      [chromiumPath()!, ...FLAGS, `--user-data-dir=${profile.path}`, ...args, url],
      { timeoutMs: 60_000 },
    );
    if (r.code !== 0) {
      throw new Error(`chromium exited ${r.code ?? r.signal}:\n${r.stderr.slice(-2000)}`);
    }
    return r.stdout;
  } finally {
    profile.cleanup();
  }
}

/** The DOM Chromium built for `url`, serialized. */
export function dumpDom(url: string): Promise<string> {
  return chromium(url, ["--dump-dom"]);
}

/** Takes a screenshot of `url` into `file` (PNG) at `width`×`height`. */
export async function screenshot(
  url: string,
  file: string,
  width: number,
  height: number,
): Promise<void> {
  await chromium(url, [`--screenshot=${file}`, `--window-size=${width},${height}`]);
}

/** A viewport: CSS pixels; `mobile` makes Chromium honor the page's viewport meta like a phone. */
export interface Viewport {
  width: number;
  height: number;
  mobile?: boolean;
  /** Emulates `prefers-color-scheme`. */
  colorScheme?: "light" | "dark";
}

interface Pending {
  resolve: (value: Record<string, unknown>) => void;
  reject: (err: Error) => void;
}

/**
 * One headless Chromium (fresh JavaScript-off profile) and one page in it, driven through the
 * DevTools protocol. The page's own scripts never run (the profile blocks them); the
 * protocol's `Runtime.evaluate` still reads the laid-out DOM, which is how the tests measure
 * overflow.
 */
export class BrowserPage {
  #child: ReturnType<typeof spawn>;
  #profile: { path: string; cleanup: () => void };
  #ws: WebSocket;
  #session = "";
  #next = 1;
  #pending = new Map<number, Pending>();
  #events = new Map<string, ((params: Record<string, unknown>) => void)[]>();

  private constructor(
    child: ReturnType<typeof spawn>,
    profile: { path: string; cleanup: () => void },
    ws: WebSocket,
  ) {
    this.#child = child;
    this.#profile = profile;
    this.#ws = ws;
    ws.onmessage = (e) => {
      const msg = JSON.parse(String(e.data));
      if (typeof msg.id === "number") {
        const p = this.#pending.get(msg.id);
        this.#pending.delete(msg.id);
        if (!p) return;
        if (msg.error) p.reject(new Error(`DevTools: ${JSON.stringify(msg.error)}`));
        else p.resolve(msg.result ?? {});
      } else if (typeof msg.method === "string") {
        for (const f of this.#events.get(msg.method)?.splice(0) ?? []) f(msg.params ?? {});
      }
    };
    ws.onclose = () => {
      for (const p of this.#pending.values()) p.reject(new Error("DevTools connection closed"));
      this.#pending.clear();
    };
  }

  /** Starts Chromium and opens a blank page. */
  static async open(): Promise<BrowserPage> {
    const profile = jsOffProfile();
    const child = spawn(
      chromiumPath()!,
      [...FLAGS, `--user-data-dir=${profile.path}`, "--remote-debugging-port=0", "about:blank"],
      { stdio: ["ignore", "ignore", "pipe"] },
    );
    let stderr = "";
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`Chromium did not start:\n${stderr.slice(-2000)}`)),
        60_000,
      );
      child.stderr!.on("data", (d) => {
        stderr += d;
        const m = /DevTools listening on (ws:\/\/\S+)/.exec(stderr);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]);
        }
      });
      child.once("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`Chromium exited ${code}:\n${stderr.slice(-2000)}`));
      });
    });
    const ws = new WebSocket(url);
    await new Promise<void>((resolve, reject) => {
      ws.onopen = () => resolve();
      ws.onerror = () => reject(new Error(`cannot connect to ${url}`));
    });
    const page = new BrowserPage(child, profile, ws);
    const { targetId } = await page.send("Target.createTarget", { url: "about:blank" });
    const { sessionId } = await page.send("Target.attachToTarget", { targetId, flatten: true });
    page.#session = String(sessionId);
    await page.send("Page.enable");
    return page;
  }

  /** Sends one DevTools command (to the page, once attached) and resolves with its result. */
  send(method: string, params: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
    const id = this.#next++;
    const message: Record<string, unknown> = { id, method, params };
    if (this.#session) message.sessionId = this.#session;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#ws.send(JSON.stringify(message));
    });
  }

  #once(method: string): Promise<Record<string, unknown>> {
    return new Promise((resolve) => {
      const list = this.#events.get(method) ?? [];
      list.push(resolve);
      this.#events.set(method, list);
    });
  }

  /** Sets the viewport (and color scheme), loads `url` and waits for its load event. */
  async goto(url: string, viewport: Viewport): Promise<void> {
    await this.send("Emulation.setDeviceMetricsOverride", {
      width: viewport.width,
      height: viewport.height,
      deviceScaleFactor: 1,
      mobile: viewport.mobile ?? false,
    });
    await this.send("Emulation.setEmulatedMedia", {
      features: [{ name: "prefers-color-scheme", value: viewport.colorScheme ?? "light" }],
    });
    const loaded = this.#once("Page.loadEventFired");
    const nav = await this.send("Page.navigate", { url });
    if (nav.errorText) throw new Error(`cannot load ${url}: ${nav.errorText}`);
    await loaded;
  }

  /** Evaluates `expression` in the page (DevTools, not the page's scripts); returns its value. */
  async evaluate<T>(expression: string): Promise<T> {
    const r = await this.send("Runtime.evaluate", { expression, returnByValue: true });
    if (r.exceptionDetails) throw new Error(`evaluate: ${JSON.stringify(r.exceptionDetails)}`);
    return (r.result as { value: T }).value;
  }

  /** A screenshot of the whole page (all of its height) at the viewport's width, as a PNG. */
  async screenshot(file: string): Promise<void> {
    const metrics = await this.send("Page.getLayoutMetrics");
    const size = metrics.cssContentSize as { width: number; height: number };
    const view = metrics.cssLayoutViewport as { clientWidth: number };
    const { data } = await this.send("Page.captureScreenshot", {
      format: "png",
      captureBeyondViewport: true,
      clip: { x: 0, y: 0, width: view.clientWidth, height: Math.ceil(size.height), scale: 1 },
    });
    writeFileSync(file, Buffer.from(String(data), "base64"));
  }

  /** Ends Chromium and removes its profile. */
  async close(): Promise<void> {
    const exited = new Promise<void>((resolve) => {
      if (this.#child.exitCode !== null || this.#child.signalCode !== null) resolve();
      else this.#child.once("exit", () => resolve());
    });
    try {
      this.#session = "";
      await Promise.race([this.send("Browser.close"), exited]);
    } catch {
      // Already gone.
    }
    this.#ws.close();
    const timer = setTimeout(() => this.#child.kill("SIGKILL"), 5000);
    await exited;
    clearTimeout(timer);
    this.#profile.cleanup();
  }
}
