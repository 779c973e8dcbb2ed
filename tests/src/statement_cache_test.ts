/**
 * StatementCache: fixed SQL stays prepared, user SQL is a bounded LRU whose
 * evicted statements are finalized. A counting fake stands in for the driver.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { StatementCache, USER_STATEMENT_LIMIT } from "../../src/_statement_cache.ts";
import type { PreparedStatement } from "../../ffi/drivers/driver.ts";

function counting() {
  const prepared: string[] = [];
  const finalized: string[] = [];
  const prepare = (sql: string): PreparedStatement => {
    prepared.push(sql);
    return {
      run: () => ({ changes: 0, lastInsertRowid: 0 }),
      get: () => undefined,
      all: () => [],
      finalize: () => void finalized.push(sql),
    };
  };
  return { prepare, prepared, finalized };
}

describe("StatementCache", () => {
  it("StatementCache.user() keeps at most the limit and finalizes each evicted statement once", () => {
    const c = counting();
    const cache = new StatementCache(c.prepare);
    for (let i = 0; i < 1000; i++) cache.user(`SELECT ${i}`);
    assert.equal(USER_STATEMENT_LIMIT, 128);
    assert.deepEqual(cache.size, { fixed: 0, user: 128 });
    assert.equal(c.prepared.length, 1000);
    assert.equal(c.finalized.length, 1000 - 128);
    assert.equal(new Set(c.finalized).size, c.finalized.length);
    assert.equal(c.finalized[0], "SELECT 0");
  });

  it("StatementCache.user() evicts the least recently used, not the oldest prepared", () => {
    const c = counting();
    const cache = new StatementCache(c.prepare, 3);
    const hot = cache.user("hot");
    cache.user("a");
    cache.user("b");
    assert.equal(cache.user("hot"), hot); // a hit: now the most recent
    cache.user("c"); // evicts "a"
    assert.deepEqual(c.finalized, ["a"]);
    assert.equal(cache.user("hot"), hot);
    assert.equal(c.prepared.filter((s) => s === "hot").length, 1);
  });

  it("StatementCache.fixed() is unbounded and separate; clear() finalizes everything", () => {
    const c = counting();
    const cache = new StatementCache(c.prepare, 2);
    for (let i = 0; i < 10; i++) cache.fixed(`fixed ${i}`);
    cache.user("u1");
    cache.user("u2");
    assert.deepEqual(cache.size, { fixed: 10, user: 2 });
    assert.equal(c.finalized.length, 0);
    cache.clear();
    assert.equal(c.finalized.length, 12);
    assert.deepEqual(cache.size, { fixed: 0, user: 0 });
  });
});
