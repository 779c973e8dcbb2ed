/**
 * What the resolveExtension() tests (resolve_*_test.ts) share: the version
 * the fixture registry publishes, and this host's platform as Node names it
 * (the real 1.1.4 binary loads only on linux-x64).
 */
import process from "node:process";

/** The version of every package the fixture registry serves. */
export const V = "0.0.0-test";

/** `${process.platform}-${process.arch}` of this host. */
export const host = `${process.platform}-${process.arch}`;
