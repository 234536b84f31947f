/** The writes of tx-10 as 10 separate puts, each its own commit where the store commits per put. */
import * as tx from './tx-10.mjs'
import * as seq from './put-seq.mjs'

export const title = '10 separate puts'
export const kind = 'throughput'
export const params = tx.params
export const input = tx.input

// put-seq's loops over tx-10's keys; one op is a group of 10, so the rate is groups/s like tx-10's.
export const drivers = seq.drivers
export const notes = seq.notes
