/**
 * Reads on a branch at fork depth 100 (forked from a fork from a fork…, each level with writes of its own) against
 * the same reads on `default`, in the same process on the same data, samples interleaved. The keys read were written
 * on `default` before the first fork: the deepest lookup a branch can need.
 */
import { key, randomIndexes, value } from '../lib/data.mjs'
import { stat, collect } from '../lib/measure.mjs'

export const title = 'get on a branch at fork depth 100 vs on default'
export const kind = 'custom'
export const params = (quick) => ({ keys: quick ? 20_000 : 100_000, depth: 100, ops: quick ? 20_000 : 100_000, samples: quick ? 3 : 5 })

const cell = (i) => `cell:${i}`

export const drivers = {
  stratadb: ({ db }, p) => {
    for (let i = 0; i < p.keys; i++) {
      db.kv.put(key(i), value(i))
      db.state.set(cell(i), value(i))
    }
    let from = 'default'
    for (let d = 1; d <= p.depth; d++) {
      db.forkBranch(`d${d}`, { from })
      const h = db.branch(`d${d}`)
      for (let j = 0; j < 10; j++) {
        h.kv.put(`key:d${d}.${j}`, value(j))
        h.state.set(`cell:d${d}.${j}`, value(j))
      }
      h.close()
      from = `d${d}`
    }
    const deep = db.branch(from)
    if (deep.kv.get(key(5)).n !== 5 || deep.state.get(cell(5)).n !== 5) throw new Error('setup: wrong value on the deep branch')

    const loops = {
      'kv.get on default': [db.kv, key],
      'kv.get at depth 100': [deep.kv, key],
      'state.get on default': [db.state, cell],
      'state.get at depth 100': [deep.state, cell],
    }
    const rates = Object.fromEntries(Object.keys(loops).map((name) => [name, []]))
    for (let s = -1; s < p.samples; s++) {
      const idx = randomIndexes(p.ops, p.keys, 500 + s)
      for (const [name, [space, keyOf]] of Object.entries(loops)) {
        const keys = Array.from(idx, keyOf)
        collect()
        const t0 = performance.now()
        let sum = 0
        for (let i = 0; i < keys.length; i++) sum += space.get(keys[i]).n
        const seconds = (performance.now() - t0) / 1000
        if (sum < 0) throw new Error('unreachable')
        if (s >= 0) rates[name].push(p.ops / seconds)
      }
    }
    return { metrics: Object.fromEntries(Object.entries(rates).map(([name, r]) => [name, stat(r, 'ops/s')])) }
  },
}

export const notes = { stratadb: '100 chained `forkBranch`, each level with 10 writes of its own; reads through `db.branch(\'d100\')`' }
export const na = {
  lmdb: 'no branches',
  sqlite: 'no branches',
  level: 'no branches',
}
