import { describe, expect, it } from 'vitest'
import { Strata, type Value } from 'stratadb'
import { BACKEND, collect, expectCode, uniq } from './helpers.js'

/** Every method of a handle, each called with plausible arguments. */
function everyMethod(db: Strata): [string, () => unknown][] {
  return [
    ['kv.put', () => db.kv.put('k', 1)],
    ['kv.get', () => db.kv.get('k')],
    ['kv.getVersioned', () => db.kv.getVersioned('k')],
    ['kv.delete', () => db.kv.delete('k')],
    ['kv.list', () => db.kv.list()],
    ['kv.history', () => db.kv.history('k')],
    ['state.set', () => db.state.set('c', 1)],
    ['state.get', () => db.state.get('c')],
    ['state.getVersioned', () => db.state.getVersioned('c')],
    ['state.init', () => db.state.init('c', 1)],
    ['state.cas', () => db.state.cas('c', null, 1)],
    ['state.update', () => db.state.update('c', (v: Value | null) => v)],
    ['state.delete', () => db.state.delete('c')],
    ['state.list', () => db.state.list()],
    ['state.history', () => db.state.history('c')],
    ['currentBranch', () => db.currentBranch()],
    ['setBranch', () => db.setBranch('default')],
    ['createBranch', () => db.createBranch('after-close')],
    ['forkBranch', () => db.forkBranch('after-close-fork')],
    ['listBranches', () => db.listBranches()],
    ['branchExists', () => db.branchExists('default')],
    ['deleteBranch', () => db.deleteBranch('other')],
    ['branch', () => db.branch('default')],
    ['diffBranches', () => db.diffBranches('default', 'other')],
    ['mergeBranches', () => db.mergeBranches('other')],
    ['currentSpace', () => db.currentSpace()],
    ['setSpace', () => db.setSpace('s')],
    ['listSpaces', () => db.listSpaces()],
    ['deleteSpace', () => db.deleteSpace('s', { force: true })],
    ['at', () => db.at(1)],
    ['timeRange', () => db.timeRange()],
  ]
}

function allClosed(db: Strata): void {
  for (const [what, fn] of everyMethod(db)) {
    try {
      expectCode(fn, 'CLOSED')
    } catch (e) {
      throw new Error(`${what} after close: ${(e as Error).message}`)
    }
  }
}

