import { describe, expect, it } from 'vitest'
import { Strata, StrataError } from 'stratadb'
import { expectCode, nowMicros, uniq, utf8Compare } from './helpers.js'

describe('kv: put / get / getVersioned', () => {
  it('put returns the key\'s new version and get the latest value', () => {
    const db = Strata.cache()
    expect(db.kv.put('k', 'one')).toBe(1)
    expect(db.kv.get('k')).toBe('one')
    expect(db.kv.put('k', 'two')).toBe(2)
    expect(db.kv.put('k', { three: 3 })).toBe(3)
    expect(db.kv.get('k')).toEqual({ three: 3 })
  })

  it('get of a key never written is null, getVersioned too', () => {
    const db = Strata.cache()
    expect(db.kv.get('missing')).toBeNull()
    expect(db.kv.getVersioned('missing')).toBeNull()
  })

  it('versions are per key', () => {
    const db = Strata.cache()
    expect(db.kv.put('a', 1)).toBe(1)
    expect(db.kv.put('b', 1)).toBe(1)
    expect(db.kv.put('a', 2)).toBe(2)
    expect(db.kv.put('c', 1)).toBe(1)
    expect(db.kv.put('b', 2)).toBe(2)
    expect(db.kv.put('a', 3)).toBe(3)
    expect(db.kv.getVersioned('a')!.version).toBe(3)
    expect(db.kv.getVersioned('b')!.version).toBe(2)
    expect(db.kv.getVersioned('c')!.version).toBe(1)
  })

  it('getVersioned returns value, version and a microsecond timestamp', () => {
    const db = Strata.cache()
    const before = nowMicros()
    db.kv.put('k', { x: [1, 2] })
    const after = nowMicros()
    const v = db.kv.getVersioned('k')!
    expect(Object.keys(v).sort()).toEqual(['timestamp', 'value', 'version'])
    expect(v.value).toEqual({ x: [1, 2] })
    expect(v.version).toBe(1)
    expect(typeof v.timestamp).toBe('number')
    expect(Number.isInteger(v.timestamp)).toBe(true)
    // Microseconds, not milliseconds or nanoseconds: within a few seconds of the wall clock.
    expect(v.timestamp).toBeGreaterThanOrEqual(before - 5_000_000)
    expect(v.timestamp).toBeLessThanOrEqual(after + 5_000_000)
  })

  it('a stored null is a live value with a version, unlike a missing key', () => {
    const db = Strata.cache()
    expect(db.kv.put('n', null)).toBe(1)
    expect(db.kv.get('n')).toBeNull()
    expect(db.kv.getVersioned('n')).toMatchObject({ value: null, version: 1 })
    expect(db.kv.list()).toEqual(['n'])
    expect(db.kv.delete('n')).toBe(true)
  })

  it('timestamps are numbers, strictly increasing across keys, namespaces, spaces and branches', () => {
    const db = Strata.cache()
    const stamps: number[] = []
    const fork = uniq('ts')
    for (let i = 0; i < 200; i++) {
      db.kv.put(`k${i % 7}`, i)
      stamps.push(db.kv.getVersioned(`k${i % 7}`)!.timestamp)
      db.state.set(`c${i % 3}`, i)
      stamps.push(db.state.getVersioned(`c${i % 3}`)!.timestamp)
    }
    db.setSpace('other')
    db.kv.put('s', 1)
    stamps.push(db.kv.getVersioned('s')!.timestamp)
    db.setSpace('default')
    db.forkBranch(fork)
    const h = db.branch(fork)
    h.kv.put('f', 1)
    stamps.push(h.kv.getVersioned('f')!.timestamp)
    db.kv.put('d', 1)
    stamps.push(db.kv.getVersioned('d')!.timestamp)
    for (const s of stamps) expect(typeof s).toBe('number')
    for (let i = 1; i < stamps.length; i++) expect(stamps[i]!).toBeGreaterThan(stamps[i - 1]!)
  })

  it('timestamps of the history agree with getVersioned', () => {
    const db = Strata.cache()
    db.kv.put('k', 1)
    const t1 = db.kv.getVersioned('k')!.timestamp
    db.kv.put('k', 2)
    const t2 = db.kv.getVersioned('k')!.timestamp
    const h = db.kv.history('k')
    expect(h.map((e) => e.timestamp)).toEqual([t2, t1])
  })
})

