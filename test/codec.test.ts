import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { Packr } from 'msgpackr'
import { Encoder, decode, decodeValue, encodeValue } from '../ts/codec.js'
import { Value } from '../ts/value.js'
import { StrataError } from '../ts/errors.js'

const hex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex')
const fromHex = (h: string): Uint8Array => new Uint8Array(Buffer.from(h.replace(/\s+/g, ''), 'hex'))
const roundTrip = (v: unknown): Value => decodeValue(encodeValue(v))

/** What a value is expected to decode as: -0 becomes 0, safe bigints become numbers, Buffers plain Uint8Arrays. */
function normalize(v: unknown): unknown {
  if (typeof v === 'number') return v === 0 ? 0 : v
  if (typeof v === 'bigint') return v >= -(2n ** 53n - 1n) && v <= 2n ** 53n - 1n ? Number(v) : v
  if (v instanceof Uint8Array) return new Uint8Array(v)
  if (Array.isArray(v)) return Array.from(v, (x) => (x === undefined ? null : normalize(x)))
  if (v !== null && typeof v === 'object') {
    const o: Record<string, unknown> = {}
    for (const k of Object.keys(v)) {
      Object.defineProperty(o, k, {
        value: normalize((v as Record<string, unknown>)[k]),
        writable: true,
        enumerable: true,
        configurable: true,
      })
    }
    return o
  }
  return v
}

/** Expects `fn` to throw a StrataError with `code` whose message contains every one of `parts`. */
function expectError(fn: () => unknown, code: string, ...parts: string[]): void {
  let err: unknown
  try {
    fn()
  } catch (e) {
    err = e
  }
  expect(err, 'expected a throw').toBeInstanceOf(StrataError)
  const e = err as StrataError
  expect(e.code).toBe(code)
  for (const p of parts) expect(e.message).toContain(p)
}

describe('integers: smallest form, exact bytes, round trip', () => {
  const cases: [number | bigint, string][] = [
    [0, '00'],
    [1, '01'],
    [127, '7f'],
    [128, 'cc80'],
    [255, 'ccff'],
    [256, 'cd0100'],
    [65535, 'cdffff'],
    [65536, 'ce00010000'],
    [2 ** 32 - 1, 'ceffffffff'],
    [2 ** 32, 'cf0000000100000000'],
    [2 ** 53 - 1, 'cf001fffffffffffff'],
    [-1, 'ff'],
    [-32, 'e0'],
    [-33, 'd0df'],
    [-128, 'd080'],
    [-129, 'd1ff7f'],
    [-32768, 'd18000'],
    [-32769, 'd2ffff7fff'],
    [-(2 ** 31), 'd280000000'],
    [-(2 ** 31) - 1, 'd3ffffffff7fffffff'],
    [-(2 ** 53 - 1), 'd3ffe0000000000001'],
    [2n ** 63n - 1n, 'cf7fffffffffffffff'],
    [-(2n ** 63n), 'd38000000000000000'],
    [2n ** 53n, 'cf0020000000000000'],
    [-(2n ** 53n), 'd3ffe0000000000000'],
  ]
  for (const [v, bytes] of cases) {
    it(`${typeof v} ${v}`, () => {
      expect(hex(encodeValue(v))).toBe(bytes)
      const back = roundTrip(v)
      expect(back).toBe(normalize(v))
      // The decoded kind: number within ±(2^53 − 1), bigint beyond.
      expect(typeof back).toBe(typeof normalize(v))
    })
  }

  it('bigints within the safe range encode exactly like numbers and decode as numbers', () => {
    for (const n of [0n, 5n, -5n, 200n, -200n, 70000n, 2n ** 40n, -(2n ** 40n), 2n ** 53n - 1n]) {
      expect(hex(encodeValue(n))).toBe(hex(encodeValue(Number(n))))
      expect(roundTrip(n)).toBe(Number(n))
    }
  })

  it('beyond-safe bigints come back as bigint', () => {
    expect(roundTrip(2n ** 53n)).toBe(2n ** 53n)
    expect(roundTrip(2n ** 63n - 1n)).toBe(2n ** 63n - 1n)
    expect(roundTrip(-(2n ** 63n))).toBe(-(2n ** 63n))
  })
})

