/**
 * A one-line download progress bar for terminals. The library never draws by
 * itself: a CLI passes the reporter as `onProgress`.
 *
 * @module
 */
import process from "node:process";
import type { DownloadProgress } from "./download.ts";

/** Where the bar is drawn: `process.stderr` or anything alike. */
export interface ProgressStream {
  /** Whether the stream is a terminal. */
  isTTY?: boolean;
  /** Writes text. */
  write(text: string): unknown;
}

const WIDTH = 24;

/**
 * Creates an `onProgress` callback that draws a one-line bar with `\r`, or
 * returns `undefined` (stay silent) when the stream is not a terminal or `CI`
 * is set. The line ends with a newline once a download completes.
 *
 * @param stream The stream to draw on.
 * @param env The environment, for `CI`.
 * @returns The callback, or `undefined` when nothing should be drawn.
 *
 * @example Usage
 * ```ts
 * import process from "node:process";
 * import { createProgressReporter, resolveExtension } from "@sqliteai/sync";
 * await resolveExtension({ onProgress: createProgressReporter(process.stderr) });
 * ```
 */
export function createProgressReporter(
  stream: ProgressStream = process.stderr,
  env: Record<string, string | undefined> = process.env,
): ((progress: DownloadProgress) => void) | undefined {
  if (!stream?.isTTY || (env.CI !== undefined && env.CI !== "" && env.CI !== "false")) {
    return undefined;
  }
  let lastLine = "";
  let finished = "";
  return (progress: DownloadProgress): void => {
    const done = progress.total !== undefined && progress.received >= progress.total;
    if (finished === progress.url && done) return;
    finished = "";
    const line = formatProgress(progress);
    if (line !== lastLine) stream.write(`\r${line}`);
    lastLine = line;
    if (done) {
      stream.write("\n");
      finished = progress.url;
      lastLine = "";
    }
  };
}

/**
 * Formats one progress line: file name, bar and sizes (a bar only when the total is known).
 *
 * @param progress The progress.
 * @returns The line, without `\r` or newline.
 *
 * @example Usage
 * ```ts
 * import { formatProgress } from "./progress.ts";
 * console.log(formatProgress({ url: "https://x/a.tgz", received: 512, total: 1024 }));
 * // "a.tgz [############------------]  50% 512 B/1.0 KB"
 * ```
 */
export function formatProgress(progress: DownloadProgress): string {
  const name = decodeURIComponent(
    progress.url.replace(/[?#].*$/, "").split("/").pop() || progress.url,
  );
  if (progress.total === undefined || progress.total <= 0) {
    return `${name} ${formatBytes(progress.received)}`;
  }
  const ratio = Math.min(1, progress.received / progress.total);
  const filled = Math.round(ratio * WIDTH);
  const percent = `${Math.floor(ratio * 100)}%`.padStart(4);
  return `${name} [${"#".repeat(filled)}${"-".repeat(WIDTH - filled)}] ${percent} ` +
    `${formatBytes(progress.received)}/${formatBytes(progress.total)}`;
}

function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}
