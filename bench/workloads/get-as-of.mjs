/**
 * Time travel: reads as of a past moment, of keys with 10 versions each, as of the 5th. stratadb keeps history by
 * itself; peers keep it in an explicit history table keyed by (key, time) and look up the newest row at or before
 * the time, which is what an application would have to build.
 */
import { key, pad, randomIndexes, value } from '../lib/data.mjs'

export const title = 'kv.get as of a past time'
export const kind = 'throughput'
export const params = (quick) => ({ keys: quick ? 5_000 : 20_000, versions: 10, ops: quick ? 30_000 : 200_000, samples: quick ? 3 : 5 })
const MID = 4 // the round read back: versions 0..9, read as of the end of round 4

export function input({ ops, keys }, sample) {
  return Array.from(randomIndexes(ops, keys, 400 + sample), key)
}

/** Writes every round of versions with `write(round)`, checks a read, returns the timed loop over `read`. */
function timeTravel(p, write, read) {
  for (let r = 0; r < p.versions; r++) write(r)
  if (read(key(3))?.n !== MID) throw new Error('setup: read the wrong version')
  return (keys) => {
    let sum = 0
    for (let i = 0; i < keys.length; i++) sum += read(keys[i]).n
    return sum
  }
}

export const drivers = {
  stratadb: ({ db }, p) => {
    const times = []
    const at = {}
    return timeTravel(
      p,
      (r) => {
        for (let i = 0; i < p.keys; i++) db.kv.put(key(i), value(r))
        times.push(db.timeRange().latest)
        at.asOf = times[MID]
      },
      (k) => db.kv.get(k, at),
    )
  },
  lmdb: ({ root }, p) => {
    const hist = root.openDB('hist')
    return timeTravel(
      p,
      (r) => hist.transactionSync(() => {
        for (let i = 0; i < p.keys; i++) hist.putSync([key(i), r], value(r))
      }),
      (k) => {
        for (const { value } of hist.getRange({ start: [k, MID], end: [k], reverse: true, limit: 1 })) return value
      },
    )
  },
  sqlite: ({ db }, p) => {
    db.exec('CREATE TABLE hist (k TEXT, ts INTEGER, v TEXT NOT NULL, PRIMARY KEY (k, ts)) WITHOUT ROWID')
    const insert = db.prepare('INSERT INTO hist VALUES (?, ?, ?)')
    const asOf = db.prepare('SELECT v FROM hist WHERE k = ? AND ts <= ? ORDER BY ts DESC LIMIT 1').pluck()
    return timeTravel(
      p,
      db.transaction((r) => {
        for (let i = 0; i < p.keys; i++) insert.run(key(i), r, JSON.stringify(value(r)))
      }),
      (k) => JSON.parse(asOf.get(k, MID)),
    )
  },
  // LevelDB iterators are asynchronous, so this one loop awaits.
  level: async ({ db }, p) => {
    for (let r = 0; r < p.versions; r++) {
      await db.batch(Array.from({ length: p.keys }, (_, i) => ({ type: 'put', key: `${key(i)}@${pad(r, 4)}`, value: value(r) })))
    }
    const read = async (k) => (await db.values({ gte: `${k}@`, lte: `${k}@${pad(MID, 4)}`, reverse: true, limit: 1 }).all())[0]
    if ((await read(key(3))).n !== MID) throw new Error('setup: read the wrong version')
    // A twentieth of the ops: each read awaits an asynchronous iterator.
    return {
      ops: p.ops / 20,
      run: async (keys) => {
        let sum = 0
        for (let i = 0; i < keys.length; i++) sum += (await read(keys[i])).n
        return sum
      },
    }
  },
}

export const notes = {
  stratadb: '`kv.get(key, { asOf })`',
  lmdb: 'history keyed `[key, time]`; `getRange({ start: [key, t], end: [key], reverse: true, limit: 1 })`',
  sqlite: '`SELECT v FROM hist WHERE k = ? AND ts <= ? ORDER BY ts DESC LIMIT 1` on a `(k, ts)` primary key',
  level: 'history keyed `key@time`; `values({ gte, lte, reverse: true, limit: 1 }).all()`, awaited',
}