describe('floats', () => {
  it('non-integers and integers beyond 2^53 − 1 are float64', () => {
    expect(hex(encodeValue(1.5))).toBe('cb3ff8000000000000')
    expect(hex(encodeValue(2 ** 53))).toBe('cb4340000000000000')
    expect(roundTrip(2 ** 53)).toBe(2 ** 53)
    expect(roundTrip(1.5)).toBe(1.5)
    expect(roundTrip(-1.5)).toBe(-1.5)
    expect(roundTrip(0.1)).toBe(0.1)
    expect(roundTrip(Number.MAX_VALUE)).toBe(Number.MAX_VALUE)
    expect(roundTrip(Number.MIN_VALUE)).toBe(Number.MIN_VALUE)
    expect(roundTrip(-1e300)).toBe(-1e300)
  })

  it('-0 encodes as integer 0 and decodes as 0', () => {
    expect(hex(encodeValue(-0))).toBe('00')
    expect(Object.is(roundTrip(-0), 0)).toBe(true)
  })

  it('decodes float32 and normalizes a stored float -0 to 0', () => {
    expect(decodeValue(fromHex('ca3fc00000'))).toBe(1.5)
    expect(Object.is(decodeValue(fromHex('cb8000000000000000')), 0)).toBe(true)
    expect(Object.is(decodeValue(fromHex('ca80000000')), 0)).toBe(true)
  })
})

