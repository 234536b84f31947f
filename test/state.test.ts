import { describe, expect, it } from 'vitest'
import { Strata, type Value } from 'stratadb'
import { expectCode } from './helpers.js'

describe('state: set / get / delete / list / history', () => {
  it('set writes unconditionally and returns the new version', () => {
    const db = Strata.cache()
    expect(db.state.set('c', 'a')).toBe(1)
    expect(db.state.set('c', 'b')).toBe(2)
    expect(db.state.get('c')).toBe('b')
    expect(db.state.getVersioned('c')).toMatchObject({ value: 'b', version: 2 })
    expect(db.state.get('nope')).toBeNull()
    expect(db.state.getVersioned('nope')).toBeNull()
  })

  it('delete, list and history behave as for kv', () => {
    const db = Strata.cache()
    db.state.set('job:2', 2)
    db.state.set('job:1', 1)
    db.state.set('other', 0)
    expect(db.state.list()).toEqual(['job:1', 'job:2', 'other'])
    expect(db.state.list({ prefix: 'job:' })).toEqual(['job:1', 'job:2'])
    expect(db.state.delete('job:1')).toBe(true)
    expect(db.state.delete('job:1')).toBe(false)
    expect(db.state.delete('never')).toBe(false)
    expect(db.state.list({ prefix: 'job:' })).toEqual(['job:2'])
    expect(db.state.set('job:1', 'again')).toBe(3)
    const h = db.state.history('job:1')
    expect(h.map((e) => e.version)).toEqual([3, 2, 1])
    expect(h[1]).toMatchObject({ value: null, deleted: true })
    expect(h[0]!.value).toBe('again')
    expect(db.state.history('job:1', { limit: 1 }).map((e) => e.value)).toEqual(['again'])
    expect(db.state.history('never')).toEqual([])
  })
})

describe('state: init', () => {
  it('creates the cell once; later calls return null and write nothing', () => {
    const db = Strata.cache()
    expect(db.state.init('c', 'first')).toBe(1)
    expect(db.state.init('c', 'second')).toBeNull()
    expect(db.state.get('c')).toBe('first')
    expect(db.state.getVersioned('c')!.version).toBe(1)
    expect(db.state.history('c')).toHaveLength(1)
  })

  it('creates again after a delete, continuing the versions', () => {
    const db = Strata.cache()
    expect(db.state.init('c', 1)).toBe(1)
    expect(db.state.delete('c')).toBe(true)
    expect(db.state.init('c', 2)).toBe(3)
    expect(db.state.get('c')).toBe(2)
  })

  it('does not overwrite a cell made with set', () => {
    const db = Strata.cache()
    db.state.set('c', 'x')
    db.state.set('c', 'y')
    expect(db.state.init('c', 'z')).toBeNull()
    expect(db.state.getVersioned('c')).toMatchObject({ value: 'y', version: 2 })
  })
})

