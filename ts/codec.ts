/**
 * The MessagePack codec between JS values and the bytes the engine stores.
 *
 * Encoding validates while it writes (one pass, no pre-walk): anything that would not come back unchanged is
 * rejected with an `INVALID_VALUE` error naming the offending part by its JSONPath and saying what to store
 * instead. Integers always take the smallest MessagePack form (so `5` and `5n` encode identically), other numbers
 * are float64, never float32.
 *
 * Decoding is the hot read path: it keeps its cursor in module state, allocates nothing but the result, decodes
 * short strings by hand and long ones with one cached `TextDecoder`.
 */
import { StrataError } from './errors.js'
import type { Value } from './value.js'

/** Deepest nesting of arrays/objects a value may have; `[]` is depth 1, a scalar depth 0. */
const MAX_DEPTH = 128
const MAX_SAFE = Number.MAX_SAFE_INTEGER
const TWO32 = 4294967296
const I64_MIN = -(2n ** 63n)
const I64_MAX = 2n ** 63n - 1n
/** Strings up to this many UTF-16 units are encoded by hand; longer ones with `TextEncoder.encodeInto`. */
const SHORT_STR_ENCODE = 64
/** Longer strings than this (in UTF-16 units) do not get their worst-case UTF-8 size reserved up front. */
const LONG_STR_WORST_CASE = 1 << 18
/** Strings up to this many UTF-8 bytes are decoded by hand; longer ones with `TextDecoder`. */
const SHORT_STR_DECODE = 32
/** ASCII strings up to this many bytes are decoded by one `String.fromCharCode` call with explicit arguments. */
const TINY_STR = 16
const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/

const utf8Encoder = new TextEncoder()
const utf8Decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

type WellFormed = (this: string) => boolean
const nativeIsWellFormed = (String.prototype as { isWellFormed?: WellFormed }).isWellFormed
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/
/** Whether `s` has no lone surrogate, i.e. is representable in UTF-8. */
const isWellFormed: (s: string) => boolean =
  typeof nativeIsWellFormed === 'function' ? (s) => nativeIsWellFormed.call(s) : (s) => !LONE_SURROGATE.test(s)

// ---------------------------------------------------------------------------------------------------------------
// Encoding
// ---------------------------------------------------------------------------------------------------------------

/**
 * An encoding failure on its way up the walk. Each container frame it passes through adds its own path segment,
 * so the JSONPath is only built when something is wrong.
 */
class Fail {
  /** Path segments, innermost first. */
  readonly segs: (string | number)[] = []
  /** Set while the failure is about a map key, so the map holding it does not add that key as a segment. */
  atKey = false
  constructor(
    readonly code: 'INVALID_VALUE' | 'LIMIT_EXCEEDED',
    readonly reason: string,
  ) {}
}

/** Renders path segments (innermost first) as a JSONPath: `$`, `.name`, `["odd key"]`, `[3]`. */
function jsonPath(segs: readonly (string | number)[]): string {
  let out = '$'
  for (let i = segs.length - 1; i >= 0; i--) {
    const s = segs[i]!
    if (typeof s === 'number') out += `[${s}]`
    else if (IDENTIFIER.test(s)) out += `.${s}`
    else out += `[${JSON.stringify(s)}]`
  }
  return out
}

/** Why a (non-null, non-array, non-Uint8Array) object cannot be stored, and what to store instead. */
export function describeObject(v: object, proto: object | null): string {
  if (v instanceof Date) return 'is a Date; store date.getTime() or date.toISOString()'
  if (v instanceof Map)
    return 'is a Map; store a plain object (Object.fromEntries(map)) or an array of [key, value] pairs'
  if (v instanceof Set) return 'is a Set; store an array ([...set])'
  if (v instanceof RegExp) return 'is a RegExp; store its source and flags as strings'
  if (v instanceof ArrayBuffer) return 'is an ArrayBuffer; wrap it in a Uint8Array (new Uint8Array(buffer))'
  if (typeof SharedArrayBuffer !== 'undefined' && v instanceof SharedArrayBuffer)
    return 'is a SharedArrayBuffer; copy it into a Uint8Array'
  if (ArrayBuffer.isView(v)) {
    const name = v instanceof DataView ? 'DataView' : (Object.prototype.toString.call(v).slice(8, -1) as string)
    return `is ${/^[AEIO]/.test(name) ? 'an' : 'a'} ${name}; only Uint8Array is stored as bytes: use new Uint8Array(x.buffer, x.byteOffset, x.byteLength)`
  }
  if (v instanceof Number || v instanceof String || v instanceof Boolean || v instanceof BigInt)
    return 'is a boxed primitive; store the primitive (x.valueOf())'
  if (typeof (v as { then?: unknown }).then === 'function') return 'is a Promise (a thenable); await it first'
  if (v instanceof Error) return 'is an Error; store its message (and name) as strings'
  const ctor = (proto as { constructor?: unknown } | null)?.constructor
  const what =
    typeof ctor === 'function' && ctor !== Object && ctor.name
      ? `an instance of ${ctor.name}`
      : 'an object with a custom prototype'
  return `is ${what}; only plain objects, arrays, Uint8Array and primitives can be stored: convert it to a plain object (e.g. {...x})`
}

