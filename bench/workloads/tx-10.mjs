/** A transaction of 10 puts (new keys), committed as one; compare with put-10, the same writes one by one. */
import { key, value } from '../lib/data.mjs'

export const title = 'transaction of 10 puts'
export const kind = 'throughput'
export const needs = ['transactions']
// One op is a group of 10 writes.
export const params = (quick) => ({ ops: quick ? 2_000 : 5_000, samples: quick ? 3 : 5 })

export function input({ ops }, sample) {
  const base = (sample + 1) * ops * 10
  return Array.from({ length: ops * 10 }, (_, i) => key(base + i))
}

export const drivers = {
  stratadb: ({ db }) => (keys) => {
    for (let g = 0; g < keys.length; g += 10) {
      db.transaction((tx) => {
        for (let j = 0; j < 10; j++) tx.kv.put(keys[g + j], value(j))
      })
    }
  },
  lmdb: ({ kv }) => (keys) => {
    for (let g = 0; g < keys.length; g += 10) {
      kv.transactionSync(() => {
        for (let j = 0; j < 10; j++) kv.putSync(keys[g + j], value(j))
      })
    }
  },
  sqlite: ({ db, put }) => {
    const group = db.transaction((keys, g) => {
      for (let j = 0; j < 10; j++) put.run(keys[g + j], JSON.stringify(value(j)))
    })
    return (keys) => {
      for (let g = 0; g < keys.length; g += 10) group(keys, g)
    }
  },
  level: ({ db }) => async (keys) => {
    const done = []
    for (let g = 0; g < keys.length; g += 10) {
      const ops = []
      for (let j = 0; j < 10; j++) ops.push({ type: 'put', key: keys[g + j], value: value(j) })
      done.push(db.batch(ops))
    }
    await Promise.all(done)
  },
}

export const notes = {
  stratadb: '`db.transaction((tx) => …)` of 10 `tx.kv.put`',
  lmdb: '`transactionSync` of 10 `putSync` (a synchronous transaction, as stratadb\'s)',
  sqlite: '`db.transaction()` of 10 prepared upserts',
  level: '`batch` of 10 puts, all batches in flight at once',
}