describe('scalars, strings and bytes', () => {
  it('null and booleans', () => {
    expect(hex(encodeValue(null))).toBe('c0')
    expect(hex(encodeValue(true))).toBe('c3')
    expect(hex(encodeValue(false))).toBe('c2')
    expect(roundTrip(null)).toBe(null)
    expect(roundTrip(true)).toBe(true)
    expect(roundTrip(false)).toBe(false)
  })

  const strings: [string, string][] = [
    ['empty', ''],
    ['short', 'hello'],
    ['31 ascii', 'a'.repeat(31)],
    ['32 ascii', 'a'.repeat(32)],
    ['unicode', 'héllo wörld ñ €'],
    ['cjk', '日本語のテキスト'],
    ['emoji', '😀👍🏽 family: 👨‍👩‍👧‍👦'],
    ['BOM first (short)', '\uFEFFbom'],
    ['BOM first (long)', '\uFEFF' + 'x'.repeat(100)],
    ['nul', 'a\u0000b'],
    ['U+FFFD', '\uFFFD'],
    ['max code point', '\u{10FFFF}'],
    ['11 chars of 3 bytes (crosses fixstr)', '€'.repeat(11)],
    ['64 chars of 3 bytes (crosses str8)', '€'.repeat(86)],
    ['300 chars', 'abcdefghij'.repeat(30)],
    ['300 chars unicode', 'ab€😀'.repeat(60)],
    ['70000 chars', 'x'.repeat(70000)],
    ['70000 chars unicode', 'é'.repeat(35000)],
    ['300000 chars of 2 bytes (grown while encoding)', 'é'.repeat(300000)],
    ['ASCII then wide, beyond the worst-case reservation', 'a'.repeat(300000) + '😀€é'.repeat(1000)],
    ['surrogate pair at the end', 'x'.repeat(70) + '😀'],
  ]
  for (const [name, s] of strings) {
    it(`string: ${name}`, () => {
      const enc = encodeValue(s)
      const n = Buffer.byteLength(s, 'utf8')
      const expectedHeader =
        n < 32
          ? (0xa0 | n).toString(16)
          : n < 0x100
            ? 'd9' + n.toString(16).padStart(2, '0')
            : n < 0x10000
              ? 'da' + n.toString(16).padStart(4, '0')
              : 'db' + n.toString(16).padStart(8, '0')
      expect(hex(enc.subarray(0, expectedHeader.length / 2))).toBe(expectedHeader)
      expect(enc.length).toBe(expectedHeader.length / 2 + n)
      expect(hex(enc.subarray(expectedHeader.length / 2))).toBe(Buffer.from(s, 'utf8').toString('hex'))
      expect(roundTrip(s)).toBe(s)
    })
  }

  it('every short string length 0..70 with 1-, 2-, 3- and 4-byte characters', () => {
    for (const unit of ['a', 'é', '€', '😀']) {
      for (let n = 0; n <= 70; n++) {
        const s = unit.repeat(n)
        expect(roundTrip(s)).toBe(s)
        expect(hex(encodeValue(s))).toBe(hex(new Packr({ useRecords: false }).pack(s)))
      }
    }
  })

  it('bytes: bin8/16/32, Buffer accepted, always decoded as a fresh plain Uint8Array', () => {
    for (const n of [0, 1, 15, 16, 255, 256, 65535, 65536]) {
      const b = new Uint8Array(n).map((_, i) => (i * 7) & 0xff)
      const enc = encodeValue(b)
      const header = n < 0x100 ? 2 : n < 0x10000 ? 3 : 5
      expect(enc[0]).toBe(n < 0x100 ? 0xc4 : n < 0x10000 ? 0xc5 : 0xc6)
      expect(enc.length).toBe(header + n)
      const back = roundTrip(b)
      expect(back).toBeInstanceOf(Uint8Array)
      expect(back).toEqual(b)
    }
    const buf = Buffer.from('hello')
    expect(hex(encodeValue(buf))).toBe('c40568656c6c6f')
    const back = roundTrip(buf) as Uint8Array
    expect(Object.getPrototypeOf(back)).toBe(Uint8Array.prototype)
    expect(Array.from(back)).toEqual(Array.from(buf))
    // A subarray view encodes only its own window.
    const whole = new Uint8Array([9, 1, 2, 3, 9])
    expect(hex(encodeValue(whole.subarray(1, 4)))).toBe('c403010203')
  })

  it('decoded bytes are a copy, not a view of the (reused) input, even when the input is a Buffer', () => {
    for (const input of [new Uint8Array([0xc4, 2, 1, 2]), Buffer.from([0xc4, 2, 1, 2])]) {
      const out = decodeValue(input) as Uint8Array
      input[2] = 99
      expect(Array.from(out)).toEqual([1, 2])
      expect(out.buffer).not.toBe(input.buffer)
    }
    const big = new Uint8Array(3 + 1000)
    big.set([0xc5, 0x03, 0xe8])
    const out = decodeValue(big) as Uint8Array
    big[3] = 1
    expect(out[0]).toBe(0)
  })
})