/** Size of the str header for a UTF-8 payload of `n` bytes. */
function strHeaderSize(n: number): number {
  return n < 32 ? 1 : n < 0x100 ? 2 : n < 0x10000 ? 3 : 5
}

/**
 * A reusable MessagePack encoder for stratadb values. It validates and encodes in one pass into an internal,
 * growable buffer.
 *
 * @example
 * ```ts
 * const enc = new Encoder()
 * const bytes = enc.encode({ name: 'ada', born: 1815 }) // a view: copy it before the next encode if you keep it
 * ```
 */
/** Encoded lengths below this get a reused view (`Encoder.views`). */
const VIEW_CACHE = 256

export class Encoder {
  private buf: Uint8Array
  private view: DataView
  private pos = 0
  /**
   * The views `encode` returned, by length, reused while the buffer stays: a loop writing values of a few sizes
   * then makes no object per encode (creating a view was ~2% of a small write).
   */
  private views: (Uint8Array | undefined)[] = []
  /** Objects/arrays on the path from the root to the current one, for cycle detection; its length is the depth. */
  private readonly stack: object[] = []
  private busy = false

  /** @param initialSize - initial buffer size in bytes (it grows as needed). */
  constructor(initialSize = 4096) {
    this.buf = new Uint8Array(Math.max(16, initialSize | 0))
    this.view = new DataView(this.buf.buffer)
  }

  /**
   * Validates `v` as a stratadb {@link Value} and encodes it as MessagePack.
   *
   * @param v - the value to encode.
   * @returns a view into this encoder's buffer, valid until the next `encode` call (copy it to keep it).
   * @throws StrataError `INVALID_VALUE` (with the JSONPath of the bad part) if `v` is not storable, and
   *   `LIMIT_EXCEEDED` if it nests deeper than 128 levels.
   */
  encode(v: unknown): Uint8Array {
    // A getter that encodes while we encode must not clobber our buffer.
    if (this.busy) return new Encoder(256).encode(v)
    this.busy = true
    this.pos = 0
    try {
      this.any(v)
      const n = this.pos
      if (n >= VIEW_CACHE) return this.buf.subarray(0, n)
      return (this.views[n] ??= this.buf.subarray(0, n))
    } catch (e) {
      this.pos = 0
      this.stack.length = 0
      if (e instanceof Fail) throw new StrataError(e.code, `value at ${jsonPath(e.segs)} ${e.reason}`)
      throw e
    } finally {
      this.busy = false
    }
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return
    let size = this.buf.length * 2
    while (size < this.pos + n) size *= 2
    const next = new Uint8Array(size)
    // All of it, not just up to `pos`: a string being written may already sit past `pos`.
    next.set(this.buf)
    this.buf = next
    this.views = []
    this.view = new DataView(next.buffer)
  }

