// Under Node: opens a database through the library (which imports node:sqlite), then emits a
// warning of its own, so the parent can see which warnings reach stderr.
import process from "node:process";
import { SyncDatabase } from "../../mod.ts";

const db = await SyncDatabase.open(":memory:", { extensionPath: process.argv[2] });
db.close();
process.emitWarning("the program's own warning", "ExperimentalWarning");
console.log("opened");
