/** Reads of absent keys that sort between present ones (so no store can answer from the edge of its key range). */
import { key, randomIndexes } from '../lib/data.mjs'
import * as hit from './get-hit.mjs'

export const title = 'kv.get, key absent'
export const kind = 'throughput'
export const params = hit.params

export function input({ ops, keys }, sample) {
  return Array.from(randomIndexes(ops, keys, 200 + sample), (i) => key(i) + '~')
}

const count = (get) => (keys) => {
  let misses = 0
  for (let i = 0; i < keys.length; i++) if (get(keys[i]) == null) misses++
  if (misses !== keys.length) throw new Error('a key meant to be absent was found')
}

export const drivers = {
  stratadb: async (ctx, p) => (await p.fill(p.keys), count((k) => ctx.db.kv.get(k))),
  lmdb: async (ctx, p) => (await p.fill(p.keys), count((k) => ctx.kv.get(k))),
  sqlite: async (ctx, p) => (await p.fill(p.keys), count((k) => ctx.get.get(k))),
  level: async (ctx, p) => (await p.fill(p.keys), count((k) => ctx.db.getSync(k))),
}

export const notes = hit.notes
