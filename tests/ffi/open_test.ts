/**
 * openDatabase() on real files: WAL, busy timeout, the extension on every
 * connection, and what happens when loading fails.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { isKind, RUNTIME, tempDir, testExtensionPath } from "../_helpers.ts";
import { openDriver } from "../../ffi/drivers/open_driver.ts";
import {
  closeConnection,
  openDatabase,
  openDatabaseWithHooks,
  type OpenOptions,
  openWithExtension,
} from "../../ffi/open.ts";
import { CA_BUNDLE_PATH, type PreflightProbe } from "../../ffi/preflight.ts";

function hostProbe(opts: { ssl?: boolean; glibc?: string }): PreflightProbe {
  const ldCache = (opts.ssl ?? true) ? "libssl.so.3\0libcrypto.so.3\0" : "libcrypto.so.3\0";
  return {
    exists: (p) => p === CA_BUNDLE_PATH,
    readText: (p) => (p === "/etc/ld.so.cache" ? ldCache : undefined),
    env: () => undefined,
    glibcVersion: () => opts.glibc ?? "2.36",
  };
}

function pragma(
  driver: { prepare(sql: string): { get(): Record<string, unknown> | undefined } },
  name: string,
) {
  const row = driver.prepare(`pragma ${name}`).get();
  return row === undefined ? undefined : Object.values(row)[0]; // busy_timeout's column is "timeout"
}

describe("openDatabase()", () => {
  it("openDatabase() sets WAL and a busy timeout and loads the extension", async () => {
    const dir = tempDir();
    try {
      const extensionPath = await testExtensionPath();
      const { driver, extension } = await openDatabase(join(dir.path, "app.db"), { extensionPath });
      assert.equal(pragma(driver, "journal_mode"), "wal");
      assert.equal(pragma(driver, "busy_timeout"), 5000);
      assert.equal(driver.prepare("select cloudsync_version() as v").get()?.v, "1.1.4");
      assert.equal(extension.path, extensionPath);
      assert.equal(extension.source, "option");
      closeConnection(driver);
      closeConnection(driver); // idempotent
      assert.equal(driver.isOpen, false);
    } finally {
      dir.cleanup();
    }
  });

  it("openDatabase() honours busyTimeoutMs and skips WAL for :memory:", async () => {
    const { driver } = await openDatabase(":memory:", {
      extensionPath: await testExtensionPath(),
      busyTimeoutMs: 1234,
    });
    assert.equal(pragma(driver, "busy_timeout"), 1234);
    assert.equal(pragma(driver, "journal_mode"), "memory");
    closeConnection(driver);
  });

  it("openWithExtension() gives a sibling connection the extension: it writes a synced table", async () => {
    const dir = tempDir();
    const path = join(dir.path, "shared.db");
    const { driver: first, extension } = await openDatabase(path, {
      extensionPath: await testExtensionPath(),
    });
    first.exec("create table items(id text primary key not null, name text)");
    first.prepare("select cloudsync_init('items')").get();
    // Opened after init: the extension reads the synced tables when it loads.
    const sibling = await openWithExtension(path, extension);
    const bare = await openDriver(path);
    try {
      assert.equal(pragma(sibling, "journal_mode"), "wal");
      sibling.prepare("insert into items values (cloudsync_uuid(), ?)").run("from sibling");
      assert.equal(first.prepare("select name from items").get()?.name, "from sibling");
      // The reason every connection must load it: the table's triggers call cloudsync_*.
      assert.throws(
        () => bare.prepare("insert into items values ('x', 'from bare')").run(),
        isKind("sql", /no such function: cloudsync_is_sync/),
      );
    } finally {
      bare.close();
      closeConnection(sibling);
      closeConnection(first);
      dir.cleanup();
    }
  });

  it("openDatabase() raises 'load' for a file that is not a library on a healthy host", async () => {
    const dir = tempDir();
    const fake = join(dir.path, "cloudsync.so");
    writeFileSync(fake, "this is not an ELF file");
    try {
      await assert.rejects(
        openDatabaseWithHooks(join(dir.path, "app.db"), {
          extensionPath: fake,
          platform: "linux-x86_64",
        }, { preflightProbe: hostProbe({}) }),
        isKind("load", /SQLite refused to load the sqlite-sync extension/),
      );
    } finally {
      dir.cleanup();
    }
  });

  it("openDatabase() raises 'preflight' naming libssl.so.3 when OpenSSL 3 is missing", async () => {
    const dir = tempDir();
    const fake = join(dir.path, "cloudsync.so");
    writeFileSync(fake, "");
    try {
      await assert.rejects(
        openDatabaseWithHooks(":memory:", {
          extensionPath: fake,
          platform: "linux-x86_64",
        }, { preflightProbe: hostProbe({ ssl: false, glibc: "2.31" }) }),
        isKind("preflight", /libssl\.so\.3 \(OpenSSL 3\) not found.*glibc 2\.31 < 2\.34/),
      );
    } finally {
      dir.cleanup();
    }
  });

  it("openDatabase() refuses Deno Deploy before resolving anything", async () => {
    await assert.rejects(
      openDatabaseWithHooks(":memory:", { extensionPath: "/nonexistent/cloudsync.so" }, {
        runtime: { name: "deno", version: "2.9.6", denoDeploy: true },
      }),
      isKind("unsupported-runtime", /Deno Deploy/),
    );
  });

  it("openDatabase() reads no test hook from its options: a runtime or probe passed there is ignored", async () => {
    const options = {
      extensionPath: await testExtensionPath(),
      runtime: { name: "deno", version: "2.9.6", denoDeploy: true },
      preflightProbe: hostProbe({ ssl: false }),
    } as OpenOptions;
    const { driver } = await openDatabase(":memory:", options);
    try {
      assert.equal(driver.prepare("select cloudsync_version() as v").get()?.v, "1.1.4");
    } finally {
      closeConnection(driver);
    }
  });

  it("openDatabase() validates busyTimeoutMs and journalMode before any work", async () => {
    await assert.rejects(openDatabase(":memory:", { busyTimeoutMs: -1 }), RangeError);
    await assert.rejects(openDatabase(":memory:", { busyTimeoutMs: 1.5 }), /busyTimeoutMs/);
    // deno-lint-ignore no-explicit-any
    await assert.rejects(openDatabase(":memory:", { journalMode: "wall" as any }), /"wall"/);
  });

  it("openDatabase() with a missing extensionPath raises 'not-found'", async () => {
    await assert.rejects(
      openDatabase(":memory:", { extensionPath: "/nonexistent/cloudsync.so" }),
      isKind("not-found"),
    );
  });
});

/** The runtime's own SQLite database class, opened by the caller (as with the `database` option). */
async function nativeDatabase(): Promise<{ exec(sql: string): unknown; close(): void }> {
  if (RUNTIME === "deno") {
    const { DatabaseSync } = await import("node:sqlite");
    return new DatabaseSync(":memory:", { allowExtension: true });
  }
  const spec = "bun:sqlite";
  const { Database } = await import(spec);
  return new Database(":memory:");
}

