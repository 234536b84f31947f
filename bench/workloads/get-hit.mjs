/** Reads of present keys in random order, each value decoded to an object (the cost an application pays). */
import { key, randomIndexes } from '../lib/data.mjs'

export const title = 'kv.get, key present'
export const kind = 'throughput'
export const params = (quick) => ({ keys: quick ? 20_000 : 100_000, ops: quick ? 50_000 : 200_000, samples: quick ? 3 : 5 })

export function input({ ops, keys }, sample) {
  return Array.from(randomIndexes(ops, keys, 100 + sample), key)
}

/** Loads the keys and checks a read, so that a broken driver fails instead of measuring nothing. */
async function setup(ctx, p, read) {
  await p.fill(p.keys)
  if (read(key(7))?.n !== 7) throw new Error('setup: read back the wrong value')
}

export const drivers = {
  stratadb: async (ctx, p) => {
    const kv = ctx.db.kv
    await setup(ctx, p, (k) => kv.get(k))
    return (keys) => {
      let sum = 0
      for (let i = 0; i < keys.length; i++) sum += kv.get(keys[i]).n
      return sum
    }
  },
  lmdb: async (ctx, p) => {
    const kv = ctx.kv
    await setup(ctx, p, (k) => kv.get(k))
    return (keys) => {
      let sum = 0
      for (let i = 0; i < keys.length; i++) sum += kv.get(keys[i]).n
      return sum
    }
  },
  sqlite: async (ctx, p) => {
    const get = ctx.get
    await setup(ctx, p, (k) => JSON.parse(get.get(k)))
    return (keys) => {
      let sum = 0
      for (let i = 0; i < keys.length; i++) sum += JSON.parse(get.get(keys[i])).n
      return sum
    }
  },
  level: async (ctx, p) => {
    const db = ctx.db
    await setup(ctx, p, (k) => db.getSync(k))
    return (keys) => {
      let sum = 0
      for (let i = 0; i < keys.length; i++) sum += db.getSync(keys[i]).n
      return sum
    }
  },
}

export const notes = {
  stratadb: '`kv.get`',
  lmdb: '`get` (synchronous, msgpack decode)',
  sqlite: 'prepared `SELECT v … WHERE k = ?` with `pluck()`, then `JSON.parse`',
  level: '`getSync` with the JSON value encoding',
}
