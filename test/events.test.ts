// db.events: append-only logs, dense per branch and space, chained by hash (API.md "Event log — db.events", plus
// what Branches, Spaces, Time travel, Transactions and Errors say about them).
import { describe, expect, it } from 'vitest'
import { Strata, StrataError, type Value } from 'stratadb'
import { BACKEND, expectCode, nowMicros, uniq, tempDir, inWorker } from './helpers.js'


/** The log of a handle as `sequence:type=payload` strings, for compact comparisons. */
function log(db: Strata): string[] {
  return db.events.list().map((e) => `${e.sequence}:${e.type}=${JSON.stringify(e.payload)}`)
}

/** Sequences of a list, which must be 0, 1, 2, ... (dense). */
function expectDense(db: Strata): void {
  const seqs = db.events.list().map((e) => e.sequence)
  expect(seqs).toEqual(seqs.map((_, i) => i))
  expect(db.events.count()).toBe(seqs.length)
}

const OK = { ok: true, firstBadSequence: null }

describe('events: append / get / list / count', () => {
  it('append returns dense sequences 0, 1, 2 ... and get returns { sequence, type, payload, timestamp }', () => {
    const db = Strata.cache()
    expect(db.events.count()).toBe(0)
    expect(db.events.list()).toEqual([])
    expect(db.events.get(0)).toBeNull()
    const before = nowMicros()
    expect(db.events.append('task.created', { task: 1 })).toBe(0)
    expect(db.events.append('task.claimed', { task: 1, by: 'ada' })).toBe(1)
    expect(db.events.append('task.created', { task: 2 })).toBe(2)
    const after = nowMicros()
    expect(db.events.count()).toBe(3)
    const e = db.events.get(1)!
    expect(Object.keys(e).sort()).toEqual(['payload', 'sequence', 'timestamp', 'type'])
    expect(e).toMatchObject({ sequence: 1, type: 'task.claimed', payload: { task: 1, by: 'ada' } })
    expect(Number.isInteger(e.timestamp)).toBe(true)
    expect(e.timestamp).toBeGreaterThanOrEqual(before - 5_000_000)
    expect(e.timestamp).toBeLessThanOrEqual(after + 5_000_000)
    expect(db.events.get(3)).toBeNull()
    expect(db.events.get(1_000_000)).toBeNull()
    expect(db.events.get(2 ** 53 - 1)).toBeNull()
  })

  it('timestamps strictly increase from one append to the next, and list equals get for every event', () => {
    const db = Strata.cache()
    for (let i = 0; i < 20; i++) db.events.append(i % 2 ? 'odd' : 'even', i)
    const all = db.events.list()
    expect(all.map((e) => e.sequence)).toEqual([...Array(20).keys()])
    for (let i = 1; i < all.length; i++) expect(all[i]!.timestamp).toBeGreaterThan(all[i - 1]!.timestamp)
    for (const e of all) expect(db.events.get(e.sequence)).toEqual(e)
  })

  it('payloads of every kind round-trip; objects keep __proto__ as an own key', () => {
    const db = Strata.cache()
    const payloads: Value[] = [
      null,
      true,
      0,
      -7,
      1.5,
      2n ** 60n,
      '',
      'héllo 🌍',
      new Uint8Array([0, 1, 255]),
      [1, [2, [3]], { a: null }],
      { nested: { deep: [1, 'x'] } },
      JSON.parse('{"__proto__": {"polluted": true}, "constructor": 1}') as Value,
    ]
    for (const p of payloads) db.events.append('p', p)
    const got = db.events.list().map((e) => e.payload)
    expect(got).toEqual(payloads)
    const odd = got[11] as Record<string, Value>
    expect(Object.getPrototypeOf(odd)).toBe(Object.prototype)
    expect(Object.getOwnPropertyNames(odd).sort()).toEqual(['__proto__', 'constructor'])
    expect(odd['__proto__']).toEqual({ polluted: true })
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
    expect(got[5]).toBe(2n ** 60n)
    expect(got[8]).toBeInstanceOf(Uint8Array)
  })

  it('events cannot be changed: the API has no write besides append, and read payloads are copies', () => {
    const db = Strata.cache()
    db.events.append('t', { n: 1, list: [1] })
    const methods = Object.getOwnPropertyNames(Object.getPrototypeOf(db.events)).filter((m) => m !== 'constructor')
    expect(methods.sort()).toEqual(['append', 'count', 'get', 'list', 'verify'])
    const e = db.events.get(0)!
    ;(e.payload as { n: number }).n = 99
    ;(e.payload as { list: number[] }).list.push(2)
    expect(db.events.get(0)!.payload).toEqual({ n: 1, list: [1] })
    expect(db.events.verify()).toEqual(OK)
  })

  it('list: in sequence order, filtered by type, after is exclusive, limit caps', () => {
    const db = Strata.cache()
    const types = ['a', 'b', 'a', 'c', 'a', 'b']
    types.forEach((t, i) => db.events.append(t, i))
    expect(db.events.list().map((e) => e.sequence)).toEqual([0, 1, 2, 3, 4, 5])
    expect(db.events.list({ type: 'a' }).map((e) => e.sequence)).toEqual([0, 2, 4])
    expect(db.events.list({ type: 'b' }).map((e) => e.payload)).toEqual([1, 5])
    expect(db.events.list({ type: 'zzz' })).toEqual([])
    expect(db.events.list({ after: 2 }).map((e) => e.sequence)).toEqual([3, 4, 5])
    expect(db.events.list({ after: 0, limit: 2 }).map((e) => e.sequence)).toEqual([1, 2])
    expect(db.events.list({ type: 'a', after: 0, limit: 1 }).map((e) => e.sequence)).toEqual([2])
    expect(db.events.list({ type: 'a', after: 4 })).toEqual([])
    expect(db.events.list({ after: 5 })).toEqual([])
    expect(db.events.list({ after: 2 ** 53 - 1 })).toEqual([])
    expect(db.events.list({ limit: 0 })).toEqual([])
    expect(db.events.list({ limit: 100 })).toHaveLength(6)
    // Paging with after = the last sequence of the previous page visits every event once.
    const pages: number[][] = []
    let after: number | undefined
    for (;;) {
      const page = db.events.list({ limit: 4, ...(after === undefined ? {} : { after }) })
      if (page.length === 0) break
      pages.push(page.map((e) => e.sequence))
      after = page[page.length - 1]!.sequence
    }
    expect(pages).toEqual([[0, 1, 2, 3], [4, 5]])
  })

  it('count: all events, or those of one type', () => {
    const db = Strata.cache()
    ;['x', 'y', 'x', 'x'].forEach((t) => db.events.append(t, null))
    expect(db.events.count()).toBe(4)
    expect(db.events.count({})).toBe(4)
    expect(db.events.count({ type: 'x' })).toBe(3)
    expect(db.events.count({ type: 'y' })).toBe(1)
    expect(db.events.count({ type: 'none' })).toBe(0)
  })

  it('type names follow the key rules: 1..1024 UTF-8 bytes, any character but U+0000', () => {
    const db = Strata.cache()
    expect(db.events.append('a'.repeat(1024), 1)).toBe(0)
    expect(db.events.append('é'.repeat(512), 2)).toBe(1) // 1024 bytes
    expect(db.events.append('type with spaces / and . and 🌍', 3)).toBe(2)
    expect(db.events.get(0)!.type).toBe('a'.repeat(1024))
    expect(db.events.count({ type: 'é'.repeat(512) })).toBe(1)
    expect(db.events.list({ type: 'type with spaces / and . and 🌍' })[0]!.payload).toBe(3)
  })
})