  private any(v: unknown): void {
    switch (typeof v) {
      case 'string':
        return this.str(v, false)
      case 'number':
        if (Number.isInteger(v)) {
          if (v <= MAX_SAFE && v >= -MAX_SAFE) return this.int(v as number)
        } else if (!Number.isFinite(v)) {
          throw new Fail(
            'INVALID_VALUE',
            `is ${v as number}; only finite numbers can be stored (use null, or a string such as 'Infinity')`,
          )
        }
        return this.float(v as number)
      case 'boolean':
        this.ensure(1)
        this.buf[this.pos++] = v ? 0xc3 : 0xc2
        return
      case 'object':
        if (v === null) {
          this.ensure(1)
          this.buf[this.pos++] = 0xc0
          return
        }
        if (Array.isArray(v)) return this.array(v)
        if (v instanceof Uint8Array) return this.bin(v)
        return this.map(v)
      case 'bigint':
        if (v < I64_MIN || v > I64_MAX)
          throw new Fail('INVALID_VALUE', 'is a bigint outside the 64-bit signed range; store it as a string')
        if (v <= 9007199254740991n && v >= -9007199254740991n) return this.int(Number(v))
        this.ensure(9)
        if (v > 0n) {
          this.buf[this.pos] = 0xcf
          this.view.setBigUint64(this.pos + 1, v)
        } else {
          this.buf[this.pos] = 0xd3
          this.view.setBigInt64(this.pos + 1, v)
        }
        this.pos += 9
        return
      case 'undefined':
        throw new Fail('INVALID_VALUE', 'is undefined; use null for "no value"')
      case 'function':
        throw new Fail('INVALID_VALUE', 'is a function; functions cannot be stored')
      case 'symbol':
        throw new Fail('INVALID_VALUE', 'is a symbol; store a string instead')
    }
  }

  /** An integer within ±(2^53 − 1), in its smallest form (`-0` becomes 0). */
  private int(v: number): void {
    this.ensure(9)
    const b = this.buf
    let p = this.pos
    if (v >= 0) {
      if (v < 0x80) {
        b[p++] = v
      } else if (v < 0x100) {
        b[p++] = 0xcc
        b[p++] = v
      } else if (v < 0x10000) {
        b[p++] = 0xcd
        b[p++] = v >>> 8
        b[p++] = v
      } else if (v < TWO32) {
        b[p++] = 0xce
        this.view.setUint32(p, v)
        p += 4
      } else {
        b[p++] = 0xcf
        const hi = Math.floor(v / TWO32)
        this.view.setUint32(p, hi)
        this.view.setUint32(p + 4, v - hi * TWO32)
        p += 8
      }
    } else if (v >= -32) {
      b[p++] = v & 0xff
    } else if (v >= -0x80) {
      b[p++] = 0xd0
      b[p++] = v & 0xff
    } else if (v >= -0x8000) {
      b[p++] = 0xd1
      b[p++] = (v >> 8) & 0xff
      b[p++] = v & 0xff
    } else if (v >= -0x80000000) {
      b[p++] = 0xd2
      this.view.setInt32(p, v)
      p += 4
    } else {
      b[p++] = 0xd3
      const hi = Math.floor(v / TWO32)
      this.view.setInt32(p, hi)
      this.view.setUint32(p + 4, v - hi * TWO32)
      p += 8
    }
    this.pos = p
  }

  private float(v: number): void {
    this.ensure(9)
    this.buf[this.pos] = 0xcb
    this.view.setFloat64(this.pos + 1, v)
    this.pos += 9
  }

  /** A string (or, with `isKey`, a map key) as str; lone surrogates fail. */
  private str(s: string, isKey: boolean): void {
    const len = s.length
    // Optimistically reserve the header for the smallest possible payload (all ASCII: `len` bytes); it is widened
    // below if the UTF-8 turns out longer.
    const hdr = strHeaderSize(len)
    let n: number
    if (len <= SHORT_STR_ENCODE) {
      // Room for the largest header and the worst case of 3 bytes per UTF-16 unit.
      this.ensure(5 + len * 3)
      const b = this.buf
      const start = this.pos + hdr
      let p = start
      for (let i = 0; i < len; i++) {
        const c = s.charCodeAt(i)
        if (c < 0x80) {
          b[p++] = c
        } else if (c < 0x800) {
          b[p++] = 0xc0 | (c >> 6)
          b[p++] = 0x80 | (c & 0x3f)
        } else if (c < 0xd800 || c > 0xdfff) {
          b[p++] = 0xe0 | (c >> 12)
          b[p++] = 0x80 | ((c >> 6) & 0x3f)
          b[p++] = 0x80 | (c & 0x3f)
        } else {
          const d = c <= 0xdbff && i + 1 < len ? s.charCodeAt(i + 1) : 0
          if ((d & 0xfc00) !== 0xdc00) throw loneSurrogate(s, isKey)
          i++
          const cp = ((c - 0xd800) << 10) + (d - 0xdc00) + 0x10000
          b[p++] = 0xf0 | (cp >> 18)
          b[p++] = 0x80 | ((cp >> 12) & 0x3f)
          b[p++] = 0x80 | ((cp >> 6) & 0x3f)
          b[p++] = 0x80 | (cp & 0x3f)
        }
      }
      n = p - start
    } else {
      // encodeInto would silently turn a lone surrogate into U+FFFD.
      if (!isWellFormed(s)) throw loneSurrogate(s, isKey)
      n = this.utf8Long(s, hdr)
    }
    const need = strHeaderSize(n)
    if (need !== hdr) {
      this.ensure(need + n)
      this.buf.copyWithin(this.pos + need, this.pos + hdr, this.pos + hdr + n)
    }
    const b = this.buf
    let p = this.pos
    if (n < 32) {
      b[p++] = 0xa0 | n
    } else if (n < 0x100) {
      b[p++] = 0xd9
      b[p++] = n
    } else if (n < 0x10000) {
      b[p++] = 0xda
      b[p++] = n >>> 8
      b[p++] = n
    } else {
      b[p++] = 0xdb
      this.view.setUint32(p, n)
      p += 4
    }
    this.pos = p + n
  }

