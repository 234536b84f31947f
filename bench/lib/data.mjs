/**
 * Keys and values the workloads write and read. Keys are built before the timed loop so that every driver is timed
 * on its own work, not on string building; values are built in the loop (as an application would) and always carry
 * a number that changes, so no store can skip a write whose bytes did not change (see shared/PERF.md).
 */

/** Fixed-width decimal, so that keys sort in numeric order in every store. */
export const pad = (i, width = 10) => String(i).padStart(width, '0')

export const key = (i) => `key:${pad(i)}`

/** The small value of every workload unless one says otherwise. */
export const value = (n) => ({ n, s: 'hello' })

/** A seeded PRNG (mulberry32), so that every driver reads and writes the same sequence. */
export function random(seed = 42) {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = Math.imul(a ^ (a >>> 15), 1 | a)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** `count` indexes drawn uniformly from [0, range). */
export function randomIndexes(count, range, seed) {
  const next = random(seed)
  const out = new Uint32Array(count)
  for (let i = 0; i < count; i++) out[i] = Math.floor(next() * range)
  return out
}

/** 0..n-1 in a seeded random order (Fisher-Yates). */
export function permutation(n, seed) {
  const next = random(seed)
  const out = new Uint32Array(n)
  for (let i = 0; i < n; i++) out[i] = i
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1))
    const t = out[i]
    out[i] = out[j]
    out[j] = t
  }
  return out
}

/** The smallest string greater than every string that starts with `prefix`: the exclusive end of a prefix range. */
export function prefixEnd(prefix) {
  return prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1)
}
