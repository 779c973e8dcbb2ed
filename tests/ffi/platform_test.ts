import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  currentPlatformId,
  detectHost,
  detectLibc,
  isPlatformId,
  type LibcProbe,
  PLATFORM_IDS,
  platformAsset,
  platformIdOf,
} from "../../ffi/platform.ts";
import process from "node:process";
import { SqliteSyncError } from "../../common/errors.ts";
import { itUnless } from "../_helpers.ts";

function probe(files: Record<string, string>, glibc?: string): LibcProbe {
  return {
    exists: (path) => path in files,
    read: (path) => files[path],
    glibcVersionRuntime: () => glibc,
  };
}

describe("platformIdOf()", () => {
  const good = [
    [{ os: "linux", arch: "x64", libc: "glibc" }, "linux-x86_64"],
    [{ os: "linux", arch: "arm64", libc: "glibc" }, "linux-arm64"],
    [{ os: "linux", arch: "x64", libc: "musl" }, "linux-x86_64-musl"],
    [{ os: "linux", arch: "arm64", libc: "musl" }, "linux-arm64-musl"],
    [{ os: "darwin", arch: "x64" }, "darwin-x86_64"],
    [{ os: "darwin", arch: "arm64" }, "darwin-arm64"],
    [{ os: "win32", arch: "x64" }, "win32-x86_64"],
  ] as const;
  for (const [host, id] of good) {
    it(`platformIdOf() maps ${host.os}/${host.arch}${"libc" in host ? `/${host.libc}` : ""} to ${id}`, () => {
      assert.equal(platformIdOf(host), id);
    });
  }

  it("platformIdOf() covers each of the seven ids exactly once", () => {
    assert.deepEqual(good.map(([, id]) => id).sort(), [...PLATFORM_IDS].sort());
  });

  it("platformIdOf() treats a Linux host without libc information as glibc", () => {
    assert.equal(platformIdOf({ os: "linux", arch: "x64" }), "linux-x86_64");
  });

  const bad = [
    { os: "linux", arch: "arm", libc: "glibc" },
    { os: "linux", arch: "ia32", libc: "glibc" },
    { os: "linux", arch: "riscv64", libc: "musl" },
    { os: "win32", arch: "arm64" },
    { os: "win32", arch: "ia32" },
    { os: "freebsd", arch: "x64" },
    { os: "darwin", arch: "ia32" },
    { os: "android", arch: "arm64" },
  ] as const;
  for (const host of bad) {
    it(`platformIdOf() refuses ${host.os}/${host.arch}, naming the host and the supported ids`, () => {
      assert.throws(() => platformIdOf(host), (err) => {
        assert.ok(err instanceof SqliteSyncError);
        assert.equal(err.kind, "unsupported-platform");
        assert.match(err.message, new RegExp(`${host.os}/${host.arch}`));
        for (const id of PLATFORM_IDS) assert.ok(err.message.includes(id), id);
        assert.match(err.message, /extensionPath|SQLITE_SYNC_EXTENSION_PATH/);
        return true;
      });
    });
  }
});