describe('containers', () => {
  it('nested objects and arrays round-trip', () => {
    const v = {
      name: 'ada',
      tags: ['a', 'b', { deep: [1, [2, [3, null]]] }],
      n: -12345,
      big: 2n ** 60n,
      f: 3.25,
      ok: true,
      bytes: new Uint8Array([1, 2, 3]),
      empty: {},
      emptyArr: [],
      'odd key': { "it's": 1, '': 2 },
      unicode: { ключ: '値', '😀': '😀' },
    }
    expect(roundTrip(v)).toEqual(v)
  })

  it('map/array headers: fix, 16 and 32 forms', () => {
    for (const n of [0, 15, 16, 65535, 65536]) {
      const arr = new Array<number>(n).fill(1)
      const enc = encodeValue(arr)
      expect(enc[0]).toBe(n < 16 ? 0x90 | n : n < 0x10000 ? 0xdc : 0xdd)
      expect((roundTrip(arr) as unknown[]).length).toBe(n)
      const obj: Record<string, number> = {}
      for (let i = 0; i < n; i++) obj[`k${i}`] = i
      const encObj = encodeValue(obj)
      expect(encObj[0]).toBe(n < 16 ? 0x80 | n : n < 0x10000 ? 0xde : 0xdf)
      expect(roundTrip(obj)).toEqual(obj)
    }
  })

  it('holes in sparse arrays decode as null', () => {
    // eslint-disable-next-line no-sparse-arrays
    const sparse = [1, , 3]
    expect(roundTrip(sparse)).toEqual([1, null, 3])
    const wide = new Array(5)
    wide[2] = 'x'
    expect(roundTrip(wide)).toEqual([null, null, 'x', null, null])
  })

  it('objects with a null prototype are accepted', () => {
    const o = Object.create(null) as Record<string, unknown>
    o.a = 1
    expect(roundTrip(o)).toEqual({ a: 1 })
  })

  it('__proto__ and constructor keys are own data properties; Object.prototype is untouched', () => {
    const v = JSON.parse('{"__proto__": {"polluted": true}, "constructor": {"prototype": {"polluted": true}}, "x": 1}')
    expect(Object.keys(v)).toEqual(['__proto__', 'constructor', 'x'])
    const back = roundTrip(v) as Record<string, Value>
    expect(Object.keys(back)).toEqual(['__proto__', 'constructor', 'x'])
    expect(Object.getPrototypeOf(back)).toBe(Object.prototype)
    expect(Object.getOwnPropertyDescriptor(back, '__proto__')).toEqual({
      value: { polluted: true },
      writable: true,
      enumerable: true,
      configurable: true,
    })
    expect(Object.prototype.hasOwnProperty.call(back, 'constructor')).toBe(true)
    expect(back.constructor).toEqual({ prototype: { polluted: true } })
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
    expect((Object.prototype as Record<string, unknown>).polluted).toBeUndefined()
    // A hand-built map whose only key is __proto__.
    const bytes = fromHex('81' + 'a9' + Buffer.from('__proto__').toString('hex') + 'c3')
    const o = decodeValue(bytes) as Record<string, Value>
    expect(Object.keys(o)).toEqual(['__proto__'])
    expect(Object.getPrototypeOf(o)).toBe(Object.prototype)
  })

  it('a shared (acyclic) reference is fine', () => {
    const shared = { a: 1 }
    const arr = [1]
    expect(roundTrip({ x: shared, y: shared, z: [shared, arr, arr] })).toEqual({
      x: { a: 1 },
      y: { a: 1 },
      z: [{ a: 1 }, [1], [1]],
    })
  })

  it('depth: 128 nested arrays are fine, 129 are LIMIT_EXCEEDED', () => {
    const nest = (n: number): unknown => {
      let v: unknown = 1
      for (let i = 0; i < n; i++) v = [v]
      return v
    }
    expect(roundTrip(nest(128))).toEqual(nest(128))
    expectError(
      () => encodeValue(nest(129)),
      'LIMIT_EXCEEDED',
      `value at $${'[0]'.repeat(128)} nests deeper than 128 levels`,
    )
    // Objects count too.
    let o: unknown = {}
    for (let i = 0; i < 128; i++) o = { a: o }
    expectError(() => encodeValue(o), 'LIMIT_EXCEEDED', `value at $${'.a'.repeat(128)} nests deeper than 128 levels`)
    // Depth counts containers, not scalars: [] is depth 1.
    let e: unknown = []
    for (let i = 0; i < 127; i++) e = [e]
    expect(() => encodeValue(e)).not.toThrow()
  })
})

