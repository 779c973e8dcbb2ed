// Run by node22_test.ts under Node ≥ 22.18 (native type stripping): opens a
// database through the library and prints cloudsync_version() as JSON.
// Args: <db path> <extension path | "cache:<empty dir>" to download into it>.
import process from "node:process";
import { closeConnection, openDatabase } from "../../ffi/open.ts";

const [path, where] = process.argv.slice(2);
const { driver, extension } = await openDatabase(
  path,
  where.startsWith("cache:") ? { cacheDir: where.slice(6) } : { extensionPath: where },
);
const row = driver.prepare(
  "select cloudsync_version() as version, sqlite_version() as sqlite",
).get();
const journal = driver.prepare("pragma journal_mode").get();
closeConnection(driver);
console.log(
  JSON.stringify({
    ...row,
    journal: journal?.journal_mode,
    driver: driver.name,
    source: extension.source,
    verified: extension.verified,
  }),
);
