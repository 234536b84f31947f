/**
 * Shared helpers of the conformance suite. Every test file imports the public API from 'stratadb' (the built
 * package) and runs once per backend; `BACKEND` says which one this run uses.
 */
import { expect } from 'vitest'
import { StrataError } from 'stratadb'

export const BACKEND = process.env.STRATADB_BACKEND as 'native' | 'wasm'

/**
 * Expects `fn` to throw a `StrataError` (which is an `Error`) with exactly `code`, whose message contains each
 * of `parts` (strings, or regular expressions it must match). Returns the error for further checks.
 */
export function expectCode(fn: () => unknown, code: string, ...parts: (string | RegExp)[]): StrataError {
  let thrown = false
  let err: unknown
  try {
    fn()
  } catch (e) {
    thrown = true
    err = e
  }
  expect(thrown, `expected a StrataError ${code}, but nothing was thrown`).toBe(true)
  expect(err).toBeInstanceOf(Error)
  expect(err, `expected a StrataError ${code}, got ${String(err)}`).toBeInstanceOf(StrataError)
  const e = err as StrataError
  expect(e.code, `wrong code; message: ${e.message}`).toBe(code)
  expect(typeof e.message).toBe('string')
  expect(e.message.length).toBeGreaterThan(0)
  for (const p of parts) {
    if (typeof p === 'string') expect(e.message).toContain(p)
    else expect(e.message).toMatch(p)
  }
  return e
}

let counter = 0
const run = Math.random().toString(36).slice(2, 8)

/** A name no other test uses (valid as a branch, space or cache name). */
export function uniq(prefix = 'b'): string {
  counter += 1
  return `${prefix}-${run}-${counter}`
}

/** Yields to the event loop, so async agents interleave between a read and the write that depends on it. */
export const tick = (): Promise<void> => new Promise((r) => setImmediate(r))

/** Compares strings by the bytes of their UTF-8 encoding (the order `list` returns keys in). */
export function utf8Compare(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'))
}

/** Current time in microseconds since the epoch. */
export const nowMicros = (): number => Date.now() * 1000

/** Sorts diff entries by space then key so sections compare independently of the engine's order. */
export function byKey<T extends { key: string; space?: string }>(xs: T[]): T[] {
  return [...xs].sort((x, y) => utf8Compare(`${x.space ?? ''}\u0001${x.key}`, `${y.space ?? ''}\u0001${y.key}`))
}
