import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { assertUuidText, toHex, toSiteIdBytes } from "../../src/site_id.ts";

describe("site_id", () => {
  it("toHex() writes two lowercase digits per byte", () => {
    assert.equal(toHex(Uint8Array.from([0, 1, 0xab, 0xff])), "0001abff");
    assert.equal(toHex(new Uint8Array()), "");
  });

  it("toSiteIdBytes() accepts 32 hex chars in any case or 16 bytes, and round-trips with toHex()", () => {
    const hex = "01A211A3AED27DEFB34400B4C974EFC4";
    const bytes = toSiteIdBytes(hex);
    assert.equal(bytes.length, 16);
    assert.equal(toHex(bytes), hex.toLowerCase());
    assert.equal(toSiteIdBytes(bytes), bytes);
  });

  it("toSiteIdBytes() refuses other lengths, non-hex text and other types with a TypeError", () => {
    for (const bad of ["", "zz".repeat(16), "0".repeat(31), new Uint8Array(15), 42, null]) {
      assert.throws(() => toSiteIdBytes(bad), TypeError);
    }
  });

  it("assertUuidText() accepts dashed and bare UUIDs in any case and names the caller otherwise", () => {
    for (const ok of ["01a211a3-aed4-7983-a1c2-5ad674df3dce", "01A211A3AED47983A1C25AD674DF3DCE"]) {
      assert.equal(assertUuidText(ok, "f()"), ok);
    }
    for (const bad of ["not-a-uuid", "01a211a3-aed4-7983-a1c2-5ad674df3dc", 7, undefined]) {
      assert.throws(
        () => assertUuidText(bad, "uuidBlob()"),
        /^TypeError: uuidBlob\(\): expected a UUID/,
      );
    }
  });
});