describe('events: the hash chain (verify)', () => {
  it('an empty log and a grown log verify', () => {
    const db = Strata.cache()
    expect(db.events.verify()).toEqual(OK)
    for (let i = 0; i < 50; i++) db.events.append('t', { i })
    expect(db.events.verify()).toEqual(OK)
  })

  it('verify checks the log of the current space and branch', () => {
    const db = Strata.cache()
    db.events.append('a', 1)
    db.setSpace('s')
    expect(db.events.verify()).toEqual(OK)
    db.events.append('b', 2)
    expect(db.events.verify()).toEqual(OK)
  })

  it('a log written to a directory verifies after reopening, also after a checkpoint', () => {
    const dir = tempDir()
    let db = Strata.open(dir)
    db.events.append('p', { n: 1 })
    db.events.append('p', { n: 2 })
    db.setSpace('other')
    db.events.append('o', 'x')
    const before = db.events.list()
    db.close()
    db = Strata.open(dir)
    expect(log(db)).toEqual(['0:p={"n":1}', '1:p={"n":2}'])
    expect(db.events.verify()).toEqual(OK)
    db.setSpace('other')
    expect(db.events.list()).toEqual(before)
    db.checkpoint()
    expect(db.events.append('o', 'y')).toBe(1)
    db.close()
    db = Strata.open(dir)
    db.setSpace('other')
    expect(log(db)).toEqual(['0:o="x"', '1:o="y"'])
    expect(db.events.verify()).toEqual(OK)
    db.setSpace('default')
    expect(db.events.append('p', { n: 3 })).toBe(2)
    expect(db.events.verify()).toEqual(OK)
    db.close()
  })
})

