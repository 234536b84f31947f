/**
 * The seed's three multi-agent patterns, as the spec's last section writes them: claim tasks with CAS, a branch
 * per agent merged back, and leader election. Agents are async functions that yield between their read and their
 * CAS, so they really interleave.
 */
import { describe, expect, it } from 'vitest'
import { Strata, Value } from 'stratadb'
import { Worker } from 'node:worker_threads'
import { fileURLToPath } from 'node:url'
import { BACKEND, tick, uniq } from './helpers.js'

/** Pattern 1, verbatim (it typechecks as the spec writes it): claim the next task with CAS. Returns the claimed task id, or null on a lost race. */
function claimNext(db: Strata): number | null {
  const v = db.state.getVersioned('task:next') ?? (db.state.init('task:next', 0), db.state.getVersioned('task:next')!)
  const taskId = Value.asInt(v.value) ?? 0
  if (db.state.cas('task:next', v.version, taskId + 1) !== null) return taskId
  return null
}

describe('pattern 1: claim tasks with CAS', () => {
  async function runAgents(handles: Strata[], tasks: number) {
    const claims: { agent: number; task: number }[] = []
    let lost = 0
    const agent = async (id: number, db: Strata) => {
      for (;;) {
        // The spec's pattern, with an await between the read and the CAS.
        const v =
          db.state.getVersioned('task:next') ?? (db.state.init('task:next', 0), db.state.getVersioned('task:next')!)
        const taskId = Value.asInt(v.value) ?? 0
        if (taskId >= tasks) return
        // A varying pause (deterministic per agent and task), so no agent always wins.
        for (let j = 0; j <= (id * 7 + taskId * 3) % 4; j++) await tick()
        if (db.state.cas('task:next', v.version, taskId + 1) !== null) {
          claims.push({ agent: id, task: taskId })
          db.kv.put(`result:${taskId}`, { by: id })
        } else {
          lost++
        }
        await tick()
      }
    }
    await Promise.all(handles.map((h, i) => agent(i, h)))
    return { claims, lost }
  }

  function checkExactlyOnce(claims: { agent: number; task: number }[], tasks: number) {
    const ids = claims.map((c) => c.task).sort((a, b) => a - b)
    expect(ids).toEqual(Array.from({ length: tasks }, (_, i) => i))
  }

  it('8 agents on db.branch handles claim each of 100 tasks exactly once', async () => {
    const db = Strata.cache()
    const handles = Array.from({ length: 8 }, () => db.branch('default'))
    const { claims, lost } = await runAgents(handles, 100)
    checkExactlyOnce(claims, 100)
    expect(lost).toBeGreaterThan(0) // they really raced
    expect(new Set(claims.map((c) => c.agent)).size).toBeGreaterThan(1)
    expect(db.state.get('task:next')).toBe(100)
    expect(db.state.getVersioned('task:next')!.version).toBe(101) // init + 100 claims, no other write
    expect(db.kv.list({ prefix: 'result:' })).toHaveLength(100)
  })

  it('agents sharing one handle claim each task exactly once', async () => {
    const db = Strata.cache()
    const { claims, lost } = await runAgents([db, db, db, db, db], 60)
    checkExactlyOnce(claims, 60)
    expect(lost).toBeGreaterThan(0)
  })

  it('agents on separate Strata.cache({ name }) opens claim each task exactly once', async () => {
    const name = uniq('tasks')
    const handles = Array.from({ length: 6 }, () => Strata.cache({ name }))
    const { claims, lost } = await runAgents(handles, 80)
    checkExactlyOnce(claims, 80)
    expect(lost).toBeGreaterThan(0)
    expect(Strata.cache({ name }).state.get('task:next')).toBe(80)
  })

  it('the verbatim pattern: a lost race claims nothing', () => {
    const db = Strata.cache()
    expect(claimNext(db)).toBe(0)
    expect(claimNext(db)).toBe(1)
    // Two agents read the same version; only the first CAS claims.
    const a = db.branch('default')
    const b = db.branch('default')
    const va = a.state.getVersioned('task:next')!
    const vb = b.state.getVersioned('task:next')!
    expect(a.state.cas('task:next', va.version, (va.value as number) + 1)).not.toBeNull()
    expect(b.state.cas('task:next', vb.version, (vb.value as number) + 1)).toBeNull()
    expect(db.state.get('task:next')).toBe(3)
  })

  it.skipIf(BACKEND !== 'native')('worker threads on the same named database claim each task exactly once', async () => {
    const name = uniq('threads')
    const tasks = 400
    const dist = fileURLToPath(new URL('../dist/index.cjs', import.meta.url))
    const code = `
      const { parentPort, workerData } = require('node:worker_threads')
      const { Strata, Value } = require(workerData.dist)
      const db = Strata.cache({ name: workerData.name })
      const mine = []
      let lost = 0
      for (;;) {
        const v = db.state.getVersioned('task:next') ?? (db.state.init('task:next', 0), db.state.getVersioned('task:next'))
        const taskId = Value.asInt(v.value) ?? 0
        if (taskId >= workerData.tasks) break
        if (db.state.cas('task:next', v.version, taskId + 1) !== null) mine.push(taskId)
        else lost++
      }
      parentPort.postMessage({ backend: db.backend, mine, lost })
    `
    const main = Strata.cache({ name }) // keeps the named database alive while the workers run
    const results = await Promise.all(
      Array.from(
        { length: 4 },
        () =>
          new Promise<{ backend: string; mine: number[]; lost: number }>((resolve, reject) => {
            const w = new Worker(code, { eval: true, workerData: { dist, name, tasks } })
            w.once('message', resolve)
            w.once('error', reject)
          }),
      ),
    )
    for (const r of results) expect(r.backend).toBe('native')
    const all = results.flatMap((r) => r.mine).sort((a, b) => a - b)
    expect(all).toEqual(Array.from({ length: tasks }, (_, i) => i))
    expect(main.state.get('task:next')).toBe(tasks)
  })
})