describe('rejections name the path and the fix', () => {
  class Point {
    constructor(
      public x: number,
      public y: number,
    ) {}
  }

  const cases: [string, unknown, string, ...string[]][] = [
    [
      'undefined in an array',
      { a: [1, 2, undefined] },
      'INVALID_VALUE',
      'value at $.a[2] is undefined; use null for "no value"',
    ],
    ['undefined at the root', undefined, 'INVALID_VALUE', 'value at $ is undefined'],
    ['undefined property', { a: 1, b: undefined }, 'INVALID_VALUE', 'value at $.b is undefined'],
    ['NaN', { x: NaN }, 'INVALID_VALUE', 'value at $.x is NaN; only finite numbers can be stored'],
    ['Infinity', [Infinity], 'INVALID_VALUE', 'value at $[0] is Infinity; only finite numbers can be stored'],
    ['-Infinity', { y: [-Infinity] }, 'INVALID_VALUE', 'value at $.y[0] is -Infinity'],
    [
      'Date',
      { when: new Date(0) },
      'INVALID_VALUE',
      'value at $.when is a Date; store date.getTime() or date.toISOString()',
    ],
    ['Map', { m: new Map() }, 'INVALID_VALUE', 'value at $.m is a Map', 'Object.fromEntries'],
    ['Set', { s: new Set([1]) }, 'INVALID_VALUE', 'value at $.s is a Set', '[...set]'],
    ['RegExp', /x/, 'INVALID_VALUE', 'value at $ is a RegExp'],
    ['function', { f: () => 1 }, 'INVALID_VALUE', 'value at $.f is a function'],
    ['symbol', { s: Symbol('x') }, 'INVALID_VALUE', 'value at $.s is a symbol'],
    ['class instance', { p: new Point(1, 2) }, 'INVALID_VALUE', 'value at $.p is an instance of Point'],
    ['Int16Array', { t: new Int16Array(2) }, 'INVALID_VALUE', 'value at $.t is an Int16Array', 'new Uint8Array('],
    ['Uint8ClampedArray', [new Uint8ClampedArray(1)], 'INVALID_VALUE', 'value at $[0] is a Uint8ClampedArray'],
    ['ArrayBuffer', new ArrayBuffer(1), 'INVALID_VALUE', 'value at $ is an ArrayBuffer'],
    ['DataView', new DataView(new ArrayBuffer(1)), 'INVALID_VALUE', 'value at $ is a DataView'],
    ['boxed number', { n: Object(1) }, 'INVALID_VALUE', 'value at $.n is a boxed primitive'],
    ['boxed string', new String('s'), 'INVALID_VALUE', 'value at $ is a boxed primitive'],
    ['Promise', { p: Promise.resolve(1) }, 'INVALID_VALUE', 'value at $.p is a Promise'],
    ['Error', new Error('x'), 'INVALID_VALUE', 'value at $ is an Error'],
    [
      'custom prototype',
      Object.create({ inherited: 1 }),
      'INVALID_VALUE',
      'value at $ is an object with a custom prototype',
    ],
    ['symbol key', { [Symbol('k')]: 1 }, 'INVALID_VALUE', 'value at $ has symbol-keyed properties'],
    ['bigint 2^63', { n: 2n ** 63n }, 'INVALID_VALUE', 'value at $.n is a bigint outside the 64-bit signed range'],
    [
      'bigint -2^63-1',
      [-(2n ** 63n) - 1n],
      'INVALID_VALUE',
      'value at $[0] is a bigint outside the 64-bit signed range',
    ],
    [
      'lone high surrogate (short)',
      { s: 'ab\uD800' },
      'INVALID_VALUE',
      'value at $.s is a string with a lone surrogate',
    ],
    [
      'lone low surrogate (short)',
      { s: '\uDC00ab' },
      'INVALID_VALUE',
      'value at $.s is a string with a lone surrogate',
    ],
    ['swapped pair', ['\uDC00\uD800'], 'INVALID_VALUE', 'value at $[0] is a string with a lone surrogate'],
    [
      'lone surrogate (long)',
      { s: 'x'.repeat(500) + '\uD83D' },
      'INVALID_VALUE',
      'value at $.s is a string with a lone surrogate',
    ],
    [
      'lone surrogate in a key',
      { a: { 'k\uD800': 1 } },
      'INVALID_VALUE',
      'value at $.a has a key "k\\ud800" with a lone surrogate',
    ],
    [
      'lone surrogate in a long key',
      { ['k'.repeat(100) + '\uDFFF']: 1 },
      'INVALID_VALUE',
      'value at $ has a key',
      'lone surrogate',
    ],
    [
      'odd keys in the path',
      { "it's": { 'a b': [{ 'x-y': undefined }] } },
      'INVALID_VALUE',
      `value at $["it's"]["a b"][0]["x-y"] is undefined`,
    ],
    ['identifier-like keys', { _a$1: { $b: undefined } }, 'INVALID_VALUE', 'value at $._a$1.$b is undefined'],
  ]
  for (const [name, v, code, ...parts] of cases) {
    it(name, () => expectError(() => encodeValue(v), code, ...parts))
  }

  it('cycles', () => {
    const self: Record<string, unknown> = { a: 1 }
    self.self = self
    expectError(() => encodeValue(self), 'INVALID_VALUE', 'value at $.self is a cyclic reference')
    const arr: unknown[] = [1]
    arr.push({ back: arr })
    expectError(() => encodeValue(arr), 'INVALID_VALUE', 'value at $[1].back is a cyclic reference')
    const a: Record<string, unknown> = {}
    const b: Record<string, unknown> = { a }
    a.b = b
    expectError(() => encodeValue({ root: a }), 'INVALID_VALUE', 'value at $.root.b.a is a cyclic reference')
  })

  it('an encoder is reusable after a failure, and earlier results stay valid until the next encode', () => {
    const enc = new Encoder(16)
    expect(() => enc.encode({ a: [1, undefined] })).toThrow(StrataError)
    const first = enc.encode({ big: 'y'.repeat(1000) })
    expect(decodeValue(first)).toEqual({ big: 'y'.repeat(1000) })
    const copy = first.slice()
    const second = enc.encode([1, 2, 3])
    expect(decodeValue(second)).toEqual([1, 2, 3])
    expect(decodeValue(copy)).toEqual({ big: 'y'.repeat(1000) })
    // After a cycle error, a shared reference is still accepted (the ancestor stack was reset).
    const c: Record<string, unknown> = {}
    c.c = c
    expect(() => enc.encode(c)).toThrow(/cyclic/)
    const s = { k: 1 }
    expect(decodeValue(enc.encode([s, s]))).toEqual([{ k: 1 }, { k: 1 }])
  })

  it('reuses the view it returns for a length, and a grown buffer gets fresh views of its own bytes', () => {
    const enc = new Encoder(16)
    const first = enc.encode([1, 2])
    expect(enc.encode([3, 4])).toBe(first)
    expect(decodeValue(first)).toEqual([3, 4])
    enc.encode('z'.repeat(100)) // grows the buffer
    const after = enc.encode([5, 6])
    expect(after).not.toBe(first)
    expect(decodeValue(after)).toEqual([5, 6])
    expect(after.buffer.byteLength).toBeGreaterThan(16)
  })

  it('a fresh encoder grows its buffer mid-string without losing bytes', () => {
    for (const s of ['é'.repeat(300000), 'a'.repeat(300000) + '😀€é'.repeat(1000), '€'.repeat(1000)]) {
      const enc = new Encoder(16)
      const out = enc.encode(['x', s])
      expect(decodeValue(out)).toEqual(['x', s])
    }
  })

  it('a getter that encodes during an encode does not corrupt the outer result', () => {
    const enc = new Encoder()
    const v = {
      a: 'outer',
      get b() {
        enc.encode({ inner: 'x'.repeat(100) })
        return 2
      },
      c: 3,
    }
    expect(decodeValue(enc.encode(v))).toEqual({ a: 'outer', b: 2, c: 3 })
  })
})

