/**
 * The three assertions src/net's tests use, over node:assert (no JSR here):
 * assertThrows returns the error so tests can inspect its code and fields.
 *
 * @module
 */
import assert from "node:assert/strict";

export function assertEquals<T>(actual: T, expected: T, message?: string): void {
  assert.deepStrictEqual(actual, expected, message);
}

export function assertMatch(actual: string, re: RegExp): void {
  assert.match(actual, re);
}

// deno-lint-ignore no-explicit-any
export function assertThrows<E extends Error>(fn: () => unknown, cls: new (...a: any[]) => E): E {
  try {
    fn();
  } catch (e) {
    if (e instanceof cls) return e;
    throw new assert.AssertionError({ message: `expected ${cls.name}, got ${e}` });
  }
  throw new assert.AssertionError({ message: `expected ${cls.name} to be thrown` });
}
