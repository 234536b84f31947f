/**
 * What forks cost in memory: growth of resident memory outside the V8 heap (see offHeap in lib/measure.mjs) from
 * 100 forks of a 1M-key branch, then from 10 writes on each fork (overwrites of existing keys spread over the key
 * range, the worst case for path copying). One sample per process.
 */
import { key, randomIndexes, value } from '../lib/data.mjs'
import { offHeap, stat } from '../lib/measure.mjs'

export const title = 'memory of 100 forks of a 1M-key branch'
export const kind = 'custom'
export const params = (quick) => ({ keys: quick ? 100_000 : 1_000_000, forks: 100, writes: 10 })
export const processes = 3
export const quickProcesses = 1
// V8's background threads (compiler, GC) malloc and free in arenas of their own; their leftovers moved this figure
// by up to 32 MiB between runs. Without them it repeats to the KiB.
export const nodeFlags = ['--single-threaded']

export const drivers = {
  stratadb: async ({ db }, p) => {
    await p.fill(p.keys)
    // One extra handle, made before measuring: it switches branches rather than allocating a handle per fork.
    const h = db.branch('default')
    const r0 = await offHeap()
    for (let f = 0; f < p.forks; f++) db.forkBranch(`m${f}`)
    const r1 = await offHeap()
    const idx = randomIndexes(p.forks * p.writes, p.keys, 600)
    for (let f = 0; f < p.forks; f++) {
      h.setBranch(`m${f}`)
      for (let j = 0; j < p.writes; j++) h.kv.put(key(idx[f * p.writes + j]), value(p.keys + f * p.writes + j))
    }
    const r2 = await offHeap()
    return {
      metrics: {
        '100 forks': stat([r1 - r0], 'B'),
        '100 forks + 10 writes each': stat([r2 - r0], 'B'),
        'per written fork': stat([(r2 - r0) / p.forks], 'B'),
      },
    }
  },
}

export const notes = { stratadb: '`forkBranch` x 100, then 10 `kv.put` on each fork (one extra handle, `setBranch` per fork)' }
export const na = { lmdb: 'no branches', sqlite: 'no branches', level: 'no branches' }
