/**
 * The runtime settings `cloudsync_set` may write. The extension persists any
 * key, including its own checkpoints; this allowlist makes those unwritable.
 *
 * @module
 */
import { describeValue } from "./schema.ts";

/** The six documented runtime keys, with the range each accepts. */
export const SETTING_RANGES: Readonly<Record<SettingKey, readonly [number, number, string]>> = {
  network_connect_timeout: [1, 3600, "seconds"],
  network_request_timeout: [1, 86_400, "seconds"],
  network_artifact_timeout: [1, 86_400, "seconds"],
  network_artifact_low_speed_limit: [1, 1_073_741_824, "bytes per second"],
  network_artifact_low_speed_time: [1, 86_400, "seconds"],
  payload_max_chunk_size: [262_144, 33_554_432, "bytes"],
};

/** A documented runtime setting key. Values persist in the database file. */
export type SettingKey =
  | "network_connect_timeout"
  | "network_request_timeout"
  | "network_artifact_timeout"
  | "network_artifact_low_speed_limit"
  | "network_artifact_low_speed_time"
  | "payload_max_chunk_size";

/**
 * Validates a setting before it reaches `cloudsync_set`.
 *
 * @param key The key.
 * @param value An integer within the key's range.
 * @returns The value as SQL text.
 * @throws {TypeError} for an unknown or internal key; {RangeError} for a value out of range.
 */
export function settingValue(key: unknown, value: unknown): string {
  if (typeof key !== "string" || !Object.hasOwn(SETTING_RANGES, key)) {
    throw new TypeError(
      `Cannot set ${describeValue(key)}: only ${
        Object.keys(SETTING_RANGES).join(", ")
      } may be set ` +
        `(internal checkpoints such as send_dbversion are never writable).`,
    );
  }
  const [min, max, unit] = SETTING_RANGES[key as SettingKey];
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(
      `Cannot set ${key}: expected an integer from ${min} to ${max} ${unit}, got ${
        describeValue(value)
      }`,
    );
  }
  return String(value);
}
