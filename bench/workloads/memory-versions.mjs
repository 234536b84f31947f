/**
 * Memory per stored version beyond its key and value: growth of resident memory outside the V8 heap (native and
 * WebAssembly memory live there; see offHeap in lib/measure.mjs) over 1M puts of new keys, then over 1M
 * overwrites (100k keys x 10 versions). One sample per fresh process, so that no phase inherits another's freed
 * memory. SQLite in memory is the reference.
 */
import { key, value } from '../lib/data.mjs'
import { offHeap, stat, notApplicable } from '../lib/measure.mjs'
import { valueBytes } from '../lib/msgpack-size.mjs'

export const title = 'memory per stored version'
export const kind = 'custom'
export const params = (quick) => ({ keys: quick ? 100_000 : 1_000_000, rewritten: quick ? 10_000 : 100_000, rounds: 10 })
export const processes = 3
export const quickProcesses = 1
// V8's background threads (compiler, GC) malloc and free in arenas of their own; their leftovers moved this figure
// by up to 32 MiB between runs. Without them it repeats to the KiB.
export const nodeFlags = ['--single-threaded']

/** Runs both phases with `put`, subtracting `payload(key, n)` (the bytes the application handed over) per version. */
async function measure(p, put, payload) {
  // Warm up the code paths and the allocator on keys outside the measured set.
  for (let i = 0; i < 20_000; i++) put(`warm:${i}`, value(i))
  const r0 = await offHeap()
  let bytes = 0
  for (let i = 0; i < p.keys; i++) {
    const k = key(i)
    put(k, value(i))
    bytes += payload(k, i)
  }
  const r1 = await offHeap()
  let valueOnly = 0
  for (let round = 1; round <= p.rounds; round++) {
    for (let i = 0; i < p.rewritten; i++) {
      const n = round * p.keys + i // a new value every time, so every write changes bytes
      put(key(i), value(n))
      valueOnly += payload('', n)
    }
  }
  const r2 = await offHeap()
  const versions = p.rewritten * p.rounds
  return {
    metrics: {
      'bytes/version beyond key+value, new keys': stat([(r1 - r0 - bytes) / p.keys], 'B'),
      'bytes/version beyond value, overwrites': stat([(r2 - r1 - valueOnly) / versions], 'B'),
      'growth, new keys': stat([r1 - r0], 'B'),
    },
  }
}

export const drivers = {
  stratadb: ({ db }, p) => measure(p, (k, v) => db.kv.put(k, v), (k, n) => k.length + valueBytes(n)),
  sqlite: ({ mode, put }, p) => {
    if (mode !== 'memory') notApplicable('on disk: see sqlite-memory')
    return measure(p, (k, v) => put.run(k, JSON.stringify(v)), (k, n) => k.length + JSON.stringify(value(n)).length)
  },
}

export const na = {
  lmdb: 'a memory-mapped file: its pages are the OS page cache, not memory the process allocates',
  level: 'on disk; its memory is caches and memtables, not versions',
}
export const notes = {
  stratadb: 'key + MessagePack value subtracted; an overwrite keeps the old version (history)',
  sqlite: 'key + JSON value subtracted; an upsert replaces the row (no history kept)',
}
