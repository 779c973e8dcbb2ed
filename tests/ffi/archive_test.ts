import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { detectArchiveFormat, gunzip, pickExtensionFiles, readArchive } from "../../ffi/archive.ts";
import { SqliteSyncError } from "../../common/errors.ts";
import { gzip, tarGz, zip } from "./_fixture_server.ts";

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const entry = (name: string, text = name) => ({ name, data: enc(text) });

describe("readArchive()", () => {
  it("readArchive() lists the regular files of a .tar.gz", async () => {
    const entries = await readArchive(
      await tarGz({ "a/cloudsync.so": "bin", "a/LICENSE.md": "L" }),
    );
    assert.deepEqual(entries.map((e) => e.name).sort(), ["a/LICENSE.md", "a/cloudsync.so"]);
  });

  it("readArchive() lists the files of a .zip, skipping directories", async () => {
    const entries = await readArchive(zip({ "d/": new Uint8Array(), "d/cloudsync.dll": "bin" }));
    assert.deepEqual(entries.map((e) => [e.name, new TextDecoder().decode(e.data)]), [[
      "d/cloudsync.dll",
      "bin",
    ]]);
  });

  it("readArchive() refuses unknown formats, broken gzip and archives over the size cap", async () => {
    const isDownload = (err: unknown) => err instanceof SqliteSyncError && err.kind === "download";
    await assert.rejects(readArchive(enc("plain text")), isDownload);
    await assert.rejects(readArchive(new Uint8Array([0x1f, 0x8b, 8, 0, 1, 2, 3])), isDownload);
    const big = await tarGz({ "x.bin": new Uint8Array(100_000) });
    await assert.rejects(readArchive(big, 10_000), isDownload);
    await assert.rejects(
      readArchive(zip({ "x.bin": new Uint8Array(100_000) }), 10_000),
      isDownload,
    );
  });
});

describe("detectArchiveFormat() and gunzip()", () => {
  it("detectArchiveFormat() tells gzip and zip apart by magic bytes", async () => {
    assert.equal(detectArchiveFormat(await gzip(enc("x"))), "tar.gz");
    assert.equal(detectArchiveFormat(zip({ a: "x" })), "zip");
    assert.equal(detectArchiveFormat(enc("xz")), undefined);
  });

  it("gunzip() round-trips CompressionStream output", async () => {
    assert.deepEqual(await gunzip(await gzip(enc("hello"))), enc("hello"));
  });
});

describe("pickExtensionFiles()", () => {
  it("pickExtensionFiles() takes the preferred path first", () => {
    const files = pickExtensionFiles(
      [
        entry("cloudsync.so", "top"),
        entry("package/cloudsync.so", "pkg"),
        entry("package/LICENSE.md", "L"),
      ],
      "cloudsync.so",
      "package/cloudsync.so",
    );
    assert.equal(files.binaryPath, "package/cloudsync.so");
    assert.equal(new TextDecoder().decode(files.license), "L");
  });

  it("pickExtensionFiles() finds the shallowest binary anywhere and the licence beside it", () => {
    const files = pickExtensionFiles(
      [
        entry("LICENSE.md", "root licence"),
        entry("./x/y/cloudsync.dylib", "deep"),
        entry("x/cloudsync.dylib", "shallow"),
        entry("x/LICENSE.md", "beside"),
      ],
      "cloudsync.dylib",
    );
    assert.equal(files.binaryPath, "x/cloudsync.dylib");
    assert.equal(new TextDecoder().decode(files.license), "beside");
  });

  it("pickExtensionFiles() returns no licence when the archive has none", () => {
    assert.equal(pickExtensionFiles([entry("cloudsync.dll")], "cloudsync.dll").license, undefined);
  });

  it("pickExtensionFiles() throws a download error naming the missing binary", () => {
    assert.throws(
      () => pickExtensionFiles([entry("a/cloudsync.so")], "cloudsync.dylib"),
      (err) => err instanceof SqliteSyncError && /holds no cloudsync\.dylib/.test(err.message),
    );
  });
});