describe('decoding corrupt input', () => {
  const bad: [string, string, number][] = [
    ['reserved 0xc1', 'c1', 0],
    ['fixext 1', 'd40100', 0],
    ['ext 8', 'c70101ff', 0],
    ['truncated uint16', 'cd01', 1],
    ['truncated float64', 'cb3ff0', 1],
    ['truncated string', 'a3616263'.slice(0, 6), 1],
    ['truncated array (count beyond the input)', '92 01', 1],
    ['truncated nested array', '91 91', 2],
    ['truncated map', '81 a1 61', 3],
    ['array count beyond the input', 'ddffffffff', 5],
    ['trailing bytes', '0101', 1],
    ['empty input', '', 0],
    ['invalid UTF-8 (short)', 'a2c328', 1],
    ['invalid UTF-8 (long)', 'd928' + '61'.repeat(39) + 'ff', 2],
    ['UTF-8 encoded surrogate', 'a3eda080', 1],
  ]
  for (const [name, h, at] of bad) {
    it(name, () =>
      expectError(() => decodeValue(fromHex(h)), 'CORRUPT', `stored value is not valid MessagePack at byte ${at}`),
    )
  }

  it('nesting deeper than 128 is corrupt', () => {
    expect(() => decodeValue(fromHex('91'.repeat(128) + 'c0'))).not.toThrow()
    expectError(() => decodeValue(fromHex('91'.repeat(129) + 'c0')), 'CORRUPT')
  })

  it('decode reads exactly [start, end) of a larger buffer', () => {
    const inner = encodeValue({ a: [1, 'two', 3.5] })
    const big = new Uint8Array(inner.length + 20).fill(0xc1)
    big.set(inner, 7)
    expect(decode(big, 7, 7 + inner.length)).toEqual({ a: [1, 'two', 3.5] })
    expectError(() => decode(big, 7, 7 + inner.length - 1), 'CORRUPT')
    expectError(() => decode(big, 7, big.length + 1), 'CORRUPT', 'not within')
    expectError(() => decode(big, -1, 3), 'CORRUPT', 'not within')
  })

  it('decodes non-string map keys as strings and uint64 above i64 max as bigint', () => {
    expect(decodeValue(fromHex('82 01 c3 ff c2'))).toEqual({ '1': true, '-1': false })
    expect(decodeValue(fromHex('cfffffffffffffffff'))).toBe(2n ** 64n - 1n)
  })
})

