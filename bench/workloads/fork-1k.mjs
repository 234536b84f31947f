/** Forking a branch of 1,000 keys: the reference that fork-1m's time is compared to (O(1) means the same). */
import { forkOrCopy } from './fork-or-copy.mjs'

export const title = 'fork a 1k-key branch; peers copy the data'
export const kind = 'throughput'
export const params = (quick) => ({ samples: quick ? 3 : 5 })
export const { drivers, notes } = forkOrCopy(1_000, { stratadbOps: 1000, peerOps: 50 })