describe('events: spaces', () => {
  it('each space has its own log, numbered from 0', () => {
    const db = Strata.cache()
    expect(db.events.append('d', 0)).toBe(0)
    expect(db.events.append('d', 1)).toBe(1)
    db.setSpace('a')
    expect(db.events.count()).toBe(0)
    expect(db.events.list()).toEqual([])
    expect(db.events.get(0)).toBeNull()
    expect(db.events.append('a', 'first in a')).toBe(0)
    db.setSpace('b')
    expect(db.events.append('b', 'first in b')).toBe(0)
    expect(db.events.append('b', 'second in b')).toBe(1)
    expect(db.listSpaces()).toEqual(expect.arrayContaining(['default', 'a', 'b']))
    db.setSpace('a')
    expect(log(db)).toEqual(['0:a="first in a"'])
    expect(db.events.count({ type: 'b' })).toBe(0)
    db.setSpace('default')
    expect(log(db)).toEqual(['0:d=0', '1:d=1'])
    expect(db.events.append('d', 2)).toBe(2)
    for (const s of ['default', 'a', 'b']) {
      db.setSpace(s)
      expect(db.events.verify()).toEqual(OK)
    }
  })

  it('a space holding events is never deleted: the error says why, with or without force, and never loops', () => {
    const db = Strata.cache()
    db.setSpace('logs')
    db.events.append('e', 1)
    db.kv.put('k', 1)
    db.setSpace('default')
    // Entries beside the log: force deletes them, and the message says the log stays.
    expectCode(() => db.deleteSpace('logs'), 'INVALID_NAME', '1 live entries', 'event log of 1 events', 'force: true')
    expect(db.deleteSpace('logs', { force: true })).toBe(true)
    // Then nothing but the log is left: no option helps, and the message offers none.
    for (const options of [undefined, { force: true }]) {
      const e = expectCode(() => db.deleteSpace('logs', options), 'INVALID_NAME', 'nothing but its event log', 'append-only')
      expect(e.message).not.toContain('force')
    }
    expect(db.listSpaces()).toContain('logs')
    db.setSpace('logs')
    expect([db.events.count(), db.kv.get('k')]).toEqual([1, null])
  })

  it('after deleteSpace({ force }) the log of that space is consistent: count = list, dense, verifies', () => {
    // Whatever deleteSpace does to events, the log must stay coherent: count() agrees with list(), sequences stay
    // dense, and verify() does not report a log nobody tampered with as broken.
    const db = Strata.cache()
    db.setSpace('s')
    db.events.append('a', 1)
    db.events.append('a', 2)
    db.kv.put('k', 1)
    db.setSpace('default')
    expect(db.deleteSpace('s', { force: true })).toBe(true)
    db.setSpace('s')
    expect(db.events.count()).toBe(db.events.list().length)
    expect(db.events.verify()).toEqual(OK)
    const seq = db.events.append('b', 3)
    expect(db.events.get(seq)).toMatchObject({ type: 'b', payload: 3 })
    expectDense(db)
    expect(db.events.verify()).toEqual(OK)
  })

  it('the same space on two branches holds two logs', () => {
    const db = Strata.cache()
    const name = uniq('ev')
    db.createBranch(name)
    db.setSpace('s')
    db.events.append('on default', 1)
    const other = db.branch(name)
    other.setSpace('s')
    expect(other.events.count()).toBe(0)
    expect(other.events.append('on other', 2)).toBe(0)
    expect(log(db)).toEqual(['0:on default=1'])
  })
})

describe('events: time travel', () => {
  it('get and list take { asOf }: the log as it was then', () => {
    const db = Strata.cache()
    db.events.append('a', 0)
    db.events.append('b', 1)
    const t1 = db.events.get(1)!.timestamp
    db.events.append('a', 2)
    const t0 = db.events.get(0)!.timestamp
    expect(db.events.get(2, { asOf: t1 })).toBeNull()
    expect(db.events.get(1, { asOf: t1 })).toMatchObject({ sequence: 1, type: 'b', payload: 1 })
    expect(db.events.get(1, { asOf: t1 - 1 })).toBeNull()
    expect(db.events.get(0, { asOf: t0 - 1 })).toBeNull()
    expect(db.events.list({ asOf: t1 }).map((e) => e.sequence)).toEqual([0, 1])
    expect(db.events.list({ asOf: t0 }).map((e) => e.sequence)).toEqual([0])
    expect(db.events.list({ asOf: t0 - 1 })).toEqual([])
    expect(db.events.list({ asOf: t1, type: 'a' }).map((e) => e.sequence)).toEqual([0])
    expect(db.events.list({ asOf: t1, after: 0 }).map((e) => e.sequence)).toEqual([1])
    expect(db.events.list({ asOf: nowMicros() + 60_000_000 })).toHaveLength(3)
  })

  it('a handle from db.at(ts) reads the log as of ts, with get, list and count', () => {
    const db = Strata.cache()
    db.events.append('a', 0)
    db.events.append('a', 1)
    const t = db.events.get(1)!.timestamp
    db.events.append('a', 2)
    db.events.append('b', 3)
    const then = db.at(t)
    expect(then.events.get(1)).toMatchObject({ payload: 1 })
    expect(then.events.get(2)).toBeNull()
    expect(then.events.list().map((e) => e.sequence)).toEqual([0, 1])
    expect(then.events.count()).toBe(2)
    expect(then.events.count({ type: 'b' })).toBe(0)
  })

  it('a handle from db.at(ts) cannot append: READ_ONLY, nothing written', () => {
    const db = Strata.cache()
    db.events.append('a', 0)
    const then = db.at(db.events.get(0)!.timestamp)
    expectCode(() => then.events.append('a', 1), 'READ_ONLY')
    expect(db.events.count()).toBe(1)
  })

  it('events appended in one transaction share one timestamp, so asOf sees all or none of them', () => {
    const db = Strata.cache()
    db.events.append('before', 0)
    db.transaction((tx) => {
      tx.events.append('in tx', 1)
      tx.events.append('in tx', 2)
    })
    const [, a, b] = db.events.list()
    expect(a!.timestamp).toBe(b!.timestamp)
    expect(db.events.list({ asOf: a!.timestamp - 1 })).toHaveLength(1)
    expect(db.events.list({ asOf: a!.timestamp })).toHaveLength(3)
  })
})

