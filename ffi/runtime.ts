/**
 * Which JavaScript runtime runs us. The only place that sniffs globals.
 *
 * @module
 */
import process from "node:process";

/** The runtimes this library supports. */
export type RuntimeName = "deno" | "bun" | "node";

/** The running runtime. */
export interface RuntimeInfo {
  /** `deno`, `bun` or `node`. */
  name: RuntimeName;
  /** The runtime's own version, e.g. `2.9.6`. */
  version: string;
  /** `true` on Deno Deploy, which allows no FFI and no native extensions. */
  denoDeploy: boolean;
}

// deno-lint-ignore no-explicit-any
const globals = globalThis as any;

/**
 * Detects the runtime by feature, once per call (cheap: no I/O).
 *
 * @returns Name, version and whether this is Deno Deploy.
 *
 * @example Usage
 * ```ts
 * import { detectRuntime } from "./runtime.ts";
 * console.log(detectRuntime().name);
 * ```
 */
export function detectRuntime(): RuntimeInfo {
  if (typeof globals.Deno?.version?.deno === "string") {
    let deploy = false;
    try {
      deploy = globals.Deno.env.get("DENO_DEPLOYMENT_ID") !== undefined;
    } catch {
      // Without --allow-env we cannot be on Deploy's managed env check; assume not.
    }
    return { name: "deno", version: globals.Deno.version.deno, denoDeploy: deploy };
  }
  if (typeof globals.Bun?.version === "string") {
    return { name: "bun", version: globals.Bun.version, denoDeploy: false };
  }
  return { name: "node", version: process.versions.node, denoDeploy: false };
}