describe('kv: delete', () => {
  it('returns true when a live value existed, false otherwise', () => {
    const db = Strata.cache()
    expect(db.kv.delete('never')).toBe(false)
    db.kv.put('k', 1)
    expect(db.kv.delete('k')).toBe(true)
    expect(db.kv.get('k')).toBeNull()
    expect(db.kv.getVersioned('k')).toBeNull()
    expect(db.kv.delete('k')).toBe(false)
    expect(db.kv.list()).toEqual([])
  })

  it('a delete adds a version; versions never restart after a delete', () => {
    const db = Strata.cache()
    expect(db.kv.put('k', 'a')).toBe(1)
    expect(db.kv.put('k', 'b')).toBe(2)
    expect(db.kv.delete('k')).toBe(true)
    expect(db.kv.put('k', 'c')).toBe(4)
    expect(db.kv.getVersioned('k')).toMatchObject({ value: 'c', version: 4 })
    expect(db.kv.delete('k')).toBe(true)
    expect(db.kv.put('k', 'd')).toBe(6)
    expect(db.kv.history('k').map((e) => e.version)).toEqual([6, 5, 4, 3, 2, 1])
  })

  it('deleting one key leaves the others', () => {
    const db = Strata.cache()
    db.kv.put('a', 1)
    db.kv.put('b', 2)
    expect(db.kv.delete('a')).toBe(true)
    expect(db.kv.get('b')).toBe(2)
    expect(db.kv.list()).toEqual(['b'])
  })
})

describe('kv: bad numbers name their type', () => {
  it("a string or bigint where a number belongs is named as such, not printed as if it were the number", () => {
    const db = Strata.cache()
    db.kv.put('k', 1)
    expectCode(() => db.kv.get('k', { asOf: '5' } as never), 'INVALID_VALUE', 'asOf', 'the string "5"')
    expectCode(() => db.kv.list({ limit: 5n } as never), 'INVALID_VALUE', 'limit', 'bigint 5n')
    expectCode(() => db.begin({ readOnly: 'true' } as never), 'INVALID_VALUE', 'readOnly', 'the string "true"')
  })
})

