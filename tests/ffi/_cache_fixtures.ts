/**
 * What the cache tests (cache_*_test.ts) share: the version and bytes of the
 * dummy binary, a fixture registry serving it as the linux-arm64 package, and
 * tampering with a file in place.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { platformAsset } from "../../ffi/platform.ts";
import { type Fixture, npmTarball, serveNpmPackage } from "./_fixture_server.ts";

/** The version of every package the fixture registry serves. */
export const V = "0.0.0-test";

/** The dummy binary's bytes. */
export const BINARY = new TextEncoder().encode("dummy cloudsync binary\n");

/** Flips one byte in the middle of a file: same inode, same size, new file times. */
export function flipByte(path: string): void {
  const data = readFileSync(path);
  data[Math.floor(data.length / 2)] ^= 0xff;
  writeFileSync(path, data);
}

/** Serves a dummy linux-arm64 package of version V; returns its tarball path on the server. */
export async function serveArm64(f: Fixture): Promise<{ tarballPath: string }> {
  const asset = platformAsset("linux-arm64");
  const tarball = await npmTarball(asset.npmPackage, V, asset.binaryName, BINARY);
  return serveNpmPackage(f.server, asset.npmPackage, V, tarball);
}