describe('pattern 2: a branch per agent', () => {
  it('each agent works in its own fork, isolated; merging into default aggregates the results', async () => {
    const db = Strata.cache()
    db.kv.put('task', 'summarise the docs')
    db.state.set('round', 1)
    const agents = ['planner', 'coder', 'critic', 'tester'].map((a) => `${a}-${uniq('agent')}`)
    for (const name of agents) db.forkBranch(name)

    const work = async (name: string, i: number) => {
      const me = db.branch(name)
      expect(me.kv.get('task')).toBe('summarise the docs')
      await tick()
      me.kv.put(`result:${name}`, { agent: name, score: i })
      me.kv.put(`scratch:${name}`, 'draft')
      await tick()
      me.kv.delete(`scratch:${name}`)
      // Isolation while all agents are running: each sees only its own results.
      await tick()
      expect(me.kv.list({ prefix: 'result:' })).toEqual([`result:${name}`])
      return me
    }
    const handles = await Promise.all(agents.map((a, i) => work(a, i)))

    // Nothing reached default before the merges, and no agent sees another's work.
    expect(db.kv.list({ prefix: 'result:' })).toEqual([])
    for (const [i, h] of handles.entries()) {
      for (const [j, other] of agents.entries()) {
        expect(h.kv.get(`result:${other}`)).toEqual(i === j ? { agent: other, score: j } : null)
      }
    }

    for (const name of agents) {
      const r = db.mergeBranches(name)
      expect(r).toEqual({ applied: 1, conflicts: [] })
    }
    const results = db.kv.list({ prefix: 'result:' })
    expect(results).toEqual(agents.map((a) => `result:${a}`).sort())
    expect(results.map((k) => (db.kv.get(k) as { score: number }).score).sort()).toEqual([0, 1, 2, 3])
    expect(db.kv.list({ prefix: 'scratch:' })).toEqual([])
    expect(db.kv.get('task')).toBe('summarise the docs')
    // Each branch still holds only its own result.
    expect(db.branch(agents[0]!).kv.list({ prefix: 'result:' })).toEqual([`result:${agents[0]}`])
  })

  it('agents writing the same key on their branches conflict on the second merge under strict', () => {
    const db = Strata.cache()
    db.kv.put('summary', 'none')
    db.forkBranch('a1')
    db.forkBranch('a2')
    db.branch('a1').kv.put('summary', 'by a1')
    db.branch('a2').kv.put('summary', 'by a2')
    expect(db.mergeBranches('a1')).toEqual({ applied: 1, conflicts: [] })
    let code: string | undefined
    try {
      db.mergeBranches('a2')
    } catch (e) {
      code = (e as { code?: string }).code
    }
    expect(code).toBe('MERGE_CONFLICT')
    expect(db.kv.get('summary')).toBe('by a1')
    expect(db.mergeBranches('a2', { strategy: 'theirs' }).applied).toBe(1)
    expect(db.kv.get('summary')).toBe('by a2')
  })
})

describe('pattern 3: leader election', () => {
  async function elect(handles: Strata[]): Promise<string[]> {
    const winners: string[] = []
    await Promise.all(
      handles.map(async (db, i) => {
        const agentId = `agent-${i}`
        await tick()
        db.state.get('leader') // look first, as a real agent might
        await tick()
        const leader = db.state.cas('leader', null, agentId) !== null
        if (leader) winners.push(agentId)
      }),
    )
    return winners
  }

  it('exactly one of 10 agents on db.branch handles wins', async () => {
    const db = Strata.cache()
    const winners = await elect(Array.from({ length: 10 }, () => db.branch('default')))
    expect(winners).toHaveLength(1)
    expect(db.state.get('leader')).toBe(winners[0])
    expect(db.state.history('leader')).toHaveLength(1)
  })

  it('exactly one of 10 agents on separate Strata.cache({ name }) opens wins', async () => {
    const name = uniq('election')
    const handles = Array.from({ length: 10 }, () => Strata.cache({ name }))
    const winners = await elect(handles)
    expect(winners).toHaveLength(1)
    for (const h of handles) expect(h.state.get('leader')).toBe(winners[0])
  })

  it('after the leader resigns (deletes the cell) the next election has exactly one winner again', async () => {
    const db = Strata.cache()
    const handles = Array.from({ length: 6 }, () => db.branch('default'))
    const first = await elect(handles)
    expect(first).toHaveLength(1)
    expect(await elect(handles)).toEqual([]) // the seat is taken
    expect(db.state.delete('leader')).toBe(true)
    const second = await elect(handles)
    expect(second).toHaveLength(1)
    expect(db.state.get('leader')).toBe(second[0])
    expect(db.state.getVersioned('leader')!.version).toBe(3)
  })

  it('elections on different branches are independent', async () => {
    const db = Strata.cache()
    db.createBranch('team-a')
    db.createBranch('team-b')
    const a = await elect(Array.from({ length: 4 }, () => db.branch('team-a')))
    const b = await elect(Array.from({ length: 4 }, () => db.branch('team-b')))
    expect(a).toHaveLength(1)
    expect(b).toHaveLength(1)
    expect(db.state.get('leader')).toBeNull()
    expect(db.branch('team-a').state.get('leader')).toBe(a[0])
    expect(db.branch('team-b').state.get('leader')).toBe(b[0])
  })
})
