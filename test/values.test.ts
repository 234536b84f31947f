import { describe, expect, it } from 'vitest'
import { Strata, Value } from 'stratadb'
import { expectCode } from './helpers.js'

const MiB = 1024 * 1024

/** Stores `v` under a fresh key and reads it back. */
function roundTrip(v: unknown): Value | null {
  const db = Strata.cache()
  expect(db.kv.put('k', v as Value)).toBe(1)
  const out = db.kv.get('k')
  db.close()
  return out
}

function nest(depth: number, kind: 'array' | 'object'): Value {
  let v: Value = 'leaf'
  for (let i = 0; i < depth; i++) v = kind === 'array' ? [v] : { d: v }
  return v
}

describe('values: scalars round-trip', () => {
  it.each([
    ['null', null],
    ['true', true],
    ['false', false],
    ['empty string', ''],
    ['ascii string', 'hello'],
    ['unicode string', 'héllo wörld ✓ 😀 ｆ 中文'],
    ['string with NUL', 'a\u0000b'],
    ['long string', 'x'.repeat(100_000)],
  ])('%s', (_, v) => {
    expect(roundTrip(v)).toStrictEqual(v)
  })

  it.each([0, 1, -1, 42, 127, 128, 255, 256, -32, -33, 65535, 2 ** 31, -(2 ** 31) - 1, 2 ** 32, 2 ** 53 - 1, -(2 ** 53 - 1)])(
    'int %d reads back as the same number',
    (n) => {
      const v = roundTrip(n)
      expect(typeof v).toBe('number')
      expect(v).toBe(n)
      expect(Value.kind(v)).toBe('int')
    },
  )

  it.each([1.5, -0.25, 0.1, Math.PI, 1e300, -1e-300, Number.MIN_VALUE, Number.MAX_VALUE, 2 ** 53, -(2 ** 60)])(
    'float %d reads back as the same number',
    (n) => {
      const v = roundTrip(n)
      expect(typeof v).toBe('number')
      expect(v).toBe(n)
    },
  )

  it('a float keeps its kind, also one that is integral but beyond ±(2^53−1)', () => {
    expect(Value.kind(roundTrip(1.5))).toBe('float')
    expect(Value.kind(roundTrip(-1e-300))).toBe('float')
    for (const n of [2 ** 53, -(2 ** 53), 1e20, Number.MAX_VALUE]) {
      expect(Value.kind(roundTrip(n))).toBe('float')
      expect(Value.asInt(roundTrip(n))).toBeUndefined()
      expect(Value.asFloat(roundTrip(n))).toBe(n)
    }
  })

  it('-0 reads back as 0', () => {
    const v = roundTrip(-0)
    expect(Object.is(v, 0)).toBe(true)
    const o = roundTrip({ z: -0, a: [-0] }) as { z: number; a: number[] }
    expect(Object.is(o.z, 0)).toBe(true)
    expect(Object.is(o.a[0], 0)).toBe(true)
  })

  it('bigints within ±(2^53−1) read back as numbers', () => {
    for (const b of [0n, 5n, -5n, 2n ** 53n - 1n, -(2n ** 53n - 1n)]) {
      const v = roundTrip(b)
      expect(typeof v).toBe('number')
      expect(v).toBe(Number(b))
    }
  })

  it('ints beyond ±(2^53−1) read back as bigints', () => {
    for (const b of [2n ** 53n, -(2n ** 53n), 2n ** 62n + 7n, 2n ** 63n - 1n, -(2n ** 63n)]) {
      const v = roundTrip(b)
      expect(typeof v).toBe('bigint')
      expect(v).toBe(b)
      expect(Value.kind(v)).toBe('int')
    }
    expect(roundTrip({ big: 2n ** 63n - 1n, list: [-(2n ** 63n)] })).toEqual({ big: 2n ** 63n - 1n, list: [-(2n ** 63n)] })
  })

  it('bigints outside i64 are INVALID_VALUE and nothing is written', () => {
    const db = Strata.cache()
    expectCode(() => db.kv.put('k', 2n ** 63n), 'INVALID_VALUE', '$')
    expectCode(() => db.kv.put('k', -(2n ** 63n) - 1n), 'INVALID_VALUE')
    expectCode(() => db.kv.put('k', { a: [1, 2n ** 64n] }), 'INVALID_VALUE', '$.a[1]')
    expect(db.kv.get('k')).toBeNull()
    expect(db.kv.history('k')).toEqual([])
  })
})

