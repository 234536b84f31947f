import { describe, expect, it } from 'vitest'
import { Strata, StrataError, type BranchDiff } from 'stratadb'
import { byKey, expectCode, expectEachCode, nowMicros, uniq } from './helpers.js'

describe('branches: basics', () => {
  it('a database starts with branch default, and every handle starts on it', () => {
    const db = Strata.cache()
    expect(db.currentBranch()).toBe('default')
    expect(db.branchExists('default')).toBe(true)
    const bs = db.listBranches()
    expect(bs.map((b) => b.name)).toEqual(['default'])
    expect(bs[0]).toMatchObject({ name: 'default', parent: null, forkedAt: null })
    expect(typeof bs[0]!.createdAt).toBe('number')
    const name = uniq('shared')
    const a = Strata.cache({ name })
    a.createBranch('x')
    a.setBranch('x')
    expect(Strata.cache({ name }).currentBranch()).toBe('default')
  })

  it('createBranch makes an empty branch and does not switch to it', () => {
    const db = Strata.cache()
    db.kv.put('k', 1)
    db.state.set('c', 1)
    db.setSpace('s')
    db.kv.put('in-s', 1)
    db.setSpace('default')
    const before = nowMicros()
    db.createBranch('empty')
    expect(db.currentBranch()).toBe('default')
    expect(db.branchExists('empty')).toBe(true)
    const info = db.listBranches().find((b) => b.name === 'empty')!
    expect(info).toMatchObject({ name: 'empty', parent: null, forkedAt: null })
    expect(info.createdAt).toBeGreaterThanOrEqual(before - 5_000_000)
    expect(info.createdAt).toBeLessThanOrEqual(nowMicros() + 5_000_000)
    db.setBranch('empty')
    expect(db.currentBranch()).toBe('empty')
    expect(db.kv.get('k')).toBeNull()
    expect(db.kv.list()).toEqual([])
    expect(db.kv.history('k')).toEqual([])
    expect(db.state.get('c')).toBeNull()
    expect(db.listSpaces()).toEqual(['default'])
    expect(db.kv.put('k', 'fresh')).toBe(1)
    db.setBranch('default')
    expect(db.kv.get('k')).toBe(1)
  })

  it('setBranch to an unknown branch is BRANCH_NOT_FOUND and leaves the handle where it was', () => {
    const db = Strata.cache()
    db.createBranch('b1')
    db.setBranch('b1')
    expectCode(() => db.setBranch('nope'), 'BRANCH_NOT_FOUND', 'nope')
    expect(db.currentBranch()).toBe('b1')
    db.kv.put('k', 1)
    db.setBranch('default')
    expect(db.kv.get('k')).toBeNull()
  })

  it('branchExists', () => {
    const db = Strata.cache()
    expect(db.branchExists('x')).toBe(false)
    db.createBranch('x')
    expect(db.branchExists('x')).toBe(true)
    db.forkBranch('y')
    expect(db.branchExists('y')).toBe(true)
    db.deleteBranch('x')
    expect(db.branchExists('x')).toBe(false)
    expect(db.branchExists('X')).toBe(false)
  })

  it('existing names are BRANCH_EXISTS, for create and fork alike', () => {
    const db = Strata.cache()
    db.kv.put('k', 1)
    db.createBranch('a')
    db.forkBranch('f')
    db.branch('a').kv.put('in-a', 1)
    expectCode(() => db.createBranch('a'), 'BRANCH_EXISTS', 'a')
    expectCode(() => db.forkBranch('a'), 'BRANCH_EXISTS')
    expectCode(() => db.createBranch('f'), 'BRANCH_EXISTS')
    expectCode(() => db.forkBranch('f', { from: 'a' }), 'BRANCH_EXISTS')
    expectCode(() => db.createBranch('default'), 'BRANCH_EXISTS')
    expectCode(() => db.forkBranch('default'), 'BRANCH_EXISTS')
    // The existing branches are untouched.
    expect(db.branch('a').kv.list()).toEqual(['in-a'])
    expect(db.branch('f').kv.list()).toEqual(['k'])
    expect(db.listBranches()).toHaveLength(3)
  })

  it.each([
    ['empty', ''],
    ['leading slash', '/a'],
    ['leading dot', '.a'],
    ['double dot', 'a..b'],
    ['trailing double dot', 'a/..'],
    ['space', 'a b'],
    ['129 chars', 'x'.repeat(129)],
    ['non-ASCII', 'é'],
    ['colon', 'a:b'],
    ['star', 'a*b'],
    ['backslash', 'a\\b'],
    ['NUL', 'a\u0000b'],
    ['newline', 'a\nb'],
  ])('invalid name (%s) is INVALID_NAME for createBranch and forkBranch', (_, name) => {
    const db = Strata.cache()
    expectCode(() => db.createBranch(name), 'INVALID_NAME')
    expectCode(() => db.forkBranch(name), 'INVALID_NAME')
    expect(db.listBranches().map((b) => b.name)).toEqual(['default'])
  })

  it('a non-string name is INVALID_NAME', () => {
    const db = Strata.cache()
    for (const bad of [1, null, undefined, {}] as unknown as string[]) {
      expectCode(() => db.createBranch(bad), 'INVALID_NAME')
      expectCode(() => db.forkBranch(bad), 'INVALID_NAME')
    }
    expect(db.listBranches()).toHaveLength(1)
  })

  it('valid names: 128 chars, and [A-Za-z0-9._/-] not starting with / or .', () => {
    const db = Strata.cache()
    const names = ['x'.repeat(128), 'a', 'Z', '0', 'feature/x', 'a/b/c', 'v1.2.3', 'a-b_c', 'a.', 'a/', 'A.b-C_d/E9', '-x', '_x']
    for (const n of names) {
      db.createBranch(n)
      expect(db.branchExists(n)).toBe(true)
      db.setBranch(n)
      expect(db.currentBranch()).toBe(n)
      db.kv.put('k', n)
      db.setBranch('default')
    }
    for (const n of names) expect(db.branch(n).kv.get('k')).toBe(n)
    expect(db.listBranches().map((b) => b.name).sort()).toEqual(['default', ...names].sort())
  })
})

