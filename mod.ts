// placeholder, replaced below
export { SqliteSyncError } from "./src/errors.ts";
