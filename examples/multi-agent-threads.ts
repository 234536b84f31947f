// The seed's patterns with every agent on its own worker thread. All threads open the same named in-memory
// database, `Strata.cache({ name })`, and so share one engine: CAS is atomic across threads, and a branch one
// thread forks is there for the others. (Native backend; on WebAssembly each worker would have its own instance.)
//
//   npm run build && npx tsx examples/multi-agent-threads.ts
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads'
import { Strata, Value } from 'stratadb'

const NAME = 'multi-agent-threads'
const TASKS = 40
const AGENTS = ['ada', 'grace', 'linus', 'barbara']

interface Report {
  id: string
  claimed: number[]
  lostRaces: number
  leader: boolean
}

/** Some work per task, so that the threads' claims interleave. */
function work(taskId: number): number {
  let x = taskId
  for (let i = 0; i < 200_000; i++) x = (x * 31 + i) % 1_000_003
  return x
}

function agent(id: string, start: Int32Array): Report {
  const db = Strata.cache({ name: NAME })
  // Every agent starts when all are ready, so that they really race for tasks.
  Atomics.add(start, 0, 1)
  while (Atomics.load(start, 0) < AGENTS.length) Atomics.wait(start, 1, 0, 1)
  // Pattern 2: a branch per agent; the agent writes its results there.
  db.forkBranch(`agent/${id}`)
  const mine = db.branch(`agent/${id}`)
  const claimed: number[] = []
  let lostRaces = 0
  for (;;) {
    // Pattern 1: claim the next task with CAS; another thread may win the race, then we read again.
    const v = db.state.getVersioned('task:next') ?? (db.state.init('task:next', 0), db.state.getVersioned('task:next')!)
    const taskId = Value.asInt(v.value) ?? 0
    if (taskId >= TASKS) break
    if (db.state.cas('task:next', v.version, taskId + 1) === null) {
      lostRaces++
      continue
    }
    claimed.push(taskId)
    mine.kv.put(`result:${taskId}`, { by: id, output: work(taskId) })
  }
  // Pattern 3: leader election; exactly one thread's CAS on the empty cell succeeds.
  const leader = db.state.cas('leader', null, id) !== null
  db.close()
  return { id, claimed, lostRaces, leader }
}

if (isMainThread) {
  const db = Strata.cache({ name: NAME }) // keeps the database alive while the workers run
  const start = new SharedArrayBuffer(8)
  const reports = await Promise.all(
    AGENTS.map(
      (id) =>
        new Promise<Report>((resolve, reject) => {
          // The worker runs this same file, compiled by tsx there too.
          const boot = `require('tsx/cjs/api').register(); import('tsx/esm/api').then((t) => t.tsImport(${JSON.stringify(import.meta.url)}, __filename))`
          const w = new Worker(boot, { eval: true, workerData: { id, start } })
          w.once('message', resolve)
          w.once('error', reject)
        }),
    ),
  )
  for (const r of reports) {
    console.log(`${r.id.padEnd(8)} claimed ${String(r.claimed.length).padStart(2)} tasks, lost ${r.lostRaces} CAS races${r.leader ? ', and leads' : ''}`)
  }
  for (const r of reports) db.mergeBranches(`agent/${r.id}`)
  const results = db.kv.list({ prefix: 'result:' })
  const all = reports.flatMap((r) => r.claimed).sort((a, b) => a - b)
  const once = all.length === TASKS && all.every((t, i) => t === i)
  const leaders = reports.filter((r) => r.leader).map((r) => r.id)
  console.log(`leader: ${db.state.get('leader')} (${leaders.length} thread won the election)`)
  console.log(`merged ${results.length} results from ${AGENTS.length} agent branches into default`)
  console.log(once ? `every task was claimed exactly once, across ${AGENTS.length} threads (backend: ${db.backend})` : 'ERROR: a task was lost or claimed twice')
  db.close()
  process.exitCode = once && leaders.length === 1 && results.length === TASKS ? 0 : 1
} else {
  const { id, start } = workerData as { id: string; start: SharedArrayBuffer }
  parentPort!.postMessage(agent(id, new Int32Array(start)))
}