describe("recursive_triggers", () => {
  it("openDatabase(), openWithExtension() and a user-provided database all run with recursive_triggers on", async () => {
    const dir = tempDir();
    const path = join(dir.path, "app.db");
    const { driver, extension } = await openDatabase(path, {
      extensionPath: await testExtensionPath(),
    });
    const sibling = await openWithExtension(path, extension);
    const adopted = await openWithExtension(":memory:", extension, {
      database: await nativeDatabase(),
    });
    try {
      for (const db of [driver, sibling, adopted]) {
        assert.equal(Number(pragma(db, "recursive_triggers")), 1, db.path);
      }
    } finally {
      for (const db of [adopted, sibling, driver]) closeConnection(db);
      dir.cleanup();
    }
  });

  it("openWithExtension() raises 'driver' when recursive_triggers does not take, and leaves the caller's database open", async () => {
    const native = await nativeDatabase();
    // A host that silently ignores the pragma.
    const ignoring = new Proxy(native, {
      get(target, key) {
        if (key === "exec") {
          return (sql: string) =>
            /recursive_triggers\s*=\s*ON/i.test(sql) ? undefined : target.exec(sql);
        }
        const value = Reflect.get(target, key, target);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    try {
      await assert.rejects(
        openWithExtension(
          ":memory:",
          {
            path: await testExtensionPath(),
          } as Parameters<typeof openWithExtension>[1],
          {
            database: ignoring,
            driver: RUNTIME === "deno" ? "node:sqlite" : "bun:sqlite",
          },
        ),
        isKind("driver", /Cannot turn on recursive_triggers on ':memory:': SQLite answered 0\b/),
      );
      assert.doesNotThrow(() => native.exec("select 1"));
    } finally {
      native.close();
    }
  });
});
