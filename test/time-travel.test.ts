import { describe, expect, it } from 'vitest'
import { Strata } from 'stratadb'
import { expectCode, expectEachCode } from './helpers.js'

/** Writes a few versions and returns the timestamps between them. */
function history(db: Strata) {
  db.kv.put('k', 'v1')
  db.state.set('c', 'c1')
  const t1 = db.kv.getVersioned('k')!.timestamp
  const tc1 = db.state.getVersioned('c')!.timestamp
  db.kv.put('k', 'v2')
  db.kv.put('other', 'o')
  db.state.set('c', 'c2')
  const t2 = db.state.getVersioned('c')!.timestamp
  db.kv.delete('k')
  db.state.delete('c')
  db.kv.put('late', 'l')
  const t3 = db.kv.getVersioned('late')!.timestamp
  return { t1, tc1, t2, t3 }
}

describe('time travel: { asOf } on reads', () => {
  it('kv get / getVersioned / list', () => {
    const db = Strata.cache()
    const { t1, t2, t3 } = history(db)
    expect(db.kv.get('k', { asOf: t1 })).toBe('v1')
    expect(db.kv.get('k', { asOf: t2 })).toBe('v2')
    expect(db.kv.get('k', { asOf: t3 })).toBeNull()
    expect(db.kv.get('k', { asOf: t1 - 1 })).toBeNull()
    expect(db.kv.getVersioned('k', { asOf: t2 })).toMatchObject({ value: 'v2', version: 2 })
    expect(db.kv.list({ asOf: t1 })).toEqual(['k'])
    expect(db.kv.list({ asOf: t2 })).toEqual(['k', 'other'])
    expect(db.kv.list({ asOf: t3 })).toEqual(['late', 'other'])
  })

  it('state get / getVersioned / list', () => {
    const db = Strata.cache()
    const { tc1, t2, t3 } = history(db)
    expect(db.state.get('c', { asOf: tc1 - 1 })).toBeNull()
    expect(db.state.get('c', { asOf: tc1 })).toBe('c1')
    expect(db.state.get('c', { asOf: t2 })).toBe('c2')
    expect(db.state.getVersioned('c', { asOf: t2 })).toMatchObject({ value: 'c2', version: 2, timestamp: t2 })
    expect(db.state.get('c', { asOf: t3 })).toBeNull()
    expect(db.state.list({ asOf: t2 })).toEqual(['c'])
    expect(db.state.list({ asOf: t3 })).toEqual([])
  })

  it('history takes asOf too: only the versions written by then, newest first', () => {
    const db = Strata.cache()
    db.kv.put('k', 1)
    db.kv.put('k', 2)
    const t = db.kv.getVersioned('k')!.timestamp
    db.kv.delete('k')
    db.kv.put('k', 4)
    db.state.set('c', 'a')
    const tc = db.state.getVersioned('c')!.timestamp
    db.state.set('c', 'b')
    // "Every read takes { asOf }": history is a read. (Cast: the published types only declare `limit` so far.)
    const asOf = (o: { asOf: number; limit?: number }) => o as { limit?: number }
    expect(db.kv.history('k', asOf({ asOf: t })).map((e) => e.version)).toEqual([2, 1])
    expect(db.kv.history('k', asOf({ asOf: t, limit: 1 })).map((e) => e.value)).toEqual([2])
    expect(db.kv.history('k', asOf({ asOf: t - 1 })).map((e) => e.version)).toEqual([1])
    expect(db.kv.history('k', asOf({ asOf: 1 }))).toEqual([])
    expect(db.state.history('c', asOf({ asOf: tc })).map((e) => e.value)).toEqual(['a'])
  })

  it('a timestamp in the future reads the latest state', () => {
    const db = Strata.cache()
    db.kv.put('k', 1)
    db.kv.put('k', 2)
    const future = Date.now() * 1000 + 3_600_000_000
    expect(db.kv.get('k', { asOf: future })).toBe(2)
  })

  it('asOf 0 reads nothing', () => {
    const db = Strata.cache()
    db.kv.put('k', 1)
    expect(db.kv.get('k', { asOf: 0 })).toBeNull()
    expect(db.kv.list({ asOf: 0 })).toEqual([])
  })

  it('a fork reads its parent\'s past through asOf; later parent writes stay invisible', () => {
    const db = Strata.cache()
    db.kv.put('k', 'one')
    const t1 = db.kv.getVersioned('k')!.timestamp
    db.kv.put('k', 'two')
    db.forkBranch('f')
    const f = db.branch('f')
    f.kv.put('k', 'three')
    db.kv.put('k', 'parent after fork')
    const tAfter = db.kv.getVersioned('k')!.timestamp
    expect(f.kv.get('k', { asOf: t1 })).toBe('one')
    expect(f.kv.get('k', { asOf: tAfter })).toBe('three')
    expect(f.kv.get('k')).toBe('three')
    expect(db.kv.get('k', { asOf: t1 })).toBe('one')
  })

  it('reads in a space honour asOf', () => {
    const db = Strata.cache()
    db.setSpace('s')
    db.kv.put('k', 1)
    const t = db.kv.getVersioned('k')!.timestamp
    db.kv.put('k', 2)
    expect(db.kv.get('k', { asOf: t })).toBe(1)
  })
})