describe('values: bytes', () => {
  it('Uint8Array round-trips as a plain Uint8Array', () => {
    const bytes = new Uint8Array([0, 1, 2, 254, 255])
    const v = roundTrip(bytes)
    expect(v).toBeInstanceOf(Uint8Array)
    expect(Object.getPrototypeOf(v)).toBe(Uint8Array.prototype)
    expect(Array.from(v as Uint8Array)).toEqual([0, 1, 2, 254, 255])
    expect(Value.kind(v)).toBe('bytes')
  })

  it('empty and large byte strings', () => {
    expect(Array.from(roundTrip(new Uint8Array(0)) as Uint8Array)).toEqual([])
    const big = new Uint8Array(100_000).map((_, i) => i % 251)
    const v = roundTrip(big) as Uint8Array
    expect(v.length).toBe(100_000)
    expect(Buffer.compare(Buffer.from(v), Buffer.from(big))).toBe(0)
  })

  it('a Buffer is stored and reads back as a plain Uint8Array', () => {
    const v = roundTrip(Buffer.from('hello'))
    expect(v).toBeInstanceOf(Uint8Array)
    expect(Buffer.isBuffer(v)).toBe(false)
    expect(Object.getPrototypeOf(v)).toBe(Uint8Array.prototype)
    expect(new TextDecoder().decode(v as Uint8Array)).toBe('hello')
  })

  it('a subarray stores only its own bytes', () => {
    const whole = new Uint8Array([9, 9, 1, 2, 3, 9])
    expect(Array.from(roundTrip(whole.subarray(2, 5)) as Uint8Array)).toEqual([1, 2, 3])
  })

  it('bytes read back are a copy: mutating them does not change the stored value', () => {
    const db = Strata.cache()
    db.kv.put('k', new Uint8Array([1, 2, 3]))
    const a = db.kv.get('k') as Uint8Array
    a[0] = 99
    expect(Array.from(db.kv.get('k') as Uint8Array)).toEqual([1, 2, 3])
  })
})

