// The seed's three multi-agent patterns (README "Quick start"), as a user would write them, plus a durable round
// trip. Plain JavaScript with no imports, so the same file runs in Node (ESM and, through smoke.cjs, CommonJS),
// Deno, Bun and under qemu on arm64. Each function throws on the first wrong result.

function check(cond, what) {
  if (!cond) throw new Error(`check failed: ${what}`)
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 0))

/** Pattern 1, verbatim from the README: claim the next task with CAS; null on a lost race. */
function claimNext(db, Value) {
  const v = db.state.getVersioned('task:next') ?? (db.state.init('task:next', 0), db.state.getVersioned('task:next'))
  const taskId = Value.asInt(v.value) ?? 0
  return { taskId, won: () => db.state.cas('task:next', v.version, taskId + 1) !== null }
}

/**
 * Five agents, each on its own handle and its own forked branch, claim 40 tasks with CAS (yielding between the read
 * and the CAS, so they really race), write their results in their branch, elect a leader, and the leader merges every
 * branch into `default`.
 */
export async function seedPatterns({ Strata, Value }) {
  const TASKS = 40
  const AGENTS = ['ada', 'grace', 'linus', 'barbara', 'ken']
  const db = Strata.cache()
  const claims = []
  let lost = 0

  async function agent(id, n) {
    db.forkBranch(`agent/${id}`) // pattern 2: a branch per agent, O(1)
    const mine = db.branch(`agent/${id}`)
    const shared = db.branch('default') // claims go to default, where every agent sees them
    for (;;) {
      const { taskId, won } = claimNext(shared, Value)
      if (taskId >= TASKS) return
      for (let i = 0; i <= (n * 3 + taskId) % 3; i++) await tick()
      if (!won()) {
        lost++
        continue
      }
      claims.push(taskId)
      mine.kv.put(`result:${taskId}`, { by: id, big: 2n ** 60n, bytes: new Uint8Array([taskId & 255]) })
    }
  }
  await Promise.all(AGENTS.map(agent))

  const sorted = [...claims].sort((a, b) => a - b)
  check(sorted.length === TASKS && sorted.every((t, i) => t === i), `each of ${TASKS} tasks claimed exactly once`)
  check(lost > 0, 'the agents really raced (some CAS lost)')
  check(db.state.getVersioned('task:next').version === TASKS + 1, 'task:next written once per claim')
  check(db.kv.list({ prefix: 'result:' }).length === 0, 'default sees no agent result before the merges')
  check(db.listBranches().length === AGENTS.length + 1, 'one branch per agent plus default')

  // Pattern 3: leader election. null means "only if the cell does not exist": exactly one agent wins.
  const winners = AGENTS.filter((id) => db.state.cas('leader', null, id) !== null)
  check(winners.length === 1 && db.state.get('leader') === winners[0], 'exactly one leader')

  // The leader merges every branch into default: three-way merges, no conflicts (disjoint keys).
  let applied = 0
  for (const id of AGENTS) {
    const r = db.mergeBranches(`agent/${id}`)
    check(r.conflicts.length === 0, `merging agent/${id} has no conflicts`)
    applied += r.applied
  }
  check(applied === TASKS, 'every result merged once')
  check(db.mergeBranches('agent/ada').applied === 0, 'merging again applies nothing')
  const r0 = db.kv.get('result:0')
  check(typeof r0.big === 'bigint' && r0.big === 2n ** 60n && r0.bytes instanceof Uint8Array, 'values round-trip')
  check(db.kv.list({ prefix: 'result:' }).length === TASKS, 'default has every result after merging')

  // Time travel: the state before the merges is still readable.
  const t = db.timeRange().latest
  db.kv.put('result:0', 'overwritten')
  check(db.kv.get('result:0', { asOf: t }).by !== undefined, 'asOf reads the old value')

  let code
  try {
    db.kv.put('', 1)
  } catch (e) {
    code = e.code
  }
  check(code === 'INVALID_KEY', 'errors carry their code')
  const backend = db.backend
  db.close()
  return { backend, tasks: TASKS, agents: AGENTS.length, lost, leader: winners[0], applied }
}

/** `Strata.open` in `dir`: write, fork, close, reopen, read back. */
export function durableRoundTrip({ Strata }, dir) {
  let db = Strata.open(dir, { durability: 'always' })
  db.kv.put('doc', { title: 'kept', n: 1 })
  db.state.init('counter', 0)
  check(db.state.cas('counter', 1, 1) !== null, 'CAS on a durable database')
  db.forkBranch('agent/x')
  db.branch('agent/x').kv.put('draft', 'only in agent/x')
  db.close()

  db = Strata.open(dir, { create: false })
  check(db.kv.get('doc').title === 'kept', 'a put survives close and reopen')
  check(db.state.get('counter') === 1, 'a CAS survives close and reopen')
  check(db.branch('agent/x').kv.get('draft') === 'only in agent/x', 'a branch survives close and reopen')
  check(db.kv.get('draft') === null, 'branches stay apart after reopening')
  db.checkpoint()
  db.close()
  db = Strata.open(dir, { readOnly: true })
  check(db.kv.history('doc').length === 1, 'history survives a checkpoint')
  db.close()
  return { durable: true }
}