  /**
   * Writes the UTF-8 of a long, well-formed string at `this.pos + offset`; returns its byte length. Up to
   * `LONG_STR_WORST_CASE` units it reserves the worst case (3 bytes a unit) up front; beyond, it reserves for ASCII and
   * grows once if the string is wider, so a huge ASCII string does not leave the buffer 3 times its size.
   */
  private utf8Long(s: string, offset: number): number {
    const len = s.length
    this.ensure(5 + (len <= LONG_STR_WORST_CASE ? len * 3 : len))
    const r = utf8Encoder.encodeInto(s, this.buf.subarray(this.pos + offset))
    let written = r.written
    if (r.read < len) {
      this.ensure(5 + written + (len - r.read) * 3)
      written += utf8Encoder.encodeInto(s.slice(r.read), this.buf.subarray(this.pos + offset + written)).written
    }
    return written
  }

  private bin(v: Uint8Array): void {
    const n = v.length
    this.ensure(5 + n)
    const b = this.buf
    let p = this.pos
    if (n < 0x100) {
      b[p++] = 0xc4
      b[p++] = n
    } else if (n < 0x10000) {
      b[p++] = 0xc5
      b[p++] = n >>> 8
      b[p++] = n
    } else {
      b[p++] = 0xc6
      this.view.setUint32(p, n)
      p += 4
    }
    if (n < 16) for (let i = 0; i < n; i++) b[p + i] = v[i]!
    else b.set(v, p)
    this.pos = p + n
  }

  /** Cycle and depth checks for a container about to be entered; pushes it on the ancestor stack. */
  private enter(v: object): void {
    const st = this.stack
    for (let i = 0; i < st.length; i++) {
      if (st[i] === v)
        throw new Fail(
          'INVALID_VALUE',
          'is a cyclic reference (it contains itself); store an id and resolve the reference yourself',
        )
    }
    if (st.length >= MAX_DEPTH)
      throw new Fail('LIMIT_EXCEEDED', `nests deeper than ${MAX_DEPTH} levels; flatten the structure`)
    st.push(v)
  }

  private containerHeader(n: number, fix: number, x16: number): void {
    this.ensure(5)
    const b = this.buf
    let p = this.pos
    if (n < 16) {
      b[p++] = fix | n
    } else if (n < 0x10000) {
      b[p++] = x16
      b[p++] = n >>> 8
      b[p++] = n
    } else {
      b[p++] = x16 + 1
      this.view.setUint32(p, n)
      p += 4
    }
    this.pos = p
  }

  private array(a: unknown[]): void {
    this.enter(a)
    const n = a.length
    this.containerHeader(n, 0x90, 0xdc)
    let i = 0
    try {
      for (; i < n; i++) {
        const x = a[i]
        if (x === undefined && !(i in a)) {
          // A hole in a sparse array is "no value".
          this.ensure(1)
          this.buf[this.pos++] = 0xc0
        } else {
          this.any(x)
        }
      }
    } catch (e) {
      if (e instanceof Fail) e.segs.push(i)
      throw e
    }
    this.stack.pop()
  }

