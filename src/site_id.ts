/**
 * Site ids and UUIDs as text and bytes: the conversions the typed API needs
 * before binding them.
 *
 * @module
 */
import { describeValue } from "./schema.ts";

const HEX32 = /^[0-9a-fA-F]{32}$/;
const UUID = /^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$/;

/**
 * Lowercase hex of some bytes.
 *
 * @param bytes The bytes.
 * @returns Two hex digits per byte.
 */
export function toHex(bytes: Uint8Array): string {
  let out = "";
  for (const b of bytes) out += b.toString(16).padStart(2, "0");
  return out;
}

/**
 * A site id as the 16 bytes cloudsync stores.
 *
 * @param value 32 hex chars (any case) or 16 bytes.
 * @returns The 16 bytes.
 * @throws {TypeError} for anything else.
 */
export function toSiteIdBytes(value: unknown): Uint8Array {
  if (value instanceof Uint8Array && value.length === 16) return value;
  if (typeof value === "string" && HEX32.test(value)) {
    return Uint8Array.from(value.match(/../g)!.map((h) => parseInt(h, 16)));
  }
  throw new TypeError(`Expected a site id (32 hex chars or 16 bytes), got ${describeValue(value)}`);
}

/**
 * Checks that a string is a UUID, dashed or bare, in any case.
 *
 * @param value The candidate.
 * @param operation The calling method, for the message.
 * @returns The string.
 * @throws {TypeError} when it is not a UUID.
 */
export function assertUuidText(value: unknown, operation: string): string {
  if (typeof value !== "string" || !UUID.test(value)) {
    throw new TypeError(`${operation}: expected a UUID, got ${describeValue(value)}`);
  }
  return value;
}
