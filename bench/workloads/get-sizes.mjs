/**
 * `get` of present keys in random order as the store grows: the same reads as get-hit, on 1k, 10k, 100k and 1M keys
 * loaded into one store one size after the other. A small store's reads hit the CPU caches; a large one's wait on
 * memory, and this shows where each store's curve bends (get-hit is the 100k point).
 */
import { key, randomIndexes } from '../lib/data.mjs'
import { stat, collect } from '../lib/measure.mjs'

export const title = 'get by store size (keys present, random order)'
export const kind = 'custom'
export const params = (quick) => ({
  sizes: quick ? [1_000, 10_000, 100_000] : [1_000, 10_000, 100_000, 1_000_000],
  ops: quick ? 50_000 : 200_000,
  samples: quick ? 3 : 5,
})
export const quickDrivers = ['stratadb-native', 'lmdb']

const label = (n) => `${n >= 1e6 ? `${n / 1e6}M` : `${n / 1e3}k`} keys`

/** `read(k)` returns the decoded value; every sample reads a fresh key array, as get-hit does. */
async function measure(p, read) {
  const metrics = {}
  for (const n of p.sizes) {
    await p.fill(n)
    if (read(key(n - 1))?.n !== n - 1) throw new Error(`setup: read back the wrong value at ${n} keys`)
    const rates = []
    for (let s = -1; s < p.samples; s++) {
      const keys = Array.from(randomIndexes(p.ops, n, 300 + s), key)
      collect()
      const t0 = performance.now()
      let sum = 0
      for (let i = 0; i < keys.length; i++) sum += read(keys[i]).n
      const seconds = (performance.now() - t0) / 1000
      if (sum < 0) throw new Error('unreachable')
      if (s >= 0) rates.push(p.ops / seconds)
    }
    metrics[label(n)] = stat(rates, 'ops/s')
  }
  return { metrics }
}

export const drivers = {
  stratadb: ({ db }, p) => measure(p, (k) => db.kv.get(k)),
  lmdb: ({ kv }, p) => measure(p, (k) => kv.get(k)),
  sqlite: ({ get }, p) => measure(p, (k) => JSON.parse(get.get(k))),
  level: ({ db }, p) => measure(p, (k) => db.getSync(k)),
}

export const notes = {
  stratadb: '`kv.get`',
  lmdb: '`get` (synchronous, msgpack decode)',
  sqlite: 'prepared `SELECT v … WHERE k = ?` with `pluck()`, then `JSON.parse`',
  level: '`getSync` with the JSON value encoding',
}
