/**
 * The settings allowlist: only the six documented runtime keys, each within
 * its range; internal checkpoints are never writable.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { SETTING_RANGES, type SettingKey, settingValue } from "../../src/settings.ts";

const KEYS: SettingKey[] = [
  "network_connect_timeout",
  "network_request_timeout",
  "network_artifact_timeout",
  "network_artifact_low_speed_limit",
  "network_artifact_low_speed_time",
  "payload_max_chunk_size",
];

describe("settingValue()", () => {
  it("settingValue() allows exactly the six documented keys", () => {
    assert.deepEqual(Object.keys(SETTING_RANGES).sort(), [...KEYS].sort());
  });

  it("settingValue() accepts each key's bounds and returns SQL text", () => {
    for (const key of KEYS) {
      const [min, max] = SETTING_RANGES[key];
      assert.equal(settingValue(key, min), String(min), key);
      assert.equal(settingValue(key, max), String(max), key);
    }
    assert.equal(settingValue("payload_max_chunk_size", 262_144), "262144");
    assert.equal(settingValue("payload_max_chunk_size", 33_554_432), "33554432");
    assert.equal(settingValue("network_request_timeout", 2), "2");
  });

  it("settingValue() refuses values just outside each key's range, naming the range and unit", () => {
    for (const key of KEYS) {
      const [min, max, unit] = SETTING_RANGES[key];
      for (const value of [min - 1, max + 1]) {
        assert.throws(() => settingValue(key, value), (err) => {
          assert.ok(err instanceof RangeError);
          assert.ok(
            err.message.includes(
              `${key}: expected an integer from ${min} to ${max} ${unit}, got ${value}`,
            ),
            err.message,
          );
          return true;
        });
      }
    }
  });

  it("settingValue() refuses non-integers, strings, NaN, infinities and bigints", () => {
    for (const value of [1.5, NaN, Infinity, -Infinity, "10", 10n, null, undefined, true, {}]) {
      assert.throws(
        () => settingValue("network_connect_timeout", value),
        RangeError,
        String(value),
      );
    }
    assert.throws(() => settingValue("network_connect_timeout", 1e12), /got 1000000000000/);
    assert.throws(() => settingValue("network_connect_timeout", "10"), /got "10"/);
  });

  it("settingValue() refuses internal checkpoints and unknown keys with a TypeError listing the allowed keys", () => {
    for (
      const key of [
        "send_dbversion",
        "send_seq",
        "check_dbversion",
        "check_seq",
        "version",
        "schemaversion",
        "pre_alter_dbversion",
        "NETWORK_CONNECT_TIMEOUT",
        "network_connect_timeout ",
        "constructor",
        "__proto__",
        "",
        42,
        null,
      ]
    ) {
      assert.throws(() => settingValue(key, 1), (err) => {
        assert.ok(err instanceof TypeError, String(key));
        assert.match(
          err.message,
          /only network_connect_timeout, .*payload_max_chunk_size may be set/,
        );
        return true;
      });
    }
    assert.throws(() => settingValue("send_dbversion", 0), /"send_dbversion".*never writable/);
  });
});
