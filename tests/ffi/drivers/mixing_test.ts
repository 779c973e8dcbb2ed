/**
 * One SQLite library per process (issue 9 §2): sqlite-sync keeps one
 * process-wide pointer to the SQLite it was first loaded into, so a second
 * library is refused before it loads the extension. The record (both
 * runtimes), openSibling() on the parent's library, Bun's node:sqlite, and
 * node:sqlite with @db/sqlite in child Deno processes (a failed guard would
 * crash the process, so never this one).
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath, pathToFileURL } from "node:url";
import {
  describeUnless,
  isKind,
  run,
  RUNTIME,
  runtimeArgv,
  tempDir,
  testExtensionPath,
} from "../../_helpers.ts";
import type { SqliteLibrary } from "../../../ffi/drivers/driver.ts";
import {
  assertExtensionLibrary,
  EXTENSION_LIBRARY_KEY,
  extensionLibrary,
  recordExtensionLibrary,
} from "../../../ffi/drivers/_process_library.ts";
import { SyncDatabase } from "../../../src/database.ts";
import { dbSqliteSkip } from "./_fixtures.ts";
import type { MixingReport, SiblingReport } from "./_mixing_child.ts";

const CHILD = fileURLToPath(new URL("./_mixing_child.ts", import.meta.url));
const NOTES = "CREATE TABLE IF NOT EXISTS notes (id TEXT PRIMARY KEY NOT NULL, body TEXT)";

type Holder = { [EXTENSION_LIBRARY_KEY]?: SqliteLibrary };

/** Runs `fn` with the record set to `library` (or none), then puts the real one back. */
function withRecord(library: SqliteLibrary | undefined, fn: () => void): void {
  const holder = globalThis as Holder;
  const saved = holder[EXTENSION_LIBRARY_KEY];
  if (library === undefined) delete holder[EXTENSION_LIBRARY_KEY];
  else holder[EXTENSION_LIBRARY_KEY] = library;
  try {
    fn();
  } finally {
    if (saved === undefined) delete holder[EXTENSION_LIBRARY_KEY];
    else holder[EXTENSION_LIBRARY_KEY] = saved;
  }
}

class DatabaseA {}
class DatabaseB {}

