/**
 * What the `sqlite-sync fetch` tests share (fetch_test.ts, fetch_registry_test.ts): the
 * extension version they fetch and the files a fetched platform leaves in the folder.
 */
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { platformAsset, type PlatformId } from "../../../ffi/platform.ts";

/** The extension version the tests fetch. */
export const V = "1.1.4";

/** The files a fetched platform leaves under `<out>/<version>/`. */
export function layoutOf(platform: PlatformId): string[] {
  const binary = platformAsset(platform).binaryName;
  return [
    `${platform}/${binary}`,
    `${platform}/LICENSE.md`,
    `${platform}/meta.json`,
    `sqlite-sync-${platform}-${V}.tgz`,
    `sqlite-sync-${platform}-${V}.tgz.integrity`,
  ];
}

/** Every file (not folder) under `<out>/<version>/`, sorted. */
export function filesUnder(out: string): string[] {
  const root = join(out, V);
  return (readdirSync(root, { recursive: true }) as string[])
    .map(String)
    .filter((p) => !statSync(join(root, p)).isDirectory())
    .sort();
}
