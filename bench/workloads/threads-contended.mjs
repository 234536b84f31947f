/**
 * 4 worker threads incrementing one counter cell with read + CAS, retrying when they lose (the task-claiming
 * pattern of agents). Reports successful increments/s and the share of attempts that lost. Afterwards the counter
 * must equal the number of successful CAS: a lost update fails the trial.
 */
import { runWorkers } from '../lib/threads.mjs'
import { stat, notApplicable } from '../lib/measure.mjs'

export const title = '4 threads, read + CAS on one cell'
export const kind = 'custom'
export const shared = true
export const params = (quick) => ({ threads: 4, durationMs: quick ? 200 : 1000, rounds: quick ? 2 : 3 })

const CELL = 'counter'

async function contend(p, { init, total }) {
  init()
  const rates = []
  const retryRates = []
  let won = 0
  for (let r = 0; r < p.rounds; r++) {
    const { seconds, counts } = await runWorkers({ ...p.workers, cells: Array(p.threads).fill(CELL), durationMs: p.durationMs })
    const ok = counts.reduce((a, c) => a + c.ok, 0)
    const lost = counts.reduce((a, c) => a + c.retries, 0)
    rates.push(ok / seconds)
    retryRates.push(lost / (ok + lost))
    won += ok
  }
  const final = total()
  if (final !== won) throw new Error(`lost updates: the counter is ${final} after ${won} successful CAS`)
  return { metrics: { 'successful CAS/s': stat(rates, 'ops/s'), 'retry rate': stat(retryRates, 'ratio') } }
}

export const drivers = {
  stratadb: ({ db, backend }, p) => {
    if (backend === 'wasm') notApplicable('a WebAssembly instance cannot be shared across worker threads')
    return contend(p, { init: () => db.state.init(CELL, 0), total: () => db.state.get(CELL) })
  },
  lmdb: ({ root, cells }, p) =>
    contend(p, {
      init: () => cells.putSync(CELL, 0, 1),
      total: () => (root.resetReadTxn(), cells.get(CELL)),
    }),
  sqlite: ({ db, mode }, p) => {
    if (mode === 'memory') notApplicable('an in-memory SQLite database is private to its connection')
    return contend(p, {
      init: () => db.prepare("INSERT INTO cells VALUES (?, 1, '0')").run(CELL),
      total: () => JSON.parse(db.prepare('SELECT v FROM cells WHERE k = ?').pluck().get(CELL)),
    })
  },
}

/** The loop each worker runs (lib/worker.mjs calls it with its own connection). */
export const tasks = {
  stratadb: ({ db }, cell, stopped) => {
    const state = db.state
    let ok = 0
    let retries = 0
    while (!stopped()) {
      const v = state.getVersioned(cell)
      if (state.cas(cell, v.version, v.value + 1) !== null) ok++
      else retries++
    }
    return { ok, retries }
  },
  // lmdb-js reads from a snapshot renewed per event turn and after its own commits; a lost CAS renews it explicitly.
  lmdb: ({ root, cells }, cell, stopped) => {
    let ok = 0
    let retries = 0
    while (!stopped()) {
      const e = cells.getEntry(cell)
      if (cells.putSync(cell, e.value + 1, e.version + 1, e.version)) ok++
      else {
        retries++
        root.resetReadTxn()
      }
    }
    return { ok, retries }
  },
  // Each statement autocommits; a busy database waits (better-sqlite3's default 5 s timeout) rather than failing.
  sqlite: ({ db }, cell, stopped) => {
    const read = db.prepare('SELECT version, v FROM cells WHERE k = ?')
    const cas = db.prepare('UPDATE cells SET v = ?, version = version + 1 WHERE k = ? AND version = ?')
    let ok = 0
    let retries = 0
    while (!stopped()) {
      const row = read.get(cell)
      if (cas.run(JSON.stringify(JSON.parse(row.v) + 1), cell, row.version).changes === 1) ok++
      else retries++
    }
    return { ok, retries }
  },
}

export const na = { level: 'LevelDB allows one open handle per directory (and has no CAS)' }
export const notes = {
  stratadb: '`Strata.cache({ name })` in each thread; `state.getVersioned` + `state.cas`',
  lmdb: 'the same environment in each thread; `getEntry` + `putSync(…, version + 1, ifVersion)`',
  sqlite: 'a connection per thread on one WAL file; `SELECT` + `UPDATE … WHERE version = ?`',
}