describe('events: branches', () => {
  it('a fork shares the log; appends after it are separate on each side', () => {
    const db = Strata.cache()
    db.events.append('e', 0)
    db.events.append('e', 1)
    const name = uniq('fork')
    db.forkBranch(name)
    const fork = db.branch(name)
    expect(fork.events.list()).toEqual(db.events.list())
    expect(db.events.append('main', 2)).toBe(2)
    expect(fork.events.append('fork', 'a')).toBe(2)
    expect(fork.events.append('fork', 'b')).toBe(3)
    expect(log(db)).toEqual(['0:e=0', '1:e=1', '2:main=2'])
    expect(log(fork)).toEqual(['0:e=0', '1:e=1', '2:fork="a"', '3:fork="b"'])
    expect(db.events.count()).toBe(3)
    expect(fork.events.count({ type: 'fork' })).toBe(2)
    expect(db.events.verify()).toEqual(OK)
    expect(fork.events.verify()).toEqual(OK)
  })

  it('createBranch starts with empty logs', () => {
    const db = Strata.cache()
    db.events.append('e', 0)
    const name = uniq('empty')
    db.createBranch(name)
    expect(db.branch(name).events.count()).toBe(0)
    expect(db.branch(name).events.append('x', 1)).toBe(0)
  })

  it('diffBranches(a, b).events lists sequences on one side only, and differing events in both lists', () => {
    const db = Strata.cache()
    db.events.append('e', 0)
    db.events.append('e', 1)
    const name = uniq('diff')
    db.forkBranch(name)
    const fork = db.branch(name)
    expect(db.diffBranches('default', name).events).toEqual({ added: [], removed: [] })
    db.events.append('main', 2)
    fork.events.append('fork', 'a')
    fork.events.append('fork', 'b')
    const d = db.diffBranches('default', name).events
    expect([...d.added].sort((x, y) => x - y)).toEqual([2, 3])
    expect(d.removed).toEqual([2])
    const back = db.diffBranches(name, 'default').events
    expect([...back.removed].sort((x, y) => x - y)).toEqual([2, 3])
    expect(back.added).toEqual([2])
    // Events never show up in the key sections.
    const full = db.diffBranches('default', name)
    for (const s of [full.kv, full.state, full.json]) expect(s).toEqual({ added: [], removed: [], modified: [] })
  })

  it('mergeBranches appends the source events the target has not seen, in order, renumbered; twice appends nothing', () => {
    const db = Strata.cache()
    db.events.append('e', 0)
    db.events.append('e', 1)
    const name = uniq('merge')
    db.forkBranch(name)
    const fork = db.branch(name)
    db.events.append('main', 2)
    fork.events.append('fork', 'a')
    fork.events.append('fork', 'b')
    expect(db.mergeBranches(name)).toEqual({ applied: 2, conflicts: [] })
    expect(log(db)).toEqual(['0:e=0', '1:e=1', '2:main=2', '3:fork="a"', '4:fork="b"'])
    expect(db.events.verify()).toEqual(OK)
    expectDense(db)
    // The source is unchanged.
    expect(log(fork)).toEqual(['0:e=0', '1:e=1', '2:fork="a"', '3:fork="b"'])
    // Again: nothing new to append.
    expect(db.mergeBranches(name)).toEqual({ applied: 0, conflicts: [] })
    expect(db.events.count()).toBe(5)
    // The other way: only the target's own event is new to the fork.
    expect(fork.mergeBranches('default')).toEqual({ applied: 1, conflicts: [] })
    expect(log(fork)).toEqual(['0:e=0', '1:e=1', '2:fork="a"', '3:fork="b"', '4:main=2'])
    expect(fork.events.verify()).toEqual(OK)
    expect(fork.mergeBranches('default').applied).toBe(0)
    expect(db.mergeBranches(name).applied).toBe(0)
    // Later appends keep flowing, once each.
    fork.events.append('fork', 'c')
    expect(db.mergeBranches(name).applied).toBe(1)
    expect(db.events.get(5)).toMatchObject({ sequence: 5, type: 'fork', payload: 'c' })
    expect(db.mergeBranches(name).applied).toBe(0)
    expect(fork.mergeBranches('default').applied).toBe(0)
    expect(db.events.count()).toBe(6)
    expect(fork.events.count()).toBe(6)
  })

  it('a merge keeps the payloads and types of the events it copies', () => {
    const db = Strata.cache()
    const name = uniq('copy')
    db.forkBranch(name)
    const fork = db.branch(name)
    const payload: Value = { big: 2n ** 62n, bytes: new Uint8Array([9, 8]), list: [null, 1.25, 'x'] }
    fork.events.append('rich', payload)
    db.mergeBranches(name)
    expect(db.events.get(0)).toMatchObject({ sequence: 0, type: 'rich', payload })
  })

  it('merging a branch made with createBranch appends all of its events', () => {
    const db = Strata.cache()
    db.events.append('mine', 0)
    const name = uniq('unrelated')
    db.createBranch(name)
    const other = db.branch(name)
    other.events.append('theirs', 'a')
    other.events.append('theirs', 'b')
    expect(db.mergeBranches(name).applied).toBe(2)
    expect(log(db)).toEqual(['0:mine=0', '1:theirs="a"', '2:theirs="b"'])
    expect(db.events.verify()).toEqual(OK)
  })

  it('a merge appends events to the log of each space separately', () => {
    const db = Strata.cache()
    db.setSpace('s')
    db.events.append('s', 0)
    db.setSpace('default')
    const name = uniq('spaces')
    db.forkBranch(name)
    const fork = db.branch(name)
    fork.events.append('d', 'into default')
    fork.setSpace('s')
    fork.events.append('s', 'into s')
    fork.setSpace('fresh')
    fork.events.append('f', 'into a new space')
    expect(db.mergeBranches(name).applied).toBe(3)
    expect(log(db)).toEqual(['0:d="into default"'])
    db.setSpace('s')
    expect(log(db)).toEqual(['0:s=0', '1:s="into s"'])
    expect(db.events.verify()).toEqual(OK)
    db.setSpace('fresh')
    expect(log(db)).toEqual(['0:f="into a new space"'])
  })

  it('a strict merge that conflicts appends no events; ours/theirs append them with the resolution', () => {
    const db = Strata.cache()
    db.kv.put('k', 0)
    const name = uniq('conflict')
    db.forkBranch(name)
    const fork = db.branch(name)
    fork.kv.put('k', 'theirs')
    fork.events.append('fork', 1)
    db.kv.put('k', 'ours')
    const e = expectCode(() => db.mergeBranches(name), 'MERGE_CONFLICT', 'k')
    expect(e.conflicts).toEqual(['k'])
    expect(db.events.count()).toBe(0)
    expect(db.mergeBranches(name, { strategy: 'ours' })).toEqual({ applied: 1, conflicts: ['k'] })
    expect(db.kv.get('k')).toBe('ours')
    expect(log(db)).toEqual(['0:fork=1'])
    expect(db.mergeBranches(name, { strategy: 'theirs' }).applied).toBeLessThanOrEqual(1)
    expect(db.events.count()).toBe(1)
  })

  it('a handle on a deleted branch gets BRANCH_NOT_FOUND from every events call', () => {
    const db = Strata.cache()
    const name = uniq('gone')
    db.forkBranch(name)
    const other = db.branch(name)
    other.events.append('x', 1)
    db.deleteBranch(name)
    expectCode(() => other.events.append('x', 2), 'BRANCH_NOT_FOUND', name)
    expectCode(() => other.events.get(0), 'BRANCH_NOT_FOUND')
    expectCode(() => other.events.list(), 'BRANCH_NOT_FOUND')
    expectCode(() => other.events.count(), 'BRANCH_NOT_FOUND')
    expectCode(() => other.events.verify(), 'BRANCH_NOT_FOUND')
  })
})

