// Agents on real threads: worker threads open the same named database and share one engine (native backend; on
// WASM every worker has its own instance, so these tests need the native addon). The checker itself runs on both.
import { describe, expect, it } from 'vitest'
import * as fs from 'node:fs'
import * as path from 'node:path'
import { fileURLToPath } from 'node:url'
import { Worker } from 'node:worker_threads'
import { Strata } from 'stratadb'
import { BACKEND, gate, inWorker, tempDir, uniq } from './helpers.js'
import { checkRegister, type Op } from './linearizability.js'

describe('the linearizability checker', () => {
  it('accepts a sequential history', () => {
    const ops: Op[] = [
      { kind: 'cas', start: 1, end: 2, expected: 1, value: 'a', created: 2 },
      { kind: 'read', start: 3, end: 4, version: 2, value: 'a' },
      { kind: 'cas', start: 5, end: 6, expected: 1, value: 'b', created: null },
    ]
    expect(checkRegister(ops, { version: 1, value: 0 })).toEqual([])
    // The threads did contend: some CAS lost to another thread (else this test would prove little).
    expect(ops.some((o) => o.kind === 'cas' && o.created === null)).toBe(true)
  })

  it('rejects lost writes, stale reads, impossible failures and duplicate versions', () => {
    const init = { version: 1, value: 0 }
    const lost: Op[] = [{ kind: 'cas', start: 1, end: 2, expected: 2, value: 'x', created: 3 }]
    expect(checkRegister(lost, init).join()).toContain('missing')
    const stale: Op[] = [
      { kind: 'cas', start: 1, end: 2, expected: 1, value: 'a', created: 2 },
      { kind: 'read', start: 3, end: 4, version: 1, value: 0 },
    ]
    expect(checkRegister(stale, init).join()).toContain('after 2 completed')
    const impossible: Op[] = [{ kind: 'cas', start: 1, end: 2, expected: 1, value: 'a', created: null }]
    expect(checkRegister(impossible, init).join()).toContain('failed while that version was current')
    const twice: Op[] = [
      { kind: 'cas', start: 1, end: 2, expected: 1, value: 'a', created: 2 },
      { kind: 'cas', start: 1, end: 2, expected: 1, value: 'b', created: 2 },
    ]
    expect(checkRegister(twice, init).join()).toContain('created twice')
  })
})