describe('byte-exact agreement with msgpackr on JSON-ish values', () => {
  const packr = new Packr({ useRecords: false, variableMapSize: true })
  // msgpackr writes integers beyond the 32-bit ranges as float64, so only values within them are compared.
  const values: unknown[] = [
    null,
    true,
    false,
    0,
    -0,
    1,
    -1,
    31,
    -32,
    -33,
    127,
    128,
    255,
    256,
    65535,
    65536,
    2 ** 32 - 1,
    -(2 ** 31),
    -129,
    -32769,
    1.5,
    -2.25,
    0.1,
    1e300,
    '',
    'short',
    'a'.repeat(31),
    'a'.repeat(32),
    'a'.repeat(300),
    'é'.repeat(100),
    'x'.repeat(70000),
    '😀'.repeat(20),
    [],
    [1, 2, 3],
    new Array(20).fill('z'),
    {},
    { a: 1, b: [true, null, 'x'], c: { d: -5.5 } },
    Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`key${i}`, i * 1000])),
    new Uint8Array([1, 2, 3]),
    new Uint8Array(300),
    { nested: { deeper: { deepest: ['a', { b: 'c' }] } } },
  ]
  for (const v of values) {
    const label = typeof v === 'string' && v.length > 20 ? `string(${v.length})` : JSON.stringify(v)?.slice(0, 60)
    it(`${label}`, () => {
      expect(hex(encodeValue(v))).toBe(hex(packr.pack(v)))
      // msgpackr decodes bin as a Buffer; ours is a plain Uint8Array (normalize makes the comparison like for like).
      expect(roundTrip(v)).toEqual(normalize(packr.unpack(packr.pack(v))))
    })
  }
})