describe('events: transactions', () => {
  it('appends appear to others at commit, all together; inside, tx.events reads its snapshot plus its appends', () => {
    const db = Strata.cache()
    db.events.append('before', 0)
    const seqs = db.transaction((tx) => {
      const a = tx.events.append('t', 1)
      const b = tx.events.append('t', 2)
      expect([a, b]).toEqual([1, 2])
      expect(db.events.count()).toBe(1)
      expect(db.events.get(1)).toBeNull()
      expect(tx.events.count()).toBe(3)
      expect(tx.events.get(1)).toEqual({ sequence: 1, type: 't', payload: 1, timestamp: 0 })
      expect(tx.events.get(0)).toMatchObject({ type: 'before' })
      expect(tx.events.list().map((e) => e.type)).toEqual(['before', 't', 't'])
      expect(tx.events.count({ type: 't' })).toBe(2)
      expect(tx.events.verify()).toEqual(OK) // of the committed log
      return [a, b]
    })
    expect(seqs).toEqual([1, 2])
    expect(log(db)).toEqual(['0:before=0', '1:t=1', '2:t=2'])
    expect(db.events.verify()).toEqual(OK)
  })

  it('tx.events.get/list take asOf like the handle', () => {
    const db = Strata.cache()
    db.events.append('a', 0)
    const t = db.events.get(0)!.timestamp
    db.events.append('a', 1)
    db.transaction((tx) => {
      expect(tx.events.list({ asOf: t }).map((e) => e.sequence)).toEqual([0])
      expect(tx.events.get(1, { asOf: t })).toBeNull()
      expect(tx.events.get(1)).toMatchObject({ payload: 1 })
    })
  })

  it('events and other writes of one transaction commit atomically, or not at all when fn throws', () => {
    const db = Strata.cache()
    db.transaction((tx) => {
      tx.kv.put('k', 1)
      tx.events.append('k.set', 1)
    })
    expect(db.kv.getVersioned('k')!.timestamp).toBe(db.events.get(0)!.timestamp)
    expect(() =>
      db.transaction((tx) => {
        tx.kv.put('k', 2)
        tx.events.append('k.set', 2)
        throw new Error('abort')
      }),
    ).toThrow('abort')
    expect(db.kv.get('k')).toBe(1)
    expect(db.events.count()).toBe(1)
    // The aborted sequence is not burnt: the log stays dense.
    expect(db.events.append('next', 3)).toBe(1)
    expectDense(db)
  })

  it('begin/rollback drops appended events; a finished transaction is CLOSED', () => {
    const db = Strata.cache()
    const tx = db.begin()
    expect(tx.events.append('x', 1)).toBe(0)
    tx.rollback()
    expect(db.events.count()).toBe(0)
    expectCode(() => tx.events.append('x', 2), 'CLOSED')
    const tx2 = db.begin()
    tx2.events.append('y', 1)
    tx2.commit()
    expect(log(db)).toEqual(['0:y=1'])
    expectCode(() => tx2.events.append('y', 2), 'CLOSED')
  })

  it('conflicts when another writer appended to the same log meanwhile; nothing of it commits', () => {
    const db = Strata.cache()
    db.events.append('e', 0)
    expectCode(
      () =>
        db.transaction((tx) => {
          tx.kv.put('side effect', 1)
          tx.events.append('tx', 1)
          db.events.append('outside', 1)
        }),
      'CONFLICT',
    )
    expect(log(db)).toEqual(['0:e=0', '1:outside=1'])
    expect(db.kv.get('side effect')).toBeNull()
    expect(db.events.verify()).toEqual(OK)
  })

  it('two transactions appending to one log: the second to commit conflicts', () => {
    const db = Strata.cache()
    const a = db.begin()
    const b = db.begin()
    expect(a.events.append('a', 1)).toBe(0)
    expect(b.events.append('b', 1)).toBe(0)
    a.commit()
    expectCode(() => b.commit(), 'CONFLICT')
    expect(log(db)).toEqual(['0:a=1'])
  })

  it('with retries, a transaction that lost its sequence runs again and gets the next one', () => {
    const db = Strata.cache()
    let runs = 0
    const seq = db.transaction(
      (tx) => {
        runs++
        const s = tx.events.append('tx', runs)
        if (runs === 1) db.events.append('outside', 0)
        return s
      },
      { retries: 3 },
    )
    expect(runs).toBe(2)
    expect(seq).toBe(1)
    expect(log(db)).toEqual(['0:outside=0', '1:tx=2'])
    expect(db.events.verify()).toEqual(OK)
  })

  it('appends to a different log (another space or branch) do not conflict', () => {
    const db = Strata.cache()
    const other = db.branch('default')
    other.setSpace('elsewhere')
    db.transaction((tx) => {
      tx.events.append('mine', 1)
      other.events.append('theirs', 1)
      db.kv.put('unrelated', 1)
    })
    expect(log(db)).toEqual(['0:mine=1'])
    expect(log(other)).toEqual(['0:theirs=1'])
  })

  it('an async transaction appends at commit', async () => {
    const db = Strata.cache()
    const p = db.transaction(async (tx) => {
      tx.events.append('a', 1)
      await new Promise((r) => setTimeout(r, 5))
      expect(db.events.count()).toBe(0)
      return tx.events.append('a', 2)
    })
    expect(await p).toBe(1)
    expect(db.events.count()).toBe(2)
  })

  it('a transaction appends to the space and branch current at its start', () => {
    const db = Strata.cache()
    const name = uniq('txb')
    db.forkBranch(name)
    db.setBranch(name)
    db.setSpace('notes')
    db.transaction((tx) => tx.events.append('here', 1))
    expect(log(db)).toEqual(['0:here=1'])
    db.setSpace('default')
    expect(db.events.count()).toBe(0)
    db.setBranch('default')
    db.setSpace('notes')
    expect(db.events.count()).toBe(0)
  })

  it('tx.events reads stay on the transaction space even when the handle switches space', () => {
    const db = Strata.cache()
    db.setSpace('x')
    db.events.append('in x', 0)
    const tx = db.begin()
    db.setSpace('y')
    db.events.append('in y', 0)
    db.events.append('in y', 1)
    expect(tx.events.append('in x', 1)).toBe(1) // appends go to x, the transaction's space
    expect(tx.events.count()).toBe(2)
    expect(tx.events.list().map((e) => e.payload)).toEqual([0, 1])
    expect(tx.events.get(0)!.type).toBe('in x')
    tx.commit()
    db.setSpace('x')
    expect(log(db)).toEqual(['0:in x=0', '1:in x=1'])
  })

  it('a read-only transaction cannot append', () => {
    const db = Strata.cache()
    db.events.append('a', 0)
    db.transaction(
      (tx) => {
        expectCode(() => tx.events.append('a', 1), 'READ_ONLY')
        expect(tx.events.count()).toBe(1)
      },
      { readOnly: true },
    )
    expectCode(() => db.at(nowMicros()).transaction((tx) => tx.events.append('a', 1)), 'READ_ONLY')
    expect(db.events.count()).toBe(1)
  })
})