describe('close', () => {
  it('is idempotent', () => {
    const db = Strata.cache()
    db.kv.put('k', 1)
    db.close()
    expect(() => db.close()).not.toThrow()
    db.close()
    expectCode(() => db.kv.get('k'), 'CLOSED')
  })

  it('every method after close is CLOSED', () => {
    const db = Strata.cache()
    db.forkBranch('other')
    db.close()
    allClosed(db)
  })

  it('after close, even calls with bad arguments are CLOSED', () => {
    const db = Strata.cache()
    db.close()
    const calls: [string, () => unknown][] = [
      ["kv.put('')", () => db.kv.put('', 1)],
      ['kv.put undefined', () => db.kv.put('k', undefined as never)],
      ['kv.get(42)', () => db.kv.get(42 as never)],
      ['kv.list typo', () => db.kv.list({ prefx: 'a' } as never)],
      ['kv.history typo', () => db.kv.history('k', { limt: 1 } as never)],
      ['state.cas(0)', () => db.state.cas('c', 0, 1)],
      ['state.set bad value', () => db.state.set('c', NaN)],
      ['state.update typo', () => db.state.update('c', () => 1, { retry: 1 } as never)],
      ['setBranch unknown', () => db.setBranch('no such branch')],
      ['createBranch bad name', () => db.createBranch('.bad')],
      ['forkBranch typo', () => db.forkBranch('x', { form: 'default' } as never)],
      ['at(-1)', () => db.at(-1)],
    ]
    const wrong = calls.flatMap(([what, fn]) => {
      try {
        fn()
        return [`${what}: no error`]
      } catch (e) {
        const code = (e as { code?: string }).code
        return code === 'CLOSED' ? [] : [`${what}: ${code}`]
      }
    })
    expect(wrong).toEqual([])
  })

  it('a handle from db.branch(), db.at() and a named open is CLOSED after its own close', () => {
    const db = Strata.cache({ name: uniq('closed') })
    db.forkBranch('other')
    const h = db.branch('other')
    h.close()
    allClosed(h)
    const past = db.at(Date.now() * 1000)
    past.close()
    expectCode(() => past.kv.get('k'), 'CLOSED')
    db.close()
    allClosed(db)
  })

  it('a closed handle and a finished transaction stay CLOSED while other handles come and go', async () => {
    const name = uniq('reuse')
    const db = Strata.cache({ name })
    const closed = db.branch('default')
    closed.close()
    const committed = db.begin()
    committed.kv.put('k', 'once')
    committed.commit()
    const rolledBack = db.begin()
    rolledBack.kv.put('r', 1)
    rolledBack.rollback()
    // Handles and transactions made, dropped and collected, round after round: the slots of the collected ones
    // are reused by the next round (the native addon keeps handles in a table of slots).
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 200; i++) {
        const h = Strata.cache({ name })
        h.kv.put(`h${i}`, round)
        const tx = h.begin()
        tx.kv.put('k', 'other')
        tx.rollback()
        if (i % 2 === 0) h.close()
      }
      await collect()
    }
    expectCode(() => closed.kv.get('k'), 'CLOSED')
    for (const tx of [committed, rolledBack]) {
      expectCode(() => tx.kv.put('k', 'again'), 'CLOSED')
      expectCode(() => tx.kv.get('k'), 'CLOSED')
      expectCode(() => tx.commit(), 'CLOSED')
    }
    expect(db.kv.history('k').map((h) => h.value)).toEqual(['once'])
    expect(db.kv.get('r')).toBeNull()
    expect(db.kv.get('h199')).toBe(2)
  })

  it('closing a handle from db.branch() leaves the others usable', () => {
    const db = Strata.cache()
    db.forkBranch('f')
    const a = db.branch('f')
    const b = db.branch('f')
    a.kv.put('k', 'a')
    a.close()
    expectCode(() => a.kv.get('k'), 'CLOSED')
    expect(b.kv.get('k')).toBe('a')
    expect(b.kv.put('k', 'b')).toBe(2)
    expect(db.kv.put('d', 1)).toBe(1)
    expect(db.branch('f').kv.get('k')).toBe('b')
  })

  it('closing the first handle leaves handles derived from it usable', () => {
    const db = Strata.cache()
    db.kv.put('k', 1)
    const h = db.branch('default')
    const past = db.at(db.kv.getVersioned('k')!.timestamp)
    db.close()
    expectCode(() => db.kv.get('k'), 'CLOSED')
    expect(h.kv.get('k')).toBe(1)
    expect(h.kv.put('k', 2)).toBe(2)
    expect(past.kv.get('k')).toBe(1)
    expect(h.kv.get('k')).toBe(2)
  })

  it('closing one named open leaves the other open on the same name usable', () => {
    const name = uniq('named')
    const a = Strata.cache({ name })
    const b = Strata.cache({ name })
    a.kv.put('k', 1)
    a.close()
    expect(b.kv.get('k')).toBe(1)
    expect(b.kv.put('k', 2)).toBe(2)
  })
})

