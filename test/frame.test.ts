/**
 * The native addon's call frame (crates/strata-node/src/frame.rs): the hottest calls read their arguments from a
 * buffer of the calling thread, and a key or value too long for it goes as arguments instead. The edges run on both
 * backends, so the native answers are also checked against WebAssembly's; the rest needs the addon.
 */
import { describe, expect, it } from 'vitest'
import { randomFillSync } from 'node:crypto'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'
import { Worker } from 'node:worker_threads'
import { Strata } from 'stratadb'
import { Encoder } from '../ts/codec.js'
import { checkLayout, type FrameAddon, type FrameLayout, Layout } from '../ts/loader/frame.js'
import { BACKEND, codeOf, expectCode, random } from './helpers.js'

const ADDON = fileURLToPath(new URL('../native/index.cjs', import.meta.url))
const DIST_CJS = fileURLToPath(new URL('../dist/index.cjs', import.meta.url))

/** What the engine says of a key of `bytes` bytes of UTF-8, over the limit. */
const tooLong = (bytes: number): string => `key is ${bytes} bytes of UTF-8; the limit is 1024`

/** Keys on each side of the key limit and of the frame's key room, with their length in bytes of UTF-8. */
const KEYS: [string, string, number][] = [
  ['1024 ASCII', 'k'.repeat(1024), 1024],
  ['1025 ASCII', 'k'.repeat(1025), 1025],
  ['512 two-byte', 'é'.repeat(512), 1024],
  ['513 two-byte', 'é'.repeat(513), 1026],
  ['341 three-byte and 1 ASCII', '€'.repeat(341) + 'a', 1024],
  ['341 three-byte and 2 ASCII', '€'.repeat(341) + 'ab', 1025],
  ['256 four-byte', '😀'.repeat(256), 1024],
  ['256 four-byte and 1 ASCII', '😀'.repeat(256) + 'a', 1025],
  ['1024 three-byte (fills the frame)', '€'.repeat(1024), 3072],
  ['1025 three-byte (goes as an argument)', '€'.repeat(1025), 3075],
  ['1024 ASCII and 1 three-byte (goes as an argument)', 'k'.repeat(1024) + '€', 1027],
]

const encoder = new Encoder()

/** A string whose MessagePack encoding is exactly `length` bytes (a str16 from 256 bytes on). */
function encodedAs(length: number): string {
  const s = 'v'.repeat(length - 3)
  expect(encoder.encode(s).length).toBe(length)
  return s
}

describe('keys and values at the edges of the call frame', () => {
  for (const [label, key, bytes] of KEYS) {
    it(`a key of ${label} answers as the engine does (${bytes} bytes)`, () => {
      const db = Strata.cache()
      if (bytes <= 1024) {
        expect(db.kv.put(key, 1)).toBe(1)
        expect(db.kv.get(key)).toBe(1)
        expect(db.kv.delete(key)).toBe(true)
        expect(db.state.cas(key, null, 2)).toBe(1)
        expect(db.state.get(key)).toBe(2)
        expect(db.events.append(key, 3)).toBe(0)
        expect(db.events.get(0)?.type).toBe(key)
        const tx = db.begin()
        expect(tx.kv.put(key, 4)).toBe(3)
        expect(tx.kv.get(key)).toBe(4)
        expect(tx.kv.delete(key)).toBe(true)
        expect(tx.state.cas(key, 1, 5)).toBe(2)
        expect(tx.events.append(key, 6)).toBe(1)
        tx.commit()
        expect(db.state.get(key)).toBe(5)
        expect(db.events.get(1)?.type).toBe(key)
        return
      }
      const message = tooLong(bytes)
      const tx = db.begin()
      expectCode(() => db.kv.put(key, 1), 'LIMIT_EXCEEDED', message)
      expectCode(() => db.kv.get(key), 'LIMIT_EXCEEDED', message)
      expectCode(() => db.kv.delete(key), 'LIMIT_EXCEEDED', message)
      expectCode(() => db.state.cas(key, null, 2), 'LIMIT_EXCEEDED', message)
      expectCode(() => db.events.append(key, 3), 'LIMIT_EXCEEDED', `event type: ${message}`)
      expectCode(() => tx.kv.put(key, 4), 'LIMIT_EXCEEDED', message)
      expectCode(() => tx.kv.get(key), 'LIMIT_EXCEEDED', message)
      expectCode(() => tx.kv.delete(key), 'LIMIT_EXCEEDED', message)
      expectCode(() => tx.state.cas(key, null, 5), 'LIMIT_EXCEEDED', message)
      expectCode(() => tx.events.append(key, 6), 'LIMIT_EXCEEDED', `event type: ${message}`)
    })
  }

  it('an empty key and a key holding U+0000 are INVALID_KEY through the frame too', () => {
    const db = Strata.cache()
    expectCode(() => db.kv.put('', 1), 'INVALID_KEY', 'key is empty')
    expectCode(() => db.kv.get('a\u0000b'), 'INVALID_KEY', 'U+0000')
    expectCode(() => db.begin().kv.put('a\u0000b', 1), 'INVALID_KEY', 'U+0000')
  })

  for (const [label, length] of [
    ['one byte less than the frame holds', Layout.ValueRoom - 1],
    ['as long as the frame holds', Layout.ValueRoom],
    ['one byte more than the frame holds', Layout.ValueRoom + 1],
  ] as const) {
    it(`a value of ${label} (${length} bytes encoded) is written and read back everywhere`, () => {
      const value = encodedAs(length)
      const db = Strata.cache()
      expect(db.kv.put('k', value)).toBe(1)
      expect(db.kv.get('k')).toBe(value)
      expect(db.state.cas('c', null, value)).toBe(1)
      expect(db.state.cas('c', 1, value + '!')).toBe(2)
      expect(db.state.get('c')).toBe(value + '!')
      expect(db.events.append('t', value)).toBe(0)
      expect(db.events.get(0)?.payload).toBe(value)
      const tx = db.begin()
      expect(tx.kv.put('k2', value)).toBe(1)
      expect(tx.kv.get('k2')).toBe(value)
      expect(tx.state.cas('c', 2, value)).toBe(3)
      expect(tx.events.append('t', value)).toBe(1)
      tx.commit()
      expect(db.kv.get('k2')).toBe(value)
      expect(db.state.get('c')).toBe(value)
      expect(db.events.get(1)?.payload).toBe(value)
    })
  }

  it('a value over the engine limit is LIMIT_EXCEEDED with the engine message', () => {
    const db = Strata.cache()
    const huge = 'x'.repeat(16 * 1024 * 1024)
    const message = 'value is 16777221 bytes encoded; the limit is 16777216 bytes (16 MiB)'
    expectCode(() => db.kv.put('k', huge), 'LIMIT_EXCEEDED', message)
    expectCode(() => db.state.cas('c', null, huge), 'LIMIT_EXCEEDED', message)
    expectCode(() => db.begin().kv.put('k', huge), 'LIMIT_EXCEEDED', message)
  })
})