  private map(o: object): void {
    const proto = Object.getPrototypeOf(o) as object | null
    if (proto !== Object.prototype && proto !== null) throw new Fail('INVALID_VALUE', describeObject(o, proto))
    if (Object.getOwnPropertySymbols(o).length > 0)
      throw new Fail('INVALID_VALUE', 'has symbol-keyed properties; only string keys can be stored')
    this.enter(o)
    const keys = Object.keys(o)
    const n = keys.length
    this.containerHeader(n, 0x80, 0xde)
    let key = ''
    try {
      for (let i = 0; i < n; i++) {
        key = keys[i]!
        this.str(key, true)
        this.any((o as Record<string, unknown>)[key])
      }
    } catch (e) {
      if (e instanceof Fail) {
        if (e.atKey) e.atKey = false
        else e.segs.push(key)
      }
      throw e
    }
    this.stack.pop()
  }
}

function loneSurrogate(s: string, isKey: boolean): Fail {
  if (!isKey)
    return new Fail(
      'INVALID_VALUE',
      'is a string with a lone surrogate, which UTF-8 cannot represent; fix the string (s.toWellFormed()) or store it as bytes',
    )
  const f = new Fail(
    'INVALID_VALUE',
    `has a key ${JSON.stringify(s)} with a lone surrogate, which UTF-8 cannot represent; fix the key (k.toWellFormed())`,
  )
  f.atKey = true
  return f
}

const shared = new Encoder()

/**
 * Validates and encodes `v` into a fresh byte array.
 *
 * @param v - the value to encode.
 * @returns the MessagePack bytes (a copy the caller owns).
 * @throws StrataError `INVALID_VALUE` or `LIMIT_EXCEEDED`, as {@link Encoder.encode}.
 */
export function encodeValue(v: unknown): Uint8Array {
  return shared.encode(v).slice()
}

// ---------------------------------------------------------------------------------------------------------------
// Decoding
// ---------------------------------------------------------------------------------------------------------------

const EMPTY = new Uint8Array(0)
/** The decoder's state: the input, the cursor, the end of the input and the start (for error offsets). */
let src: Uint8Array = EMPTY
let pos = 0
let lim = 0
let base = 0

/** Scratch space for reading big-endian floats and 64-bit integers without a DataView per call. */
const scratch = new Uint8Array(8)
const scratchF64 = new Float64Array(scratch.buffer)
const scratchF32 = new Float32Array(scratch.buffer, 0, 1)
const scratchI64 = new BigInt64Array(scratch.buffer)
const scratchU64 = new BigUint64Array(scratch.buffer)
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1

function corrupt(at: number): StrataError {
  return new StrataError('CORRUPT', `stored value is not valid MessagePack at byte ${at - base}`)
}

/** Copies `n` big-endian bytes at `p` into the scratch buffer in native order. */
function loadScratch(p: number, n: number): void {
  const b = src
  if (LITTLE_ENDIAN) for (let i = 0; i < n; i++) scratch[i] = b[p + n - 1 - i]!
  else for (let i = 0; i < n; i++) scratch[i] = b[p + i]!
}

/**
 * Decodes one MessagePack value occupying exactly `bytes[start..end)`.
 *
 * @param bytes - the input; not retained, and no view into it is returned (bytes values are copies).
 * @param start - offset of the value's first byte.
 * @param end - offset just past the value's last byte.
 * @returns the decoded value: integers within ±(2^53 − 1) as `number`, larger ones as `bigint`; bin as a fresh
 *   `Uint8Array`; maps as plain objects whose keys are all own data properties (including `__proto__`).
 * @throws StrataError `CORRUPT` if the bytes are not one well-formed value (truncated, trailing bytes, ext types,
 *   the reserved byte 0xc1, invalid UTF-8, or nesting deeper than 128 levels), or if the range is not within `bytes`.
 */
export function decode(bytes: Uint8Array, start: number, end: number): Value {
  if (!(Number.isInteger(start) && Number.isInteger(end) && start >= 0 && start <= end && end <= bytes.length)) {
    throw new StrataError(
      'CORRUPT',
      `stored value range [${start}, ${end}) is not within its ${bytes.length}-byte buffer`,
    )
  }
  src = bytes
  pos = start
  lim = end
  base = start
  try {
    const v = read(0)
    if (pos !== end) throw corrupt(pos)
    return v
  } finally {
    src = EMPTY
  }
}

/**
 * Decodes a MessagePack value occupying all of `bytes`.
 *
 * @param bytes - the encoded value.
 * @returns the decoded value, as {@link decode}.
 * @throws StrataError `CORRUPT`, as {@link decode}.
 */
export function decodeValue(bytes: Uint8Array): Value {
  return decode(bytes, 0, bytes.length)
}

