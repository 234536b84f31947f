/**
 * Shared by fork-1k and fork-1m: stratadb forks a branch of `size` keys (O(1): the branches share the data); a
 * peer, having no branches, copies the data, which is what a fork costs without copy-on-write.
 */
import { quantiles } from '../lib/measure.mjs'

export function forkOrCopy(size, { stratadbOps, peerOps, peerSamples, peerWarmup }) {
  return {
    drivers: {
      // Each fork is also timed alone: the targets are about the median fork, which a sample's mean is not.
      stratadb: async ({ db }, p) => {
        await p.fill(size)
        const each = []
        return {
          ops: stratadbOps,
          run: (_, s) => {
            for (let i = 0; i < stratadbOps; i++) {
              const t0 = performance.now()
              db.forkBranch(`f${s + 1}.${i}`)
              if (s >= 0) each.push((performance.now() - t0) * 1000)
            }
          },
          extra: () => ({ 'µs per fork': quantiles(each, 'µs') }),
        }
      },
      // The cheapest copy lmdb-js offers: raw bytes (binary encoding, no msgpack round trip) appended in key order
      // inside one write transaction.
      lmdb: async (ctx, p) => {
        await p.fill(size)
        const src = ctx.root.openDB('kv', { encoding: 'binary' })
        const copies = []
        return {
          ops: peerOps,
          samples: peerSamples,
          warmup: peerWarmup,
          run: (_, s) => {
            for (let i = 0; i < peerOps; i++) {
              const dst = ctx.root.openDB(`c${s + 1}.${i}`, { encoding: 'binary' })
              dst.transactionSync(() => {
                for (const { key, value } of src.getRange()) dst.putSync(key, value, { append: true })
              })
              copies.push(dst)
            }
          },
          after: () => {
            for (const dst of copies.splice(0)) dst.dropSync()
          },
        }
      },
      sqlite: async (ctx, p) => {
        await p.fill(size)
        const tables = []
        return {
          ops: peerOps,
          samples: peerSamples,
          warmup: peerWarmup,
          run: (_, s) => {
            for (let i = 0; i < peerOps; i++) {
              const t = `c${s + 1}_${i}`
              ctx.db.exec(`CREATE TABLE ${t} (k TEXT PRIMARY KEY, v TEXT NOT NULL) WITHOUT ROWID;
                           INSERT INTO ${t} SELECT k, v FROM kv`)
              tables.push(t)
            }
          },
          after: () => {
            for (const t of tables.splice(0)) ctx.db.exec(`DROP TABLE ${t}`)
          },
        }
      },
      // Raw bytes (buffer encoding) read in chunks and written in batches under a new key prefix.
      level: async ({ db }, p) => {
        await p.fill(size)
        return {
          ops: peerOps,
          samples: peerSamples,
          warmup: peerWarmup,
          run: async (_, s) => {
            for (let i = 0; i < peerOps; i++) {
              const prefix = `c${s + 1}.${i}!`
              const it = db.iterator({ gte: 'key:', lt: 'key;', valueEncoding: 'buffer' })
              for (let chunk; (chunk = await it.nextv(1000)).length > 0; ) {
                await db.batch(chunk.map(([k, v]) => ({ type: 'put', key: prefix + k, value: v })), { valueEncoding: 'buffer' })
              }
              await it.close()
            }
          },
          after: () => db.clear({ gte: 'c', lt: 'd' }),
        }
      },
    },
    notes: {
      stratadb: '`forkBranch`',
      lmdb: 'copy: raw entries appended to a new database in one `transactionSync`',
      sqlite: 'copy: `CREATE TABLE …; INSERT INTO … SELECT k, v FROM kv`',
      level: 'copy: iterator `nextv(1000)` + `batch` under a new prefix, raw bytes',
    },
  }
}
