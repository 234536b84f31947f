/** Listing the 100 keys under one prefix, picked at random among many prefixes of 100 keys each. */
import { pad, prefixEnd, randomIndexes, value } from '../lib/data.mjs'

export const title = 'kv.list, a prefix of 100 keys'
export const kind = 'throughput'
export const params = (quick) => ({ prefixes: quick ? 200 : 1000, ops: quick ? 2_000 : 10_000, samples: quick ? 3 : 5 })

const prefix = (p) => `p:${pad(p, 6)}:`
const keyOf = (i) => prefix(Math.floor(i / 100)) + pad(i % 100, 3)

export function input({ ops, prefixes }, sample) {
  return Array.from(randomIndexes(ops, prefixes, 300 + sample), prefix)
}

/** Loads the keys and checks one listing (awaited: LevelDB's is a promise), so a broken driver fails loudly. */
async function setup(p, list) {
  await p.fill(p.prefixes * 100, keyOf, value)
  const first = await list(prefix(3))
  if (first.length !== 100 || first[0] !== keyOf(300)) throw new Error('setup: the listing is wrong')
}

/** The timed loop for a synchronous store: no `await` it does not need. */
async function sync(p, list) {
  await setup(p, list)
  return (prefixes) => {
    let n = 0
    for (let i = 0; i < prefixes.length; i++) n += list(prefixes[i]).length
    return n
  }
}

export const drivers = {
  stratadb: ({ db }, p) => sync(p, (prefix) => db.kv.list({ prefix })),
  lmdb: ({ kv }, p) => sync(p, (prefix) => kv.getKeys({ start: prefix, end: prefixEnd(prefix) }).asArray),
  sqlite: ({ db }, p) => {
    const range = db.prepare('SELECT k FROM kv WHERE k >= ? AND k < ?').pluck()
    return sync(p, (prefix) => range.all(prefix, prefixEnd(prefix)))
  },
  // A fifth of the ops: each listing awaits an asynchronous iterator.
  level: async ({ db }, p) => {
    const list = (prefix) => db.keys({ gte: prefix, lt: prefixEnd(prefix) }).all()
    await setup(p, list)
    return {
      ops: p.ops / 5,
      run: async (prefixes) => {
        let n = 0
        for (let i = 0; i < prefixes.length; i++) n += (await list(prefixes[i])).length
        return n
      },
    }
  },
}

export const notes = {
  stratadb: '`kv.list({ prefix })`',
  lmdb: '`getKeys({ start, end }).asArray`',
  sqlite: 'prepared `SELECT k … WHERE k >= ? AND k < ?` (a range the primary key index serves)',
  level: '`keys({ gte, lt }).all()`, awaited (LevelDB iterators are asynchronous)',
}
