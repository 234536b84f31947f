/** Puts of new keys in ascending order (LevelDB's "fillseq"): each sample writes its own fresh key range. */
import { key, value } from '../lib/data.mjs'

export const title = 'kv.put, new keys in order'
export const kind = 'throughput'
export const params = (quick) => ({ ops: quick ? 20_000 : 100_000, samples: quick ? 3 : 5 })

export function input({ ops }, sample) {
  const base = (sample + 1) * ops // the warm-up is sample -1
  return Array.from({ length: ops }, (_, i) => key(base + i))
}

export const drivers = {
  stratadb: ({ db }) => (keys) => {
    const kv = db.kv
    for (let i = 0; i < keys.length; i++) kv.put(keys[i], value(i))
  },
  // Asynchronous puts, batched by lmdb-js into one transaction per event turn; the sample ends when it committed.
  lmdb: ({ kv }) => async (keys) => {
    let last
    for (let i = 0; i < keys.length; i++) last = kv.put(keys[i], value(i))
    await last
  },
  sqlite: ({ put }) => (keys) => {
    for (let i = 0; i < keys.length; i++) put.run(keys[i], JSON.stringify(value(i)))
  },
  // Every put in flight at once, so LevelDB can group them; the sample ends when all resolved.
  level: ({ db }) => async (keys) => {
    const done = new Array(keys.length)
    for (let i = 0; i < keys.length; i++) done[i] = db.put(keys[i], value(i))
    await Promise.all(done)
  },
}

export const notes = {
  stratadb: '`kv.put`',
  lmdb: 'async `put`, batched per event turn (its recommended write path), timed until committed',
  sqlite: 'one prepared upsert per put, each its own (autocommit) transaction',
  level: 'all puts in flight at once, timed until all resolved',
}
