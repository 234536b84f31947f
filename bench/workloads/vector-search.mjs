/**
 * `vector.search`, k = 10, on 100k vectors of 384 dimensions (cosine): exact search against the HNSW index that
 * serves collections past its threshold, with the index's build time and its recall@10 against exact. Two datasets:
 * a mixture of Gaussian clusters (what embeddings look like; the target is judged on it) and uniformly random
 * vectors, a known worst case for any graph index, reported without a target. An empty filter (`{}`) accepts every
 * vector and takes the exact path, which is how exact search is measured through the public API.
 */
import { random } from '../lib/data.mjs'
import { collect, stat } from '../lib/measure.mjs'

export const title = 'vector.search, k=10: exact vs indexed'
export const kind = 'custom'
export const needs = ['vector']
export const timeout = 3600
export const params = (quick) =>
  quick ? { n: 5_000, dim: 64, clusters: 20, queries: 50 } : { n: 100_000, dim: 384, clusters: 100, queries: 200 }

/** A standard normal sample (Box-Muller) from a uniform source. */
const normal = (rnd) => Math.sqrt(-2 * Math.log(Math.max(rnd(), 1e-300))) * Math.cos(2 * Math.PI * rnd())

/** `n` vectors from a mixture of `clusters` Gaussians: standard normal centres, spread 0.5 around them. */
function clustered(rnd, n, dim, clusters) {
  const centres = Array.from({ length: clusters }, () => Float32Array.from({ length: dim }, () => normal(rnd)))
  return Array.from({ length: n }, () => {
    const c = centres[Math.floor(rnd() * clusters)]
    return Float32Array.from(c, (x) => x + 0.5 * normal(rnd))
  })
}

/** `n` vectors uniform in [-1, 1]^dim. */
const uniform = (rnd, n, dim) => Array.from({ length: n }, () => Float32Array.from({ length: dim }, () => rnd() * 2 - 1))

const EVERYTHING = { filter: {} }

/** Loads `data` into a fresh database and measures both paths on `queries`; returns the metrics under `label`. */
function measure(lib, label, data, queries) {
  const db = lib.Strata.cache()
  db.vector.createCollection('c', { dimension: data[0].length })
  for (let i = 0; i < data.length; i++) db.vector.upsert('c', `v${i}`, data[i])
  collect()
  let t0 = performance.now()
  db.vector.search('c', queries[0])
  const build = (performance.now() - t0) / 1000
  const exact = []
  const indexed = []
  let found = 0
  for (const q of queries) {
    t0 = performance.now()
    const want = db.vector.search('c', q, EVERYTHING)
    exact.push((performance.now() - t0) * 1000)
    t0 = performance.now()
    const got = db.vector.search('c', q)
    indexed.push((performance.now() - t0) * 1000)
    const keys = new Set(want.map((h) => h.key))
    found += got.filter((h) => keys.has(h.key)).length
  }
  db.close()
  return {
    [`${label}: exact, µs per search`]: stat(exact, 'µs'),
    [`${label}: indexed, µs per search`]: stat(indexed, 'µs'),
    [`${label}: recall@10`]: stat([found / (queries.length * 10)], 'ratio'),
    [`${label}: index build (first search), s`]: stat([build], 's'),
  }
}

export const drivers = {
  stratadb: ({ lib }, p) => {
    const rnd = random(384)
    const all = clustered(rnd, p.n + p.queries, p.dim, p.clusters)
    const metrics = measure(lib, 'clustered', all.slice(0, p.n), all.slice(p.n))
    all.length = 0
    const flat = uniform(rnd, p.n + p.queries, p.dim)
    Object.assign(metrics, measure(lib, 'uniform', flat.slice(0, p.n), flat.slice(p.n)))
    return { metrics }
  },
}

export const notes = {
  stratadb: '`vector.search(c, q)` (indexed) and `vector.search(c, q, { filter: {} })` (exact), cosine, the same queries',
}
export const na = {
  lmdb: 'no vector search',
  sqlite: 'no vector search',
  level: 'no vector search',
}
