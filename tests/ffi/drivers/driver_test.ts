/**
 * The Driver contract (_contract.ts), run against every driver the current
 * runtime has: Deno → node:sqlite in process and @db/sqlite (fixture) in a
 * child Deno process, Bun → bun:sqlite. @db/sqlite runs apart because
 * sqlite-sync serves one SQLite library per process, and `deno test tests/`
 * loads it through node:sqlite in this same process.
 */
import { describeUnless, RUNTIME } from "../../_helpers.ts";
import { registerChildCases, runChildSuite } from "./_child_suite.ts";
import { CONTRACT_CASES, driverContract } from "./_contract.ts";
import { dbSqliteSkip, DRIVER_CANDIDATES } from "./_fixtures.ts";

for (const candidate of DRIVER_CANDIDATES) {
  if (candidate.name === "@db/sqlite") continue; // below, in a child process
  describeUnless(
    candidate.skip,
    `Driver contract (${candidate.name})`,
    () => driverContract(candidate),
  );
}

// @db/sqlite is a Deno FFI driver: Bun neither runs nor skips it.
if (RUNTIME === "deno") {
  const suite = dbSqliteSkip
    ? undefined
    : await runChildSuite("tests/ffi/drivers/_db_sqlite_contract.ts");
  describeUnless(
    dbSqliteSkip,
    "Driver contract (@db/sqlite, in a child Deno process)",
    () => registerChildCases(suite!, CONTRACT_CASES),
  );
}
