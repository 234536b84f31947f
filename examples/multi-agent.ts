// Several agents share one embedded stratadb: they claim tasks with compare-and-swap, each works in a branch of its
// own, a leader is elected, and the leader merges every agent's branch into `default`.
//
//   npm run demo
import { Strata, Value } from 'stratadb'

const TASKS = ['fetch docs', 'summarise', 'extract entities', 'draft answer', 'check facts', 'format', 'review']
const AGENTS = ['ada', 'grace', 'linus']

const db = Strata.cache()
db.kv.put('tasks', TASKS)
const pause = () => new Promise((resolve) => setTimeout(resolve, Math.random() * 5))

async function agent(id: string): Promise<number[]> {
  // Each agent gets its own handle, forked into its own branch: its work is invisible to the others until merged.
  db.forkBranch(`agent/${id}`)
  const me = db.branch(`agent/${id}`)
  const claimed: number[] = []
  for (;;) {
    // Pattern 1: claim the next task with CAS. Claims go to `default`, where every agent sees them.
    const v = db.state.getVersioned('task:next') ?? (db.state.init('task:next', 0), db.state.getVersioned('task:next')!)
    const taskId = Value.asInt(v.value) ?? 0
    if (taskId >= TASKS.length) break
    await pause() // another agent may claim in between: the CAS below then fails and we retry
    if (db.state.cas('task:next', v.version, taskId + 1) === null) continue
    claimed.push(taskId)
    me.kv.put(`result:${taskId}`, { task: TASKS[taskId]!, by: id, output: `${TASKS[taskId]} done by ${id}` })
  }
  return claimed
}

const claims = await Promise.all(AGENTS.map(agent))
AGENTS.forEach((id, i) => console.log(`${id.padEnd(6)} claimed tasks ${JSON.stringify(claims[i])}`))

// Pattern 3: leader election. Exactly one CAS on a cell that does not exist yet can succeed.
const leader = AGENTS.find((id) => db.state.cas('leader', null, id) !== null)!
console.log(`leader: ${leader} (the others' CAS on 'leader' returned null)`)

// Pattern 2, continued: the leader aggregates every agent's branch into `default` with three-way merges.
const before = db.kv.list({ prefix: 'result:' }).length
for (const id of AGENTS) {
  const { applied } = db.mergeBranches(`agent/${id}`)
  console.log(`merged agent/${id}: ${applied} result(s)`)
}
const results = db.kv.list({ prefix: 'result:' })
console.log(`default had ${before} results before merging and has ${results.length} after:`)
for (const key of results) console.log(`  ${key} -> ${JSON.stringify(db.kv.get(key))}`)

const all = claims.flat().sort((a, b) => a - b)
const ok = all.length === TASKS.length && all.every((t, i) => t === i)
console.log(ok ? `every task was claimed exactly once (backend: ${db.backend})` : 'ERROR: a task was lost or claimed twice')
db.close()
process.exitCode = ok ? 0 : 1