describe('branches: fork', () => {
  it('forks the current branch with all its data and history', () => {
    const db = Strata.cache()
    db.kv.put('a', 1)
    db.kv.put('a', 2)
    db.kv.put('gone', 1)
    db.kv.delete('gone')
    db.state.set('c', 'cell')
    db.forkBranch('f')
    expect(db.currentBranch()).toBe('default')
    const f = db.branch('f')
    expect(f.kv.get('a')).toBe(2)
    expect(f.kv.list()).toEqual(['a'])
    expect(f.state.get('c')).toBe('cell')
    expect(f.kv.history('a')).toEqual(db.kv.history('a'))
    expect(f.kv.history('gone').map((h) => [h.version, h.deleted ?? false])).toEqual([
      [2, true],
      [1, false],
    ])
    // Versions continue from the carried history.
    expect(f.kv.put('a', 3)).toBe(3)
    expect(f.kv.put('gone', 'back')).toBe(3)
  })

  it('later writes on either side are invisible to the other', () => {
    const db = Strata.cache()
    db.kv.put('shared', 'base')
    db.kv.put('del', 'x')
    db.forkBranch('f')
    const f = db.branch('f')
    f.kv.put('shared', 'from f')
    f.kv.put('only-f', 1)
    f.state.set('cell-f', 1)
    db.kv.put('only-default', 1)
    db.kv.delete('del')
    db.state.set('cell-default', 1)
    expect(db.kv.get('shared')).toBe('base')
    expect(db.kv.get('only-f')).toBeNull()
    expect(db.state.get('cell-f')).toBeNull()
    expect(db.kv.list()).toEqual(['only-default', 'shared'])
    expect(f.kv.get('shared')).toBe('from f')
    expect(f.kv.get('only-default')).toBeNull()
    expect(f.kv.get('del')).toBe('x')
    expect(f.state.get('cell-default')).toBeNull()
    expect(f.kv.list()).toEqual(['del', 'only-f', 'shared'])
    expect(db.kv.history('shared')).toHaveLength(1)
    expect(f.kv.history('shared')).toHaveLength(2)
  })

  it('from: forks another branch without switching', () => {
    const db = Strata.cache()
    db.forkBranch('f')
    db.branch('f').kv.put('k', 'in f')
    db.kv.put('k', 'in default')
    db.forkBranch('g', { from: 'f' })
    expect(db.currentBranch()).toBe('default')
    expect(db.branch('g').kv.get('k')).toBe('in f')
    expect(db.branch('g').kv.history('k')).toHaveLength(1)
    const info = db.listBranches().find((b) => b.name === 'g')!
    expect(info.parent).toBe('f')
    expectCode(() => db.forkBranch('h', { from: 'nope' }), 'BRANCH_NOT_FOUND', 'nope')
    expect(db.branchExists('h')).toBe(false)
  })

  it('forking an empty branch gives an empty branch', () => {
    const db = Strata.cache()
    db.createBranch('e')
    db.forkBranch('e2', { from: 'e' })
    expect(db.branch('e2').kv.list()).toEqual([])
  })

  it('listBranches reports parent, forkedAt and createdAt', () => {
    const db = Strata.cache()
    db.kv.put('k', 1)
    const lastWrite = db.kv.getVersioned('k')!.timestamp
    db.forkBranch('child')
    db.kv.put('k', 2)
    const nextWrite = db.kv.getVersioned('k')!.timestamp
    db.forkBranch('grandchild', { from: 'child' })
    db.createBranch('orphan')
    const byName = new Map(db.listBranches().map((b) => [b.name, b]))
    expect([...byName.keys()].sort()).toEqual(['child', 'default', 'grandchild', 'orphan'])
    expect(byName.get('default')).toMatchObject({ parent: null, forkedAt: null })
    expect(byName.get('orphan')).toMatchObject({ parent: null, forkedAt: null })
    const child = byName.get('child')!
    expect(child.parent).toBe('default')
    expect(typeof child.forkedAt).toBe('number')
    expect(child.forkedAt!).toBeGreaterThanOrEqual(lastWrite)
    expect(child.forkedAt!).toBeLessThanOrEqual(nextWrite)
    expect(child.createdAt).toBeGreaterThanOrEqual(lastWrite)
    expect(child.createdAt).toBeLessThanOrEqual(nextWrite)
    const gc = byName.get('grandchild')!
    expect(gc.parent).toBe('child')
    expect(gc.forkedAt!).toBeGreaterThanOrEqual(nextWrite)
    expect(gc.createdAt).toBeGreaterThanOrEqual(child.createdAt)
    for (const b of byName.values()) {
      expect(Object.keys(b).sort()).toEqual(['createdAt', 'forkedAt', 'name', 'parent'])
      expect(typeof b.createdAt).toBe('number')
    }
  })

  it('a fork is cheap: forking a branch of 20,000 keys many times is fast and isolated', () => {
    const db = Strata.cache()
    for (let i = 0; i < 20_000; i++) db.kv.put(`k${i}`, i)
    const t0 = performance.now()
    for (let i = 0; i < 50; i++) db.forkBranch(`f${i}`)
    const perFork = (performance.now() - t0) / 50
    expect(perFork).toBeLessThan(20)
    const f = db.branch('f49')
    f.kv.put('k0', 'changed')
    expect(db.kv.get('k0')).toBe(0)
    expect(db.branch('f0').kv.get('k0')).toBe(0)
    expect(f.kv.get('k19999')).toBe(19999)
  })
})