function read(depth: number): Value {
  if (pos >= lim) throw corrupt(pos)
  const b = src
  const t = b[pos++]!
  if (t < 0xc0) {
    if (t < 0x80) return t
    if (t >= 0xa0) return readStr(t & 0x1f)
    if (t < 0x90) return readMap(t & 0x0f, depth)
    return readArray(t & 0x0f, depth)
  }
  if (t >= 0xe0) return t - 0x100
  switch (t) {
    case 0xc0:
      return null
    case 0xc2:
      return false
    case 0xc3:
      return true
    case 0xc4:
      return readBin(u8())
    case 0xc5:
      return readBin(u16())
    case 0xc6:
      return readBin(u32())
    case 0xca: {
      need(4)
      loadScratch(pos, 4)
      pos += 4
      const x = scratchF32[0]!
      return x === 0 ? 0 : x
    }
    case 0xcb: {
      need(8)
      loadScratch(pos, 8)
      pos += 8
      const x = scratchF64[0]!
      return x === 0 ? 0 : x
    }
    case 0xcc:
      return u8()
    case 0xcd:
      return u16()
    case 0xce:
      return u32()
    case 0xcf: {
      need(8)
      const hi = u32()
      const lo = u32()
      if (hi < 0x200000) return hi * TWO32 + lo
      loadScratch(pos - 8, 8)
      return scratchU64[0]!
    }
    case 0xd0: {
      const x = u8()
      return x < 0x80 ? x : x - 0x100
    }
    case 0xd1: {
      const x = u16()
      return x < 0x8000 ? x : x - 0x10000
    }
    case 0xd2:
      return u32() | 0
    case 0xd3: {
      need(8)
      const hi = u32() | 0
      const lo = u32()
      const x = hi * TWO32 + lo
      // Rounding is monotonic and ±2^53 are exact, so this never misclassifies a value outside the safe range.
      if (x <= MAX_SAFE && x >= -MAX_SAFE) return x
      loadScratch(pos - 8, 8)
      return scratchI64[0]!
    }
    case 0xd9:
      return readStr(u8())
    case 0xda:
      return readStr(u16())
    case 0xdb:
      return readStr(u32())
    case 0xdc:
      return readArray(u16(), depth)
    case 0xdd:
      return readArray(u32(), depth)
    case 0xde:
      return readMap(u16(), depth)
    case 0xdf:
      return readMap(u32(), depth)
    default:
      // 0xc1 (never used) and the ext family (0xc7-0xc9, 0xd4-0xd8): stratadb stores no extension types.
      throw corrupt(pos - 1)
  }
}

function need(n: number): void {
  if (pos + n > lim) throw corrupt(pos)
}

function u8(): number {
  if (pos + 1 > lim) throw corrupt(pos)
  return src[pos++]!
}

function u16(): number {
  if (pos + 2 > lim) throw corrupt(pos)
  const b = src
  const x = (b[pos]! << 8) | b[pos + 1]!
  pos += 2
  return x
}

