/** `events.append` in memory: each call hashes the event onto its predecessor's hash and commits one version. */
export const title = 'events.append, in memory'
export const kind = 'throughput'
export const needs = ['events']
export const params = (quick) => ({ ops: quick ? 50_000 : 200_000, samples: quick ? 3 : 5 })

export const drivers = {
  stratadb: ({ db }, p) => (_, sample) => {
    const events = db.events
    for (let i = 0; i < p.ops; i++) events.append('tick', { n: i, sample })
  },
}

export const notes = { stratadb: '`events.append(type, { n, sample })` on one branch and space' }
export const na = { lmdb: 'no event log', sqlite: 'no event log', level: 'no event log' }