describe('values: containers', () => {
  it('arrays and objects round-trip, nested', () => {
    const v = {
      name: 'Ada',
      tags: ['a', 'b'],
      n: 1,
      f: 2.5,
      ok: true,
      none: null,
      nested: { deep: [[], {}, [1, [2, [3]]], { x: { y: 'z' } }] },
      bytes: new Uint8Array([7]),
      big: 2n ** 60n,
    }
    expect(roundTrip(v)).toEqual(v)
  })

  it('empty containers', () => {
    expect(roundTrip([])).toEqual([])
    expect(roundTrip({})).toEqual({})
    expect(Value.kind(roundTrip([]))).toBe('array')
    expect(Value.kind(roundTrip({}))).toBe('object')
  })

  it('objects read back as plain objects with their keys in order', () => {
    const v = roundTrip({ b: 1, a: 2, '': 3, é: 4 }) as Record<string, number>
    expect(Object.getPrototypeOf(v)).toBe(Object.prototype)
    expect(Object.keys(v)).toEqual(['b', 'a', '', 'é'])
    expect(v['']).toBe(3)
  })

  it('objects with many keys and arrays with many items', () => {
    const o: Record<string, number> = {}
    for (let i = 0; i < 70_000; i++) o[`k${i}`] = i
    const a = Array.from({ length: 70_000 }, (_, i) => i)
    expect(roundTrip(o)).toEqual(o)
    expect(roundTrip(a)).toEqual(a)
  })

  it('holes in sparse arrays read back as null', () => {
    // eslint-disable-next-line no-sparse-arrays
    const sparse = [1, , 3] as Value[]
    const v = roundTrip(sparse) as Value[]
    expect(v).toEqual([1, null, 3])
    expect(1 in v).toBe(true)
    const s2 = new Array(3) as Value[]
    s2[2] = 'x'
    expect(roundTrip(s2)).toEqual([null, null, 'x'])
  })

  it('__proto__ and constructor keys are own data properties; Object.prototype is not polluted', () => {
    const input = JSON.parse('{"__proto__": {"polluted": true}, "constructor": {"prototype": {"polluted2": 1}}, "x": 1}')
    const v = roundTrip(input) as Record<string, unknown>
    expect(Object.keys(v).sort()).toEqual(['__proto__', 'constructor', 'x'])
    const p = Object.getOwnPropertyDescriptor(v, '__proto__')
    expect(p).toBeDefined()
    expect(p!.enumerable).toBe(true)
    expect(p!.value).toEqual({ polluted: true })
    expect(Object.getOwnPropertyDescriptor(v, 'constructor')!.value).toEqual({ prototype: { polluted2: 1 } })
    expect(Object.getPrototypeOf(v)).toBe(Object.prototype)
    expect((v as { polluted?: unknown }).polluted).toBeUndefined()
    expect(({} as { polluted?: unknown }).polluted).toBeUndefined()
    expect(({} as { polluted2?: unknown }).polluted2).toBeUndefined()
    expect(Object.prototype.hasOwnProperty.call(Object.prototype, 'polluted')).toBe(false)
    // Not renamed (msgpackr 2.x decodes `__proto__` as `__proto_`).
    expect(Object.hasOwn(v, '__proto_')).toBe(false)
  })

  it('__proto__ keys nested in arrays and objects survive too', () => {
    const input = JSON.parse('{"list": [{"__proto__": 1}], "o": {"__proto__": {"__proto__": "deep"}}}')
    const v = roundTrip(input) as { list: Record<string, unknown>[]; o: Record<string, Record<string, unknown>> }
    expect(Object.getOwnPropertyDescriptor(v.list[0], '__proto__')!.value).toBe(1)
    const inner = Object.getOwnPropertyDescriptor(v.o, '__proto__')!.value as Record<string, unknown>
    expect(Object.getOwnPropertyDescriptor(inner, '__proto__')!.value).toBe('deep')
    expect(Object.getPrototypeOf(v.list[0])).toBe(Object.prototype)
  })

  it('nesting depth 128 is fine, 129 is LIMIT_EXCEEDED and writes nothing', () => {
    const db = Strata.cache()
    for (const kind of ['array', 'object'] as const) {
      const ok = nest(128, kind)
      db.kv.put(kind, ok)
      expect(db.kv.get(kind)).toEqual(ok)
      expectCode(() => db.kv.put(`${kind}-deep`, nest(129, kind)), 'LIMIT_EXCEEDED', '128')
      expect(db.kv.get(`${kind}-deep`)).toBeNull()
      expectCode(() => db.kv.put(kind, nest(200, kind)), 'LIMIT_EXCEEDED')
      expect(db.kv.getVersioned(kind)!.version).toBe(1)
    }
    expectCode(() => db.state.set('c', nest(129, 'array')), 'LIMIT_EXCEEDED')
    expect(db.state.get('c')).toBeNull()
  })
})

