/**
 * A process and its descendants on Linux, from /proc: every /proc/<pid>/stat's
 * ppid walked from the root (this kernel has no /proc/<pid>/task/<tid>/children),
 * their RSS (VmRSS) and names, and killing them. Private to bench/.
 *
 * @module
 */
import { readdirSync, readFileSync } from "node:fs";
import process from "node:process";

/** `root` and its descendants, root first. */
export function tree(root: number): number[] {
  const byParent = new Map<number, number[]>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      byParent.set(ppid, [...(byParent.get(ppid) ?? []), Number(entry)]);
    } catch { /* gone */ }
  }
  const out = [root];
  for (let i = 0; i < out.length; i++) out.push(...(byParent.get(out[i]) ?? []));
  return out;
}

/** A process's VmRSS in kB (0 once it is gone). */
export function rssKb(pid: number): number {
  try {
    return Number(/^VmRSS:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

/** A process's name (`comm`). */
export function comm(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, "utf8").trim();
  } catch {
    return "?";
  }
}

/** The RSS of `root` and its descendants, in MB. */
export function treeRssMb(root: number): number {
  return tree(root).reduce((n, pid) => n + rssKb(pid), 0) / 1024;
}

/** SIGKILLs `root` and its descendants, the youngest first. */
export function killTree(root: number | undefined): void {
  if (root === undefined) return;
  for (const pid of tree(root).reverse()) {
    try {
      process.kill(pid, "SIGKILL");
    } catch { /* gone */ }
  }
}
