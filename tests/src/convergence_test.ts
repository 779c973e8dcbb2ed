/**
 * CRDT convergence between local replicas, driven by a seeded PRNG: random
 * inserts, updates and deletes spread over three file databases, with change
 * payloads (encodeChanges/applyChanges: local verification only, not a
 * transport) delivered late, out of order and more than once. Also the `gos`
 * algorithm and block-level LWW merges.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { tempDir, testExtensionPath } from "../_helpers.ts";
import { SyncDatabase } from "../../src/database.ts";
import { SqliteSyncError } from "../../common/errors.ts";
import { seededRandom } from "./scheduler/_seeded_random.ts";

const ITEMS_SCHEMA = "CREATE TABLE items (id TEXT PRIMARY KEY NOT NULL, name TEXT, qty INTEGER)";

async function openReplica(dir: string, name: string, schema: string): Promise<SyncDatabase> {
  const db = await SyncDatabase.open(join(dir, `${name}.db`), {
    extensionPath: await testExtensionPath(),
  });
  db.exec(schema);
  return db;
}

function contents(db: SyncDatabase): string {
  return JSON.stringify(db.all("SELECT id, name, qty FROM items ORDER BY id"));
}

/** One payload in flight: who made it, from which version. */
interface Parcel {
  from: number;
  payload: Uint8Array;
}

interface RunStats {
  final: string;
  rows: number;
  ops: { insert: number; reinsert: number; update: number; delete: number };
  payloads: number;
  deliveries: number;
  duplicates: number;
  quiescentAfter: number;
  divergedBeforeFinal: boolean;
}

/**
 * Runs one seeded scenario and returns the converged contents.
 *
 * @param seed The PRNG seed.
 * @param opCount Random write operations (at least 200).
 */