describe('values: what cannot be stored is INVALID_VALUE, naming the path', () => {
  class Point {
    constructor(
      public x: number,
      public y: number,
    ) {}
  }
  const sym = Symbol('s')
  const cases: [string, unknown, string][] = [
    ['NaN at the root', NaN, '$'],
    ['Infinity', { a: Infinity }, '$.a'],
    ['-Infinity in an array', [1, -Infinity], '$[1]'],
    ['undefined in an array', { a: [1, 2, undefined] }, '$.a[2]'],
    ['undefined property', { a: { b: undefined } }, '$.a.b'],
    ['undefined at the root', undefined, '$'],
    ['a function', { f: () => 1 }, '$.f'],
    ['a symbol', [sym], '$[0]'],
    ['a Date', { when: new Date(0) }, '$.when'],
    ['a Map', { m: new Map([['a', 1]]) }, '$.m'],
    ['a Set', [[new Set([1])]], '$[0][0]'],
    ['a class instance', { items: [{ ok: 1 }, new Point(1, 2)] }, '$.items[1]'],
    ['a RegExp', { r: /x/ }, '$.r'],
    ['a boxed string', { s: new String('x') }, '$.s'],
    ['a Float32Array', { v: new Float32Array([1]) }, '$.v'],
    ['a Promise', { p: Promise.resolve(1) }, '$.p'],
    ['a lone surrogate in a string value', { s: 'a\uD800b' }, '$.s'],
    ['a lone surrogate in an object key', { o: { ['k\uDC00']: 1 } }, '$.o'],
  ]

  it.each(cases)('%s', (_, v, path) => {
    const db = Strata.cache()
    const e = expectCode(() => db.kv.put('k', v as Value), 'INVALID_VALUE')
    expect(e.message).toContain(path)
    expectCode(() => db.state.set('c', v as Value), 'INVALID_VALUE', path)
    expectCode(() => db.state.cas('c', null, v as Value), 'INVALID_VALUE', path)
    expect(db.kv.get('k')).toBeNull()
    expect(db.state.get('c')).toBeNull()
    expect(db.kv.list()).toEqual([])
  })

  it('a cyclic structure is INVALID_VALUE naming where it cycles', () => {
    const db = Strata.cache()
    const o: Record<string, unknown> = { a: 1 }
    o.self = o
    expectCode(() => db.kv.put('k', o as Value), 'INVALID_VALUE', '$.self')
    const arr: unknown[] = [1, 2]
    arr.push({ back: arr })
    expectCode(() => db.kv.put('k', arr as Value), 'INVALID_VALUE', '$[2].back')
    expect(db.kv.get('k')).toBeNull()
  })

  it('a shared (non-cyclic) reference is fine', () => {
    const shared = { s: 1 }
    expect(roundTrip({ a: shared, b: shared, c: [shared, shared] })).toEqual({ a: { s: 1 }, b: { s: 1 }, c: [{ s: 1 }, { s: 1 }] })
  })

  it('a failed put leaves the previous value in place', () => {
    const db = Strata.cache()
    db.kv.put('k', 'good')
    expectCode(() => db.kv.put('k', { bad: new Date() } as unknown as Value), 'INVALID_VALUE', '$.bad')
    expect(db.kv.getVersioned('k')).toMatchObject({ value: 'good', version: 1 })
  })
})

describe('values: size limit', () => {
  it('an encoded value over 16 MiB is LIMIT_EXCEEDED and nothing is written', () => {
    const db = Strata.cache()
    db.kv.put('k', 'before')
    expectCode(() => db.kv.put('k', new Uint8Array(16 * MiB + 1)), 'LIMIT_EXCEEDED')
    expectCode(() => db.kv.put('k', 'x'.repeat(16 * MiB)), 'LIMIT_EXCEEDED')
    expectCode(() => db.kv.put('k', [new Uint8Array(8 * MiB), new Uint8Array(8 * MiB)]), 'LIMIT_EXCEEDED')
    expectCode(() => db.state.set('c', new Uint8Array(17 * MiB)), 'LIMIT_EXCEEDED')
    expectCode(() => db.kv.put('fresh', new Uint8Array(17 * MiB)), 'LIMIT_EXCEEDED')
    expect(db.kv.getVersioned('k')).toMatchObject({ value: 'before', version: 1 })
    expect(db.kv.get('fresh')).toBeNull()
    expect(db.state.get('c')).toBeNull()
    expect(db.kv.list()).toEqual(['k'])
  })

  it('an encoded value of exactly 16 MiB is accepted', () => {
    const db = Strata.cache()
    // bin32: 5 header bytes + payload = 16 MiB.
    expect(db.kv.put('k', new Uint8Array(16 * MiB - 5).fill(7))).toBe(1)
    const v = db.kv.get('k') as Uint8Array
    expect(v.length).toBe(16 * MiB - 5)
    expect(v[0]).toBe(7)
    expect(v[v.length - 1]).toBe(7)
  })
})