describe('branches: delete', () => {
  it('deletes a branch and its data', () => {
    const db = Strata.cache()
    db.forkBranch('x')
    db.branch('x').kv.put('k', 1)
    db.deleteBranch('x')
    expect(db.branchExists('x')).toBe(false)
    expect(db.listBranches().map((b) => b.name)).toEqual(['default'])
    expectCode(() => db.setBranch('x'), 'BRANCH_NOT_FOUND')
    expectCode(() => db.branch('x'), 'BRANCH_NOT_FOUND')
    // The name can be used again, for a fresh branch.
    db.createBranch('x')
    expect(db.branch('x').kv.get('k')).toBeNull()
    expect(db.branch('x').kv.history('k')).toEqual([])
  })

  it('deleting a parent keeps its forks intact', () => {
    const db = Strata.cache()
    db.kv.put('base', 1)
    db.forkBranch('p')
    db.branch('p').kv.put('p', 1)
    db.forkBranch('c', { from: 'p' })
    db.deleteBranch('p')
    const c = db.branch('c')
    expect(c.kv.list()).toEqual(['base', 'p'])
    expect(c.kv.history('p')).toHaveLength(1)
  })

  it("default cannot be deleted: INVALID_NAME", () => {
    const db = Strata.cache()
    db.createBranch('other')
    db.setBranch('other')
    expectCode(() => db.deleteBranch('default'), 'INVALID_NAME', 'default')
    expect(db.branchExists('default')).toBe(true)
    // Standing on default, the reason is still that default is never deleted, not advice to move off it.
    const onDefault = Strata.cache()
    const e = expectCode(() => onDefault.deleteBranch('default'), 'INVALID_NAME', 'default branch cannot be deleted')
    expect(e.message).not.toContain('setBranch')
  })

  it("the handle's own current branch cannot be deleted: INVALID_NAME", () => {
    const db = Strata.cache()
    db.createBranch('mine')
    db.setBranch('mine')
    db.kv.put('k', 1)
    expectCode(() => db.deleteBranch('mine'), 'INVALID_NAME', 'mine')
    expect(db.branchExists('mine')).toBe(true)
    expect(db.kv.get('k')).toBe(1)
  })

  it('another handle standing on a deleted branch gets BRANCH_NOT_FOUND on its next call', () => {
    const db = Strata.cache()
    db.forkBranch('doomed')
    const h = db.branch('doomed')
    h.kv.put('k', 1)
    const other = Strata.cache() // unrelated database: unaffected
    db.deleteBranch('doomed')
    expectCode(() => h.kv.get('k'), 'BRANCH_NOT_FOUND')
    expectCode(() => h.kv.put('k', 2), 'BRANCH_NOT_FOUND')
    expectCode(() => h.kv.list(), 'BRANCH_NOT_FOUND')
    expectCode(() => h.state.cas('c', null, 1), 'BRANCH_NOT_FOUND')
    const calls: [string, () => unknown][] = [
      ['kv.getVersioned', () => h.kv.getVersioned('k')],
      ['kv.delete', () => h.kv.delete('k')],
      ['kv.history', () => h.kv.history('k')],
      ['state.get', () => h.state.get('c')],
      ['state.set', () => h.state.set('c', 1)],
      ['state.init', () => h.state.init('c', 1)],
      ['state.update', () => h.state.update('c', () => 1)],
      ['state.list', () => h.state.list()],
      ['forkBranch', () => h.forkBranch('from-deleted')],
      ['mergeBranches', () => h.mergeBranches('default')],
      ['listSpaces', () => h.listSpaces()],
      ['deleteSpace', () => h.deleteSpace('s', { force: true })],
      ['timeRange', () => h.timeRange()],
      ['currentBranch', () => h.currentBranch()],
      ['currentSpace', () => h.currentSpace()],
      ['setSpace', () => h.setSpace('s')],
      ['at', () => h.at(1)],
      ['events.append', () => h.events.append('t', 1)],
      ['json.set', () => h.json.set('d', '$', 1)],
    ]
    expectEachCode(calls, 'BRANCH_NOT_FOUND')
    expect(db.branchExists('from-deleted')).toBe(false)
    // It can move to an existing branch and carry on.
    h.setBranch('default')
    expect(h.kv.put('k', 'ok')).toBe(1)
    expect(db.kv.get('k')).toBe('ok')
    expect(other.kv.get('k')).toBeNull()
  })

  it('a stale handle does not see a new branch made with the same name', () => {
    const db = Strata.cache()
    db.forkBranch('reused')
    const h = db.branch('reused')
    h.kv.put('old', 1)
    db.deleteBranch('reused')
    db.createBranch('reused')
    db.branch('reused').kv.put('new', 1)
    let result: unknown
    try {
      result = h.kv.list()
    } catch (e) {
      result = e
    }
    // Either it fails as deleted, or it reads the new branch; never the deleted branch's data.
    if (result instanceof StrataError) expect(result.code).toBe('BRANCH_NOT_FOUND')
    else expect(result).toEqual(['new'])
  })

  it('unknown branch: BRANCH_NOT_FOUND', () => {
    const db = Strata.cache()
    expectCode(() => db.deleteBranch('nope'), 'BRANCH_NOT_FOUND', 'nope')
    db.createBranch('x')
    db.deleteBranch('x')
    expectCode(() => db.deleteBranch('x'), 'BRANCH_NOT_FOUND')
  })
})

