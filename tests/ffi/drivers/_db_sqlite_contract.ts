/**
 * The Driver contract for @db/sqlite, run by driver_test.ts with `deno test`
 * in a child Deno process: sqlite-sync serves one SQLite library per process,
 * and `deno test tests/` loads it through node:sqlite in the same process.
 * Not a `_test.ts` file, so neither runner picks it up on its own.
 */
import { describe } from "node:test";
import { driverContract } from "./_contract.ts";
import { DRIVER_CANDIDATES } from "./_fixtures.ts";

const candidate = DRIVER_CANDIDATES.find((c) => c.name === "@db/sqlite");
if (candidate === undefined) throw new Error("@db/sqlite is not a driver of this runtime");

describe("Driver contract (@db/sqlite)", () => driverContract(candidate));