describe('keys', () => {
  it("'' is INVALID_KEY", () => {
    const db = Strata.cache()
    expectCode(() => db.kv.put('', 1), 'INVALID_KEY')
    expectCode(() => db.state.set('', 1), 'INVALID_KEY')
    expectCode(() => db.state.cas('', null, 1), 'INVALID_KEY')
    expect(db.kv.list()).toEqual([])
  })

  it('1024 UTF-8 bytes are fine; 1025 are LIMIT_EXCEEDED, counting bytes not chars', () => {
    const db = Strata.cache()
    for (const k of ['a'.repeat(1024), 'é'.repeat(512), '😀'.repeat(256), 'ｆ'.repeat(341) + 'a']) {
      expect(Buffer.byteLength(k)).toBe(1024)
      expect(db.kv.put(k, k.length)).toBe(1)
      expect(db.kv.get(k)).toBe(k.length)
    }
    for (const k of ['a'.repeat(1025), 'é'.repeat(512) + 'a', '😀'.repeat(256) + 'a', 'ｆ'.repeat(342)]) {
      expect(Buffer.byteLength(k)).toBeGreaterThan(1024)
      expectCode(() => db.kv.put(k, 1), 'LIMIT_EXCEEDED')
      expectCode(() => db.state.set(k, 1), 'LIMIT_EXCEEDED')
    }
    expect(db.kv.list()).toHaveLength(4)
    expect(db.state.list()).toEqual([])
  })

  it('the key rules apply to reads and deletes too', () => {
    const db = Strata.cache()
    const cases: [string, string][] = [
      ['', 'INVALID_KEY'],
      ['a\u0000b', 'INVALID_KEY'],
      ['a'.repeat(1025), 'LIMIT_EXCEEDED'],
    ]
    for (const [k, code] of cases) {
      expectCode(() => db.kv.get(k), code)
      expectCode(() => db.kv.getVersioned(k), code)
      expectCode(() => db.kv.delete(k), code)
      expectCode(() => db.kv.history(k), code)
      expectCode(() => db.state.get(k), code)
      expectCode(() => db.state.delete(k), code)
    }
  })

  it('a key containing U+0000 is INVALID_KEY', () => {
    const db = Strata.cache()
    for (const k of ['\u0000', 'a\u0000', 'a\u0000b']) {
      expectCode(() => db.kv.put(k, 1), 'INVALID_KEY')
      expectCode(() => db.state.set(k, 1), 'INVALID_KEY')
    }
    expect(db.kv.list()).toEqual([])
    expect(db.state.list()).toEqual([])
  })

  it('a key with a lone surrogate is INVALID_KEY', () => {
    const db = Strata.cache()
    for (const k of ['\uD800', 'a\uDC00b', 'x\uD83D']) {
      expectCode(() => db.kv.put(k, 1), 'INVALID_KEY')
      expectCode(() => db.kv.get(k), 'INVALID_KEY')
      expectCode(() => db.state.set(k, 1), 'INVALID_KEY')
    }
    // A well-formed pair is a fine key, and is not confused with the replacement character.
    db.kv.put('\uD83D\uDE00', 'emoji')
    expect(db.kv.get('😀')).toBe('emoji')
    expect(db.kv.get('\uFFFD')).toBeNull()
    expect(db.kv.list()).toEqual(['😀'])
  })

  it('a non-string key is INVALID_KEY', () => {
    const db = Strata.cache()
    for (const k of [1, 0, null, undefined, true, {}, [], 1n, new Uint8Array([97])] as unknown as string[]) {
      expectCode(() => db.kv.put(k, 1), 'INVALID_KEY')
      expectCode(() => db.kv.get(k), 'INVALID_KEY')
      expectCode(() => db.state.set(k, 1), 'INVALID_KEY')
      expectCode(() => db.state.cas(k, null, 1), 'INVALID_KEY')
    }
    expect(db.kv.list()).toEqual([])
  })

  it('keys are case- and byte-exact', () => {
    const db = Strata.cache()
    db.kv.put('K', 1)
    db.kv.put('k', 2)
    db.kv.put('k ', 3)
    db.kv.put('e\u0301', 4) // decomposed é: a different key from the precomposed one
    db.kv.put('é', 5)
    expect([db.kv.get('K'), db.kv.get('k'), db.kv.get('k '), db.kv.get('e\u0301'), db.kv.get('é')]).toEqual([1, 2, 3, 4, 5])
  })
})