async function runScenario(seed: number, opCount: number): Promise<RunStats> {
  const rand = seededRandom(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];
  const dir = tempDir("sqlite-sync-convergence-");
  const replicas: SyncDatabase[] = [];
  try {
    for (const name of ["a", "b", "c"]) {
      const db = await openReplica(dir.path, name, ITEMS_SCHEMA);
      db.init("items");
      replicas.push(db);
    }
    const knownIds: string[] = [];
    const mailbox: Parcel[] = [];
    const delivered = new Set<Parcel>();
    // Per (source, target) pair: the source's db_version when it last sent an increment.
    const highWater = replicas.map(() => replicas.map(() => 0));
    const stats: RunStats = {
      final: "",
      rows: 0,
      ops: { insert: 0, reinsert: 0, update: 0, delete: 0 },
      payloads: 0,
      deliveries: 0,
      duplicates: 0,
      quiescentAfter: 0,
      divergedBeforeFinal: false,
    };

    const localIds = (db: SyncDatabase): string[] =>
      db.all("SELECT id FROM items ORDER BY id").map((r) => String(r.id));

    const writeOne = (r: number, op: number): void => {
      const db = replicas[r];
      const ids = localIds(db);
      const roll = rand();
      if (ids.length === 0 || roll < 0.35) {
        const id = `s${seed}-r${r}-${op}`;
        knownIds.push(id);
        db.run("INSERT INTO items (id, name, qty) VALUES (?, ?, ?)", id, `n${op}`, op);
        stats.ops.insert++;
      } else if (roll < 0.45) {
        // Re-insert a row this replica does not have (deleted here, or not yet received).
        const absent = knownIds.filter((id) => !ids.includes(id));
        if (absent.length === 0) return writeOne(r, op);
        db.run(
          "INSERT INTO items (id, name, qty) VALUES (?, ?, ?)",
          pick(absent),
          `re${op}`,
          -op,
        );
        stats.ops.reinsert++;
      } else if (roll < 0.8) {
        const id = pick(ids);
        if (rand() < 0.5) {
          db.run("UPDATE items SET name = ? WHERE id = ?", `u${op}`, id);
        } else {
          db.run("UPDATE items SET name = ?, qty = ? WHERE id = ?", `w${op}`, op * 7, id);
        }
        stats.ops.update++;
      } else {
        db.run("DELETE FROM items WHERE id = ?", pick(ids));
        stats.ops.delete++;
      }
    };

    const post = (): void => {
      const src = Math.floor(rand() * replicas.length);
      const dst = (src + 1 + Math.floor(rand() * (replicas.length - 1))) % replicas.length;
      const mode = rand();
      let since = 0;
      if (mode < 0.6) since = highWater[src][dst]; // an increment for one peer
      else if (mode < 0.8) since = Math.floor(rand() * (replicas[src].dbVersion() + 1)); // a random window
      const payload = replicas[src].encodeChanges({ sinceDbVersion: since });
      if (mode < 0.6) highWater[src][dst] = replicas[src].dbVersion();
      if (payload !== null) {
        mailbox.push({ from: src, payload });
        stats.payloads++;
      }
    };

    const deliver = (): void => {
      if (mailbox.length === 0) return;
      // Any parcel, old or new: out of order, and possibly again.
      const parcel = rand() < 0.5 ? mailbox[mailbox.length - 1] : pick(mailbox);
      const target = rand() < 0.1 ? parcel.from : Math.floor(rand() * replicas.length);
      replicas[target].applyChanges(parcel.payload);
      stats.deliveries++;
      if (delivered.has(parcel)) stats.duplicates++;
      delivered.add(parcel);
    };

    for (let op = 0; op < opCount; op++) {
      const r = Math.floor(rand() * replicas.length);
      if (rand() < 0.15) {
        // A few writes in one transaction.
        const n = 2 + Math.floor(rand() * 3);
        replicas[r].transaction(() => {
          for (let i = 0; i < n && op < opCount; i++) writeOne(r, op++);
        });
        op--;
      } else {
        writeOne(r, op);
      }
      if (rand() < 0.2) post();
      const d = rand();
      if (d < 0.25) deliver();
      if (d < 0.05) deliver();
    }

    // Deliver some parcels one last time, in reverse order (old after new).
    for (const parcel of [...mailbox].reverse().slice(0, 10)) {
      replicas[(parcel.from + 1) % replicas.length].applyChanges(parcel.payload);
      stats.deliveries++;
      stats.duplicates++;
    }

    const before = replicas.map(contents);
    stats.divergedBeforeFinal = before[1] !== before[0] || before[2] !== before[0];

    // All-to-all until nothing changes any more.
    const state = () => replicas.map((db) => `${db.dbVersion()}|${contents(db)}`).join("\n");
    for (let round = 1; round <= 10; round++) {
      const before = state();
      for (let s = 0; s < replicas.length; s++) {
        const payload = replicas[s].encodeChanges();
        if (payload === null) continue;
        for (let t = 0; t < replicas.length; t++) if (t !== s) replicas[t].applyChanges(payload);
      }
      if (state() === before) {
        stats.quiescentAfter = round;
        break;
      }
    }
    assert.ok(stats.quiescentAfter > 0, `seed ${seed}: replicas never became quiescent`);

    const finals = replicas.map(contents);
    assert.equal(finals[1], finals[0], `seed ${seed}: replica b differs from a`);
    assert.equal(finals[2], finals[0], `seed ${seed}: replica c differs from a`);

    // A brand-new replica catches up from one full payload.
    const late = await openReplica(dir.path, "late", ITEMS_SCHEMA);
    try {
      late.init("items");
      const all = replicas[pick([0, 1, 2])].encodeChanges();
      if (all !== null) late.applyChanges(all);
      assert.equal(contents(late), finals[0], `seed ${seed}: a late replica did not catch up`);
    } finally {
      late.close();
    }

    stats.final = finals[0];
    stats.rows = JSON.parse(finals[0]).length;
    return stats;
  } finally {
    for (const db of replicas) db.close();
    dir.cleanup();
  }
}

const SEEDS = [1, 0xc0ffee, 20260503, 42, 7777];
const OPS = 400;

describe("CRDT convergence (cls) between three local replicas", () => {
  for (const seed of SEEDS) {
    it(`applyChanges() converges three replicas after ${OPS} random writes with late, reordered and duplicated payloads (seed ${seed})`, async () => {
      const stats = await runScenario(seed, OPS);
      const { insert, reinsert, update, delete: del } = stats.ops;
      assert.equal(insert + reinsert + update + del, OPS);
      assert.ok(update > 0 && del > 0 && reinsert > 0, JSON.stringify(stats.ops));
      assert.ok(stats.duplicates > 0, "the scenario re-applied no payload");
      assert.ok(stats.rows > 0, "the scenario deleted everything: it tests too little");
      assert.ok(stats.divergedBeforeFinal, "the replicas already agreed before the final exchange");
    });
  }

  it("applyChanges() convergence is deterministic: the same seed twice gives identical contents", async () => {
    const first = await runScenario(SEEDS[0], OPS);
    const second = await runScenario(SEEDS[0], OPS);
    assert.equal(second.final, first.final);
  });
});