describe('events: errors', () => {
  it('a bad type is INVALID_KEY (LIMIT_EXCEEDED when too long), and nothing is appended', () => {
    const db = Strata.cache()
    for (const bad of [5, null, undefined, {}, ['a'], Symbol('s')]) {
      expectCode(() => db.events.append(bad as never, 1), 'INVALID_KEY', 'type')
    }
    expectCode(() => db.events.append('', 1), 'INVALID_KEY', 'empty')
    expectCode(() => db.events.append('a\u0000b', 1), 'INVALID_KEY', 'U+0000')
    expectCode(() => db.events.append('bad \ud800 type', 1), 'INVALID_KEY', 'surrogate')
    expectCode(() => db.events.append('a'.repeat(1025), 1), 'LIMIT_EXCEEDED', '1024')
    expectCode(() => db.events.append('é'.repeat(513), 1), 'LIMIT_EXCEEDED', '1024')
    expect(db.events.count()).toBe(0)
    expect(db.events.append('ok', 1)).toBe(0)
  })

  it('a bad payload is INVALID_VALUE naming the path of the bad part; too big or deep is LIMIT_EXCEEDED', () => {
    const db = Strata.cache()
    const cyclic: Record<string, unknown> = { a: 1 }
    cyclic.self = cyclic
    const cases: [unknown, string][] = [
      [undefined, '$'],
      [{ a: [1, 2, () => 1] }, '$.a[2]'],
      [{ when: new Date() }, '$.when'],
      [[NaN], '$[0]'],
      [{ x: { y: Infinity } }, '$.x.y'],
      [{ n: 2n ** 70n }, '$.n'],
      [{ s: Symbol('s') }, '$.s'],
      [{ m: new Map() }, '$.m'],
      [{ u: undefined }, '$.u'],
      [cyclic, '$.self'],
      [{ bad: 'lone \ud800' }, '$.bad'],
    ]
    for (const [payload, where] of cases) {
      expectCode(() => db.events.append('t', payload as Value), 'INVALID_VALUE', where)
    }
    let deep: Value = 1
    for (let i = 0; i < 200; i++) deep = [deep]
    expectCode(() => db.events.append('t', deep), 'LIMIT_EXCEEDED', '128')
    expectCode(() => db.events.append('t', 'x'.repeat(17 * 1024 * 1024)), 'LIMIT_EXCEEDED', '16 MiB')
    expect(db.events.count()).toBe(0)
    expect(db.events.verify()).toEqual(OK)
  })

  it('bad payloads fail the same way inside a transaction, which can still commit the rest', () => {
    const db = Strata.cache()
    db.transaction((tx) => {
      expectCode(() => tx.events.append('t', { f: () => 1 } as never), 'INVALID_VALUE', '$.f')
      expectCode(() => tx.events.append('', 1), 'INVALID_KEY')
      expectCode(() => tx.events.append(7 as never, 1), 'INVALID_KEY')
      tx.events.append('t', 'fine')
    })
    expect(log(db)).toEqual(['0:t="fine"'])
  })

  it('a bad sequence or option is INVALID_VALUE', () => {
    const db = Strata.cache()
    db.events.append('a', 1)
    for (const bad of [-1, 1.5, NaN, Infinity, -Infinity, '0', null, undefined, 1n, {}]) {
      expectCode(() => db.events.get(bad as never), 'INVALID_VALUE', 'sequence')
    }
    expectCode(() => db.events.get(0, { asof: 1 } as never), 'INVALID_VALUE', 'asof')
    expectCode(() => db.events.get(0, { asOf: -1 }), 'INVALID_VALUE', 'asOf')
    expectCode(() => db.events.get(0, { asOf: 'now' } as never), 'INVALID_VALUE', 'asOf')
    expectCode(() => db.events.get(0, 5 as never), 'INVALID_VALUE')
    expectCode(() => db.events.list({ after: -1 }), 'INVALID_VALUE', 'after')
    expectCode(() => db.events.list({ after: 0.5 }), 'INVALID_VALUE', 'after')
    expectCode(() => db.events.list({ after: '0' } as never), 'INVALID_VALUE', 'after')
    expectCode(() => db.events.list({ limit: -1 }), 'INVALID_VALUE', 'limit')
    expectCode(() => db.events.list({ limit: 2.5 }), 'INVALID_VALUE', 'limit')
    expectCode(() => db.events.list({ asOf: NaN }), 'INVALID_VALUE', 'asOf')
    expectCode(() => db.events.list({ type: 5 } as never), 'INVALID_VALUE', 'type')
    expectCode(() => db.events.list({ sequence: 1 } as never), 'INVALID_VALUE', 'sequence')
    expectCode(() => db.events.list(5 as never), 'INVALID_VALUE')
    expectCode(() => db.events.list(null as never), 'INVALID_VALUE')
    expectCode(() => db.events.count({ type: 5 } as never), 'INVALID_VALUE', 'type')
    expectCode(() => db.events.count({ kind: 'a' } as never), 'INVALID_VALUE', 'kind')
    expect(db.events.list({ type: 'a' })).toHaveLength(1)
  })

  it('every call on a closed handle is CLOSED, checked before the arguments', () => {
    const db = Strata.cache()
    db.events.append('a', 1)
    db.close()
    expectCode(() => db.events.append('a', 2), 'CLOSED')
    expectCode(() => db.events.append(5 as never, undefined as never), 'CLOSED')
    expectCode(() => db.events.get(0), 'CLOSED')
    expectCode(() => db.events.get(-1), 'CLOSED')
    expectCode(() => db.events.list(), 'CLOSED')
    expectCode(() => db.events.list({ bogus: 1 } as never), 'CLOSED')
    expectCode(() => db.events.count(), 'CLOSED')
    expectCode(() => db.events.verify(), 'CLOSED')
  })

  it('every failure is a StrataError that is an Error', () => {
    const db = Strata.cache()
    try {
      db.events.append('', 1)
      expect.unreachable()
    } catch (e) {
      expect(e).toBeInstanceOf(Error)
      expect(e).toBeInstanceOf(StrataError)
      expect((e as StrataError).name).toBe('StrataError')
    }
  })
})