describe.runIf(BACKEND === 'native')('worker threads sharing one engine', () => {
  it('4 threads of CAS increments: no increment lost, the history is linearizable', async () => {
    const name = uniq('lin')
    const main = Strata.cache({ name })
    main.state.set('counter', 0)
    const perThread = 2000
    const start = gate(4)
    const logs = await Promise.all(
      Array.from({ length: 4 }, (_, t) =>
        inWorker<Op[]>(
          `
          const ops = []
          let done = 0
          while (done < workerData.perThread) {
            let start = now()
            const v = db.state.getVersioned('counter')
            ops.push({ kind: 'read', start, end: now(), version: v.version, value: v.value })
            const value = v.value + 1
            start = now()
            const created = db.state.cas('counter', v.version, value)
            ops.push({ kind: 'cas', start, end: now(), expected: v.version, value, created })
            if (created !== null) done++
          }
          return ops
          `,
          { name, perThread, thread: t, ...start },
        ),
      ),
    )
    const ops = logs.flat()
    expect(main.state.get('counter')).toBe(4 * perThread)
    expect(ops.filter((o) => o.kind === 'cas' && o.created !== null)).toHaveLength(4 * perThread)
    expect(checkRegister(ops, { version: 1, value: 0 })).toEqual([])
    // The threads did contend: some CAS lost to another thread (else this test would prove little).
    expect(ops.some((o) => o.kind === 'cas' && o.created === null)).toBe(true)
  })

  it('threads claiming tasks: every task claimed exactly once', async () => {
    const name = uniq('claims')
    const main = Strata.cache({ name })
    const tasks = 2000
    const start = gate(4)
    const claims = await Promise.all(
      Array.from({ length: 4 }, () =>
        inWorker<number[]>(
          `
          const mine = []
          for (;;) {
            const v = db.state.getVersioned('task:next') ?? (db.state.init('task:next', 0), db.state.getVersioned('task:next'))
            const id = Value.asInt(v.value)
            if (id >= workerData.tasks) return mine
            if (db.state.cas('task:next', v.version, id + 1) !== null) {
              mine.push(id)
              db.kv.put('claim:' + id, workerData.name)
            }
          }
          `,
          { name, tasks, ...start },
        ),
      ),
    )
    const all = claims.flat().sort((a, b) => a - b)
    expect(all).toEqual(Array.from({ length: tasks }, (_, i) => i))
    expect(main.kv.list({ prefix: 'claim:' })).toHaveLength(tasks)
  })

  it('concurrent transfers in transactions keep the total constant', async () => {
    const name = uniq('bank')
    const main = Strata.cache({ name })
    const accounts = 6
    for (let i = 0; i < accounts; i++) main.state.set(`acct:${i}`, 1000)
    const start = gate(4)
    const conflicts = await Promise.all(
      Array.from({ length: 4 }, (_, t) =>
        inWorker<number>(
          `
          let conflicts = 0
          for (let i = 0; i < 500; i++) {
            const from = 'acct:' + ((workerData.t + i) % ${accounts})
            const to = 'acct:' + ((workerData.t * 3 + i * 7 + 1) % ${accounts})
            if (from === to) continue
            for (;;) {
              try {
                db.transaction((tx) => {
                  tx.state.set(from, tx.state.get(from) - 1)
                  tx.state.set(to, tx.state.get(to) + 1)
                })
                break
              } catch (e) {
                if (e.code !== 'CONFLICT') throw e
                conflicts++
              }
            }
          }
          return conflicts
          `,
          { name, t, ...start },
        ),
      ),
    )
    let total = 0
    for (let i = 0; i < accounts; i++) total += main.state.get(`acct:${i}`) as number
    expect(total).toBe(accounts * 1000)
    expect(conflicts.reduce((a, b) => a + b)).toBeGreaterThan(0) // they contended, and retried
  })

  it('a worker that ends without closing its database or transaction lets go of them', async () => {
    // The directory's LOCK file goes when the last reference to the engine does.
    const dist = fileURLToPath(new URL('../dist/index.cjs', import.meta.url))
    const worker = (dir: string, then: string) => `
      const { Strata } = require(${JSON.stringify(dist)})
      const db = Strata.open(${JSON.stringify(dir)}, { create: true })
      db.kv.put('k', 1)
      const tx = db.begin()
      tx.kv.put('t', 1)
      ${then}`
    const ended = (w: Worker) =>
      new Promise<void>((resolve, reject) => {
        w.once('error', reject)
        w.once('exit', () => resolve())
      })
    // A worker that runs out of work, and one terminated in the middle of a loop of calls.
    const exits = tempDir()
    await ended(new Worker(worker(exits, ''), { eval: true }))
    const killed = tempDir()
    const w = new Worker(worker(killed, `require('node:worker_threads').parentPort.postMessage(0); for (;;) db.kv.put('k', 2)`), { eval: true })
    await new Promise((resolve) => w.once('message', resolve))
    await Promise.all([ended(w), w.terminate()])
    for (const dir of [exits, killed]) {
      expect(fs.existsSync(path.join(dir, 'LOCK'))).toBe(false)
      const db = Strata.open(dir)
      expect(db.kv.get('k')).toBeGreaterThanOrEqual(1)
      expect(db.kv.get('t')).toBeNull()
      db.close()
    }
  })

  it("a worker's writes to a named cache outlive the worker, with no other handle open meanwhile", async () => {
    const name = uniq('outlives')
    await inWorker<boolean>(`db.kv.put('from-worker', 1); db.close(); return true`, { name })
    await inWorker<boolean>(`db.kv.put('from-second', 2); return true`, { name })
    const db = Strata.cache({ name })
    expect([db.kv.get('from-worker'), db.kv.get('from-second')]).toEqual([1, 2])
  })

  it('a worker that exits without closing its handle does not disturb the others', async () => {
    const name = uniq('leak')
    const main = Strata.cache({ name })
    await inWorker<boolean>(`db.kv.put('from-worker', 1); return true`, { name })
    expect(main.kv.get('from-worker')).toBe(1)
    main.kv.put('after', 2)
    expect(main.kv.get('after')).toBe(2)
  })
})