describe('kv: list', () => {
  it('a limit of 2^32 or more lists everything, on both backends (no limit wraps around)', () => {
    const db = Strata.cache()
    for (const k of ['a', 'b', 'c']) db.kv.put(k, 1)
    db.kv.put('a', 2)
    db.events.append('e', 1)
    for (const limit of [2 ** 32, 2 ** 32 + 1, Number.MAX_SAFE_INTEGER]) {
      expect(db.kv.list({ limit })).toEqual(['a', 'b', 'c'])
      expect(db.kv.history('a', { limit })).toHaveLength(2)
      expect(db.events.list({ limit })).toHaveLength(1)
      expect(db.transaction((tx) => tx.kv.list({ limit }))).toEqual(['a', 'b', 'c'])
    }
  })

  it('returns live keys in UTF-8 byte order (not UTF-16 order)', () => {
    const db = Strata.cache()
    // UTF-16 code-unit order would put '😀' (D83D..) before 'ｆ' (FF46); UTF-8 byte order puts it after (F0.. > EF..).
    const keys = ['😀', 'ｆ', 'é', 'a', 'Z', 'z', 'A', '0', 'aa', 'a/b', 'a-b', '~', 'ü']
    for (const k of keys) db.kv.put(k, k)
    const expected = [...keys].sort(utf8Compare)
    expect(db.kv.list()).toEqual(expected)
    const l = db.kv.list()
    expect(l.indexOf('Z')).toBeLessThan(l.indexOf('a'))
    expect(l.indexOf('a')).toBeLessThan(l.indexOf('é'))
    expect(l.indexOf('é')).toBeLessThan(l.indexOf('😀'))
    expect(l.indexOf('ｆ')).toBeLessThan(l.indexOf('😀'))
  })

  it('lists nothing on an empty database', () => {
    expect(Strata.cache().kv.list()).toEqual([])
  })

  it('excludes deleted keys and lists a key once however many versions it has', () => {
    const db = Strata.cache()
    db.kv.put('a', 1)
    db.kv.put('a', 2)
    db.kv.put('a', 3)
    db.kv.put('b', 1)
    db.kv.put('c', 1)
    db.kv.delete('b')
    expect(db.kv.list()).toEqual(['a', 'c'])
  })

  it('prefix selects keys starting with it', () => {
    const db = Strata.cache()
    for (const k of ['user:1', 'user:2', 'user:10', 'users', 'use', 'task:1', 'user:é', 'userX']) db.kv.put(k, 0)
    expect(db.kv.list({ prefix: 'user:' })).toEqual(['user:1', 'user:10', 'user:2', 'user:é'])
    expect(db.kv.list({ prefix: 'user' })).toEqual(['user:1', 'user:10', 'user:2', 'user:é', 'userX', 'users'])
    expect(db.kv.list({ prefix: 'task:' })).toEqual(['task:1'])
    expect(db.kv.list({ prefix: 'nothing' })).toEqual([])
    expect(db.kv.list({ prefix: '' })).toHaveLength(8)
  })

  it('limit caps the number of keys', () => {
    const db = Strata.cache()
    for (const k of ['d', 'b', 'a', 'c', 'e']) db.kv.put(k, 0)
    expect(db.kv.list({ limit: 2 })).toEqual(['a', 'b'])
    expect(db.kv.list({ limit: 5 })).toEqual(['a', 'b', 'c', 'd', 'e'])
    expect(db.kv.list({ limit: 100 })).toEqual(['a', 'b', 'c', 'd', 'e'])
    expect(db.kv.list({ limit: 1, prefix: 'c' })).toEqual(['c'])
    expect(db.kv.list({ limit: 0 })).toEqual([])
  })

  it('after is an exclusive start key', () => {
    const db = Strata.cache()
    for (const k of ['a', 'b', 'c', 'd']) db.kv.put(k, 0)
    expect(db.kv.list({ after: 'b' })).toEqual(['c', 'd'])
    expect(db.kv.list({ after: 'bb' })).toEqual(['c', 'd'])
    expect(db.kv.list({ after: '' })).toEqual(['a', 'b', 'c', 'd'])
    expect(db.kv.list({ after: 'd' })).toEqual([])
    expect(db.kv.list({ after: 'a', limit: 2 })).toEqual(['b', 'c'])
  })

  it('prefix and after combine', () => {
    const db = Strata.cache()
    for (const k of ['a1', 'b1', 'b2', 'b3', 'c1']) db.kv.put(k, 0)
    expect(db.kv.list({ prefix: 'b', after: 'a' })).toEqual(['b1', 'b2', 'b3'])
    expect(db.kv.list({ prefix: 'b', after: 'b1' })).toEqual(['b2', 'b3'])
    expect(db.kv.list({ prefix: 'b', after: 'b1', limit: 1 })).toEqual(['b2'])
    expect(db.kv.list({ prefix: 'b', after: 'b3' })).toEqual([])
    expect(db.kv.list({ prefix: 'b', after: 'c' })).toEqual([])
  })

  it('after follows UTF-8 byte order too', () => {
    const db = Strata.cache()
    for (const k of ['😀', 'ｆ', 'z']) db.kv.put(k, 0)
    expect(db.kv.list({ after: 'ｆ' })).toEqual(['😀'])
    expect(db.kv.list({ after: 'z' })).toEqual(['ｆ', '😀'])
  })

  it('pages through all keys with limit and after', () => {
    const db = Strata.cache()
    const keys = Array.from({ length: 53 }, (_, i) => `item:${String(i).padStart(3, '0')}`)
    for (const k of [...keys].reverse()) db.kv.put(k, k)
    db.kv.put('other', 1)
    const seen: string[] = []
    let after: string | undefined
    let pages = 0
    for (;;) {
      const page = db.kv.list({ prefix: 'item:', limit: 10, ...(after === undefined ? {} : { after }) })
      if (page.length === 0) break
      expect(page.length).toBeLessThanOrEqual(10)
      seen.push(...page)
      after = page[page.length - 1]
      pages++
    }
    expect(pages).toBe(6)
    expect(seen).toEqual(keys)
  })

  it('asOf lists the keys live at that moment', () => {
    const db = Strata.cache()
    db.kv.put('a', 1)
    db.kv.put('b', 1)
    const t = db.kv.getVersioned('b')!.timestamp
    db.kv.put('c', 1)
    db.kv.delete('a')
    expect(db.kv.list()).toEqual(['b', 'c'])
    expect(db.kv.list({ asOf: t })).toEqual(['a', 'b'])
    expect(db.kv.list({ asOf: t, prefix: 'a' })).toEqual(['a'])
    expect(db.kv.list({ asOf: t, after: 'a' })).toEqual(['b'])
    expect(db.kv.list({ asOf: t - 1, limit: 5 })).toEqual(['a'])
    expect(db.kv.list({ asOf: 1 })).toEqual([])
  })
})