describe('branches: handles from db.branch(name)', () => {
  it("starts in the calling handle's current space; setSpace on either moves only that one", () => {
    const db = Strata.cache()
    db.setSpace('s')
    db.kv.put('k', 'in s')
    const h = db.branch('default')
    expect([h.currentSpace(), h.kv.get('k')]).toEqual(['s', 'in s'])
    h.setSpace('default')
    expect([h.kv.get('k'), db.currentSpace(), db.kv.get('k')]).toEqual([null, 's', 'in s'])
  })

  it('are independent: setBranch on one does not move the other', () => {
    const db = Strata.cache()
    db.createBranch('a')
    db.createBranch('b')
    const ha = db.branch('a')
    const hb = db.branch('b')
    expect(ha.currentBranch()).toBe('a')
    expect(hb.currentBranch()).toBe('b')
    expect(db.currentBranch()).toBe('default')
    ha.setBranch('b')
    expect(ha.currentBranch()).toBe('b')
    expect(hb.currentBranch()).toBe('b')
    expect(db.currentBranch()).toBe('default')
    hb.setBranch('default')
    expect(ha.currentBranch()).toBe('b')
    db.setBranch('a')
    expect(hb.currentBranch()).toBe('default')
    expect(ha.currentBranch()).toBe('b')
  })

  it('write to their own branch and share the database', () => {
    const db = Strata.cache()
    db.createBranch('a')
    const ha = db.branch('a')
    ha.kv.put('k', 'a')
    db.kv.put('k', 'default')
    expect(ha.kv.get('k')).toBe('a')
    expect(db.kv.get('k')).toBe('default')
    db.setBranch('a')
    expect(db.kv.get('k')).toBe('a')
    // Branches created through one handle are seen by the others.
    ha.createBranch('made-by-ha')
    expect(db.branchExists('made-by-ha')).toBe(true)
  })

  it('unknown branch: BRANCH_NOT_FOUND', () => {
    const db = Strata.cache()
    expectCode(() => db.branch('nope'), 'BRANCH_NOT_FOUND', 'nope')
  })
})

