/**
 * Compare-and-swap on one state cell, uncontended: each CAS expects the version the previous one returned, so this
 * times the conditional write alone. Peers use their cheapest equivalent of a versioned conditional write.
 */
import { value } from '../lib/data.mjs'

export const title = 'state.cas, one cell, uncontended'
export const kind = 'throughput'
export const params = (quick) => ({ ops: quick ? 20_000 : 100_000, samples: quick ? 3 : 5 })

const lost = () => {
  throw new Error('an uncontended CAS failed')
}

export const drivers = {
  stratadb: ({ db }) => {
    const state = db.state
    let version = state.init('cell', value(0))
    let n = 0
    return ({ length }) => {
      for (let i = 0; i < length; i++) version = state.cas('cell', version, value(++n)) ?? lost()
    }
  },
  // putSync(key, value, newVersion, ifVersion): one synchronous write transaction that writes only if the version matches.
  lmdb: ({ cells }) => {
    let version = 1
    let n = 0
    cells.putSync('cell', value(0), version)
    return ({ length }) => {
      for (let i = 0; i < length; i++) {
        if (!cells.putSync('cell', value(++n), version + 1, version)) lost()
        version++
      }
    }
  },
  sqlite: ({ db }) => {
    db.prepare('INSERT INTO cells (k, version, v) VALUES (?, 1, ?)').run('cell', JSON.stringify(value(0)))
    const cas = db.prepare('UPDATE cells SET v = ?, version = version + 1 WHERE k = ? AND version = ?')
    let version = 1
    let n = 0
    return ({ length }) => {
      for (let i = 0; i < length; i++) {
        if (cas.run(JSON.stringify(value(++n)), 'cell', version).changes !== 1) lost()
        version++
      }
    }
  },
}

// The input only carries the count: an array of that length, built outside the timed region.
export const input = ({ ops }) => ({ length: ops })

export const na = { level: 'LevelDB has no conditional write and no write lock to build one on' }
export const notes = {
  stratadb: '`state.cas(cell, version, value)`',
  lmdb: '`putSync(key, value, version + 1, ifVersion)` on a `useVersions` database',
  sqlite: 'prepared `UPDATE cells SET v = ?, version = version + 1 WHERE k = ? AND version = ?`',
}