describe("one SQLite library per process: the record", () => {
  it("another driver is refused, naming both libraries, the driver to pass and a child process", () => {
    withRecord({ driver: "node:sqlite" }, () => {
      assert.throws(
        () => assertExtensionLibrary({ driver: "@db/sqlite", binding: DatabaseA }),
        isKind(
          "driver",
          /Cannot load sqlite-sync into @db\/sqlite: this process already loaded it into node:sqlite/,
          /pass driver: "node:sqlite"/,
          /child process/,
        ),
      );
    });
  });

  it("when @db/sqlite was first, the fix is to pass its Database as 'database'", () => {
    withRecord({ driver: "@db/sqlite", binding: DatabaseA }, () => {
      assert.throws(
        () => assertExtensionLibrary({ driver: "node:sqlite" }),
        isKind(
          "driver",
          /into node:sqlite: this process already loaded it into @db\/sqlite/,
          /pass it as the 'database' option/,
        ),
      );
    });
  });

  it("a second @db/sqlite Database class is another library; the same class passes", () => {
    withRecord({ driver: "@db/sqlite", binding: DatabaseA }, () => {
      assert.throws(
        () => assertExtensionLibrary({ driver: "@db/sqlite", binding: DatabaseB }),
        isKind("driver", /another copy of @db\/sqlite \(a different Database class/),
      );
      assertExtensionLibrary({ driver: "@db/sqlite", binding: DatabaseA });
    });
  });

  it("bun:sqlite's custom SQLite is named in the message", () => {
    withRecord({ driver: "bun:sqlite", detail: "custom SQLite /opt/x/libsqlite3.dylib" }, () => {
      assert.throws(
        () => assertExtensionLibrary({ driver: "node:sqlite" }),
        isKind("driver", /already loaded it into bun:sqlite \(custom SQLite \/opt\/x/),
      );
    });
  });

  it("recordExtensionLibrary() keeps the first library: a later one does not replace it", () => {
    withRecord(undefined, () => {
      assert.equal(extensionLibrary(), undefined);
      assertExtensionLibrary({ driver: "@db/sqlite", binding: DatabaseB }); // nothing recorded yet
      recordExtensionLibrary({ driver: "node:sqlite" });
      recordExtensionLibrary({ driver: "@db/sqlite", binding: DatabaseB });
      assert.deepEqual(extensionLibrary(), { driver: "node:sqlite" });
      assertExtensionLibrary({ driver: "node:sqlite" });
    });
  });

  it("two copies of the module in one isolate share the record (Symbol.for on globalThis)", async () => {
    // A second copy, as a source build next to the npm bundle: the same file at another URL.
    const here = (rel: string) => new URL(rel, import.meta.url);
    const source = readFileSync(here("../../../ffi/drivers/_process_library.ts"), "utf8")
      .replace('"../../common/errors.ts"', JSON.stringify(here("../../../common/errors.ts").href));
    const dir = tempDir();
    try {
      const file = join(dir.path, "_process_library_copy.ts");
      writeFileSync(file, source);
      const copy: typeof import("../../../ffi/drivers/_process_library.ts") = await import(
        pathToFileURL(file).href
      );
      assert.notEqual(copy.assertExtensionLibrary, assertExtensionLibrary); // really a second copy
      withRecord(undefined, () => {
        copy.recordExtensionLibrary({ driver: "@db/sqlite", binding: DatabaseA });
        assert.throws(() => assertExtensionLibrary({ driver: "node:sqlite" }), isKind("driver"));
      });
    } finally {
      dir.cleanup();
    }
  });
});

describe("openSibling() and the SQLite library", () => {
  async function withParent(
    path: string,
    fn: (db: SyncDatabase, dir: string) => Promise<void>,
  ): Promise<void> {
    const dir = tempDir();
    const db = await SyncDatabase.open(path || join(dir.path, "app.db"), {
      extensionPath: await testExtensionPath(),
    });
    try {
      await fn(db, dir.path);
    } finally {
      db.close();
      dir.cleanup();
    }
  }

  it("openSibling() of ':memory:' raises 'state': a sibling would be another, empty database", () =>
    withParent(":memory:", async (db) => {
      await assert.rejects(
        db.openSibling(),
        isKind("state", /':memory:' is a private in-memory database/, /Open a database file/),
      );
    }));

  it("openSibling() with another driver raises 'driver' naming both drivers and the fix", () =>
    withParent("", async (db) => {
      const parent = RUNTIME === "bun" ? "bun:sqlite" : "node:sqlite";
      const other = RUNTIME === "bun" ? "node:sqlite" : "bun:sqlite";
      await assert.rejects(
        db.openSibling({ driver: other }),
        isKind(
          "driver",
          new RegExp(`cannot use driver: "${other}": the parent connection runs on ${parent}`),
          /Omit 'driver'/,
        ),
      );
    }));

  it("openSibling() naming the parent's own driver opens a sibling on it that sees its rows", () =>
    withParent("", async (db) => {
      db.exec(NOTES);
      db.init("notes");
      db.run("INSERT INTO notes (id, body) VALUES (?, ?)", db.uuid(), "parent");
      const sibling = await db.openSibling({ driver: db.driver.name });
      try {
        assert.equal(sibling.driver.name, db.driver.name);
        assert.equal(sibling.get("SELECT count(*) AS n FROM notes")?.n, 1);
      } finally {
        sibling.close();
      }
    }));
});

// node:sqlite in Deno honours URI filenames: these paths are really in memory there.
if (RUNTIME === "deno") {
  describe("openSibling() of in-memory URIs (node:sqlite)", () => {
    for (const uri of ["file::memory:", "file:sibling-private?mode=memory"]) {
      it(`openSibling() of '${uri}' raises 'state'`, async () => {
        const db = await SyncDatabase.open(uri, { extensionPath: await testExtensionPath() });
        try {
          await assert.rejects(db.openSibling(), isKind("state", /private in-memory database/));
        } finally {
          db.close();
        }
      });
    }

    it("openSibling() of a shared-cache in-memory URI opens a sibling of the same database", async () => {
      const uri = "file:sibling-shared?mode=memory&cache=shared";
      const db = await SyncDatabase.open(uri, { extensionPath: await testExtensionPath() });
      try {
        db.exec(NOTES);
        db.init("notes");
        const sibling = await db.openSibling();
        try {
          sibling.init("notes");
          sibling.run("INSERT INTO notes (id, body) VALUES (?, ?)", sibling.uuid(), "shared");
          assert.equal(db.get("SELECT count(*) AS n FROM notes")?.n, 1);
        } finally {
          sibling.close();
        }
      } finally {
        db.close();
      }
    });
  });
}

// Bun 1.4.5 has node:sqlite too. It shares Bun's SQLite on Linux, but the rule is one driver
// per process (on macOS bun:sqlite may run on a custom libsqlite3), so it is refused.
if (RUNTIME === "bun") {
  describe("bun:sqlite then Bun's node:sqlite", () => {
    it("SyncDatabase.open() with driver 'node:sqlite' after bun:sqlite raises 'driver' naming both", async () => {
      const extensionPath = await testExtensionPath();
      const dir = tempDir();
      const first = await SyncDatabase.open(join(dir.path, "bun.db"), { extensionPath });
      try {
        assert.equal(first.driver.name, "bun:sqlite");
        await assert.rejects(
          SyncDatabase.open(join(dir.path, "node.db"), { extensionPath, driver: "node:sqlite" }),
          isKind(
            "driver",
            /into node:sqlite: this process already loaded it into bun:sqlite/,
            /pass driver: "bun:sqlite"/,
          ),
        );
        first.exec(NOTES); // the first connection is untouched
      } finally {
        first.close();
        dir.cleanup();
      }
    });
  });
}

async function child(scenario: string): Promise<unknown> {
  const result = await run(runtimeArgv(CHILD, [scenario]), {
    env: { SQLITE_SYNC_TEST_EXTENSION: await testExtensionPath() },
    timeoutMs: 120_000,
  });
  const output = `${result.stdout}\n${result.stderr}`;
  assert.equal(result.signal, null, output);
  assert.equal(result.code, 0, output);
  // The report names "API misuse" in the refusal: only stderr must not show one.
  assert.doesNotMatch(result.stderr, /misuse|panic|segmentation/i);
  const lines = result.stdout.trim().split("\n");
  assert.equal(lines.length, 1, output);
  return JSON.parse(lines[0]);
}

// @db/sqlite is a Deno FFI driver: Bun neither runs nor skips these.
if (RUNTIME === "deno") {
  describeUnless(dbSqliteSkip, "node:sqlite and @db/sqlite in one Deno process (child)", () => {
    it("node:sqlite first: an @db/sqlite open raises 'driver' naming both; the first keeps working; exit 0", async () => {
      const report = await child("node-first") as MixingReport;
      assert.equal(report.refusal?.kind, "driver", JSON.stringify(report));
      assert.match(
        report.refusal!.message,
        /into @db\/sqlite: this process already loaded it into node:sqlite/,
      );
      assert.match(report.refusal!.message, /pass driver: "node:sqlite"/);
      assert.equal(report.firstRows, 2);
      assert.equal(report.userDatabaseOpen, true); // the caller's Database is left to the caller
    });

    it("@db/sqlite first: a node:sqlite open raises 'driver' naming both and the fix; exit 0", async () => {
      const report = await child("db-first") as MixingReport;
      assert.equal(report.refusal?.kind, "driver", JSON.stringify(report));
      assert.match(
        report.refusal!.message,
        /into node:sqlite: this process already loaded it into @db\/sqlite/,
      );
      assert.match(report.refusal!.message, /pass it as the 'database' option/);
      assert.equal(report.firstRows, 2);
    });

    it("openSibling() of an @db/sqlite database opens with its Database class: writes cross both ways; exit 0", async () => {
      const report = await child("sibling") as SiblingReport;
      assert.deepEqual(report, {
        parentDriver: "@db/sqlite",
        siblingDriver: "@db/sqlite",
        sameDatabaseClass: true,
        parentSeesSibling: 1,
        siblingSeesParent: 2,
        parentEncodesSibling: true,
        readOnlyDriver: "@db/sqlite",
        readOnlyRows: 2,
        readOnlyWriteKind: "sql",
      });
    });
  });
}