function sorted(d: BranchDiff['kv']): BranchDiff['kv'] {
  return { added: byKey(d.added), removed: byKey(d.removed), modified: byKey(d.modified) }
}

describe('branches: diffBranches', () => {
  it('lists added, removed and modified keys with both values', () => {
    const db = Strata.cache()
    db.kv.put('same', 1)
    db.kv.put('mod', 'old')
    db.kv.put('rm', 'gone')
    db.kv.put('rewritten', 'v')
    db.state.set('cell', 1)
    db.state.set('cell-rm', 1)
    db.forkBranch('f')
    const f = db.branch('f')
    f.kv.put('mod', { now: 'new' })
    f.kv.delete('rm')
    f.kv.put('add', [1])
    f.kv.put('rewritten', 'v') // a new version with an equal value: not a difference
    f.state.set('cell', 2)
    f.state.delete('cell-rm')
    f.state.set('cell-add', 'x')
    const d = db.diffBranches('default', 'f')
    expect(Object.keys(d).sort()).toEqual(['events', 'json', 'kv', 'state'])
    expect(sorted(d.kv)).toEqual({
      added: [{ key: 'add', space: 'default', a: null, b: [1] }],
      removed: [{ key: 'rm', space: 'default', a: 'gone', b: null }],
      modified: [{ key: 'mod', space: 'default', a: 'old', b: { now: 'new' } }],
    })
    expect(sorted(d.state)).toEqual({
      added: [{ key: 'cell-add', space: 'default', a: null, b: 'x' }],
      removed: [{ key: 'cell-rm', space: 'default', a: 1, b: null }],
      modified: [{ key: 'cell', space: 'default', a: 1, b: 2 }],
    })
    expect(d.json).toEqual({ added: [], removed: [], modified: [] })
    expect(d.events.added).toEqual([])
    expect(d.events.removed).toEqual([])
  })

  it('is directional: swapping a and b swaps added and removed', () => {
    const db = Strata.cache()
    db.kv.put('m', 1)
    db.forkBranch('f')
    db.branch('f').kv.put('new', 2)
    db.branch('f').kv.put('m', 3)
    const d = db.diffBranches('f', 'default')
    expect(d.kv.added).toEqual([])
    expect(d.kv.removed).toEqual([{ key: 'new', space: 'default', a: 2, b: null }])
    expect(d.kv.modified).toEqual([{ key: 'm', space: 'default', a: 3, b: 1 }])
  })

  it('identical branches have an empty diff; an empty branch against a full one lists everything', () => {
    const db = Strata.cache()
    db.kv.put('a', 1)
    db.kv.put('b', 2)
    db.forkBranch('f')
    const same = db.diffBranches('default', 'f')
    expect(same.kv).toEqual({ added: [], removed: [], modified: [] })
    expect(same.state).toEqual({ added: [], removed: [], modified: [] })
    db.createBranch('e')
    const d = db.diffBranches('e', 'default')
    expect(byKey(d.kv.added)).toEqual([
      { key: 'a', space: 'default', a: null, b: 1 },
      { key: 'b', space: 'default', a: null, b: 2 },
    ])
    expect(d.kv.removed).toEqual([])
  })

  it('reports the space of each key', () => {
    const db = Strata.cache()
    db.forkBranch('f')
    const f = db.branch('f')
    f.setSpace('sp')
    f.kv.put('k', 'in sp')
    f.setSpace('default')
    f.kv.put('k', 'in default')
    const d = db.diffBranches('default', 'f')
    expect(byKey(d.kv.added)).toEqual([
      { key: 'k', space: 'default', a: null, b: 'in default' },
      { key: 'k', space: 'sp', a: null, b: 'in sp' },
    ])
  })

  it('works between branches unrelated by forks, and does not depend on the current branch', () => {
    const db = Strata.cache()
    db.createBranch('x')
    db.createBranch('y')
    db.branch('x').kv.put('k', 1)
    db.branch('y').kv.put('k', 2)
    db.setBranch('x')
    const d = db.diffBranches('x', 'y')
    expect(d.kv.modified).toEqual([{ key: 'k', space: 'default', a: 1, b: 2 }])
  })

  it('unknown branch: BRANCH_NOT_FOUND', () => {
    const db = Strata.cache()
    expectCode(() => db.diffBranches('default', 'nope'), 'BRANCH_NOT_FOUND', 'nope')
    expectCode(() => db.diffBranches('nope', 'default'), 'BRANCH_NOT_FOUND', 'nope')
  })
})