describe('time travel: db.at(ts)', () => {
  it('reads everything as of ts', () => {
    const db = Strata.cache()
    const { t1, t2 } = history(db)
    const past = db.at(t2)
    expect(past.currentBranch()).toBe('default')
    expect(past.kv.get('k')).toBe('v2')
    expect(past.kv.getVersioned('k')).toMatchObject({ value: 'v2', version: 2 })
    expect(past.kv.list()).toEqual(['k', 'other'])
    expect(past.state.get('c')).toBe('c2')
    expect(past.state.list()).toEqual(['c'])
    expect(past.kv.get('late')).toBeNull()
    const earlier = db.at(t1)
    expect(earlier.kv.get('k')).toBe('v1')
    expect(earlier.kv.list()).toEqual(['k'])
    // The live handle is unaffected.
    expect(db.kv.get('k')).toBeNull()
  })

  it('does not see writes made after ts, even ones made after at() was called', () => {
    const db = Strata.cache()
    db.kv.put('k', 'then')
    const t = db.kv.getVersioned('k')!.timestamp
    const past = db.at(t)
    db.kv.put('k', 'now')
    db.kv.put('new', 1)
    expect(past.kv.get('k')).toBe('then')
    expect(past.kv.list()).toEqual(['k'])
  })

  it('an asOf later than an at() handle\'s moment reads the moment: the handle knows nothing later', () => {
    const db = Strata.cache()
    db.kv.put('k', 'then')
    db.events.append('e', 1)
    const t1 = db.timeRange().latest!
    db.kv.put('k', 'now')
    db.kv.put('new', 1)
    db.events.append('e', 2)
    const t2 = db.timeRange().latest!
    const past = db.at(t1)
    expect(past.kv.get('k', { asOf: t2 })).toBe('then')
    expect(past.kv.list({ asOf: t2 })).toEqual(['k'])
    expect(past.kv.history('k', { asOf: t2 }).map((h) => h.value)).toEqual(['then'])
    expect(past.events.count({ asOf: t2 })).toBe(1)
    expect(past.kv.get('k', { asOf: db.kv.history('k').at(-1)!.timestamp - 1 })).toBeNull()
  })

  it('history through an at() handle stops at ts', () => {
    const db = Strata.cache()
    db.kv.put('k', 1)
    const t = db.kv.getVersioned('k')!.timestamp
    db.kv.put('k', 2)
    const h = db.at(t).kv.history('k')
    expect(h.map((e) => e.value)).toEqual([1])
  })

  it('history with a limit through an at() handle counts only versions up to ts', () => {
    const db = Strata.cache()
    db.kv.put('k', 1)
    db.kv.put('k', 2)
    const t = db.kv.getVersioned('k')!.timestamp
    db.kv.put('k', 3)
    db.kv.put('k', 4)
    const past = db.at(t)
    expect(past.kv.history('k', { limit: 1 }).map((e) => e.value)).toEqual([2])
    expect(past.kv.history('k', { limit: 2 }).map((e) => e.value)).toEqual([2, 1])
    db.state.set('c', 'a')
    const tc = db.state.getVersioned('c')!.timestamp
    db.state.set('c', 'b')
    expect(db.at(tc).state.history('c', { limit: 1 }).map((e) => e.value)).toEqual(['a'])
  })

  it('an at() handle on a branch reads that branch', () => {
    const db = Strata.cache()
    db.kv.put('k', 'default')
    db.forkBranch('f')
    const f = db.branch('f')
    f.kv.put('k', 'f')
    const t = f.kv.getVersioned('k')!.timestamp
    f.kv.put('k', 'f later')
    const past = f.at(t)
    expect(past.currentBranch()).toBe('f')
    expect(past.kv.get('k')).toBe('f')
  })

  it('every write method throws READ_ONLY and writes nothing', () => {
    const db = Strata.cache()
    db.kv.put('k', 'v')
    db.state.set('c', 1)
    db.forkBranch('existing')
    db.setSpace('sp')
    db.kv.put('x', 1)
    db.setSpace('default')
    const t = db.timeRange().latest!
    const past = db.at(t)
    const writes: [string, () => unknown][] = [
      ['kv.put', () => past.kv.put('k', 'w')],
      ['kv.put new', () => past.kv.put('new', 'w')],
      ['kv.delete', () => past.kv.delete('k')],
      ['state.set', () => past.state.set('c', 2)],
      ['state.init', () => past.state.init('new', 2)],
      ['state.cas', () => past.state.cas('c', 1, 2)],
      ['state.cas null', () => past.state.cas('new', null, 2)],
      ['state.update', () => past.state.update('c', () => 3)],
      ['state.delete', () => past.state.delete('c')],
      ['createBranch', () => past.createBranch('new-branch')],
      ['forkBranch', () => past.forkBranch('new-fork')],
      ['deleteBranch', () => past.deleteBranch('existing')],
      ['mergeBranches', () => past.mergeBranches('existing')],
      ['deleteSpace', () => past.deleteSpace('sp', { force: true })],
    ]
    expectEachCode(writes, 'READ_ONLY')
    expect(db.kv.getVersioned('k')).toMatchObject({ value: 'v', version: 1 })
    expect(db.kv.get('new')).toBeNull()
    expect(db.state.getVersioned('c')).toMatchObject({ value: 1, version: 1 })
    expect(db.state.get('new')).toBeNull()
    expect(db.branchExists('new-branch')).toBe(false)
    expect(db.branchExists('new-fork')).toBe(false)
    expect(db.branchExists('existing')).toBe(true)
    expect([...db.listSpaces()].sort()).toEqual(['default', 'sp'])
    // Reads still work on it.
    expect(past.kv.get('k')).toBe('v')
  })

  it('an at() handle in another space is read-only too', () => {
    const db = Strata.cache()
    db.setSpace('s')
    db.kv.put('k', 1)
    const past = db.at(db.kv.getVersioned('k')!.timestamp)
    expect(past.kv.get('k')).toBe(1)
    past.setSpace('default')
    expect(past.kv.get('k')).toBeNull()
    expectCode(() => past.kv.put('k', 2), 'READ_ONLY')
  })
})

