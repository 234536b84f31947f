/**
 * 1, 2 and 4 worker threads, each doing uncontended CAS on a cell of its own: how writes to different cells scale
 * with threads (on this 2-core machine, 4 threads are oversubscribed). Thread counts are interleaved per round.
 */
import { runWorkers } from '../lib/threads.mjs'
import { stat, notApplicable } from '../lib/measure.mjs'

export const title = 'CAS on different cells, 1 / 2 / 4 threads'
export const kind = 'custom'
export const shared = true
export const params = (quick) => ({ threadCounts: [1, 2, 4], durationMs: quick ? 200 : 1000, rounds: quick ? 2 : 3 })

const cellOf = (w) => `cell:${w}`

async function scale(p, init) {
  for (let w = 0; w < Math.max(...p.threadCounts); w++) init(cellOf(w))
  const rates = Object.fromEntries(p.threadCounts.map((t) => [t, []]))
  for (let r = 0; r < p.rounds; r++) {
    for (const t of p.threadCounts) {
      const cells = Array.from({ length: t }, (_, w) => cellOf(w))
      const { seconds, counts } = await runWorkers({ ...p.workers, cells, durationMs: p.durationMs })
      rates[t].push(counts.reduce((a, c) => a + c.ok, 0) / seconds)
    }
  }
  return { metrics: Object.fromEntries(p.threadCounts.map((t) => [`${t} thread${t > 1 ? 's' : ''}`, stat(rates[t], 'ops/s')])) }
}

export const drivers = {
  stratadb: ({ db, backend }, p) => {
    if (backend === 'wasm') notApplicable('a WebAssembly instance cannot be shared across worker threads')
    return scale(p, (cell) => db.state.init(cell, 0))
  },
  lmdb: ({ cells }, p) => scale(p, (cell) => cells.putSync(cell, 0, 1)),
  sqlite: ({ db, mode }, p) => {
    if (mode === 'memory') notApplicable('an in-memory SQLite database is private to its connection')
    const insert = db.prepare("INSERT INTO cells VALUES (?, 1, '0')")
    return scale(p, (cell) => insert.run(cell))
  },
}

const lost = () => {
  throw new Error('an uncontended CAS failed')
}

/** Each worker's loop: CAS expecting the version its previous CAS returned, with a value that always changes. */
export const tasks = {
  stratadb: ({ db }, cell, stopped) => {
    const state = db.state
    let version = state.getVersioned(cell).version
    let ok = 0
    while (!stopped()) version = state.cas(cell, version, ++ok) ?? lost()
    return { ok }
  },
  lmdb: ({ cells }, cell, stopped) => {
    let version = cells.getEntry(cell).version
    let ok = 0
    while (!stopped()) {
      if (!cells.putSync(cell, ++ok, version + 1, version)) lost()
      version++
    }
    return { ok }
  },
  sqlite: ({ db }, cell, stopped) => {
    const cas = db.prepare('UPDATE cells SET v = ?, version = version + 1 WHERE k = ? AND version = ?')
    let version = db.prepare('SELECT version FROM cells WHERE k = ?').pluck().get(cell)
    let ok = 0
    while (!stopped()) {
      if (cas.run(JSON.stringify(++ok), cell, version).changes !== 1) lost()
      version++
    }
    return { ok }
  },
}

export const na = { level: 'LevelDB allows one open handle per directory (and has no CAS)' }
export const notes = {
  stratadb: '`Strata.cache({ name })` in each thread; `state.cas` with the version the last CAS returned',
  lmdb: '`putSync(…, version + 1, ifVersion)`; LMDB has one writer at a time',
  sqlite: 'a connection per thread on one WAL file; SQLite has one writer at a time',
}