describe('branches: mergeBranches', () => {
  it('applies the source\'s changes since the fork: adds, modifications and deletes', () => {
    const db = Strata.cache()
    db.kv.put('keep', 1)
    db.kv.put('mod', 'old')
    db.kv.put('rm', 'x')
    db.state.set('cell', 1)
    db.forkBranch('f')
    const f = db.branch('f')
    f.kv.put('add', 'new')
    f.kv.put('mod', 'new')
    f.kv.delete('rm')
    f.state.set('cell', 2)
    const r = db.mergeBranches('f')
    expect(r).toEqual({ applied: 4, conflicts: [] })
    expect(db.kv.list()).toEqual(['add', 'keep', 'mod'])
    expect(db.kv.get('add')).toBe('new')
    expect(db.kv.get('mod')).toBe('new')
    expect(db.kv.get('rm')).toBeNull()
    expect(db.kv.history('rm')[0]).toMatchObject({ deleted: true, value: null })
    expect(db.state.get('cell')).toBe(2)
    expect(db.diffBranches('default', 'f').kv).toEqual({ added: [], removed: [], modified: [] })
    // The source is unchanged.
    expect(f.kv.list()).toEqual(['add', 'keep', 'mod'])
  })

  it("keeps the target's own changes that the source did not touch", () => {
    const db = Strata.cache()
    db.kv.put('a', 1)
    db.kv.put('b', 1)
    db.forkBranch('f')
    db.kv.put('a', 'target')
    db.kv.delete('b')
    db.branch('f').kv.put('c', 'source')
    expect(db.mergeBranches('f')).toEqual({ applied: 1, conflicts: [] })
    expect(db.kv.get('a')).toBe('target')
    expect(db.kv.get('b')).toBeNull()
    expect(db.kv.get('c')).toBe('source')
  })

  it('merging twice applies nothing new', () => {
    const db = Strata.cache()
    db.forkBranch('f')
    db.branch('f').kv.put('x', 1)
    db.branch('f').kv.put('y', 2)
    expect(db.mergeBranches('f').applied).toBe(2)
    const versions = db.kv.history('x').length
    expect(db.mergeBranches('f')).toEqual({ applied: 0, conflicts: [] })
    expect(db.kv.history('x')).toHaveLength(versions)
    expect(db.kv.get('x')).toBe(1)
  })

  it('strict (default): a key changed on both sides is MERGE_CONFLICT listing it, and nothing is written', () => {
    const db = Strata.cache()
    db.kv.put('both', 'base')
    db.kv.put('other', 'base')
    db.forkBranch('f')
    const f = db.branch('f')
    f.kv.put('both', 'theirs')
    f.kv.put('only-source', 1)
    f.kv.put('other', 'theirs')
    db.kv.put('both', 'ours')
    const historyBefore = db.kv.history('both')
    const e = expectCode(() => db.mergeBranches('f'), 'MERGE_CONFLICT', 'both')
    expect(Array.isArray(e.conflicts)).toBe(true)
    expect(e.conflicts).toHaveLength(1)
    expect(e.conflicts![0]).toContain('both')
    expect(db.kv.get('both')).toBe('ours')
    expect(db.kv.get('only-source')).toBeNull()
    expect(db.kv.get('other')).toBe('base')
    expect(db.kv.history('both')).toEqual(historyBefore)
    expectCode(() => db.mergeBranches('f', { strategy: 'strict' }), 'MERGE_CONFLICT')
    expect(db.kv.list()).toEqual(['both', 'other'])
  })

  it('a delete on one side and a write on the other is a conflict too', () => {
    const db = Strata.cache()
    db.kv.put('k', 'base')
    db.forkBranch('f')
    db.branch('f').kv.delete('k')
    db.kv.put('k', 'ours')
    const e = expectCode(() => db.mergeBranches('f'), 'MERGE_CONFLICT')
    expect(e.conflicts!.some((c) => c.includes('k'))).toBe(true)
    expect(db.kv.get('k')).toBe('ours')
  })

  it('conflicts in state cells are found too', () => {
    const db = Strata.cache()
    db.state.set('leader', 'a')
    db.forkBranch('f')
    db.branch('f').state.set('leader', 'b')
    db.state.set('leader', 'c')
    const e = expectCode(() => db.mergeBranches('f'), 'MERGE_CONFLICT')
    expect(e.conflicts!.some((c) => c.includes('leader'))).toBe(true)
    expect(db.state.get('leader')).toBe('c')
  })

  /** `both` changed on both sides of a fork (to 'ours' and 'theirs'), `x` added on the fork only. */
  function conflicted(): Strata {
    const db = Strata.cache()
    db.kv.put('both', 'base')
    db.forkBranch('f')
    db.branch('f').kv.put('both', 'theirs')
    db.branch('f').kv.put('x', 1)
    db.kv.put('both', 'ours')
    return db
  }

  it("theirs: conflicts take the source's value", () => {
    const db = conflicted()
    const r = db.mergeBranches('f', { strategy: 'theirs' })
    expect(r.applied).toBe(2)
    expect(r.conflicts).toHaveLength(1)
    expect(r.conflicts[0]).toContain('both')
    expect(db.kv.get('both')).toBe('theirs')
    expect(db.kv.get('x')).toBe(1)
  })

  it('theirs: a delete on the source wins over a write on the target', () => {
    const db = Strata.cache()
    db.kv.put('k', 'base')
    db.forkBranch('f')
    db.branch('f').kv.delete('k')
    db.kv.put('k', 'ours')
    const r = db.mergeBranches('f', { strategy: 'theirs' })
    expect(r.conflicts).toHaveLength(1)
    expect(db.kv.get('k')).toBeNull()
    expect(db.kv.history('k')[0]).toMatchObject({ deleted: true, value: null })
  })

  it("ours: conflicts keep the current branch's value", () => {
    const db = conflicted()
    const r = db.mergeBranches('f', { strategy: 'ours' })
    expect(r.applied).toBe(1)
    expect(r.conflicts).toHaveLength(1)
    expect(r.conflicts[0]).toContain('both')
    expect(db.kv.get('both')).toBe('ours')
    expect(db.kv.get('x')).toBe(1)
  })

  it('merges child → parent and parent → child', () => {
    const db = Strata.cache()
    db.kv.put('base', 0)
    db.forkBranch('child')
    const child = db.branch('child')
    child.kv.put('from-child', 1)
    db.kv.put('from-parent', 2)
    // parent → child
    expect(child.mergeBranches('default')).toEqual({ applied: 1, conflicts: [] })
    expect(child.kv.get('from-parent')).toBe(2)
    // child → parent
    expect(db.mergeBranches('child')).toEqual({ applied: 1, conflicts: [] })
    expect(db.kv.get('from-child')).toBe(1)
    expect(db.kv.list()).toEqual(['base', 'from-child', 'from-parent'])
    expect(child.kv.list()).toEqual(['base', 'from-child', 'from-parent'])
  })

  it('merges into the handle\'s current branch', () => {
    const db = Strata.cache()
    db.forkBranch('src')
    db.forkBranch('dst')
    db.branch('src').kv.put('k', 1)
    db.setBranch('dst')
    expect(db.mergeBranches('src').applied).toBe(1)
    expect(db.kv.get('k')).toBe(1)
    expect(db.branch('default').kv.get('k')).toBeNull()
  })

  it('merges a grandchild into its grandparent', () => {
    const db = Strata.cache()
    db.kv.put('g0', 0)
    db.forkBranch('c1')
    db.branch('c1').kv.put('g1', 1)
    db.forkBranch('c2', { from: 'c1' })
    const c2 = db.branch('c2')
    c2.kv.put('g2', 2)
    c2.kv.delete('g0')
    const r = db.mergeBranches('c2')
    expect(r.conflicts).toEqual([])
    expect(r.applied).toBe(3)
    expect(db.kv.list()).toEqual(['g1', 'g2'])
    expect(db.kv.get('g0')).toBeNull()
  })

  it('merges siblings forked from the same point', () => {
    const db = Strata.cache()
    db.kv.put('base', 0)
    db.forkBranch('s1')
    db.forkBranch('s2')
    db.branch('s1').kv.put('a', 1)
    db.branch('s2').kv.put('b', 2)
    const s1 = db.branch('s1')
    expect(s1.mergeBranches('s2')).toEqual({ applied: 1, conflicts: [] })
    expect(s1.kv.list()).toEqual(['a', 'b', 'base'])
  })

  it('carries every space of the source', () => {
    const db = Strata.cache()
    db.forkBranch('f')
    const f = db.branch('f')
    f.setSpace('sp')
    f.kv.put('k', 'in sp')
    f.state.set('c', 'cell in sp')
    expect(db.mergeBranches('f').applied).toBe(2)
    expect(db.kv.get('k')).toBeNull()
    db.setSpace('sp')
    expect(db.kv.get('k')).toBe('in sp')
    expect(db.state.get('c')).toBe('cell in sp')
  })

  it('is one atomic commit: no moment shows part of a merge', () => {
    const db = Strata.cache()
    db.kv.put('old', 0)
    db.forkBranch('f')
    const f = db.branch('f')
    const keys = ['m1', 'm2', 'm3', 'm4']
    for (const k of keys) f.kv.put(k, k)
    f.kv.delete('old')
    f.state.set('cell', 1)
    expect(db.mergeBranches('f').applied).toBe(6)
    const stamps = [...keys.map((k) => db.kv.getVersioned(k)!.timestamp), db.kv.history('old')[0]!.timestamp]
    stamps.push(db.state.getVersioned('cell')!.timestamp)
    for (const t of [...stamps, ...stamps.map((x) => x - 1)]) {
      const kvAt = db.kv.list({ asOf: t })
      const seen = keys.filter((k) => kvAt.includes(k)).length
      const all = seen === keys.length && !kvAt.includes('old') && db.state.get('cell', { asOf: t }) === 1
      const none = seen === 0 && kvAt.includes('old') && db.state.get('cell', { asOf: t }) === null
      expect(all || none, `at ${t}: ${JSON.stringify(kvAt)}`).toBe(true)
    }
  })

  it('an agent can merge its branch repeatedly: the second merge only brings what changed since the first', () => {
    const db = Strata.cache()
    db.forkBranch('agent')
    const agent = db.branch('agent')
    agent.kv.put('progress', 1)
    agent.kv.put('notes', 'a')
    expect(db.mergeBranches('agent')).toEqual({ applied: 2, conflicts: [] })
    agent.kv.put('progress', 2)
    expect(db.mergeBranches('agent')).toEqual({ applied: 1, conflicts: [] })
    expect(db.kv.get('progress')).toBe(2)
    expect(db.kv.get('notes')).toBe('a')
  })

  it('unknown source: BRANCH_NOT_FOUND', () => {
    const db = Strata.cache()
    expectCode(() => db.mergeBranches('nope'), 'BRANCH_NOT_FOUND', 'nope')
  })
})
