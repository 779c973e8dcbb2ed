/**
 * The SQL and argument checks behind {@linkcode SyncDatabase.siteIdBytes},
 * {@linkcode SyncDatabase.uuidText}, {@linkcode SyncDatabase.uuidBlob} and
 * {@linkcode SyncDatabase.set}.
 *
 * @module
 */
import { SqliteSyncError } from "../common/errors.ts";
import type { DatabaseCore } from "./_core.ts";
import { describeValue } from "./schema.ts";
import { type SettingKey, settingValue } from "./settings.ts";
import { assertUuidText } from "./site_id.ts";

/** See {@linkcode SyncDatabase.siteIdBytes}. */
export function siteIdBytes(core: DatabaseCore): Uint8Array {
  const v = core.call("SELECT cloudsync_siteid() AS v", [], "siteId()");
  // Before any init the extension answers 16 zero bytes, not NULL.
  if (!(v instanceof Uint8Array) || v.length !== 16 || v.every((b) => b === 0)) {
    throw new SqliteSyncError("state", "siteId(): no site id yet; call init() on a table first.");
  }
  return v;
}

/** See {@linkcode SyncDatabase.uuidText}. */
export function uuidText(core: DatabaseCore, bytes: Uint8Array, dashes: boolean): string {
  if (!(bytes instanceof Uint8Array) || bytes.length !== 16) {
    throw new TypeError(`uuidText(): expected 16 bytes, got ${describeValue(bytes)}`);
  }
  const sql = "SELECT cloudsync_uuid_text(?, ?) AS v";
  return String(core.call(sql, [bytes, dashes ? 1 : 0], "uuidText()"));
}

/** See {@linkcode SyncDatabase.uuidBlob}. */
export function uuidBlob(core: DatabaseCore, text: string): Uint8Array {
  assertUuidText(text, "uuidBlob()");
  return core.call("SELECT cloudsync_uuid_blob(?) AS v", [text], "uuidBlob()") as Uint8Array;
}

/** See {@linkcode SyncDatabase.set}. */
export function setSetting(core: DatabaseCore, key: SettingKey, value: number): void {
  const text = settingValue(key, value);
  core.call("SELECT cloudsync_set(?, ?) AS v", [key, text], "set()");
}