// ---- worker threads (native: workers reach one engine through a named in-memory database) ----------------------



describe.runIf(BACKEND === 'native')('events: appends from worker threads', () => {
  it('4 threads appending at once: every append gets its own sequence, the log is dense and verifies', async () => {
    const name = uniq('evthreads')
    const db = Strata.cache({ name })
    const workers = 4
    const per = 300
    const gate = new SharedArrayBuffer(4)
    const results = await Promise.all(
      Array.from({ length: workers }, (_, w) =>
        inWorker<number[]>(
          `const seqs = []
           for (let i = 0; i < ${per}; i++) seqs.push(db.events.append('w${w}', { w: ${w}, i }))
           return seqs`,
          { name, gate, workers },
          20_000,
        ),
      ),
    )
    const all = results.flat()
    expect(new Set(all).size).toBe(workers * per)
    for (const seqs of results) for (let i = 1; i < seqs.length; i++) expect(seqs[i]!).toBeGreaterThan(seqs[i - 1]!)
    expect(db.events.count()).toBe(workers * per)
    expectDense(db)
    expect(db.events.verify()).toEqual(OK)
    // Each event is where its append said it would be, with its own payload.
    results.forEach((seqs, w) =>
      seqs.forEach((s, i) => {
        if (i % 37 === 0) expect(db.events.get(s)).toMatchObject({ type: `w${w}`, payload: { w, i } })
      }),
    )
  })
})