describe('state: cas', () => {
  it('null expectedVersion: only if the cell does not exist', () => {
    const db = Strata.cache()
    expect(db.state.cas('c', null, 'a')).toBe(1)
    expect(db.state.cas('c', null, 'b')).toBeNull()
    expect(db.state.get('c')).toBe('a')
    expect(db.state.history('c')).toHaveLength(1)
  })

  it('null expectedVersion succeeds again after a delete', () => {
    const db = Strata.cache()
    db.state.set('c', 'a')
    db.state.delete('c')
    expect(db.state.cas('c', null, 'b')).toBe(3)
    expect(db.state.getVersioned('c')).toMatchObject({ value: 'b', version: 3 })
    expect(db.state.cas('c', null, 'x')).toBeNull()
  })

  it('a matching version writes and returns the next version', () => {
    const db = Strata.cache()
    db.state.set('c', 10)
    expect(db.state.cas('c', 1, 11)).toBe(2)
    expect(db.state.cas('c', 2, 12)).toBe(3)
    expect(db.state.getVersioned('c')).toMatchObject({ value: 12, version: 3 })
  })

  it('a mismatching version returns null and writes nothing', () => {
    const db = Strata.cache()
    db.state.set('c', 'a')
    db.state.set('c', 'b')
    const before = db.state.getVersioned('c')
    expect(db.state.cas('c', 1, 'stale')).toBeNull()
    expect(db.state.cas('c', 3, 'future')).toBeNull()
    expect(db.state.cas('c', 1000, 'far')).toBeNull()
    expect(db.state.getVersioned('c')).toEqual(before)
    expect(db.state.history('c')).toHaveLength(2)
  })

  it('a version on a missing cell returns null and writes nothing', () => {
    const db = Strata.cache()
    expect(db.state.cas('c', 1, 'x')).toBeNull()
    expect(db.state.get('c')).toBeNull()
    expect(db.state.history('c')).toEqual([])
    expect(db.state.list()).toEqual([])
  })

  it('the version before a delete no longer matches', () => {
    const db = Strata.cache()
    db.state.set('c', 'a')
    db.state.delete('c')
    expect(db.state.cas('c', 1, 'x')).toBeNull()
    expect(db.state.get('c')).toBeNull()
  })

  it.each([
    ['0', 0],
    ['-1', -1],
    ['1.5', 1.5],
    ["'1'", '1'],
    ['NaN', NaN],
    ['Infinity', Infinity],
    ['undefined', undefined],
    ['1n', 1n],
  ])('expectedVersion %s is INVALID_VALUE pointing to null, and writes nothing', (_, bad) => {
    const db = Strata.cache()
    db.state.set('c', 'kept')
    const e = expectCode(() => db.state.cas('c', bad as number, 'x'), 'INVALID_VALUE')
    expect(e.message).toContain('null')
    expectCode(() => db.state.cas('fresh', bad as number, 'x'), 'INVALID_VALUE', 'null')
    expect(db.state.getVersioned('c')).toMatchObject({ value: 'kept', version: 1 })
    expect(db.state.get('fresh')).toBeNull()
  })

  it('is atomic across handles: of two CASes on the same version exactly one wins', () => {
    const db = Strata.cache()
    const other = db.branch('default')
    db.state.set('c', 0)
    const v1 = db.state.getVersioned('c')!.version
    const v2 = other.state.getVersioned('c')!.version
    const r1 = db.state.cas('c', v1, 'from db')
    const r2 = other.state.cas('c', v2, 'from other')
    expect(r1).toBe(2)
    expect(r2).toBeNull()
    expect(other.state.get('c')).toBe('from db')
  })
})

