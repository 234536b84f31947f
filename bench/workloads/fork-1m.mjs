/** Forking a branch of 1,000,000 keys. Peers copy 1M entries once per sample; --quick leaves them out. */
import { forkOrCopy } from './fork-or-copy.mjs'

export const title = 'fork a 1M-key branch; peers copy the data'
export const kind = 'throughput'
export const params = (quick) => ({ samples: quick ? 3 : 5 })
export const quickDrivers = ['stratadb-native']
export const timeout = 600
export const { drivers, notes } = forkOrCopy(1_000_000, { stratadbOps: 1000, peerOps: 1, peerSamples: 3, peerWarmup: 0 })
