/**
 * Debian's Chromium, headless, driven from the command line (no Playwright):
 * `--dump-dom` prints the DOM after load, `--screenshot` writes a PNG.
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

/** Runs Chromium once on `url` with a fresh JavaScript-off profile; resolves with its stdout. */
export async function chromium(url: string, args: string[]): Promise<string> {
  const profile = tempDir("sqlite-sync-chromium-");
  try {
    mkdirSync(join(profile.path, "Default"));
    writeFileSync(
      join(profile.path, "Default", "Preferences"),
      JSON.stringify({ profile: { default_content_setting_values: { javascript: 2 } } }),
    );
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