describe('time travel: timeRange', () => {
  it('timestamps count microseconds: two writes 0.4 ms apart are a fraction of a millisecond apart', () => {
    // Whole-millisecond clocks (WebAssembly's was) give gaps of 1 (the same millisecond) or about 1000, never
    // in between. A few tries, so that a busy machine stretching one wait does not decide.
    const db = Strata.cache()
    const gaps: number[] = []
    const at = (v: number) => (db.kv.put('k', v), db.kv.getVersioned('k')!.timestamp)
    for (let i = 0; i < 20 && !gaps.some((g) => g >= 100 && g <= 900); i++) {
      const a = at(i)
      const until = performance.now() + 0.4
      while (performance.now() < until);
      gaps.push(at(i) - a)
    }
    expect(gaps.filter((g) => g >= 100 && g <= 900), `gaps: ${gaps.join(', ')}`).not.toEqual([])
  })

  it('on a db.at(ts) handle: the range as the branch was at ts', () => {
    const db = Strata.cache()
    const t = (f: () => unknown) => (f(), db.timeRange().latest!)
    const t1 = t(() => db.kv.put('a', 1))
    const t2 = t(() => db.events.append('e', 1))
    const t3 = t(() => db.state.set('s', 1))
    const t4 = t(() => db.kv.delete('a'))
    expect(db.timeRange()).toEqual({ oldest: t1, latest: t4 })
    expect(db.at(t4 + 1000).timeRange()).toEqual({ oldest: t1, latest: t4 })
    expect(db.at(t3).timeRange()).toEqual({ oldest: t1, latest: t3 })
    expect(db.at(t3 - 1).timeRange()).toEqual({ oldest: t1, latest: t2 })
    expect(db.at(t1).timeRange()).toEqual({ oldest: t1, latest: t1 })
    expect(db.at(t1 - 1).timeRange()).toEqual({ oldest: null, latest: null })
    // A fork carries the history it shares: as of before the fork, its source's range then.
    db.forkBranch('f')
    const f = db.branch('f')
    f.kv.put('b', 1)
    expect(f.at(t2).timeRange()).toEqual({ oldest: t1, latest: t2 })
  })

  it('nulls on an empty database and on a branch made with createBranch', () => {
    const db = Strata.cache()
    expect(db.timeRange()).toEqual({ oldest: null, latest: null })
    db.kv.put('k', 1)
    db.createBranch('empty')
    db.setBranch('empty')
    expect(db.timeRange()).toEqual({ oldest: null, latest: null })
  })

  it('oldest and latest version timestamps of the current branch', () => {
    const db = Strata.cache()
    db.kv.put('a', 1)
    const first = db.kv.getVersioned('a')!.timestamp
    db.state.set('c', 1)
    db.kv.put('b', 1)
    const last = db.kv.getVersioned('b')!.timestamp
    expect(db.timeRange()).toEqual({ oldest: first, latest: last })
    db.kv.delete('a')
    const del = db.kv.history('a')[0]!.timestamp
    expect(db.timeRange()).toEqual({ oldest: first, latest: del })
  })

  it('counts writes in every space', () => {
    const db = Strata.cache()
    db.kv.put('a', 1)
    const first = db.kv.getVersioned('a')!.timestamp
    db.setSpace('s')
    db.state.set('c', 1)
    const last = db.state.getVersioned('c')!.timestamp
    db.setSpace('default')
    expect(db.timeRange()).toEqual({ oldest: first, latest: last })
  })

  it('is per branch; a fork includes the history it carries', () => {
    const db = Strata.cache()
    db.kv.put('a', 1)
    const first = db.kv.getVersioned('a')!.timestamp
    db.forkBranch('f')
    const f = db.branch('f')
    f.kv.put('b', 1)
    const fLast = f.kv.getVersioned('b')!.timestamp
    expect(f.timeRange()).toEqual({ oldest: first, latest: fLast })
    expect(db.timeRange()).toEqual({ oldest: first, latest: first })
    db.createBranch('e')
    const e = db.branch('e')
    e.kv.put('x', 1)
    const only = e.kv.getVersioned('x')!.timestamp
    expect(e.timeRange()).toEqual({ oldest: only, latest: only })
  })
})