describe('Strata.cache', () => {
  it('an unnamed cache is private: two are separate', () => {
    const a = Strata.cache()
    const b = Strata.cache()
    a.kv.put('k', 'a')
    expect(b.kv.get('k')).toBeNull()
    a.createBranch('x')
    expect(b.branchExists('x')).toBe(false)
  })

  it('a named cache keeps its data when every handle of it is closed or collected', async () => {
    const name = uniq('kept')
    const a = Strata.cache({ name })
    a.kv.put('k', 1)
    a.close()
    expect(Strata.cache({ name }).kv.get('k')).toBe(1)
    // A handle never closed, and unreachable: collected, its data stays with the name.
    ;(() => Strata.cache({ name }).kv.put('j', 2))()
    await collect()
    const again = Strata.cache({ name })
    expect([again.kv.get('k'), again.kv.get('j')]).toEqual([1, 2])
    expect(again.kv.getVersioned('k')?.version).toBe(1)
  })

  it('two opens with the same name share data, branches and spaces', () => {
    const name = uniq('shared')
    const a = Strata.cache({ name })
    const b = Strata.cache({ name })
    expect(a.kv.put('k', 'from a')).toBe(1)
    expect(b.kv.get('k')).toBe('from a')
    expect(b.kv.put('k', 'from b')).toBe(2)
    expect(a.kv.getVersioned('k')).toMatchObject({ value: 'from b', version: 2 })
    a.forkBranch('f')
    expect(b.branchExists('f')).toBe(true)
    b.setBranch('f')
    expect(b.kv.get('k')).toBe('from b')
    expect(a.currentBranch()).toBe('default')
    a.setSpace('s')
    a.kv.put('in-s', 1)
    b.setBranch('default')
    expect(b.listSpaces()).toContain('s')
  })

  it('CAS is atomic across two opens of the same name', () => {
    const name = uniq('cas')
    const a = Strata.cache({ name })
    const b = Strata.cache({ name })
    expect(a.state.cas('leader', null, 'a')).toBe(1)
    expect(b.state.cas('leader', null, 'b')).toBeNull()
    expect(b.state.get('leader')).toBe('a')
  })

  it('different names are separate databases, and unnamed ones are separate from named ones', () => {
    const n1 = uniq('one')
    const n2 = uniq('two')
    const a = Strata.cache({ name: n1 })
    const b = Strata.cache({ name: n2 })
    const c = Strata.cache()
    a.kv.put('k', 'a')
    expect(b.kv.get('k')).toBeNull()
    expect(c.kv.get('k')).toBeNull()
    b.kv.put('k', 'b')
    expect(a.kv.get('k')).toBe('a')
    expect(Strata.cache({ name: n1 }).kv.get('k')).toBe('a')
    expect(Strata.cache({ name: n2 }).kv.get('k')).toBe('b')
  })

  it('names are exact: case matters', () => {
    const n = uniq('Case')
    Strata.cache({ name: n }).kv.put('k', 1)
    expect(Strata.cache({ name: n.toLowerCase() }).kv.get('k')).toBeNull()
  })

  it('reports its backend', () => {
    const db = Strata.cache()
    expect(db.backend).toBe(BACKEND)
    expect(Strata.backend).toBe(BACKEND)
  })
})

describe('unknown options are INVALID_VALUE naming the option', () => {
  it.each([
    ['kv.get', (db: Strata) => db.kv.get('k', { asof: 1 } as never), 'asof'],
    ['kv.getVersioned', (db: Strata) => db.kv.getVersioned('k', { as_of: 1 } as never), 'as_of'],
    ['kv.list', (db: Strata) => db.kv.list({ prefx: 'a' } as never), 'prefx'],
    ['kv.history', (db: Strata) => db.kv.history('k', { limt: 1 } as never), 'limt'],
    ['state.get', (db: Strata) => db.state.get('c', { asOF: 1 } as never), 'asOF'],
    ['state.list', (db: Strata) => db.state.list({ limitt: 1 } as never), 'limitt'],
    ['state.update', (db: Strata) => db.state.update('c', () => 1, { retry: 1 } as never), 'retry'],
    ['forkBranch', (db: Strata) => db.forkBranch('x', { form: 'default' } as never), 'form'],
    ['mergeBranches', (db: Strata) => db.mergeBranches('default', { strat: 'ours' } as never), 'strat'],
    ['deleteSpace', (db: Strata) => db.deleteSpace('s', { forse: true } as never), 'forse'],
  ])('%s', (_, call, option) => {
    const db = Strata.cache()
    db.kv.put('k', 1)
    expectCode(() => call(db), 'INVALID_VALUE', option)
    // A typo never silently writes.
    expect(db.state.get('c')).toBeNull()
    expect(db.branchExists('x')).toBe(false)
  })

  it('Strata.cache', () => {
    expectCode(() => Strata.cache({ nam: 'x' } as never), 'INVALID_VALUE', 'nam')
  })
})
