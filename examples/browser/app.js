// The seed patterns in a browser tab: a branch per agent, task claims with compare-and-swap, leader election and
// the leader's merges, one button per step. Runs on the WebAssembly backend (the package's `browser` entry).
//
//   npm run build && node examples/browser/serve.mjs     then open the printed URL
import { Strata, Value } from 'stratadb'

const NAMES = ['ada', 'grace', 'linus', 'barbara', 'ken', 'margaret', 'dennis', 'frances']
const $ = (id) => document.getElementById(id)
const pause = () => new Promise((resolve) => setTimeout(resolve, Math.random() * 8))

let db
let agents = []
let tasks = 0

function log(text) {
  const li = document.createElement('li')
  li.textContent = text
  $('log').prepend(li)
}

function enable(step) {
  for (const id of ['fork', 'claim', 'elect', 'merge']) $(id).disabled = id !== step
}

function render() {
  $('agent-rows').replaceChildren(
    ...agents.map((a) => {
      const tr = document.createElement('tr')
      tr.dataset.agent = a.name
      const inBranch = db.branchExists(a.branch) ? db.branch(a.branch).kv.list({ prefix: 'result:' }).length : 0
      for (const text of [a.name, db.branchExists(a.branch) ? a.branch : '–', a.claimed.join(', ') || '–', inBranch, a.lost]) {
        const td = document.createElement('td')
        td.textContent = String(text)
        tr.append(td)
      }
      return tr
    }),
  )
  $('next').textContent = String(db.state.get('task:next') ?? '–')
  $('leader').textContent = String(db.state.get('leader') ?? '–')
  $('default-results').textContent = String(db.kv.list({ prefix: 'result:' }).length)
  $('branches').textContent = db.listBranches().map((b) => b.name).join(', ')
}

function reset() {
  db?.close()
  db = Strata.cache()
  tasks = Number($('tasks').value)
  agents = NAMES.slice(0, Number($('agents').value)).map((name) => ({ name, branch: `agent/${name}`, claimed: [], lost: 0 }))
  $('log').replaceChildren()
  $('summary').textContent = ''
  $('summary').className = 'summary'
  for (const id of ['fork', 'claim', 'elect', 'merge']) $(id).classList.remove('done')
  log(`new database: ${agents.length} agents, ${tasks} tasks`)
  enable('fork')
  render()
}

function done(step) {
  $(step).classList.add('done')
  render()
}

// Step 1, pattern 2: each agent gets its own branch, forked from default in O(1).
$('fork').onclick = () => {
  for (const a of agents) {
    db.forkBranch(a.branch)
    log(`forked ${a.branch}`)
  }
  done('fork')
  enable('claim')
}

// Step 2, pattern 1: agents race for tasks. Each reads task:next, pauses (another agent may claim meanwhile), then
// claims with CAS; a lost race returns null and the agent reads again. Results go to the agent's own branch.
$('claim').onclick = async () => {
  enable(null)
  const claimer = async (a) => {
    const mine = db.branch(a.branch)
    for (;;) {
      const v = db.state.getVersioned('task:next') ?? (db.state.init('task:next', 0), db.state.getVersioned('task:next'))
      const taskId = Value.asInt(v.value) ?? 0
      if (taskId >= tasks) return
      await pause()
      if (db.state.cas('task:next', v.version, taskId + 1) === null) {
        a.lost++
        continue
      }
      a.claimed.push(taskId)
      mine.kv.put(`result:${taskId}`, { task: taskId, by: a.name, at: Date.now() })
      log(`${a.name} claimed task ${taskId}`)
      render()
    }
  }
  await Promise.all(agents.map(claimer))
  const all = agents.flatMap((a) => a.claimed).sort((x, y) => x - y)
  const once = all.length === tasks && all.every((t, i) => t === i)
  log(once ? `all ${tasks} tasks claimed, each exactly once` : `ERROR: claims ${JSON.stringify(all)}`)
  done('claim')
  enable('elect')
}

// Step 3, pattern 3: leader election. A CAS expecting null succeeds only while the cell does not exist.
$('elect').onclick = () => {
  for (const a of agents) {
    const won = db.state.cas('leader', null, a.name) !== null
    log(`${a.name}: cas('leader', null) → ${won ? 'won' : 'null (someone leads)'}`)
  }
  done('elect')
  enable('merge')
}

// Step 4: the leader merges every agent's branch into default (three-way merges; the keys are disjoint).
$('merge').onclick = () => {
  const leader = db.state.get('leader')
  let applied = 0
  for (const a of agents) {
    const r = db.mergeBranches(a.branch)
    applied += r.applied
    log(`${leader} merged ${a.branch}: ${r.applied} result(s), ${r.conflicts.length} conflict(s)`)
  }
  done('merge')
  enable(null)
  const results = db.kv.list({ prefix: 'result:' }).length
  const claimed = agents.reduce((n, a) => n + a.claimed.length, 0)
  const ok = results === tasks && claimed === tasks && applied === tasks
  $('summary').textContent = ok
    ? `${tasks} tasks, each claimed exactly once by ${agents.length} agents; leader ${leader} merged ${applied} results into default`
    : `ERROR: ${results} results in default, ${claimed} claims, ${applied} merged, for ${tasks} tasks`
  $('summary').className = `summary ${ok ? 'ok' : 'bad'}`
}

$('reset').onclick = reset
$('backend').textContent = Strata.backend
reset()
document.body.dataset.ready = 'true'