describe('Value helpers', () => {
  it('asX narrows, kind classifies', () => {
    expect(Value.asInt(3)).toBe(3)
    expect(Value.asInt(2n ** 60n)).toBe(2n ** 60n)
    expect(Value.asInt(1.5)).toBeUndefined()
    expect(Value.asInt('1')).toBeUndefined()
    expect(Value.asFloat(1.5)).toBe(1.5)
    expect(Value.asFloat(3)).toBe(3)
    expect(Value.asFloat(10n)).toBe(10)
    expect(Value.asFloat(null)).toBeUndefined()
    expect(Value.asString('s')).toBe('s')
    expect(Value.asString(1)).toBeUndefined()
    expect(Value.asBool(false)).toBe(false)
    expect(Value.asBool(0)).toBeUndefined()
    const bytes = new Uint8Array(1)
    expect(Value.asBytes(bytes)).toBe(bytes)
    expect(Value.asBytes([1])).toBeUndefined()
    const arr = [1]
    expect(Value.asArray(arr)).toBe(arr)
    expect(Value.asArray({})).toBeUndefined()
    const obj = { a: 1 }
    expect(Value.asObject(obj)).toBe(obj)
    expect(Value.asObject([])).toBeUndefined()
    expect(Value.asObject(bytes)).toBeUndefined()
    expect(Value.asObject(null)).toBeUndefined()
    expect(Value.asObject('x')).toBeUndefined()

    expect(Value.kind(null)).toBe('null')
    expect(Value.kind(true)).toBe('bool')
    expect(Value.kind(1)).toBe('int')
    expect(Value.kind(1n)).toBe('int')
    expect(Value.kind(1.5)).toBe('float')
    expect(Value.kind('s')).toBe('string')
    expect(Value.kind(bytes)).toBe('bytes')
    expect(Value.kind([])).toBe('array')
    expect(Value.kind({})).toBe('object')
    expect(Value.kind(roundTrip(2 ** 53) as Value)).toBe('float') // stored as a float: beyond ±(2^53−1)
    expect(Value.kind(roundTrip(2.5) as Value)).toBe('float')
  })
})

describe('property: arbitrary values round-trip', () => {
  const scalar = fc.oneof(
    fc.jsonValue({ maxDepth: 2 }),
    fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
    fc.uint8Array({ maxLength: 40 }),
    fc.string({ unit: 'grapheme', maxLength: 40 }),
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    fc.integer({ min: Number.MIN_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER }),
  )
  const { value } = fc.letrec((tie) => ({
    value: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      scalar,
      fc.array(tie('value'), { maxLength: 8 }),
      fc.dictionary(fc.string({ unit: 'grapheme', maxLength: 12 }), tie('value'), { maxKeys: 8 }),
    ),
  }))

  it('decode(encode(v)) deep-equals v (with -0 → 0 and safe bigints → numbers)', () => {
    fc.assert(
      fc.property(value, (v) => {
        expect(roundTrip(v)).toEqual(normalize(v))
      }),
      { numRuns: 500 },
    )
  })

  it('fc.jsonValue without -0 round-trips exactly', () => {
    const noNegZero = (v: unknown): boolean =>
      Object.is(v, -0)
        ? false
        : Array.isArray(v)
          ? v.every(noNegZero)
          : v !== null && typeof v === 'object'
            ? Object.values(v).every(noNegZero)
            : true
    fc.assert(
      fc.property(fc.jsonValue().filter(noNegZero), (v) => {
        expect(roundTrip(v)).toEqual(v)
      }),
      { numRuns: 500 },
    )
  })

  it('arbitrary bytes decode to a value or throw CORRUPT, never anything else', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        try {
          decodeValue(bytes)
        } catch (e) {
          expect(e).toBeInstanceOf(StrataError)
          expect((e as StrataError).code).toBe('CORRUPT')
        }
      }),
      { numRuns: 2000 },
    )
  })

  it('re-encoding a decoded value gives the same bytes', () => {
    fc.assert(
      fc.property(value, (v) => {
        const once = encodeValue(v)
        expect(hex(encodeValue(decodeValue(once)))).toBe(hex(once))
      }),
      { numRuns: 300 },
    )
  })
})
