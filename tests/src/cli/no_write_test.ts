/**
 * Refusals write nothing and read-only commands never write, end to end in
 * child processes: before and after each run, the sha256 of the database
 * file and of its -wal, -shm and -journal siblings, and its folder's listing,
 * are the same. Covered: a rollback-journal database (`sync` refused for no
 * synced table, `init` refused for a table, `status` reading it), a 0-byte
 * file, a WAL database no connection has open, a read-only file in a
 * read-only folder, and files that are not SQLite databases (random bytes, a
 * text file, a damaged database), which are bad input: exit 2, one line
 * naming the file, nothing on stdout (the extension, which prints its own
 * error on stdout when its first query fails, is never loaded on them).
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { API_KEY } from "../../_canary.ts";
import { itUnless, readOnlyMaker, tempDir } from "../../_helpers.ts";
import {
  assertJsonFailure,
  assertOneLineError,
  cli,
  fileState,
  journalModeOf,
  jsonOf,
  makeDatabase,
  makeRollbackDatabase,
  shown,
} from "./_cli.ts";

/** A credential, so `sync` gets past the credential check to the database checks. */
const KEY = { env: { SQLITE_SYNC_API_KEY: API_KEY } };

describe("sqlite-sync refusals write nothing, read-only commands never write", () => {
  let dir: { path: string; cleanup: () => void };
  let n = 0;
  /** A fresh folder per case: its listing is part of what must not change. */
  const folder = () => {
    const path = join(dir.path, `case-${++n}`);
    mkdirSync(path);
    return path;
  };
  before(() => {
    dir = tempDir();
  });
  after(() => dir.cleanup());

  it("sync of a rollback-journal database without synced tables exits 2 and leaves it, journal mode included, as it was", async () => {
    const db = await makeRollbackDatabase(join(folder(), "plain.db"));
    const before = fileState(db);
    const r = await cli(["sync", db, "--database-id", "db_1"], KEY);
    assertOneLineError(
      r,
      2,
      /no table of '.*plain\.db' is synced: enable sync first with sqlite-sync init /,
    );
    const json = await cli(["sync", db, "--database-id", "db_1", "--json"], KEY);
    assertJsonFailure(json, 2, "usage", /no table of '.*plain\.db' is synced/);
    assert.deepEqual(fileState(db), before);
    assert.equal(journalModeOf(db), "delete");
  });

  it("init of a refused table on a rollback-journal database exits 2 and leaves it as it was", async () => {
    const db = await makeRollbackDatabase(join(folder(), "plain.db"));
    const before = fileState(db);
    const r = await cli(["init", db, "--table", "nope"]);
    assertOneLineError(r, 2, /Cannot sync table "nope": no such table .*\(nothing was enabled\)$/);
    assert.deepEqual(fileState(db), before);
    assert.equal(journalModeOf(db), "delete");
  });

  it("status of a rollback-journal database reports it and leaves it in rollback-journal mode, byte for byte", async () => {
    const db = await makeRollbackDatabase(join(folder(), "synced.db"), { init: true });
    const before = fileState(db);
    const out = jsonOf(await cli(["status", db, "--json"]));
    assert.deepEqual(out.syncedTables, ["notes"]);
    assert.equal(out.unsentChanges, 1);
    const text = await cli(["status", db]);
    assert.equal(text.code, 0, shown(text));
    assert.deepEqual(fileState(db), before);
    assert.equal(journalModeOf(db), "delete");
  });

  it("status of a 0-byte file reports an empty database and leaves it 0 bytes", async () => {
    const db = join(folder(), "empty.db");
    writeFileSync(db, "");
    const before = fileState(db);
    const out = jsonOf(await cli(["status", db, "--json"]));
    assert.deepEqual(out.syncedTables, []);
    assert.equal(out.unsentChanges, 0);
    assert.deepEqual(fileState(db), before);
    assert.equal(readFileSync(db).length, 0);
  });

  it("status of a WAL database that no connection has open leaves no -wal or -shm file behind", async () => {
    const db = await makeDatabase(join(folder(), "wal.db"), { init: true, rows: 2 });
    const before = fileState(db);
    assert.equal(before.hashes["wal.db-shm"], null);
    const out = jsonOf(await cli(["status", db, "--json"]));
    assert.deepEqual(out.syncedTables, ["notes"]);
    assert.equal(out.unsentChanges, 2);
    assert.deepEqual(fileState(db), before);
  });

  itUnless(
    readOnlyMaker === undefined &&
      "cannot make a file read-only here (root without chattr, or Windows)",
    "a read-only database file in a read-only folder: status and doctor read it, sync and init exit 2 naming it; nothing changes",
    async () => {
      const where = folder();
      const db = await makeDatabase(join(where, "locked.db"), { init: true, rows: 1 });
      const before = fileState(db);
      readOnlyMaker!.set(db);
      readOnlyMaker!.set(where);
      try {
        const status = jsonOf(await cli(["status", db, "--json"]));
        assert.deepEqual(status.syncedTables, ["notes"]);
        assert.equal(status.unsentChanges, 1);
        const doctor = jsonOf(await cli(["doctor", "--database", db, "--json"]));
        assert.deepEqual(doctor.database, { path: db, journalMode: "wal" });
        const sync = await cli(["sync", db, "--database-id", "db_1"], KEY);
        assertOneLineError(
          sync,
          2,
          /database file '.*locked\.db' cannot be written .*'sqlite-sync sync' writes to it/,
        );
        const init = await cli(["init", db, "--table", "notes"]);
        assertOneLineError(
          init,
          2,
          /database file '.*locked\.db' cannot be written .*'sqlite-sync init' writes to it/,
        );
      } finally {
        readOnlyMaker!.unset(where);
        readOnlyMaker!.unset(db);
      }
      assert.deepEqual(fileState(db), before);
    },
  );

  itUnless(
    readOnlyMaker === undefined &&
      "cannot make a folder read-only here (root without chattr, or Windows)",
    "sync and init of a writable database (rollback journal, or WAL) in a read-only folder exit 2 naming the folder; nothing changes",
    async () => {
      for (const make of [makeRollbackDatabase, makeDatabase]) {
        const where = folder();
        const db = await make(join(where, "synced.db"), { init: true });
        const before = fileState(db);
        readOnlyMaker!.set(where);
        try {
          const sync = await cli(["sync", db, "--database-id", "db_1"], KEY);
          assertOneLineError(sync, 2, /cannot be written.*-wal' and '.*-shm' next to it/);
          const init = await cli(["init", db, "--table", "notes", "--json"]);
          assertJsonFailure(init, 2, "usage", /cannot be written.*-wal' and '.*-shm' next to it/);
        } finally {
          readOnlyMaker!.unset(where);
        }
        assert.deepEqual(fileState(db), before, make.name);
      }
    },
  );

  const notDatabases: [string, (path: string) => void, RegExp][] = [
    [
      "random bytes",
      (path) => writeFileSync(path, randomBytes(8192)),
      /'.*\.db' is not a SQLite database \(it does not start with the SQLite header\): check the path/,
    ],
    [
      "a text file",
      (path) => writeFileSync(path, "id,body\n1,hello\n".repeat(50)),
      /'.*\.db' is not a SQLite database \(it does not start with the SQLite header\): check the path/,
    ],
    [
      "a damaged database (a SQLite header, then random bytes)",
      (path) => {
        const header = Buffer.from("SQLite format 3\0", "latin1");
        const page = Buffer.concat([header, randomBytes(4096 - header.length)]);
        page.writeUInt16BE(4096, 16); // a valid page size, so SQLite reads on and finds the damage
        page[18] = 1;
        page[19] = 1;
        writeFileSync(path, Buffer.concat([page, randomBytes(4096)]));
      },
      /'.*\.db' is (not a SQLite database|a damaged SQLite database) \(SQLite: /,
    ],
  ];
  for (const [what, write, pattern] of notDatabases) {
    it(`${what} is bad input to status, sync, init and doctor: exit 2, one line naming it, nothing on stdout, nothing written`, async () => {
      const path = join(folder(), "data.db");
      write(path);
      const before = fileState(path);
      const runs: [string[], typeof KEY | undefined][] = [
        [["status", path], undefined],
        [["sync", path, "--database-id", "db_1"], KEY],
        [["init", path, "--table", "notes"], undefined],
        [["doctor", "--database", path], undefined],
      ];
      for (const [args, options] of runs) {
        const r = await cli(args, options);
        assertOneLineError(r, 2, pattern);
        const json = await cli([...args, "--json"], options);
        assertJsonFailure(json, 2, "usage", pattern);
      }
      assert.deepEqual(fileState(path), before);
    });
  }
});
