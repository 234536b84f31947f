/** Sampling and statistics shared by every workload. */
import { readFileSync } from 'node:fs'
import { getHeapStatistics } from 'node:v8'

/** Median and spread of samples (all kept, so a reader can judge the noise). */
export function stat(samples, unit) {
  const s = [...samples].sort((a, b) => a - b)
  const mid = s.length >> 1
  const median = s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2
  return { median, min: s[0], max: s[s.length - 1], unit, samples }
}

/**
 * The median of many single-op times, with p10–p90 as the spread (their max is a stray page fault or rehash, not
 * the op); only the three quantiles are kept.
 */
export function quantiles(times, unit) {
  const s = Float64Array.from(times).sort()
  const q = (f) => s[Math.min(s.length - 1, Math.floor(f * s.length))]
  return { median: q(0.5), min: q(0.1), max: q(0.9), unit, samples: [q(0.1), q(0.5), q(0.9)], spread: `p10–p90 of ${s.length} ops` }
}

/** Merges the samples of the same metric from several processes. */
export function merge(stats) {
  return stat(stats.flatMap((x) => x.samples), stats[0].unit)
}

/** A full collection: the next sample starts from a clean heap instead of paying for the last one's garbage. */
export function collect() {
  if (typeof globalThis.gc !== 'function') throw new Error('run the trial with --expose-gc')
  globalThis.gc()
  globalThis.gc()
}

/**
 * Ops/s of `run`: warm-up samples first (V8 optimises the loop, the store reaches its steady state), then
 * `samples` timed ones. `input(sample)` builds what a sample needs (keys) outside the timed region; `after`
 * undoes what a sample left (a copied table) outside it too. Sample numbers of the warm-up are negative.
 */
export async function throughput({ run, after }, { ops, samples, warmup = 1 }, input = () => undefined) {
  const rates = []
  for (let s = -warmup; s < samples; s++) {
    const x = input(s)
    collect()
    const t0 = performance.now()
    await run(x, s)
    const seconds = (performance.now() - t0) / 1000
    if (after) await after(s)
    if (s >= 0) rates.push(ops / seconds)
  }
  return stat(rates, 'ops/s')
}

/**
 * Resident memory outside the V8 heap, once it has settled: native and WebAssembly memory live there, where only
 * the resident set sees them. Each reading shrinks the V8 heap with its last-resort collection, waits for the pages
 * handed back late, and subtracts what the V8 heap still holds (V8 resizes its young generation on its own, by
 * 16 MiB here, between two readings). The resident set is the kernel's exact count from /proc/self/smaps_rollup:
 * the counter behind process.memoryUsage.rss() is approximate on this kernel and was seen 15 MiB off.
 */
export async function offHeap() {
  const shrink = () => globalThis.gc({ type: 'major', execution: 'sync', flavor: 'last-resort' })
  collect()
  shrink()
  await new Promise((r) => setTimeout(r, 300))
  shrink()
  let rss
  try {
    rss = Number(readFileSync('/proc/self/smaps_rollup', 'utf8').match(/^Rss:\s+(\d+) kB/m)[1]) * 1024
  } catch {
    rss = process.memoryUsage.rss()
  }
  return rss - getHeapStatistics().total_physical_size
}

/** A trial that cannot run for this driver: `n/a` (no equivalent), `skipped`, `unavailable`, `not implemented`. */
export class Outcome extends Error {
  constructor(status, reason) {
    super(reason)
    this.status = status
  }
}

export const notApplicable = (reason) => {
  throw new Outcome('n/a', reason)
}