describe('Value helpers', () => {
  it('Value.kind', () => {
    expect(Value.kind(null)).toBe('null')
    expect(Value.kind(true)).toBe('bool')
    expect(Value.kind(false)).toBe('bool')
    expect(Value.kind(0)).toBe('int')
    expect(Value.kind(-7)).toBe('int')
    expect(Value.kind(2n ** 60n)).toBe('int')
    expect(Value.kind(1.5)).toBe('float')
    expect(Value.kind(2 ** 53)).toBe('float')
    expect(Value.kind(-(2 ** 53 - 1))).toBe('int')
    expect(Value.kind('')).toBe('string')
    expect(Value.kind(new Uint8Array(1))).toBe('bytes')
    expect(Value.kind([])).toBe('array')
    expect(Value.kind({})).toBe('object')
    expect(Value.kind({ a: [1] })).toBe('object')
  })

  it('Value.kind of something that is not a Value is INVALID_VALUE, naming what it is', () => {
    expectCode(() => Value.kind(undefined as never), 'INVALID_VALUE', 'undefined')
    expectCode(() => Value.kind((() => 1) as never), 'INVALID_VALUE', 'function')
    expectCode(() => Value.kind(new Date() as never), 'INVALID_VALUE', 'Date')
    expectCode(() => Value.kind(new Map() as never), 'INVALID_VALUE', 'Map')
    expect(Value.kind(Object.create(null) as Value)).toBe('object')
  })

  it('Value.asInt', () => {
    expect(Value.asInt(42)).toBe(42)
    expect(Value.asInt(0)).toBe(0)
    expect(Value.asInt(2n ** 60n)).toBe(2n ** 60n)
    expect(Value.asInt(2 ** 53 - 1)).toBe(2 ** 53 - 1)
    expect(Value.asInt(1.5)).toBeUndefined()
    expect(Value.asInt(2 ** 53)).toBeUndefined()
    expect(Value.asInt('1')).toBeUndefined()
    expect(Value.asInt(null)).toBeUndefined()
    expect(Value.asInt(true)).toBeUndefined()
  })

  it('Value.asFloat accepts ints too', () => {
    expect(Value.asFloat(1.5)).toBe(1.5)
    expect(Value.asFloat(3)).toBe(3)
    expect(Value.asFloat(10n)).toBe(10)
    expect(Value.asFloat('1.5')).toBeUndefined()
    expect(Value.asFloat(null)).toBeUndefined()
  })

  it('Value.asString, asBool', () => {
    expect(Value.asString('hi')).toBe('hi')
    expect(Value.asString('')).toBe('')
    expect(Value.asString(1)).toBeUndefined()
    expect(Value.asString(null)).toBeUndefined()
    expect(Value.asBool(false)).toBe(false)
    expect(Value.asBool(true)).toBe(true)
    expect(Value.asBool(0)).toBeUndefined()
    expect(Value.asBool('')).toBeUndefined()
    expect(Value.asBool(null)).toBeUndefined()
  })

  it('Value.asBytes, asArray, asObject', () => {
    const b = new Uint8Array([1, 2])
    expect(Value.asBytes(b)).toBe(b)
    expect(Value.asBytes([1, 2])).toBeUndefined()
    expect(Value.asBytes('ab')).toBeUndefined()
    const a = [1, 'a']
    expect(Value.asArray(a)).toBe(a)
    expect(Value.asArray({ 0: 1 })).toBeUndefined()
    expect(Value.asArray(b)).toBeUndefined()
    const o = { a: 1 }
    expect(Value.asObject(o)).toBe(o)
    expect(Value.asObject([1])).toBeUndefined()
    expect(Value.asObject(null)).toBeUndefined()
    expect(Value.asObject(b)).toBeUndefined()
    expect(Value.asObject('x')).toBeUndefined()
    // Only plain objects are objects: class instances are no Value.
    expect(Value.asObject(new Date())).toBeUndefined()
    expect(Value.asObject(new Map())).toBeUndefined()
    const bare = Object.create(null) as Record<string, Value>
    expect(Value.asObject(bare)).toBe(bare)
  })

  it('helpers narrow values read from the database', () => {
    const db = Strata.cache()
    db.kv.put('doc', { count: 3, ratio: 0.5, name: 'n', on: true, raw: new Uint8Array([1]), list: [1], big: 2n ** 62n })
    const doc = Value.asObject(db.kv.get('doc'))!
    expect(Value.asInt(doc.count)).toBe(3)
    expect(Value.asFloat(doc.ratio)).toBe(0.5)
    expect(Value.asInt(doc.ratio)).toBeUndefined()
    expect(Value.asString(doc.name)).toBe('n')
    expect(Value.asBool(doc.on)).toBe(true)
    expect(Array.from(Value.asBytes(doc.raw)!)).toEqual([1])
    expect(Value.asArray(doc.list)).toEqual([1])
    expect(Value.asInt(doc.big)).toBe(2n ** 62n)
    expect(Value.asString(doc.missing as Value)).toBeUndefined()
  })
})
