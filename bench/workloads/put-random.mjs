/** Puts of new keys in random order (LevelDB's "fillrandom"): inserts land all over the key space. */
import { key, permutation } from '../lib/data.mjs'
import * as seq from './put-seq.mjs'

export const title = 'kv.put, new keys in random order'
export const kind = 'throughput'
export const params = seq.params

let order // every key of every sample, shuffled once: samples never reuse a key
export function input({ ops, samples }, sample) {
  order ??= permutation(ops * (samples + 1), 7)
  const from = (sample + 1) * ops
  return Array.from({ length: ops }, (_, i) => key(order[from + i]))
}

// The timed loops are put-seq's: only the order of the keys differs.
export const drivers = seq.drivers
export const notes = seq.notes