describe('state: update', () => {
  it('applies fn to the current value (null when absent) and returns the version', () => {
    const db = Strata.cache()
    const seen: (Value | null)[] = []
    const inc = (v: Value | null): Value => {
      seen.push(v)
      return ((v as number | null) ?? 0) + 1
    }
    expect(db.state.update('n', inc)).toBe(1)
    expect(db.state.update('n', inc)).toBe(2)
    expect(db.state.update('n', inc)).toBe(3)
    expect(db.state.get('n')).toBe(3)
    expect(seen).toEqual([null, 1, 2])
  })

  it('sees null after a delete', () => {
    const db = Strata.cache()
    db.state.set('n', 41)
    db.state.delete('n')
    let arg: Value | null | 'unset' = 'unset'
    expect(
      db.state.update('n', (v) => {
        arg = v
        return 'fresh'
      }),
    ).toBe(3)
    expect(arg).toBeNull()
    expect(db.state.get('n')).toBe('fresh')
  })

  it('retries when another writer wins the race between its read and its CAS', () => {
    const db = Strata.cache()
    const rival = db.branch('default')
    db.state.set('n', 10)
    const args: (Value | null)[] = []
    const version = db.state.update('n', (v) => {
      args.push(v)
      if (args.length === 1) rival.state.set('n', 100) // lands after update's read: its CAS must fail
      return (v as number) + 1
    })
    expect(args).toEqual([10, 100])
    expect(version).toBe(3)
    expect(db.state.get('n')).toBe(101)
    expect(db.state.history('n').map((e) => e.value)).toEqual([101, 100, 10])
  })

  it('retries through several lost races', () => {
    const db = Strata.cache()
    db.state.set('n', 0)
    let calls = 0
    db.state.update('n', (v) => {
      calls++
      if (calls <= 5) db.state.set('n', (v as number) + 1000)
      return (v as number) + 1
    })
    expect(calls).toBe(6)
    expect(db.state.get('n')).toBe(5001)
  })

  it('throws CONFLICT once retries are exhausted, leaving the rival\'s writes', () => {
    const db = Strata.cache()
    const rival = db.branch('default')
    db.state.set('n', 0)
    let calls = 0
    const e = expectCode(
      () =>
        db.state.update(
          'n',
          (v) => {
            calls++
            rival.state.set('n', `rival ${calls}`)
            return `mine ${String(v)}`
          },
          { retries: 3 },
        ),
      'CONFLICT',
    )
    expect(e.message).toContain('n')
    expect(calls).toBe(4) // the first attempt and 3 retries
    expect(db.state.get('n')).toBe('rival 4')
    expect(db.state.history('n').every((h) => !String(h.value).startsWith('mine'))).toBe(true)
  })

  it('default retries: 100 (101 attempts)', () => {
    const db = Strata.cache()
    db.state.set('n', 0)
    let calls = 0
    expectCode(
      () =>
        db.state.update('n', (v) => {
          calls++
          db.state.set('n', (v as number) + 1)
          return -1
        }),
      'CONFLICT',
    )
    expect(calls).toBe(101)
    expect(db.state.get('n')).toBe(101)
  })

  it('retries: 0 gives up after one lost race', () => {
    const db = Strata.cache()
    db.state.set('n', 0)
    let calls = 0
    expectCode(
      () =>
        db.state.update(
          'n',
          () => {
            calls++
            db.state.set('n', 'rival')
            return 'mine'
          },
          { retries: 0 },
        ),
      'CONFLICT',
    )
    expect(calls).toBe(1)
    expect(db.state.get('n')).toBe('rival')
  })

  it("fn's own exception propagates unchanged and nothing is written", () => {
    const db = Strata.cache()
    db.state.set('n', 1)
    const boom = new RangeError('boom')
    let caught: unknown
    try {
      db.state.update('n', () => {
        throw boom
      })
    } catch (e) {
      caught = e
    }
    expect(caught).toBe(boom)
    expect(db.state.getVersioned('n')).toMatchObject({ value: 1, version: 1 })
  })

  it('an invalid value returned by fn is INVALID_VALUE', () => {
    const db = Strata.cache()
    expectCode(() => db.state.update('n', () => ({ when: new Date() }) as unknown as Value), 'INVALID_VALUE', '$.when')
    expect(db.state.get('n')).toBeNull()
  })
})

describe('state and kv are separate namespaces', () => {
  it('the same name holds independent values, versions, lists and histories', () => {
    const db = Strata.cache()
    expect(db.kv.put('x', 'kv')).toBe(1)
    expect(db.state.get('x')).toBeNull()
    expect(db.state.list()).toEqual([])
    expect(db.state.set('x', 'state')).toBe(1)
    expect(db.kv.put('x', 'kv2')).toBe(2)
    expect(db.kv.get('x')).toBe('kv2')
    expect(db.state.get('x')).toBe('state')
    expect(db.state.init('y', 1)).toBe(1)
    expect(db.kv.list()).toEqual(['x'])
    expect(db.state.list()).toEqual(['x', 'y'])
    expect(db.kv.delete('x')).toBe(true)
    expect(db.state.get('x')).toBe('state')
    expect(db.kv.history('x')).toHaveLength(3)
    expect(db.state.history('x')).toHaveLength(1)
    expect(db.kv.history('y')).toEqual([])
  })

  it('a kv key does not make state.init or cas(null) fail', () => {
    const db = Strata.cache()
    db.kv.put('lock', 'held in kv')
    expect(db.state.cas('lock', null, 'mine')).toBe(1)
    expect(db.kv.get('lock')).toBe('held in kv')
  })
})