describe('kv: history', () => {
  it('lists every version newest first, deletes as tombstones', () => {
    const db = Strata.cache()
    db.kv.put('k', 'v1')
    db.kv.put('k', { v: 2 })
    db.kv.delete('k')
    db.kv.put('k', 'v4')
    const h = db.kv.history('k')
    expect(h).toHaveLength(4)
    expect(h.map((e) => e.version)).toEqual([4, 3, 2, 1])
    expect(h[0]).toMatchObject({ value: 'v4', version: 4 })
    expect(h[1]).toMatchObject({ value: null, version: 3, deleted: true })
    expect(h[2]).toMatchObject({ value: { v: 2 }, version: 2 })
    expect(h[3]).toMatchObject({ value: 'v1', version: 1 })
    for (const e of [h[0]!, h[2]!, h[3]!]) expect(e.deleted).toBeUndefined()
    for (let i = 1; i < h.length; i++) expect(h[i - 1]!.timestamp).toBeGreaterThan(h[i]!.timestamp)
  })

  it('limit keeps the newest entries', () => {
    const db = Strata.cache()
    for (let i = 1; i <= 10; i++) db.kv.put('k', i)
    expect(db.kv.history('k', { limit: 3 }).map((e) => e.value)).toEqual([10, 9, 8])
    expect(db.kv.history('k', { limit: 1 }).map((e) => e.version)).toEqual([10])
    expect(db.kv.history('k', { limit: 50 })).toHaveLength(10)
  })

  it('unknown key: []', () => {
    const db = Strata.cache()
    expect(db.kv.history('nope')).toEqual([])
    db.kv.put('other', 1)
    expect(db.kv.history('nope')).toEqual([])
  })

  it('a deleted key keeps its history', () => {
    const db = Strata.cache()
    db.kv.put('k', 1)
    db.kv.delete('k')
    const h = db.kv.history('k')
    expect(h).toHaveLength(2)
    expect(h[0]).toMatchObject({ value: null, version: 2, deleted: true })
    expect(h[1]).toMatchObject({ value: 1, version: 1 })
  })

  it('history is per key', () => {
    const db = Strata.cache()
    db.kv.put('a', 1)
    db.kv.put('b', 1)
    db.kv.put('a', 2)
    expect(db.kv.history('a').map((e) => e.value)).toEqual([2, 1])
    expect(db.kv.history('b').map((e) => e.value)).toEqual([1])
  })
})

describe('kv: asOf reads', () => {
  it('get and getVersioned read the value live at that moment', () => {
    const db = Strata.cache()
    db.kv.put('k', 'first')
    const t1 = db.kv.getVersioned('k')!.timestamp
    db.kv.put('k', 'second')
    const t2 = db.kv.getVersioned('k')!.timestamp
    db.kv.delete('k')
    const t3 = db.kv.history('k')[0]!.timestamp
    expect(db.kv.get('k', { asOf: t1 - 1 })).toBeNull()
    expect(db.kv.get('k', { asOf: t1 })).toBe('first')
    expect(db.kv.get('k', { asOf: t2 - 1 })).toBe('first')
    expect(db.kv.get('k', { asOf: t2 })).toBe('second')
    expect(db.kv.get('k', { asOf: t3 - 1 })).toBe('second')
    expect(db.kv.get('k', { asOf: t3 })).toBeNull()
    expect(db.kv.get('k')).toBeNull()
    expect(db.kv.getVersioned('k', { asOf: t1 })).toEqual({ value: 'first', version: 1, timestamp: t1 })
    expect(db.kv.getVersioned('k', { asOf: t2 })).toEqual({ value: 'second', version: 2, timestamp: t2 })
    expect(db.kv.getVersioned('k', { asOf: t3 })).toBeNull()
  })
})

describe('kv: keys', () => {
  it('rejects a non-string key with INVALID_KEY on every method', () => {
    const db = Strata.cache()
    for (const bad of [1, null, undefined, {}, ['a'], Symbol('s')] as unknown as string[]) {
      expectCode(() => db.kv.put(bad, 1), 'INVALID_KEY')
      expectCode(() => db.kv.get(bad), 'INVALID_KEY')
      expectCode(() => db.kv.getVersioned(bad), 'INVALID_KEY')
      expectCode(() => db.kv.delete(bad), 'INVALID_KEY')
      expectCode(() => db.kv.history(bad), 'INVALID_KEY')
    }
    expect(db.kv.list()).toEqual([])
  })

  it('errors are StrataErrors and Errors', () => {
    const db = Strata.cache()
    try {
      db.kv.put('', 1)
      expect.unreachable()
    } catch (e) {
      expect(e).toBeInstanceOf(Error)
      expect(e).toBeInstanceOf(StrataError)
      expect((e as StrataError).code).toBe('INVALID_KEY')
    }
  })
})
