/**
 * What the hostile-input cases (hostile_test.ts, _hostile_*_cases.ts) share:
 * the shape of a case (a call on the database and the error it must throw),
 * an `any` cast for arguments the types forbid, and a 10 KB name.
 */
import type { SyncDatabase } from "../../src/database.ts";
import type { SqliteSyncErrorKind } from "../../common/errors.ts";

/** What a case must throw: an argument error class, or a SqliteSyncError kind. */
export type Expect = typeof TypeError | typeof RangeError | SqliteSyncErrorKind;

/** One hostile call and what it must throw. */
export interface Case {
  name: string;
  run: (db: SyncDatabase) => unknown;
  expect: Expect;
  /** The message must name the problem. */
  message: RegExp;
  /** A credential the message must never contain. */
  secret?: string;
}

/** Casts an argument the types forbid. */
// deno-lint-ignore no-explicit-any
export const any = (v: unknown): any => v;
/** A 10 KB name. */
export const LONG = "n".repeat(10_240);