function u32(): number {
  if (pos + 4 > lim) throw corrupt(pos)
  const b = src
  const p = pos
  pos = p + 4
  return b[p]! * 0x1000000 + ((b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!)
}

function readBin(n: number): Uint8Array {
  if (pos + n > lim) throw corrupt(pos)
  const b = src
  const p = pos
  const out = new Uint8Array(n)
  if (n < 64) for (let i = 0; i < n; i++) out[i] = b[p + i]!
  else out.set(b.subarray(p, p + n))
  pos = p + n
  return out
}

function readStr(n: number): string {
  const p = pos
  const e = p + n
  if (e > lim) throw corrupt(p)
  if (n <= SHORT_STR_DECODE) {
    const s = shortUtf8(p, e)
    if (s !== undefined) {
      pos = e
      return s
    }
  }
  try {
    const s = utf8Decoder.decode(src.subarray(p, e))
    pos = e
    return s
  } catch {
    throw corrupt(p)
  }
}

const fromCharCode = String.fromCharCode
/** `UNITS[n]` is a reusable array of exactly `n` UTF-16 units, so short strings decode without allocation. */
const UNITS: number[][] = Array.from({ length: SHORT_STR_DECODE + 1 }, (_, n) => new Array<number>(n).fill(0))

/** Hand-decodes well-formed UTF-8 in `src[p..e)`; `undefined` on anything irregular (the caller falls back). */
function shortUtf8(p: number, e: number): string | undefined {
  const b = src
  const n = e - p
  if (n <= TINY_STR) {
    // Tiny ASCII strings (most keys and many values): one call with the units as arguments, no array at all.
    let m = 0
    for (let i = p; i < e; i++) m |= b[i]!
    if (m < 0x80) {
      // prettier-ignore
      switch (n) {
        case 1: return fromCharCode(b[p]!)
        case 2: return fromCharCode(b[p]!, b[p + 1]!)
        case 3: return fromCharCode(b[p]!, b[p + 1]!, b[p + 2]!)
        case 4: return fromCharCode(b[p]!, b[p + 1]!, b[p + 2]!, b[p + 3]!)
        case 5: return fromCharCode(b[p]!, b[p + 1]!, b[p + 2]!, b[p + 3]!, b[p + 4]!)
        case 6: return fromCharCode(b[p]!, b[p + 1]!, b[p + 2]!, b[p + 3]!, b[p + 4]!, b[p + 5]!)
        case 7: return fromCharCode(b[p]!, b[p + 1]!, b[p + 2]!, b[p + 3]!, b[p + 4]!, b[p + 5]!, b[p + 6]!)
        case 8: return fromCharCode(b[p]!, b[p + 1]!, b[p + 2]!, b[p + 3]!, b[p + 4]!, b[p + 5]!, b[p + 6]!, b[p + 7]!)
        case 9: return fromCharCode(b[p]!, b[p + 1]!, b[p + 2]!, b[p + 3]!, b[p + 4]!, b[p + 5]!, b[p + 6]!, b[p + 7]!, b[p + 8]!)
        case 10: return fromCharCode(b[p]!, b[p + 1]!, b[p + 2]!, b[p + 3]!, b[p + 4]!, b[p + 5]!, b[p + 6]!, b[p + 7]!, b[p + 8]!, b[p + 9]!)
        case 11: return fromCharCode(b[p]!, b[p + 1]!, b[p + 2]!, b[p + 3]!, b[p + 4]!, b[p + 5]!, b[p + 6]!, b[p + 7]!, b[p + 8]!, b[p + 9]!, b[p + 10]!)
        case 12: return fromCharCode(b[p]!, b[p + 1]!, b[p + 2]!, b[p + 3]!, b[p + 4]!, b[p + 5]!, b[p + 6]!, b[p + 7]!, b[p + 8]!, b[p + 9]!, b[p + 10]!, b[p + 11]!)
        case 13: return fromCharCode(b[p]!, b[p + 1]!, b[p + 2]!, b[p + 3]!, b[p + 4]!, b[p + 5]!, b[p + 6]!, b[p + 7]!, b[p + 8]!, b[p + 9]!, b[p + 10]!, b[p + 11]!, b[p + 12]!)
        case 14: return fromCharCode(b[p]!, b[p + 1]!, b[p + 2]!, b[p + 3]!, b[p + 4]!, b[p + 5]!, b[p + 6]!, b[p + 7]!, b[p + 8]!, b[p + 9]!, b[p + 10]!, b[p + 11]!, b[p + 12]!, b[p + 13]!)
        case 15: return fromCharCode(b[p]!, b[p + 1]!, b[p + 2]!, b[p + 3]!, b[p + 4]!, b[p + 5]!, b[p + 6]!, b[p + 7]!, b[p + 8]!, b[p + 9]!, b[p + 10]!, b[p + 11]!, b[p + 12]!, b[p + 13]!, b[p + 14]!)
        case 16: return fromCharCode(b[p]!, b[p + 1]!, b[p + 2]!, b[p + 3]!, b[p + 4]!, b[p + 5]!, b[p + 6]!, b[p + 7]!, b[p + 8]!, b[p + 9]!, b[p + 10]!, b[p + 11]!, b[p + 12]!, b[p + 13]!, b[p + 14]!, b[p + 15]!)
        default: return ''
      }
    }
  }
  const u = UNITS[n]!
  let k = 0
  while (p < e) {
    const c = b[p++]!
    if (c < 0x80) {
      u[k++] = c
    } else if (c >= 0xc2 && c < 0xe0) {
      if (p >= e) return undefined
      const c1 = b[p++]!
      if ((c1 & 0xc0) !== 0x80) return undefined
      u[k++] = ((c & 0x1f) << 6) | (c1 & 0x3f)
    } else if (c >= 0xe0 && c < 0xf0) {
      if (p + 1 >= e) return undefined
      const c1 = b[p++]!
      const c2 = b[p++]!
      if ((c1 & 0xc0) !== 0x80 || (c2 & 0xc0) !== 0x80) return undefined
      const x = ((c & 0x0f) << 12) | ((c1 & 0x3f) << 6) | (c2 & 0x3f)
      // Overlong forms and UTF-16 surrogates are not valid UTF-8.
      if (x < 0x800 || (x >= 0xd800 && x <= 0xdfff)) return undefined
      u[k++] = x
    } else if (c >= 0xf0 && c < 0xf5) {
      if (p + 2 >= e) return undefined
      const c1 = b[p++]!
      const c2 = b[p++]!
      const c3 = b[p++]!
      if ((c1 & 0xc0) !== 0x80 || (c2 & 0xc0) !== 0x80 || (c3 & 0xc0) !== 0x80) return undefined
      const x = ((c & 0x07) << 18) | ((c1 & 0x3f) << 12) | ((c2 & 0x3f) << 6) | (c3 & 0x3f)
      if (x < 0x10000 || x > 0x10ffff) return undefined
      u[k++] = 0xd800 + ((x - 0x10000) >> 10)
      u[k++] = 0xdc00 + ((x - 0x10000) & 0x3ff)
    } else {
      return undefined
    }
  }
  if (k === u.length) return fromCharCode.apply(null, u)
  // Multi-byte characters made fewer units than bytes: hand over an array of the exact length.
  const v = UNITS[k]!
  for (let i = 0; i < k; i++) v[i] = u[i]!
  return fromCharCode.apply(null, v)
}

// Map keys repeat across values, so short ones are cached by their bytes: a hit costs a hash and a compare, makes
// no string, and hands back a string V8 has already internalized as a property name.
const KEY_CACHE_SIZE = 4096
const MAX_CACHED_KEY = 16
const keyCacheBytes = new Uint8Array(KEY_CACHE_SIZE * MAX_CACHED_KEY)
/** The cached key's byte length plus one; 0 for an empty slot. */
const keyCacheLen = new Uint8Array(KEY_CACHE_SIZE)
const keyCacheStr: string[] = new Array<string>(KEY_CACHE_SIZE).fill('')

/** Reads a map key that is a str of `n` bytes (header already consumed). */
function readKey(n: number): string {
  if (n > MAX_CACHED_KEY) return readStr(n)
  const p = pos
  const e = p + n
  if (e > lim) throw corrupt(p)
  const b = src
  let h = n
  for (let i = p; i < e; i++) h = Math.imul(h ^ b[i]!, 0x01000193)
  const slot = (h ^ (h >>> 15)) & (KEY_CACHE_SIZE - 1)
  const at = slot * MAX_CACHED_KEY
  if (keyCacheLen[slot] === n + 1) {
    let i = 0
    while (i < n && keyCacheBytes[at + i] === b[p + i]) i++
    if (i === n) {
      pos = e
      return keyCacheStr[slot]!
    }
  }
  const s = readStr(n)
  for (let i = 0; i < n; i++) keyCacheBytes[at + i] = b[p + i]!
  keyCacheLen[slot] = n + 1
  keyCacheStr[slot] = s
  return s
}

function enterContainer(n: number, minBytesEach: number, depth: number): void {
  // Every element takes at least one byte: a count the input cannot hold is corruption, not a huge allocation.
  if (n * minBytesEach > lim - pos) throw corrupt(pos)
  if (depth >= MAX_DEPTH) throw corrupt(pos)
}

function readArray(n: number, depth: number): Value[] {
  enterContainer(n, 1, depth)
  const d = depth + 1
  const a: Value[] = new Array<Value>(n)
  for (let i = 0; i < n; i++) a[i] = read(d)
  return a
}

function readMap(n: number, depth: number): { [key: string]: Value } {
  enterContainer(n, 2, depth)
  const d = depth + 1
  const o: { [key: string]: Value } = {}
  for (let i = 0; i < n; i++) {
    let key: string
    const t = pos < lim ? src[pos]! : 0
    if (t >= 0xa0 && t < 0xc0) {
      pos++
      key = readKey(t & 0x1f)
    } else {
      const k = read(d)
      key = typeof k === 'string' ? k : String(k)
    }
    const v = read(d)
    if (key === '__proto__') {
      Object.defineProperty(o, key, { value: v, writable: true, enumerable: true, configurable: true })
    } else {
      o[key] = v
    }
  }
  return o
}