describe("detectLibc()", () => {
  it("detectLibc() reports musl when the musl loader for the arch exists", () => {
    assert.equal(detectLibc("x64", probe({ "/lib/ld-musl-x86_64.so.1": "" }, "2.36")), "musl");
    assert.equal(detectLibc("arm64", probe({ "/lib/ld-musl-aarch64.so.1": "" })), "musl");
  });

  it("detectLibc() ignores the musl loader of another arch", () => {
    assert.equal(detectLibc("arm64", probe({ "/lib/ld-musl-x86_64.so.1": "" }, "2.36")), "glibc");
  });

  it("detectLibc() reports glibc when the runtime reports a glibc version", () => {
    assert.equal(detectLibc("x64", probe({ "/etc/os-release": "ID=alpine" }, "2.39")), "glibc");
  });

  it("detectLibc() reports musl on Alpine per /etc/os-release", () => {
    const osRelease = 'NAME="Alpine Linux"\nID=alpine\nVERSION_ID=3.20.0\n';
    assert.equal(detectLibc("x64", probe({ "/etc/os-release": osRelease })), "musl");
  });

  it("detectLibc() asks for the runtime report only when os-release names musl", () => {
    let reports = 0;
    const counting = (files: Record<string, string>): LibcProbe => ({
      ...probe(files),
      glibcVersionRuntime: () => (reports++, "2.39"),
    });
    assert.equal(detectLibc("x64", counting({ "/etc/os-release": "ID=debian\n" })), "glibc");
    assert.equal(detectLibc("x64", counting({ "/lib/ld-musl-x86_64.so.1": "" })), "musl");
    assert.equal(reports, 0);
    assert.equal(detectLibc("x64", counting({ "/etc/os-release": "ID=alpine\n" })), "glibc");
    assert.equal(reports, 1);
  });

  it("detectLibc() defaults to glibc when nothing points to musl", () => {
    assert.equal(detectLibc("x64", probe({})), "glibc");
    assert.equal(detectLibc("x64", probe({ "/etc/os-release": "ID=debian\n" })), "glibc");
  });
});

describe("platformAsset()", () => {
  const expected = {
    "linux-x86_64": ["@sqliteai/sqlite-sync-linux-x86_64", "cloudsync.so", "linux-x86_64"],
    "linux-arm64": ["@sqliteai/sqlite-sync-linux-arm64", "cloudsync.so", "linux-arm64"],
    "linux-x86_64-musl": [
      "@sqliteai/sqlite-sync-linux-x86_64-musl",
      "cloudsync.so",
      "linux-musl-x86_64",
    ],
    "linux-arm64-musl": [
      "@sqliteai/sqlite-sync-linux-arm64-musl",
      "cloudsync.so",
      "linux-musl-arm64",
    ],
    "darwin-x86_64": ["@sqliteai/sqlite-sync-darwin-x86_64", "cloudsync.dylib", "macos-x86_64"],
    "darwin-arm64": ["@sqliteai/sqlite-sync-darwin-arm64", "cloudsync.dylib", "macos-arm64"],
    "win32-x86_64": ["@sqliteai/sqlite-sync-win32-x86_64", "cloudsync.dll", "windows-x86_64"],
  } as const;
  for (const id of PLATFORM_IDS) {
    it(`platformAsset() names the package, binary and release asset of ${id}`, () => {
      const [npmPackage, binaryName, releasePlatform] = expected[id];
      assert.deepEqual(platformAsset(id), { id, npmPackage, binaryName, releasePlatform });
    });
  }
});

describe("isPlatformId() and detectHost()", () => {
  it("isPlatformId() accepts the seven ids and nothing else", () => {
    for (const id of PLATFORM_IDS) assert.ok(isPlatformId(id));
    for (const id of ["linux-x64", "macos-arm64", "", "win32-arm64"]) assert.ok(!isPlatformId(id));
  });

  it("detectHost() reports this process' os and arch, with libc on Linux only", () => {
    const host = detectHost();
    assert.equal(typeof host.os, "string");
    assert.equal(typeof host.arch, "string");
    if (host.os === "linux") assert.ok(host.libc === "glibc" || host.libc === "musl");
    else assert.equal(host.libc, undefined);
  });

  it("detectLibc() keeps the real host's answer but asks an injected probe every time", () => {
    const real = detectLibc(process.arch);
    assert.equal(detectLibc(process.arch, probe({ "/etc/os-release": "ID=alpine" })), "musl");
    assert.equal(detectLibc(process.arch, probe({}, "2.39")), "glibc");
    assert.equal(detectLibc(process.arch), real);
  });

  itUnless(
    process.platform === "linux" || process.platform === "darwin"
      ? undefined
      : `no prebuilt extension for ${process.platform}: currentPlatformId() throws here`,
    "currentPlatformId() answers the same id on every call",
    () => {
      const id = currentPlatformId();
      assert.equal(id, platformIdOf(detectHost()));
      assert.equal(currentPlatformId(), id);
    },
  );
});
