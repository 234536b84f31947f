import { describe, expect, it } from 'vitest'
import { Strata } from 'stratadb'
import { expectCode, tempDir } from './helpers.js'


describe('retention and compact()', () => {
  it('keeps maxVersions per key, the latest always, on every branch, and survives reopening', () => {
    const dir = tempDir()
    const db = Strata.open(dir, { retention: { maxVersions: 2 } })
    for (let i = 0; i < 5; i++) db.kv.put('a', i)
    db.state.set('only', 'one')
    db.forkBranch('f')
    expect(db.kv.history('a')).toHaveLength(5)
    expect(db.compact()).toBe(3)
    expect(db.compact()).toBe(0)
    expect(db.kv.history('a').map((e) => e.value)).toEqual([4, 3])
    expect(db.kv.history('a').map((e) => e.version)).toEqual([5, 4])
    expect(db.branch('f').kv.history('a').map((e) => e.value)).toEqual([4, 3])
    expect(db.state.history('only')).toHaveLength(1)
    db.kv.put('a', 5)
    expect(db.kv.getVersioned('a')?.version).toBe(6) // versions never restart
    db.close()
    const again = Strata.open(dir)
    expect(again.kv.history('a').map((e) => e.value)).toEqual([5, 4, 3])
    again.close()
  })

  it('a checkpoint compacts by the retention given at open', () => {
    const dir = tempDir()
    const db = Strata.open(dir, { retention: { maxVersions: 1 } })
    for (let i = 0; i < 3; i++) db.kv.put('k', i)
    db.checkpoint()
    expect(db.kv.history('k').map((e) => e.value)).toEqual([2])
    db.close()
  })

  it('maxAgeMs keeps what is younger and the version current at the cutoff', async () => {
    const db = Strata.cache()
    db.kv.put('k', 'old')
    db.kv.put('k', 'older-but-current')
    await new Promise((r) => setTimeout(r, 30))
    const t = db.timeRange().latest! + 1
    db.kv.put('k', 'new')
    expect(db.compact({ maxAgeMs: 20 })).toBe(1)
    expect(db.kv.history('k').map((e) => e.value)).toEqual(['new', 'older-but-current'])
    expect(db.kv.get('k', { asOf: t })).toBe('older-but-current')
  })

  it('without limits and without retention, compact() drops nothing', () => {
    const db = Strata.cache()
    db.kv.put('k', 1)
    db.kv.put('k', 2)
    expect(db.compact()).toBe(0)
    expect(db.kv.history('k')).toHaveLength(2)
  })

  it('rejects bad limits and read-only handles', () => {
    const db = Strata.cache()
    expectCode(() => db.compact({ maxVersions: 0 }), 'INVALID_VALUE', 'maxVersions')
    expectCode(() => db.compact({ maxVersions: 1.5 }), 'INVALID_VALUE')
    expectCode(() => db.compact({ maxAge: 1 } as never), 'INVALID_VALUE', 'maxAge')
    expectCode(() => Strata.open(tempDir(), { retention: { maxVersions: -1 } }), 'INVALID_VALUE')
    db.kv.put('k', 1)
    expectCode(() => db.at(db.timeRange().latest!).compact(), 'READ_ONLY')
    db.close()
    expectCode(() => db.compact(), 'CLOSED')
  })
})