/** The exports that read the frame. */
const FRAMED = [
  'dbGetFramed', 'dbPutFramed', 'dbDeleteFramed', 'dbCasFramed', 'dbAppendEventFramed', 'dbGetEvent',
  'txGetFramed', 'txPutFramed', 'txDeleteFramed', 'txCasFramed', 'txAppendEventFramed',
] as const

/** The addon's frame exports and the framed calls, as a caller of the raw addon sees them. */
interface Addon extends FrameAddon, Record<(typeof FRAMED)[number], () => unknown> {
  dbMemory(owner: object, name: string | null): number
  dbBegin(db: number, owner: object, branch: number, readOnly: boolean): number
  dbSetReadBuffer(db: number, buffer: Uint8Array): void
  errorCodes(): string[]
}

describe.runIf(BACKEND === 'native')('the native call frame', () => {
  const addon = (BACKEND === 'native' ? createRequire(import.meta.url)(ADDON) : undefined) as Addon

  it("matches this package's layout, and the check would catch a difference", () => {
    const layout = addon.frameLayout()
    expect(() => checkLayout(layout)).not.toThrow()
    expect(() => checkLayout({ ...layout, valueRoom: layout.valueRoom + 1 })).toThrow(/valueRoom: 5049, expected 5048/)
    expect(() => checkLayout({ ...layout, extra: 1 } as FrameLayout)).toThrow(/extra/)
    const frame = addon.frame()
    expect(frame).toBeInstanceOf(Uint8Array)
    expect(frame.length).toBe(Layout.Bytes)
    // Every caller in this thread gets the same buffer, the TypeScript layer's included.
    expect(addon.frame()).toBe(frame)
  })

  it('the ESM and CommonJS builds loaded in one thread both answer right, with their calls interleaved', () => {
    const cjs = createRequire(import.meta.url)(DIST_CJS) as typeof import('stratadb')
    expect(cjs.Strata).not.toBe(Strata) // two copies of the package, each with its own module state
    const [a, b] = [Strata.cache(), cjs.Strata.cache()]
    expect([a.backend, b.backend]).toEqual(['native', 'native'])
    const [ta, tb] = [a.begin(), b.begin()]
    const next = random(7)
    for (let i = 0; i < 300; i++) {
      // Keys of several lengths and scripts, so a call that read the other copy's frame would find the wrong key.
      const key = ['k', 'clé', '键', '😀'][i % 4]!.repeat(1 + Math.floor(next() * 20)) + i
      expect(a.kv.put(key, { from: 'esm', i })).toBe(1)
      expect(b.kv.put(key, { from: 'cjs', i })).toBe(1)
      expect(a.kv.get(key)).toEqual({ from: 'esm', i })
      expect(b.kv.get(key)).toEqual({ from: 'cjs', i })
      expect(a.events.append(`esm-${i}`, i)).toBe(i)
      expect(b.state.cas('cell', i === 0 ? null : i, key)).toBe(i + 1)
      expect(a.events.get(i)).toMatchObject({ sequence: i, type: `esm-${i}`, payload: i })
      expect(b.state.getVersioned('cell')).toMatchObject({ version: i + 1, value: key })
      expect(tb.kv.put(`tx-${key}`, 'in b')).toBe(1)
      expect(ta.kv.get(key)).toBeNull() // a's snapshot is older than the key
      expect(tb.kv.get(`tx-${key}`)).toBe('in b')
      expect(b.kv.delete(key)).toBe(true)
      expect(a.kv.get(key)).toEqual({ from: 'esm', i })
      expect(b.kv.get(key)).toBeNull()
    }
    ta.rollback()
    tb.commit()
    expect(b.kv.list()).toHaveLength(300)
    expect(b.kv.list().every((k) => k.startsWith('tx-'))).toBe(true)
    expect(a.kv.list()).toHaveLength(300)
    expect([a.events.count(), b.events.count()]).toEqual([300, 0])
  })

  it('garbage in the frame is a clean error, never a crash', () => {
    const frame = addon.frame()
    const slots = new Float64Array(frame.buffer, frame.byteOffset, Layout.Slots)
    const owner = {}
    const db = addon.dbMemory(owner, null)
    addon.dbSetReadBuffer(db, new Uint8Array(4096))
    const tx = addon.dbBegin(db, owner, 0, false)
    const call = (name: (typeof FRAMED)[number], set: Partial<Record<Layout, number>>, key?: number[]): string => {
      slots.set([db, 0, 0, 0, -1, -1, 0, 1, 1])
      frame[Layout.KeyOffset] = 0x6b // 'k'
      frame[Layout.ValueOffset] = 0x01 // MessagePack 1
      for (const [slot, n] of Object.entries(set)) slots[Number(slot)] = n
      if (key) frame.set(key, Layout.KeyOffset)
      return codeOf(() => addon[name]())
    }
    expect(call('dbPutFramed', {})).toBe('none')
    expect(call('dbGetFramed', {})).toBe('none')
    for (const bad of [NaN, -1, 0.5, Infinity, 2 ** 53]) {
      expect(call('dbGetFramed', { [Layout.KeyLength]: bad }), `key length ${bad}`).toBe('INVALID_VALUE')
      expect(call('dbPutFramed', { [Layout.ValueLength]: bad }), `value length ${bad}`).toBe('INVALID_VALUE')
    }
    expect(call('dbGetFramed', { [Layout.KeyLength]: Layout.KeyRoom + 1 })).toBe('INVALID_VALUE')
    expect(call('dbPutFramed', { [Layout.ValueLength]: Layout.ValueRoom + 1 })).toBe('INVALID_VALUE')
    expect(call('dbGetFramed', { [Layout.KeyLength]: 2 }, [0xc3, 0x28])).toBe('INVALID_KEY')
    expect(call('txPutFramed', { [Layout.Handle]: tx, [Layout.KeyLength]: 1 }, [0xff])).toBe('INVALID_KEY')
    for (const bad of [NaN, -1, 0.5, 2 ** 32]) {
      expect(call('dbGetFramed', { [Layout.Ns]: bad }), `ns ${bad}`).toBe('INVALID_VALUE')
      expect(call('dbGetFramed', { [Layout.Space]: bad }), `space ${bad}`).toBe('INVALID_VALUE')
    }
    for (const bad of [NaN, 0, -1, 0.5, db + 1, tx]) {
      expect(call('dbGetFramed', { [Layout.Handle]: bad }), `handle ${bad}`).toBe('CLOSED')
    }
    expect(call('txGetFramed', { [Layout.Handle]: db })).toBe('CLOSED')
    // Random bytes everywhere, and random bytes around a real handle: every answer is a value or a coded error.
    const codes = new Set([...addon.errorCodes(), 'none'])
    const next = random(11)
    for (let i = 0; i < 3000; i++) {
      randomFillSync(frame)
      if (i % 2) {
        slots[Layout.Handle] = i % 4 === 1 ? db : tx
        slots[Layout.Ns] = Math.floor(next() * 4)
        slots[Layout.Space] = 0
        slots[Layout.KeyLength] = Math.floor(next() * 40)
        slots[Layout.ValueLength] = Math.floor(next() * 40)
      }
      const name = FRAMED[i % FRAMED.length]!
      const code = codeOf(() => addon[name]())
      expect(codes.has(code), `${name}: ${code}`).toBe(true)
    }
    frame.fill(0)
  })

  it('each thread has a frame of its own, and a thread without one gets a clean error', async () => {
    const code = `
      const { parentPort } = require('node:worker_threads')
      const addon = require(${JSON.stringify(ADDON)})
      let before = 'none'
      try { addon.dbGetFramed() } catch (e) { before = e.code + ': ' + e.message }
      const frame = addon.frame()
      parentPort.postMessage([before, frame.length, frame.every((b) => b === 0), addon.frame() === frame])
    `
    addon.frame().fill(0x55) // this thread's frame; the worker's must not see it
    const answer = await new Promise<unknown>((resolve, reject) => {
      const w = new Worker(code, { eval: true })
      w.once('message', resolve)
      w.once('error', reject)
    })
    addon.frame().fill(0)
    expect(answer).toEqual([
      'UNSUPPORTED: no call frame on this thread: call frame() before a framed call',
      Layout.Bytes,
      true,
      true,
    ])
  })
})
