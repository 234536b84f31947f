import { describe, expect, it } from 'vitest'
import { Strata, StrataError } from 'stratadb'
import { expectCode, tempDir, uniq } from './helpers.js'

describe('transactions', () => {
  it('reads a snapshot taken at its start plus its own writes', () => {
    const db = Strata.cache()
    db.kv.put('a', 1)
    db.transaction((tx) => {
      db.kv.put('b', 2) // lands after the snapshot, on a key the transaction never touches
      expect(tx.kv.get('a')).toBe(1)
      tx.kv.put('c', 3)
      expect(tx.kv.get('c')).toBe(3)
      expect(tx.kv.getVersioned('c')?.version).toBe(1)
      expect(db.kv.get('c')).toBeNull() // not visible outside before commit
      expect(tx.kv.list({ prefix: 'a' })).toEqual(['a'])
      expect(tx.kv.list({ after: 'b' })).toEqual(['c'])
      expect(tx.kv.delete('a')).toBe(true)
      expect(tx.kv.get('a')).toBeNull()
      expect(tx.kv.list({ prefix: 'a' })).toEqual([])
    })
    expect(db.kv.get('a')).toBeNull()
    expect(db.kv.get('b')).toBe(2)
    expect(db.kv.get('c')).toBe(3)
  })

  it('commits all writes atomically at one timestamp and returns what fn returned', () => {
    const db = Strata.cache()
    const result = db.transaction((tx) => {
      tx.kv.put('x', 1)
      tx.state.set('y', 2)
      return 'done'
    })
    expect(result).toBe('done')
    expect(db.kv.getVersioned('x')!.timestamp).toBe(db.state.getVersioned('y')!.timestamp)
    expect(db.state.get('y')).toBe(2)
  })

  it('rolls back and rethrows the original error when fn throws', () => {
    const db = Strata.cache()
    const boom = new Error('boom')
    expect(() =>
      db.transaction((tx) => {
        tx.kv.put('x', 1)
        throw boom
      }),
    ).toThrow(boom)
    expect(db.kv.get('x')).toBeNull()
    expect(db.kv.history('x')).toEqual([])
  })

  it('fails with CONFLICT when a key it read changed since the snapshot, writing nothing', () => {
    const db = Strata.cache()
    db.kv.put('balance', 10)
    const e = expectCode(
      () =>
        db.transaction((tx) => {
          tx.kv.get('balance')
          db.kv.put('balance', 20)
          expect(tx.kv.get('balance')).toBe(10) // still the snapshot
          tx.kv.put('audit', 'x')
        }),
      'CONFLICT',
      'balance',
    )
    expect(e).toBeInstanceOf(StrataError)
    expect(db.kv.get('audit')).toBeNull()
    expect(db.kv.get('balance')).toBe(20)
  })

  it('fails with CONFLICT when a key it only wrote was written by someone else', () => {
    const db = Strata.cache()
    expectCode(
      () =>
        db.transaction((tx) => {
          tx.kv.put('k', 'mine')
          db.kv.put('k', 'theirs')
        }),
      'CONFLICT',
    )
    expect(db.kv.get('k')).toBe('theirs')
  })

  it('does not conflict on keys it never touched', () => {
    const db = Strata.cache()
    db.transaction((tx) => {
      tx.kv.get('a')
      db.kv.put('unrelated', 1)
      tx.kv.put('b', 1)
    })
    expect(db.kv.get('b')).toBe(1)
  })

  it('re-runs fn up to `retries` times on CONFLICT', () => {
    const db = Strata.cache()
    db.state.set('n', 0)
    let runs = 0
    const v = db.transaction(
      (tx) => {
        runs++
        const n = tx.state.get('n') as number
        if (runs < 3) db.state.set('n', n + 100) // someone else wins the first two times
        tx.state.set('n', n + 1)
        return runs
      },
      { retries: 5 },
    )
    expect(v).toBe(3)
    expect(db.state.get('n')).toBe(201)
    let attempts = 0
    expectCode(
      () =>
        db.transaction(
          (tx) => {
            attempts++
            tx.state.get('n')
            db.state.set('n', attempts)
            tx.state.set('n', -1)
          },
          { retries: 2 },
        ),
      'CONFLICT',
    )
    expect(attempts).toBe(3)
    expect(db.state.get('n')).toBe(3)
  })

  it('commits an async fn when its promise resolves, and rolls back when it rejects', async () => {
    const db = Strata.cache()
    const p = db.transaction(async (tx) => {
      tx.kv.put('a', 1)
      await new Promise((r) => setTimeout(r, 5))
      expect(db.kv.get('a')).toBeNull()
      tx.kv.put('b', 2)
      return 'ok'
    })
    expect(p).toBeInstanceOf(Promise)
    expect(await p).toBe('ok')
    expect(db.kv.get('a')).toBe(1)
    expect(db.kv.get('b')).toBe(2)
    await expect(
      db.transaction(async (tx) => {
        tx.kv.put('c', 1)
        await Promise.resolve()
        throw new Error('later')
      }),
    ).rejects.toThrow('later')
    expect(db.kv.get('c')).toBeNull()
  })

  it('retries an async fn on CONFLICT', async () => {
    const db = Strata.cache()
    db.state.set('n', 0)
    let runs = 0
    await db.transaction(
      async (tx) => {
        runs++
        const n = tx.state.get('n') as number
        await Promise.resolve()
        if (runs === 1) db.state.set('n', 10)
        tx.state.set('n', n + 1)
      },
      { retries: 1 },
    )
    expect(runs).toBe(2)
    expect(db.state.get('n')).toBe(11)
  })

  it('re-checks a successful tx.state.cas at commit', () => {
    const db = Strata.cache()
    expectCode(
      () =>
        db.transaction((tx) => {
          expect(tx.state.cas('leader', null, 'tx')).toBe(1)
          expect(tx.state.cas('leader', null, 'again')).toBeNull() // own write counts
          expect(db.state.cas('leader', null, 'outside')).toBe(1)
        }),
      'CONFLICT',
    )
    expect(db.state.get('leader')).toBe('outside')
  })

  it('tx.state.cas and init follow the transaction view', () => {
    const db = Strata.cache()
    db.state.set('c', 'a')
    db.transaction((tx) => {
      const v = tx.state.getVersioned('c')!
      expect(tx.state.cas('c', v.version + 1, 'x')).toBeNull()
      expect(tx.state.cas('c', v.version, 'b')).toBe(2)
      expect(tx.state.init('c', 'z')).toBeNull()
      expect(tx.state.init('fresh', 0)).toBe(1)
      tx.state.update('fresh', (n) => (n as number) + 5)
      expect(tx.state.get('fresh')).toBe(5)
    })
    expect(db.state.get('c')).toBe('b')
    expect(db.state.get('fresh')).toBe(5)
  })

  it('readOnly refuses writes with READ_ONLY and sees one snapshot', () => {
    const db = Strata.cache()
    db.kv.put('a', 1)
    db.transaction(
      (tx) => {
        db.kv.put('a', 2)
        expect(tx.kv.get('a')).toBe(1)
        expectCode(() => tx.kv.put('b', 1), 'READ_ONLY')
        expectCode(() => tx.state.cas('c', null, 1), 'READ_ONLY')
        expectCode(() => tx.kv.delete('a'), 'READ_ONLY')
      },
      { readOnly: true },
    )
  })

  it('acts on the handle current branch and space', () => {
    const db = Strata.cache()
    const name = uniq('txb')
    db.forkBranch(name)
    db.setBranch(name)
    db.setSpace('notes')
    db.transaction((tx) => tx.kv.put('k', 'in branch and space'))
    expect(db.kv.get('k')).toBe('in branch and space')
    db.setSpace('default')
    expect(db.kv.get('k')).toBeNull()
    db.setBranch('default')
    db.setSpace('notes')
    expect(db.kv.get('k')).toBeNull()
  })

  it('begin/commit/rollback, and a finished transaction is CLOSED', () => {
    const db = Strata.cache()
    const tx = db.begin()
    tx.kv.put('a', 1)
    expect(db.kv.get('a')).toBeNull()
    tx.commit()
    expect(db.kv.get('a')).toBe(1)
    expectCode(() => tx.kv.put('b', 1), 'CLOSED')
    expectCode(() => tx.commit(), 'CLOSED')
    const tx2 = db.begin()
    tx2.kv.put('c', 1)
    tx2.rollback()
    tx2.rollback()
    expect(db.kv.get('c')).toBeNull()
    const ro = db.begin({ readOnly: true })
    expectCode(() => ro.kv.put('d', 1), 'READ_ONLY')
  })

  it('a transaction dies with the handle it was begun on: CLOSED after db.close(), and rollback is a no-op', () => {
    const db = Strata.cache()
    const tx = db.begin()
    tx.kv.put('a', 1)
    db.close()
    expectCode(() => tx.kv.get('a'), 'CLOSED')
    expectCode(() => tx.kv.put('b', 1), 'CLOSED')
    expectCode(() => tx.commit(), 'CLOSED')
    const other = Strata.cache()
    const tx2 = other.begin()
    other.close()
    tx2.rollback()
    expectCode(() => tx2.commit(), 'CLOSED')
  })

  it('fn may end its transaction itself: transaction() then returns what fn returned and commits nothing more', () => {
    const db = Strata.cache()
    expect(db.transaction((tx) => (tx.kv.put('a', 1), tx.commit(), 'committed'))).toBe('committed')
    expect(db.kv.get('a')).toBe(1)
    expect(db.transaction((tx) => (tx.kv.put('b', 1), tx.rollback(), 'rolled back'))).toBe('rolled back')
    expect(db.kv.get('b')).toBeNull()
  })

  it('reads of any size land right while memory grows, and none after the commit', () => {
    // Reads land in the handle's buffer, allocated at the first read and grown for a large one; on WASM its views
    // are re-derived after memory growth.
    const db = Strata.cache()
    const big = 'x'.repeat(100_000)
    db.kv.put('small', 1)
    db.kv.put('big', big)
    const tx = db.begin()
    expect(tx.kv.get('small')).toBe(1)
    expect(tx.kv.get('big')).toBe(big)
    for (let i = 0; i < 2_000; i++) db.kv.put(`fill:${i}`, `${i}`.repeat(500))
    expect(tx.kv.get('small')).toBe(1)
    expect(tx.kv.get('fill:0')).toBeNull()
    expect(tx.kv.get('big')).toBe(big)
    expectCode(() => tx.commit(), 'CONFLICT', 'fill:0') // it read fill:0 while absent, and it was written since
    expectCode(() => tx.kv.get('small'), 'CLOSED')
    expect(db.kv.get('fill:1999')).toBe('1999'.repeat(500))
  })

  it('shares the read buffer of its handle: reads of transactions and handle interleave, across growth and close', () => {
    const db = Strata.cache()
    const big = 'y'.repeat(50_000)
    db.kv.put('a', 'a0')
    db.kv.put('big', big)
    const t1 = db.begin()
    db.kv.put('a', 'a1')
    const t2 = db.begin()
    db.kv.put('a', 'a2')
    // Each read is decoded before the next one overwrites the buffer, whoever makes it.
    expect([t1.kv.get('a'), db.kv.get('a'), t2.kv.get('a'), t1.kv.get('a')]).toEqual(['a0', 'a2', 'a1', 'a0'])
    expect(t2.kv.getVersioned('a')).toMatchObject({ value: 'a1', version: 2 })
    // The first large read grows the one buffer; every reader then sees it.
    expect(t1.kv.get('big')).toBe(big)
    expect([db.kv.get('a'), t2.kv.get('big'), t1.kv.get('a')]).toEqual(['a2', big, 'a0'])
    // A transaction of another handle on the same engine reads through that handle's buffer.
    const other = db.branch('default')
    const t3 = other.begin()
    expect([t3.kv.get('a'), t1.kv.get('a'), db.kv.get('big')]).toEqual(['a2', 'a0', big])
    // Closing the handle ends its calls and its transactions' calls; another handle's transaction reads on.
    db.close()
    expectCode(() => db.kv.get('a'), 'CLOSED')
    expectCode(() => t1.kv.get('a'), 'CLOSED')
    expect([t3.kv.get('a'), t3.kv.get('big')]).toEqual(['a2', big])
    t1.rollback()
    t3.kv.put('a', 'a3')
    t3.commit()
    expect(other.kv.get('a')).toBe('a3')
  })

  it('a finished transaction stays CLOSED while later ones reuse what it ran on', async () => {
    const db = Strata.cache()
    db.kv.put('k', 0)
    const t0 = db.kv.getVersioned('k')!.timestamp
    const old = db.begin()
    old.kv.put('a', 1)
    old.commit()
    // Later transactions, one of them still open, on another branch, read-only, and one that conflicts.
    const open = db.begin()
    open.kv.put('open', 1)
    const branch = uniq('reuse')
    db.forkBranch(branch)
    db.setBranch(branch)
    const readOnly = db.begin({ readOnly: true })
    expectCode(() => readOnly.kv.put('x', 1), 'READ_ONLY')
    readOnly.rollback()
    const loser = db.begin()
    loser.kv.get('k')
    db.kv.put('k', 1)
    loser.kv.put('k', 2)
    expectCode(() => loser.commit(), 'CONFLICT')
    const pending = db.transaction(async (tx) => {
      await Promise.resolve()
      tx.kv.put('async', 1)
    })
    db.transaction((tx) => tx.kv.put('sync', tx.kv.get('k')))
    await pending
    // Every call on the finished objects is CLOSED, and rollback does nothing; the open one is untouched.
    for (const finished of [old, readOnly, loser]) {
      expectCode(() => finished.kv.get('k'), 'CLOSED')
      expectCode(() => finished.kv.get('k', { asOf: t0 }), 'CLOSED')
      expectCode(() => finished.kv.history('k'), 'CLOSED')
      expectCode(() => finished.kv.list(), 'CLOSED')
      expectCode(() => finished.kv.put('stray', 1), 'CLOSED')
      expectCode(() => finished.events.append('t', 1), 'CLOSED')
      expectCode(() => finished.commit(), 'CLOSED')
      finished.rollback()
    }
    expect(open.kv.get('open')).toBe(1)
    open.commit()
    db.setBranch('default')
    expect(db.kv.list()).toEqual(['a', 'k', 'open'])
    db.setBranch(branch)
    expect(db.kv.list()).toEqual(['a', 'async', 'k', 'sync'])
    expect(db.kv.get('sync')).toBe(1)
  })

  it('reads with asOf and history inside a transaction see committed data', () => {
    const db = Strata.cache()
    db.kv.put('k', 'old')
    const t = db.kv.getVersioned('k')!.timestamp
    db.kv.put('k', 'new')
    db.transaction((tx) => {
      expect(tx.kv.get('k', { asOf: t })).toBe('old')
      expect(tx.kv.history('k').map((e) => e.value)).toEqual(['new', 'old'])
      expect(tx.kv.get('k')).toBe('new')
    })
  })

  it('rejects bad arguments and options', () => {
    const db = Strata.cache()
    expectCode(() => db.transaction((() => 1) as never, { retry: 1 } as never), 'INVALID_VALUE', 'retry')
    expectCode(() => db.transaction('nope' as never), 'INVALID_VALUE')
    expectCode(() => db.transaction(() => 1, { retries: -1 }), 'INVALID_VALUE')
    expectCode(() => db.begin({ readonly: true } as never), 'INVALID_VALUE')
    // A flag that is not a boolean is refused, not read as truthy (which would give a writable transaction).
    expectCode(() => db.begin({ readOnly: 1 } as never), 'INVALID_VALUE', 'readOnly', 'boolean')
    expectCode(() => db.transaction((tx) => tx.kv.put('k', 1), { readOnly: 'yes' } as never), 'INVALID_VALUE', 'readOnly')
    expect(db.kv.get('k')).toBeNull()
    expectCode(() => db.transaction((tx) => tx.kv.put('k', undefined as never)), 'INVALID_VALUE', '$')
    expectCode(() => db.at(1).transaction((tx) => tx.kv.put('k', 1)), 'READ_ONLY')
    db.close()
    expectCode(() => db.transaction(() => 1), 'CLOSED')
    expectCode(() => db.begin(), 'CLOSED')
  })

  it('a transaction on a branch deleted meanwhile fails with BRANCH_NOT_FOUND', () => {
    const db = Strata.cache()
    const name = uniq('gone')
    db.forkBranch(name)
    const other = db.branch(name)
    const tx = other.begin()
    tx.kv.put('k', 1)
    db.deleteBranch(name)
    expectCode(() => tx.commit(), 'BRANCH_NOT_FOUND')
  })

  it('transfers between accounts keep the total constant under interleaving', async () => {
    const db = Strata.cache()
    const accounts = 5
    for (let i = 0; i < accounts; i++) db.state.set(`acct:${i}`, 100)
    const agents = Array.from({ length: 8 }, async (_, a) => {
      for (let i = 0; i < 40; i++) {
        await db.transaction(
          async (tx) => {
            const from = `acct:${(a + i) % accounts}`
            const to = `acct:${(a + 2 * i + 1) % accounts}`
            const x = tx.state.get(from) as number
            const y = tx.state.get(to) as number
            await new Promise((r) => setImmediate(r))
            if (from === to) return
            tx.state.set(from, x - 1)
            tx.state.set(to, y + 1)
          },
          { retries: 1000 },
        )
      }
    })
    await Promise.all(agents)
    let total = 0
    for (let i = 0; i < accounts; i++) total += db.state.get(`acct:${i}`) as number
    expect(total).toBe(accounts * 100)
  })

  describe('write caps', () => {
    // 16 values just under the 16 MiB value limit fill the 256 MiB cap; the 17th goes past it.
    const big = new Uint8Array(16 * 1024 * 1024 - 64)
    const fill = (tx: { kv: { put(k: string, v: Uint8Array): number } }): void => {
      for (let i = 0; i < 16; i++) tx.kv.put(`big:${i}`, big)
      expectCode(() => tx.kv.put('big:16', big), 'LIMIT_EXCEEDED', '256 MiB', 'split')
    }

    it('a write past the cap dooms the transaction: later writes and commit fail, and nothing is written', () => {
      const db = Strata.cache()
      db.kv.put('before', 0)
      const tx = db.begin()
      tx.kv.put('small', 1)
      fill(tx)
      expectCode(() => tx.kv.put('after', 1), 'LIMIT_EXCEEDED', 'earlier', 'split')
      expectCode(() => tx.state.cas('cell', null, 1), 'LIMIT_EXCEEDED')
      expectCode(() => tx.events.append('t', 1), 'LIMIT_EXCEEDED')
      expect(tx.kv.get('small')).toBe(1) // reads still answer
      expectCode(() => tx.commit(), 'LIMIT_EXCEEDED', 'nothing', 'split')
      expectCode(() => tx.commit(), 'CLOSED')
      expect(db.kv.list()).toEqual(['before'])
      expect(db.kv.history('small')).toEqual([])
      expect(db.events.count()).toBe(0)
    })

    it('transaction() rethrows LIMIT_EXCEEDED at commit even when fn caught it, and does not retry', () => {
      const db = Strata.cache()
      let runs = 0
      expectCode(
        () =>
          db.transaction(
            (tx) => {
              runs++
              tx.kv.put('small', 1)
              fill(tx)
              return 'caught'
            },
            { retries: 3 },
          ),
        'LIMIT_EXCEEDED',
        'nothing',
      )
      expect(runs).toBe(1)
      expect(db.kv.list()).toEqual([])
      // The handle goes on: the next transaction starts with a clean slate.
      expect(db.transaction((tx) => tx.kv.put('small', 2))).toBe(1)
    })
  })

  describe('reads are validated at commit', () => {
    it('a key another writer adds in a range a list looked at is a conflict (no phantoms)', () => {
      // Two agents each claim a slot while fewer than 2 are taken: without range checks both would commit.
      const db = Strata.cache()
      const other = db.branch('default')
      db.kv.put('claim:a', 1)
      const claim = (who: string, meanwhile?: () => void) =>
        db.transaction((tx) => {
          const taken = tx.kv.list({ prefix: 'claim:' }).length
          meanwhile?.()
          if (taken < 2) tx.kv.put(`claim:${who}`, 1)
          return taken
        })
      expectCode(() => claim('b', () => other.kv.put('claim:c', 1)), 'CONFLICT')
      expect(db.kv.list({ prefix: 'claim:' })).toEqual(['claim:a', 'claim:c'])
      // Read-only work too: a list that only read still answers for its range at commit.
      expectCode(() => db.transaction((tx) => (tx.kv.list({ prefix: 'claim:' }), other.kv.put('claim:d', 1))), 'CONFLICT')
      // Outside the range, or past where a limit stopped the list, nothing conflicts.
      expect(db.transaction((tx) => (other.kv.put('task:1', 1), tx.kv.list({ prefix: 'claim:' })))).toEqual([
        'claim:a',
        'claim:c',
        'claim:d',
      ])
      expect(db.transaction((tx) => {
        const first = tx.kv.list({ prefix: 'claim:', limit: 1 })
        other.kv.put('claim:z', 1)
        tx.kv.put('seen', first)
        return first
      })).toEqual(['claim:a'])
      expectCode(() => db.transaction((tx) => (tx.kv.list({ prefix: 'claim:', limit: 1 }), other.kv.put('claim:0', 1))), 'CONFLICT')
      // A readOnly transaction reads one snapshot and never conflicts.
      expect(db.transaction((tx) => (tx.kv.list({ prefix: 'claim:' }), other.kv.put('claim:y', 1), 'ok'), { readOnly: true })).toBe('ok')
    })

    it('a transaction that only read a key conflicts when someone else changed it, and retries run fn again', () => {
      const db = Strata.cache()
      const other = db.branch('default')
      db.kv.put('k', 1)
      expectCode(
        () =>
          db.transaction((tx) => {
            tx.kv.get('k')
            other.kv.put('k', 2)
          }),
        'CONFLICT',
        'k',
      )
      let runs = 0
      const seen = db.transaction(
        (tx) => {
          runs++
          const v = tx.kv.get('k')
          if (runs === 1) other.kv.put('k', 3)
          return v
        },
        { retries: 1 },
      )
      expect([runs, seen]).toEqual([2, 3])
    })

    it('covers absent keys read, keys seen by list, state and json reads, and begin/commit', () => {
      const db = Strata.cache()
      const other = db.branch('default')
      db.kv.put('p:1', 1)
      const changes: Array<[string, (tx: ReturnType<Strata['begin']>) => unknown, () => unknown]> = [
        ['absent key created', (tx) => tx.kv.get('new'), () => other.kv.put('new', 1)],
        ['listed key deleted', (tx) => tx.kv.list({ prefix: 'p:' }), () => other.kv.delete('p:1')],
        ['state cell set', (tx) => tx.state.getVersioned('c'), () => other.state.set('c', 1)],
        ['json document changed', (tx) => tx.json.get('doc', '$.a'), () => other.json.set('doc', '$.a', 1)],
      ]
      for (const [what, read, change] of changes) {
        const tx = db.begin()
        read(tx)
        change()
        expectCode(() => tx.commit(), 'CONFLICT', 'changed since it began')
        expectCode(() => tx.commit(), 'CLOSED')
        void what
      }
    })

    it('reads that nobody changed commit, whatever else changed', () => {
      const db = Strata.cache()
      db.kv.put('k', 1)
      expect(
        db.transaction((tx) => {
          const v = tx.kv.get('k')
          db.kv.put('other', 1)
          db.state.set('k', 1) // same name, other namespace
          return v
        }),
      ).toBe(1)
      expect(db.transaction(() => 'nothing read')).toBe('nothing read')
    })

    it('a readOnly transaction reads one snapshot and never conflicts', () => {
      const db = Strata.cache()
      db.kv.put('k', 1)
      const v = db.transaction(
        (tx) => {
          const before = tx.kv.get('k')
          db.kv.put('k', 2)
          return [before, tx.kv.get('k')]
        },
        { readOnly: true },
      )
      expect(v).toEqual([1, 1])
      const tx = db.begin({ readOnly: true })
      tx.kv.get('k')
      db.kv.put('k', 3)
      tx.commit()
    })

    it('a transaction that reads a database opened readOnly commits (it writes nothing)', () => {
      const dir = tempDir()
      const w = Strata.open(dir)
      w.kv.put('k', 1)
      w.close()
      const ro = Strata.open(dir, { readOnly: true })
      expect(ro.transaction((tx) => tx.kv.get('k'))).toBe(1)
      expectCode(() => ro.transaction((tx) => tx.kv.put('k', 2)), 'READ_ONLY')
      ro.close()
    })
  })

  describe('every write in a transaction is a version of its own', () => {
    it('repeated puts return 1, 2, ... and each becomes a version of the one commit', () => {
      const db = Strata.cache()
      expect(db.transaction((tx) => [tx.kv.put('k', 1), tx.kv.put('k', 2), tx.kv.getVersioned('k')])).toEqual([
        1,
        2,
        { value: 2, version: 2, timestamp: 0 },
      ])
      expect(db.kv.getVersioned('k')).toMatchObject({ value: 2, version: 2 })
      const h = db.kv.history('k')
      expect(h.map((e) => [e.version, e.value])).toEqual([
        [2, 2],
        [1, 1],
      ])
      expect(h[0]!.timestamp).toBe(h[1]!.timestamp)
      // As of the commit, the key holds its last write.
      expect(db.kv.get('k', { asOf: h[0]!.timestamp })).toBe(2)
      expect(db.kv.put('k', 3)).toBe(3)
    })

    it('delete then put of an existing key leaves the tombstone; put then delete of a new key leaves both', () => {
      const db = Strata.cache()
      db.kv.put('k', 'a')
      db.transaction((tx) => {
        expect(tx.kv.delete('k')).toBe(true)
        expect(tx.kv.getVersioned('k')).toBeNull()
        expect(tx.kv.delete('k')).toBe(false) // nothing live: no write
        expect(tx.kv.put('k', 'b')).toBe(3)
        expect(tx.kv.get('k')).toBe('b')
      })
      expect(db.kv.history('k')).toMatchObject([{ version: 3, value: 'b' }, { version: 2, deleted: true, value: null }, { version: 1, value: 'a' }])
      db.transaction((tx) => {
        expect(tx.kv.put('n', 1)).toBe(1)
        expect(tx.kv.delete('n')).toBe(true)
        expect(tx.kv.list()).toEqual(['k'])
      })
      expect(db.kv.get('n')).toBeNull()
      expect(db.kv.history('n')).toMatchObject([{ version: 2, deleted: true }, { version: 1, value: 1 }])
      expect(db.kv.put('n', 2)).toBe(3)
    })

    it('state.cas expects the version the transaction sees, its own writes included; json.set counts too', () => {
      const db = Strata.cache()
      db.state.set('c', 'a')
      db.transaction((tx) => {
        expect(tx.state.cas('c', 1, 'b')).toBe(2)
        expect(tx.state.cas('c', 1, 'stale')).toBeNull()
        expect(tx.state.cas('c', 2, 'c')).toBe(3)
        expect(tx.state.set('c', 'd')).toBe(4)
        expect(tx.state.update('c', (v) => `${v as string}!`)).toBe(5)
        expect(tx.state.getVersioned('c')).toMatchObject({ value: 'd!', version: 5 })
        expect(tx.json.set('doc', '$', { a: 1 })).toBe(1)
        expect(tx.json.set('doc', '$.b', 2)).toBe(2)
        expect(tx.json.get('doc')).toEqual({ a: 1, b: 2 })
        expect(tx.json.delete('doc', '$.a')).toBe(true)
      })
      expect(db.state.history('c').map((e) => [e.version, e.value])).toEqual([
        [5, 'd!'],
        [4, 'd'],
        [3, 'c'],
        [2, 'b'],
        [1, 'a'],
      ])
      expect(db.json.history('doc').map((e) => e.version)).toEqual([3, 2, 1])
      expect(db.json.get('doc')).toEqual({ b: 2 })
    })
  })

  describe('on a handle from db.at()', () => {
    function past(): { db: Strata; at: Strata } {
      const db = Strata.cache()
      db.kv.put('a', 'old')
      db.state.set('c', 1)
      db.events.append('e', 0)
      const at = db.at(db.timeRange().latest!)
      db.kv.put('a', 'new')
      db.kv.put('b', 1)
      db.state.set('c', 2)
      db.events.append('e', 1)
      return { db, at }
    }

    type Tx = ReturnType<Strata['begin']>
    function readsThePast(tx: Tx): void {
      expect(tx.kv.get('a')).toBe('old')
      expect(tx.kv.getVersioned('a')).toMatchObject({ version: 1 })
      expect(tx.kv.get('b')).toBeNull()
      expect(tx.kv.list()).toEqual(['a'])
      expect(tx.kv.history('a').map((e) => e.value)).toEqual(['old'])
      expect(tx.state.get('c')).toBe(1)
      expect(tx.events.count()).toBe(1)
      expect(tx.events.get(1)).toBeNull()
      expect(tx.events.list().map((e) => e.payload)).toEqual([0])
      // An explicit asOf reads no later than the handle's moment, as on the handle itself.
      expect(tx.kv.get('a', { asOf: Number.MAX_SAFE_INTEGER })).toBe('old')
    }

    function refusesWrites(tx: Tx): void {
      for (const write of [
        () => tx.kv.put('x', 1),
        () => tx.kv.delete('a'),
        () => tx.state.set('x', 1),
        () => tx.state.cas('c', 1, 3),
        () => tx.events.append('e', 2),
        () => tx.json.set('j', '$', 1),
        () => tx.json.set('j', '$.a', 1),
      ]) {
        expectCode(write, 'READ_ONLY', 'as of', 'at()')
      }
    }

    it('transaction() reads as of that moment and refuses writes, with or without readOnly', () => {
      const { db, at } = past()
      for (const options of [undefined, { readOnly: true }, { readOnly: false }]) {
        expect(
          at.transaction((tx) => {
            readsThePast(tx)
            refusesWrites(tx)
            return 'read'
          }, options),
        ).toBe('read')
      }
      expect(db.kv.get('x')).toBeNull()
      expect(db.state.get('c')).toBe(2)
    })

    it('begin() gives a transaction that reads as of that moment, refuses writes and commits nothing', () => {
      const { db, at } = past()
      for (const options of [undefined, { readOnly: true }]) {
        const tx = at.begin(options)
        readsThePast(tx)
        refusesWrites(tx)
        db.kv.put('b', 'newer') // no conflict: it read b, but as of a fixed past
        tx.commit()
        expectCode(() => tx.kv.get('a'), 'CLOSED')
        expectCode(() => tx.kv.put('a', 1), 'CLOSED')
      }
      expect(db.kv.list()).toEqual(['a', 'b'])
    })
  })

  describe('tx.events', () => {
    it('reads the snapshot plus its own appends, numbered on from the snapshot', () => {
      const db = Strata.cache()
      db.events.append('before', 0)
      const long = 'x'.repeat(100_000)
      db.transaction((tx) => {
        expect(tx.events.append('t', 1)).toBe(1)
        expect(tx.events.count()).toBe(2)
        expect(tx.events.count({ type: 't' })).toBe(1)
        expect(tx.events.get(1)).toEqual({ sequence: 1, type: 't', payload: 1, timestamp: 0 })
        expect(tx.events.get(0)).toMatchObject({ sequence: 0, type: 'before', payload: 0 })
        expect(tx.events.get(2)).toBeNull()
        expect(tx.events.append('u', { long })).toBe(2)
        expect(tx.events.get(2)).toMatchObject({ type: 'u', payload: { long } }) // grows the read buffer
        expect(tx.events.list().map((e) => `${e.sequence}:${e.type}`)).toEqual(['0:before', '1:t', '2:u'])
        expect(tx.events.list({ after: 0, limit: 1 }).map((e) => e.sequence)).toEqual([1])
        expect(tx.events.list({ type: 'u' }).map((e) => e.sequence)).toEqual([2])
        expect(tx.events.count({ type: 'none' })).toBe(0)
        expect(db.events.count()).toBe(1) // nothing outside before the commit
      })
      expect(db.events.list().map((e) => e.type)).toEqual(['before', 't', 'u'])
      expect(db.events.get(2)!.timestamp).toBeGreaterThan(0)
      expect(db.events.verify().ok).toBe(true)
    })

    it('a readOnly transaction does not see appends made after it began', () => {
      const db = Strata.cache()
      db.events.append('a', 0)
      const t0 = db.timeRange().latest!
      const tx = db.begin({ readOnly: true })
      db.branch('default').events.append('b', 1)
      expect(tx.events.count()).toBe(1)
      expect(tx.events.get(1)).toBeNull()
      expect(tx.events.list().map((e) => e.type)).toEqual(['a'])
      // asOf reads go to committed data, as before.
      expect(tx.events.count({ asOf: Number.MAX_SAFE_INTEGER })).toBe(2)
      expect(tx.events.list({ asOf: t0 }).map((e) => e.type)).toEqual(['a'])
      tx.commit()
    })

    it('a transaction that read the log conflicts when another writer appended meanwhile', () => {
      const db = Strata.cache()
      db.events.append('a', 0)
      for (const read of [
        (tx: ReturnType<Strata['begin']>) => tx.events.count(),
        (tx: ReturnType<Strata['begin']>) => tx.events.list(),
        (tx: ReturnType<Strata['begin']>) => tx.events.get(db.events.count()), // absent then: the next append writes it
      ]) {
        const tx = db.begin()
        read(tx)
        tx.kv.put('side', 1)
        db.events.append('outside', 1)
        expectCode(() => tx.commit(), 'CONFLICT')
      }
      expect(db.kv.get('side')).toBeNull()
    })
  })
})
