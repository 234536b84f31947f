/**
 * The values stratadb stores, and helpers to narrow an untyped {@link Value} to one kind.
 *
 * A `Value` is what survives a round trip through the engine unchanged: JSON-like data plus 64-bit integers
 * (`bigint`) and byte strings (`Uint8Array`). Integers within ±(2^53 − 1) come back as `number`, larger ones as
 * `bigint`; bytes always come back as a plain `Uint8Array`, even if a Node `Buffer` was stored.
 */
import { describeObject } from './codec.js'
import { StrataError } from './errors.js'

export type Value = null | boolean | number | bigint | string | Uint8Array | Value[] | { [key: string]: Value }

/** The kind of a {@link Value}, as reported by {@link Value.kind}. */
export type ValueKind = 'null' | 'bool' | 'int' | 'float' | 'string' | 'bytes' | 'array' | 'object'

/** Narrowing helpers for {@link Value}s: each `asX` returns the value when it is of kind X, else `undefined`. */
export const Value = {
  /**
   * Reads an integer.
   *
   * @param v - any value, typically one read from the database.
   * @returns `v` when it is an integral `number` within ±(2^53 − 1) or a `bigint`, else `undefined` (`1.5`, `'1'`
   *   and `null` are not integers; nor is `2 ** 53`, which is stored as a float, as the engine stores every number
   *   that JavaScript cannot hold exactly as an integer). Typed `number` unless asked otherwise, so that counters
   *   and ids read as numbers (`(Value.asInt(v) ?? 0) + 1`); an int stored beyond ±(2^53 − 1) reads back as a
   *   `bigint`, so where values can be that large ask for both: `Value.asInt<number | bigint>(v)`.
   * @example
   * ```ts
   * Value.asInt(42) // 42
   * Value.asInt(2n ** 60n) // 1152921504606846976n
   * Value.asInt(1.5) // undefined
   * ```
   */
  asInt<T extends number | bigint = number>(v: unknown): T | undefined {
    if (typeof v === 'number') return Number.isSafeInteger(v) ? (v as T) : undefined
    return typeof v === 'bigint' ? (v as T) : undefined
  },

  /**
   * Reads a number, accepting integers too.
   *
   * @param v - any value, typically one read from the database.
   * @returns `v` when it is a `number`; `Number(v)` when it is a `bigint` (which may round beyond 2^53); else
   *   `undefined`.
   * @example
   * ```ts
   * Value.asFloat(1.5) // 1.5
   * Value.asFloat(3) // 3
   * Value.asFloat(10n) // 10
   * Value.asFloat('1.5') // undefined
   * ```
   */
  asFloat(v: unknown): number | undefined {
    if (typeof v === 'number') return v
    return typeof v === 'bigint' ? Number(v) : undefined
  },

  /**
   * Reads a string.
   *
   * @param v - any value, typically one read from the database.
   * @returns `v` when it is a `string`, else `undefined`.
   * @example
   * ```ts
   * Value.asString('hi') // 'hi'
   * Value.asString(1) // undefined
   * ```
   */
  asString(v: unknown): string | undefined {
    return typeof v === 'string' ? v : undefined
  },

  /**
   * Reads a boolean.
   *
   * @param v - any value, typically one read from the database.
   * @returns `v` when it is a `boolean`, else `undefined` (no truthiness conversion: `0` and `''` give `undefined`).
   * @example
   * ```ts
   * Value.asBool(false) // false
   * Value.asBool(0) // undefined
   * ```
   */
  asBool(v: unknown): boolean | undefined {
    return typeof v === 'boolean' ? v : undefined
  },

  /**
   * Reads a byte string.
   *
   * @param v - any value, typically one read from the database.
   * @returns `v` when it is a `Uint8Array` (a Node `Buffer` counts), else `undefined`.
   * @example
   * ```ts
   * Value.asBytes(new Uint8Array([1, 2])) // Uint8Array [1, 2]
   * Value.asBytes([1, 2]) // undefined
   * ```
   */
  asBytes(v: unknown): Uint8Array | undefined {
    return v instanceof Uint8Array ? v : undefined
  },

  /**
   * Reads an array.
   *
   * @param v - any value, typically one read from the database.
   * @returns `v` when it is an array (`Array.isArray`), else `undefined`.
   * @example
   * ```ts
   * Value.asArray([1, 'a']) // [1, 'a']
   * Value.asArray({ 0: 1 }) // undefined
   * ```
   */
  asArray(v: unknown): Value[] | undefined {
    return Array.isArray(v) ? (v as Value[]) : undefined
  },

  /**
   * Reads an object (a map with string keys).
   *
   * @param v - any value, typically one read from the database.
   * @returns `v` when it is a plain object (its prototype `Object.prototype` or `null`, as every stored object
   *   is), else `undefined`: arrays, byte strings, `null` and class instances such as `Date` or `Map` are not objects
   *   in this sense.
   * @example
   * ```ts
   * Value.asObject({ a: 1 }) // { a: 1 }
   * Value.asObject([1]) // undefined
   * Value.asObject(new Date()) // undefined
   * ```
   */
  asObject(v: unknown): { [key: string]: Value } | undefined {
    return isPlainObject(v) ? (v as { [key: string]: Value }) : undefined
  },

  /**
   * Tells which kind of value `v` is.
   *
   * @param v - a value, typically one read from the database.
   * @returns `'null'`, `'bool'`, `'int'` (an integral `number` within ±(2^53 − 1), or a `bigint`), `'float'` (any
   *   other `number`: the kind it is stored as),
   *   `'string'`, `'bytes'` (a `Uint8Array`), `'array'` or `'object'` (a plain object).
   * @throws {StrataError} `INVALID_VALUE` when `v` is not a `Value` at all (`undefined`, a function, a `Date` …).
   * @example
   * ```ts
   * Value.kind(3) // 'int'
   * Value.kind(3.5) // 'float'
   * Value.kind(new Uint8Array(0)) // 'bytes'
   * Value.kind({}) // 'object'
   * ```
   */
  kind(v: unknown): ValueKind {
    switch (typeof v) {
      case 'boolean':
        return 'bool'
      case 'number':
        return Number.isSafeInteger(v) ? 'int' : 'float'
      case 'bigint':
        return 'int'
      case 'string':
        return 'string'
      default:
        if (v === null) return 'null'
        if (Array.isArray(v)) return 'array'
        if (v instanceof Uint8Array) return 'bytes'
        if (isPlainObject(v)) return 'object'
        throw new StrataError('INVALID_VALUE', `Value.kind: the argument is no Value: it ${describe(v)}`)
    }
  },
} as const

/** An object whose prototype is `Object.prototype` or `null`: what the codec stores as a map, and reads back. */
function isPlainObject(v: unknown): boolean {
  if (typeof v !== 'object' || v === null) return false
  const proto = Object.getPrototypeOf(v) as object | null
  return proto === Object.prototype || proto === null
}

/** What a non-Value is, and what to use instead: the codec's words for an object it cannot store. */
function describe(v: unknown): string {
  if (typeof v === 'object' && v !== null) return describeObject(v, Object.getPrototypeOf(v) as object | null)
  return typeof v === 'undefined' ? 'is undefined; use null for "no value"' : `is a ${typeof v}`
}
