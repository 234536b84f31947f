/**
 * Durable puts: each put returns only once it is on stable storage (fsync), one writer, new keys. For stratadb this
 * needs `Strata.open` with `durability: 'always'`: until the build has it, stratadb reports "not implemented" and
 * the peers give the baseline. Left out of --quick (fsync-bound).
 */
import { join } from 'node:path'
import { key, value } from '../lib/data.mjs'
import { notApplicable } from '../lib/measure.mjs'

export const title = 'durable kv.put (fsync per put)'
export const kind = 'throughput'
export const needs = ['open']
export const quick = false
export const params = () => ({ ops: 300, samples: 3 })

export function input({ ops }, sample) {
  const base = (sample + 1) * ops
  return Array.from({ length: ops }, (_, i) => key(base + i))
}

export const drivers = {
  stratadb: ({ lib }, p) => {
    const db = lib.Strata.open(join(p.dir, 'strata'), { durability: 'always' })
    return (keys) => {
      for (let i = 0; i < keys.length; i++) db.kv.put(keys[i], value(i))
    }
  },
  // A second environment without noSync: putSync commits and syncs before it returns.
  lmdb: ({ lib }, p) => {
    const db = lib.open({ path: join(p.dir, 'durable') })
    return (keys) => {
      for (let i = 0; i < keys.length; i++) db.putSync(keys[i], value(i))
    }
  },
  sqlite: ({ db, mode, put }) => {
    if (mode === 'memory') notApplicable('in memory: nothing to make durable')
    db.pragma('synchronous = FULL') // WAL + FULL: every commit syncs the WAL
    return (keys) => {
      for (let i = 0; i < keys.length; i++) put.run(keys[i], JSON.stringify(value(i)))
    }
  },
  level: ({ db }) => async (keys) => {
    for (let i = 0; i < keys.length; i++) await db.put(keys[i], value(i), { sync: true })
  },
}

export const notes = {
  stratadb: "`Strata.open(dir, { durability: 'always' })`",
  lmdb: '`putSync` on an environment with sync on',
  sqlite: 'WAL with `synchronous = FULL`, one upsert per commit',
  level: '`put(…, { sync: true })`, awaited one by one',
}