describe("gos (grow-only set) tables", () => {
  it("gos tables replicate inserts and refuse UPDATE and DELETE", async () => {
    const dir = tempDir("sqlite-sync-gos-");
    const schema = "CREATE TABLE log (id TEXT PRIMARY KEY NOT NULL, msg TEXT)";
    const a = await openReplica(dir.path, "a", schema);
    const b = await openReplica(dir.path, "b", schema);
    try {
      a.init("log", { algorithm: "gos" });
      b.init("log", { algorithm: "gos" });
      a.run("INSERT INTO log VALUES (?, ?)", "1", "from a");
      b.run("INSERT INTO log VALUES (?, ?)", "2", "from b");
      b.applyChanges(a.encodeChanges()!);
      a.applyChanges(b.encodeChanges()!);
      const rows = (db: SyncDatabase) => JSON.stringify(db.all("SELECT * FROM log ORDER BY id"));
      assert.equal(
        rows(a),
        JSON.stringify([{ id: "1", msg: "from a" }, { id: "2", msg: "from b" }]),
      );
      assert.equal(rows(b), rows(a));
      for (
        const [sql, verb] of [["UPDATE log SET msg = 'x'", "UPDATE"], ["DELETE FROM log", "DELETE"]]
      ) {
        assert.throws(() => a.run(sql), (err) => {
          assert.ok(err instanceof SqliteSyncError, String(err));
          assert.equal(err.kind, "sql");
          assert.match(err.code ?? "", /^SQLITE_CONSTRAINT/);
          assert.match(err.message, new RegExp(`${verb} operation is not allowed on table log`));
          return true;
        });
      }
      assert.equal(rows(a), rows(b), "a refused write changed nothing");
    } finally {
      a.close();
      b.close();
      dir.cleanup();
    }
  });
});

describe("block-level LWW (setColumn algorithm block)", () => {
  async function notes(): Promise<{ a: SyncDatabase; b: SyncDatabase; done: () => void }> {
    const dir = tempDir("sqlite-sync-blocks-");
    const schema = "CREATE TABLE notes (id TEXT PRIMARY KEY NOT NULL, body TEXT)";
    const a = await openReplica(dir.path, "a", schema);
    const b = await openReplica(dir.path, "b", schema);
    for (const db of [a, b]) {
      db.init("notes");
      db.setColumn("notes", "body", { algorithm: "block" });
    }
    a.run("INSERT INTO notes (id, body) VALUES ('n', ?)", "one\ntwo\nthree");
    exchange(a, b);
    return {
      a,
      b,
      done: () => {
        a.close();
        b.close();
        dir.cleanup();
      },
    };
  }

  function exchange(a: SyncDatabase, b: SyncDatabase): void {
    const fromA = a.encodeChanges();
    const fromB = b.encodeChanges();
    if (fromA) b.applyChanges(fromA);
    if (fromB) a.applyChanges(fromB);
  }

  const body = (db: SyncDatabase) => db.get("SELECT body FROM notes WHERE id = 'n'")?.body;

  it("block columns keep concurrent edits of different lines on every replica", async () => {
    const { a, b, done } = await notes();
    try {
      assert.equal(body(b), "one\ntwo\nthree");
      a.run("UPDATE notes SET body = ? WHERE id = 'n'", "ONE (a)\ntwo\nthree");
      b.run("UPDATE notes SET body = ? WHERE id = 'n'", "one\ntwo\nTHREE (b)");
      exchange(a, b);
      assert.equal(body(a), "ONE (a)\ntwo\nTHREE (b)");
      assert.equal(body(b), body(a));
    } finally {
      done();
    }
  });

  it("block columns resolve concurrent edits of the same line to one winner on every replica", async () => {
    const { a, b, done } = await notes();
    try {
      a.run("UPDATE notes SET body = ? WHERE id = 'n'", "one\nTWO (a)\nthree");
      b.run("UPDATE notes SET body = ? WHERE id = 'n'", "one\nTWO (b)\nthree");
      exchange(a, b);
      assert.ok(
        ["one\nTWO (a)\nthree", "one\nTWO (b)\nthree"].includes(String(body(a))),
        String(body(a)),
      );
      assert.equal(body(b), body(a));
    } finally {
      done();
    }
  });

  it("block columns keep only one of two lines inserted concurrently at the same position (1.1.4: both get the same position key)", async () => {
    const { a, b, done } = await notes();
    try {
      a.run("UPDATE notes SET body = ? WHERE id = 'n'", "one\ninserted by a\ntwo\nthree");
      b.run("UPDATE notes SET body = ? WHERE id = 'n'", "one\ninserted by b\ntwo\nthree");
      exchange(a, b);
      const merged = String(body(a));
      assert.ok(
        ["one\ninserted by a\ntwo\nthree", "one\ninserted by b\ntwo\nthree"].includes(merged),
        `expected exactly one inserted line, got ${JSON.stringify(merged)}`,
      );
      assert.equal(body(b), merged);
    } finally {
      done();
    }
  });
});
