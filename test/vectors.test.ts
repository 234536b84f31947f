// Vectors (db.vector): collections, upsert/get/delete, exact similarity search checked against a brute-force
// reference computed here (seeded random data, all three metrics), metadata filters, time travel, branches,
// spaces, durability, and every error code. Inputs that have crashed a process or a WebAssembly instance run in a
// child process, so they cannot take the rest of the file down with them.
import { spawnSync } from 'node:child_process'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { describe, expect, it } from 'vitest'
import { Strata, StrataError, type Metric, type SearchHit, type Value } from 'stratadb'
import { BACKEND, expectCode, uniq, tempDir, random } from './helpers.js'

const METRICS: Metric[] = ['cosine', 'euclidean', 'dot']
const TOL = 1e-5



interface Item {
  key: string
  vector: Float32Array
  metadata: Value
}

const COLORS = ['red', 'green', 'blue'] as const

/** `n` vectors of `dim` components in [-1, 1] with varied lengths (so dot differs from cosine), and metadata. */
function dataset(seed: number, n = 300, dim = 16): Item[] {
  const rnd = random(seed)
  const items: Item[] = []
  for (let i = 0; i < n; i++) {
    const scale = 0.1 + rnd() * 3
    const vector = new Float32Array(dim)
    for (let j = 0; j < dim; j++) vector[j] = (rnd() * 2 - 1) * scale
    const metadata: Value = i % 50 === 7 ? null : { i, group: i % 5, color: COLORS[i % 3]!, tags: ['t', i % 2] }
    items.push({ key: `v${String(i).padStart(3, '0')}`, vector, metadata })
  }
  return items
}

function randomQuery(rnd: () => number, dim: number): Float32Array {
  const q = new Float32Array(dim)
  for (let j = 0; j < dim; j++) q[j] = rnd() * 2 - 1
  return q
}

/** The reference score, in f64 over the f32 components. */
function refScore(metric: Metric, q: ArrayLike<number>, v: ArrayLike<number>): number {
  let dot = 0
  let nq = 0
  let nv = 0
  let dist = 0
  for (let j = 0; j < q.length; j++) {
    const a = q[j]!
    const b = v[j]!
    dot += a * b
    nq += a * a
    nv += b * b
    dist += (a - b) * (a - b)
  }
  if (metric === 'dot') return dot
  if (metric === 'euclidean') return Math.sqrt(dist)
  return nq === 0 || nv === 0 ? 0 : dot / (Math.sqrt(nq) * Math.sqrt(nv))
}

const better = (metric: Metric, a: number, b: number): boolean => (metric === 'euclidean' ? a < b : a > b)

/** Brute force: every candidate's score, best first (ties by key). */
function reference(metric: Metric, items: Item[], q: ArrayLike<number>): { key: string; score: number; metadata: Value }[] {
  return items
    .map((it) => ({ key: it.key, score: refScore(metric, q, it.vector), metadata: it.metadata }))
    .sort((x, y) => (better(metric, x.score, y.score) ? -1 : better(metric, y.score, x.score) ? 1 : x.key < y.key ? -1 : 1))
}

/**
 * Checks a search result against the brute-force reference over `candidates`: the right number of hits, each a
 * candidate with its reference score (within TOL) and metadata, best first, nothing better left out, and, where
 * the reference has no near-ties around the cut, exactly the reference's keys in its order.
 */
function expectMatchesReference(metric: Metric, hits: SearchHit[], candidates: Item[], q: ArrayLike<number>, k: number): void {
  const ref = reference(metric, candidates, q)
  const byKey = new Map(ref.map((r) => [r.key, r]))
  expect(hits).toHaveLength(Math.min(k, ref.length))
  expect(new Set(hits.map((h) => h.key)).size).toBe(hits.length)
  for (const h of hits) {
    const r = byKey.get(h.key)
    expect(r, `hit ${h.key} is not a candidate`).toBeDefined()
    expect(typeof h.score).toBe('number')
    expect(Math.abs(h.score - r!.score), `score of ${h.key}: ${h.score} vs reference ${r!.score}`).toBeLessThanOrEqual(TOL)
    expect(h.metadata).toEqual(r!.metadata)
  }
  for (let i = 0; i + 1 < hits.length; i++) {
    const a = byKey.get(hits[i]!.key)!.score
    const b = byKey.get(hits[i + 1]!.key)!.score
    expect(better(metric, b, a) && Math.abs(a - b) > TOL, `hits ${i} and ${i + 1} out of order: ${a} then ${b}`).toBe(false)
  }
  if (hits.length > 0 && hits.length < ref.length) {
    const worstReturned = byKey.get(hits[hits.length - 1]!.key)!.score
    const returned = new Set(hits.map((h) => h.key))
    const bestLeftOut = ref.find((r) => !returned.has(r.key))!
    expect(
      better(metric, bestLeftOut.score, worstReturned) && Math.abs(bestLeftOut.score - worstReturned) > TOL,
      `${bestLeftOut.key} (${bestLeftOut.score}) left out, better than ${worstReturned}`,
    ).toBe(false)
  }
  const cut = Math.min(k, ref.length)
  let nearTie = false
  for (let i = 0; i + 1 < Math.min(cut + 1, ref.length); i++) {
    if (Math.abs(ref[i]!.score - ref[i + 1]!.score) <= 2 * TOL) nearTie = true
  }
  if (!nearTie) expect(hits.map((h) => h.key)).toEqual(ref.slice(0, cut).map((r) => r.key))
}

function load(db: Strata, name: string, metric: Metric, items: Item[]): void {
  db.vector.createCollection(name, { dimension: items[0]!.vector.length, metric })
  for (const it of items) db.vector.upsert(name, it.key, it.vector, it.metadata)
}

const latest = (db: Strata): number => db.timeRange().latest!

const BAD_NAMES: unknown[] = ['', '/a', '.a', 'a..b', 'a b', 'ä', 'n'.repeat(129), 'a\0b', 42, null, undefined, {}]

describe('vector collections', () => {
  it('createCollection / listCollections / deleteCollection', () => {
    const db = Strata.cache()
    expect(db.vector.listCollections()).toEqual([])
    expect(db.vector.createCollection('docs', { dimension: 3 })).toBeUndefined()
    db.vector.createCollection('e', { dimension: 2, metric: 'euclidean' })
    db.vector.createCollection('d', { dimension: 1, metric: 'dot' })
    db.vector.createCollection('c', { dimension: 4, metric: 'cosine' })
    db.vector.createCollection('a/b.c_d-1', { dimension: 65_536 })
    const list = db.vector.listCollections()
    expect([...list].sort((x, y) => (x.name < y.name ? -1 : 1))).toEqual([
      { name: 'a/b.c_d-1', dimension: 65_536, metric: 'cosine', count: 0 },
      { name: 'c', dimension: 4, metric: 'cosine', count: 0 },
      { name: 'd', dimension: 1, metric: 'dot', count: 0 },
      { name: 'docs', dimension: 3, metric: 'cosine', count: 0 },
      { name: 'e', dimension: 2, metric: 'euclidean', count: 0 },
    ])
    for (const c of list) expect(Object.keys(c).sort()).toEqual(['count', 'dimension', 'metric', 'name'])

    expect(db.vector.deleteCollection('e')).toBe(true)
    expect(db.vector.deleteCollection('e')).toBe(false)
    expect(db.vector.deleteCollection('never')).toBe(false)
    expect(db.vector.listCollections().map((c) => c.name).sort()).toEqual(['a/b.c_d-1', 'c', 'd', 'docs'])
    // The name is free again, with a new definition.
    db.vector.createCollection('e', { dimension: 5, metric: 'dot' })
    expect(db.vector.listCollections().find((c) => c.name === 'e')).toEqual({ name: 'e', dimension: 5, metric: 'dot', count: 0 })
  })

  it('listCollections counts live vectors', () => {
    const db = Strata.cache()
    db.vector.createCollection('c', { dimension: 2 })
    db.vector.createCollection('other', { dimension: 2 })
    const count = (name = 'c') => db.vector.listCollections().find((c) => c.name === name)!.count
    db.vector.upsert('c', 'a', [1, 0])
    db.vector.upsert('c', 'b', [0, 1])
    expect(count()).toBe(2)
    db.vector.upsert('c', 'a', [1, 1]) // overwrite: still 2
    expect(count()).toBe(2)
    db.vector.delete('c', 'a')
    expect(count()).toBe(1)
    db.vector.delete('c', 'a')
    expect(count()).toBe(1)
    expect(count('other')).toBe(0)
  })

  it('an existing name is INVALID_NAME, whatever the new definition; nothing changes', () => {
    const db = Strata.cache()
    db.vector.createCollection('docs', { dimension: 3, metric: 'dot' })
    db.vector.upsert('docs', 'a', [1, 2, 3])
    expectCode(() => db.vector.createCollection('docs', { dimension: 3, metric: 'dot' }), 'INVALID_NAME', 'docs')
    expectCode(() => db.vector.createCollection('docs', { dimension: 8 }), 'INVALID_NAME', 'docs')
    expect(db.vector.listCollections()).toEqual([{ name: 'docs', dimension: 3, metric: 'dot', count: 1 }])
    expect(db.vector.get('docs', 'a')!.vector).toEqual(new Float32Array([1, 2, 3]))
  })

  it('bad collection names are INVALID_NAME in every method', () => {
    const db = Strata.cache()
    for (const name of BAD_NAMES) {
      const n = name as string
      expectCode(() => db.vector.createCollection(n, { dimension: 2 }), 'INVALID_NAME')
      expectCode(() => db.vector.deleteCollection(n), 'INVALID_NAME')
      expectCode(() => db.vector.upsert(n, 'k', [1, 2]), 'INVALID_NAME')
      expectCode(() => db.vector.get(n, 'k'), 'INVALID_NAME')
      expectCode(() => db.vector.delete(n, 'k'), 'INVALID_NAME')
      expectCode(() => db.vector.search(n, [1, 2]), 'INVALID_NAME')
    }
    db.vector.createCollection('n'.repeat(128), { dimension: 1 })
    expect(db.vector.listCollections().map((c) => c.name)).toEqual(['n'.repeat(128)])
  })

  it('an unknown collection is INVALID_NAME for upsert, get, delete and search (and deleteCollection is false)', () => {
    const db = Strata.cache()
    expectCode(() => db.vector.upsert('nope', 'k', [1]), 'INVALID_NAME', 'nope')
    expectCode(() => db.vector.get('nope', 'k'), 'INVALID_NAME', 'nope')
    expectCode(() => db.vector.delete('nope', 'k'), 'INVALID_NAME', 'nope')
    expectCode(() => db.vector.search('nope', [1]), 'INVALID_NAME', 'nope')
    expect(db.vector.deleteCollection('nope')).toBe(false)
    expect(db.vector.listCollections()).toEqual([])
  })

  it('bad dimension, metric and options are INVALID_VALUE; nothing is created', () => {
    const db = Strata.cache()
    const bad: unknown[] = [
      { dimension: 0 },
      { dimension: -1 },
      { dimension: 1.5 },
      { dimension: Number.NaN },
      { dimension: Number.POSITIVE_INFINITY },
      { dimension: '16' },
      { dimension: 16n },
      { dimension: null },
      { dimension: 65_537 },
      { dimension: 1_000_000 },
      {},
      { metric: 'cosine' },
      { dimension: 4, metric: 'l2' },
      { dimension: 4, metric: 'COSINE' },
      { dimension: 4, metric: 'Euclidean' },
      { dimension: 4, metric: '' },
      { dimension: 4, metric: 1 },
      { dimension: 4, metric: ['dot'] },
      { dimension: 4, size: 4 }, // unknown option
      { dimension: 4, metric: 'dot', index: 'hnsw' }, // unknown option
      null,
      'dimension',
      4,
      undefined,
    ]
    for (const opts of bad) {
      expectCode(
        () => (db.vector.createCollection as (n: string, o: unknown) => void)('c', opts),
        'INVALID_VALUE',
      )
    }
    expect(db.vector.listCollections()).toEqual([])
    expectCode(() => db.vector.createCollection('c', { dimension: 4, size: 4 } as never), 'INVALID_VALUE', 'size')
  })

  it('a dimension of 2^32 + 3 is INVALID_VALUE (it must not wrap around to 3)', () => {
    const db = Strata.cache()
    expectCode(() => db.vector.createCollection('wrap', { dimension: 2 ** 32 + 3 }), 'INVALID_VALUE')
    expectCode(() => db.vector.createCollection('wrap2', { dimension: 2 ** 32 }), 'INVALID_VALUE')
    expect(db.vector.listCollections()).toEqual([])
  })

  it('deleteCollection removes its vectors: count, get and search afterwards', () => {
    const db = Strata.cache()
    db.vector.createCollection('c', { dimension: 2 })
    db.vector.createCollection('keep', { dimension: 2 })
    db.vector.upsert('c', 'a', [1, 0])
    db.vector.upsert('c', 'b', [0, 1])
    db.vector.upsert('keep', 'a', [1, 1])
    expect(db.vector.deleteCollection('c')).toBe(true)
    expect(db.vector.listCollections()).toEqual([{ name: 'keep', dimension: 2, metric: 'cosine', count: 1 }])
    expectCode(() => db.vector.search('c', [1, 0]), 'INVALID_NAME', 'c')
    expectCode(() => db.vector.get('c', 'a'), 'INVALID_NAME')
    expectCode(() => db.vector.upsert('c', 'a', [1, 0]), 'INVALID_NAME')
    expect(db.vector.search('keep', [1, 1]).map((h) => h.key)).toEqual(['a'])
    // A new collection of the same name starts empty, even with another dimension.
    db.vector.createCollection('c', { dimension: 3 })
    expect(db.vector.listCollections().find((c) => c.name === 'c')!.count).toBe(0)
    expect(db.vector.get('c', 'a')).toBeNull()
    expect(db.vector.search('c', [1, 0, 0], { k: 100 })).toEqual([])
    // Versions of a key never restart: put 1, tombstone by deleteCollection 2, put 3.
    expect(db.vector.upsert('c', 'a', [1, 2, 3])).toBe(3)
  })
})

describe('vector items: upsert, get, delete', () => {
  it('upsert returns the per-key version; get returns key, vector, metadata, version; delete returns whether it existed', () => {
    const db = Strata.cache()
    db.vector.createCollection('c', { dimension: 3 })
    expect(db.vector.get('c', 'a')).toBeNull()
    expect(db.vector.upsert('c', 'a', [1, 2, 3], { tag: 'x' })).toBe(1)
    expect(db.vector.upsert('c', 'b', [4, 5, 6])).toBe(1)
    const a = db.vector.get('c', 'a')!
    expect(a).toEqual({ key: 'a', vector: new Float32Array([1, 2, 3]), metadata: { tag: 'x' }, version: 1 })
    expect(a.vector).toBeInstanceOf(Float32Array)
    expect(a.vector.length).toBe(3)
    expect(db.vector.get('c', 'b')).toEqual({ key: 'b', vector: new Float32Array([4, 5, 6]), metadata: null, version: 1 })
    expect(db.vector.upsert('c', 'a', [7, 8, 9])).toBe(2) // replaces vector and metadata
    expect(db.vector.get('c', 'a')).toEqual({ key: 'a', vector: new Float32Array([7, 8, 9]), metadata: null, version: 2 })
    expect(db.vector.delete('c', 'a')).toBe(true)
    expect(db.vector.get('c', 'a')).toBeNull()
    expect(db.vector.delete('c', 'a')).toBe(false)
    expect(db.vector.delete('c', 'never')).toBe(false)
    expect(db.vector.upsert('c', 'a', [1, 1, 1])).toBe(4) // versions never restart after a delete
    expect(db.vector.get('c', 'a')!.version).toBe(4)
    expect(db.vector.search('c', [1, 1, 1], { k: 5 }).map((h) => h.key).sort()).toEqual(['a', 'b'])
  })

  it('keys are any UTF-8 string of 1..1024 bytes; the same key in two collections is two vectors', () => {
    const db = Strata.cache()
    db.vector.createCollection('c', { dimension: 1 })
    db.vector.createCollection('c2', { dimension: 1 })
    const keys = ['k', 'with space', 'é☃😀', 'a/b', 'c2\u0001x', 'x'.repeat(1024), 'é'.repeat(512)]
    keys.forEach((k, i) => db.vector.upsert('c', k, [i + 1]))
    db.vector.upsert('c2', 'k', [-5])
    keys.forEach((k, i) => expect(db.vector.get('c', k)).toMatchObject({ key: k, vector: new Float32Array([i + 1]) }))
    expect(db.vector.get('c2', 'k')!.vector).toEqual(new Float32Array([-5]))
    expect(db.vector.get('c2', 'with space')).toBeNull()
    const hits = db.vector.search('c', [1], { k: 100 })
    expect(hits.map((h) => h.key).sort()).toEqual([...keys].sort())
    expect(db.vector.listCollections().map((c) => [c.name, c.count]).sort()).toEqual([
      ['c', keys.length],
      ['c2', 1],
    ])
  })

  it('bad keys: INVALID_KEY (empty, U+0000, lone surrogate, not a string), LIMIT_EXCEEDED (> 1024 bytes)', () => {
    const db = Strata.cache()
    db.vector.createCollection('c', { dimension: 1 })
    const invalid: unknown[] = ['', 'a\0b', '\uD800', 'x\uDC00', 1, null, undefined, {}]
    for (const key of invalid) {
      const k = key as string
      expectCode(() => db.vector.upsert('c', k, [1]), 'INVALID_KEY')
      expectCode(() => db.vector.get('c', k), 'INVALID_KEY')
      expectCode(() => db.vector.delete('c', k), 'INVALID_KEY')
    }
    for (const k of ['x'.repeat(1025), 'é'.repeat(513)]) {
      expectCode(() => db.vector.upsert('c', k, [1]), 'LIMIT_EXCEEDED')
      expectCode(() => db.vector.get('c', k), 'LIMIT_EXCEEDED')
      expectCode(() => db.vector.delete('c', k), 'LIMIT_EXCEEDED')
    }
    expect(db.vector.listCollections()[0]!.count).toBe(0)
  })

  it('a vector of the wrong dimension, with non-finite components, or not numbers is INVALID_VALUE; nothing is written', () => {
    const db = Strata.cache()
    db.vector.createCollection('c', { dimension: 3 })
    db.vector.upsert('c', 'a', [1, 2, 3], 'orig')
    const bad: unknown[] = [
      [1, 2],
      [1, 2, 3, 4],
      [],
      new Float32Array(2),
      new Float32Array(4),
      [1, Number.NaN, 3],
      [Number.POSITIVE_INFINITY, 0, 0],
      [0, 0, Number.NEGATIVE_INFINITY],
      new Float32Array([1, Number.NaN, 3]),
      new Float32Array([Number.POSITIVE_INFINITY, 0, 0]),
      [1e39, 0, 0], // finite in JS, infinite as f32
      [1, '2', 3],
      [1, null, 3],
      [1, 2n, 3],
      'abc',
      null,
      undefined,
      { 0: 1, 1: 2, 2: 3, length: 3 },
      new Float64Array([1, 2, 3]),
      new Int32Array([1, 2, 3]),
    ]
    for (const v of bad) {
      expectCode(() => db.vector.upsert('c', 'a', v as number[]), 'INVALID_VALUE')
      expectCode(() => db.vector.upsert('c', 'new', v as number[]), 'INVALID_VALUE')
    }
    expectCode(() => db.vector.upsert('c', 'a', [1, 2]), 'INVALID_VALUE', /dimension|3/)
    expect(db.vector.get('c', 'a')).toEqual({ key: 'a', vector: new Float32Array([1, 2, 3]), metadata: 'orig', version: 1 })
    expect(db.vector.get('c', 'new')).toBeNull()
    expect(db.vector.listCollections()[0]!.count).toBe(1)
  })

  it('bad metadata is INVALID_VALUE naming the path; nothing is written', () => {
    const db = Strata.cache()
    db.vector.createCollection('c', { dimension: 1 })
    expectCode(() => db.vector.upsert('c', 'a', [1], { x: undefined } as never), 'INVALID_VALUE', '$.x')
    expectCode(() => db.vector.upsert('c', 'a', [1], { d: new Date() } as never), 'INVALID_VALUE', '$.d')
    expectCode(() => db.vector.upsert('c', 'a', [1], [1, () => 1] as never), 'INVALID_VALUE', '$[1]')
    expectCode(() => db.vector.upsert('c', 'a', [1], { n: Number.NaN }), 'INVALID_VALUE')
    expect(db.vector.get('c', 'a')).toBeNull()
  })

  it('metadata round-trips every value kind, in get and in search hits', () => {
    const db = Strata.cache()
    db.vector.createCollection('c', { dimension: 2 })
    const metas: Value[] = [
      null,
      true,
      42,
      -1.5,
      2n ** 60n,
      'text ☃',
      new Uint8Array([0, 1, 255]),
      [1, 'two', [3], { four: 4 }],
      JSON.parse('{"nested":{"deep":[null,false]},"__proto__":"own","constructor":1}') as Value,
    ]
    metas.forEach((m, i) => db.vector.upsert('c', `k${i}`, [1, i], m))
    metas.forEach((m, i) => expect(db.vector.get('c', `k${i}`)!.metadata).toEqual(m))
    const hits = db.vector.search('c', [1, 0], { k: 100 })
    expect(hits).toHaveLength(metas.length)
    for (const h of hits) expect(h.metadata).toEqual(metas[Number(h.key.slice(1))])
    const proto = db.vector.get('c', `k${metas.length - 1}`)!.metadata as Record<string, Value>
    expect(Object.getOwnPropertyNames(proto).sort()).toEqual(['__proto__', 'constructor', 'nested'])
    expect(proto['__proto__']).toBe('own')
  })

  it('stores f32: number[] components are rounded as Math.fround does', () => {
    const db = Strata.cache()
    db.vector.createCollection('c', { dimension: 4 })
    const v = [0.1, 1 / 3, -1e-30, 123456789.123]
    db.vector.upsert('c', 'a', v)
    expect(Array.from(db.vector.get('c', 'a')!.vector)).toEqual(v.map(Math.fround))
  })

  it('get returns a copy: mutating it, or the array given to upsert, changes nothing stored', () => {
    const db = Strata.cache()
    db.vector.createCollection('c', { dimension: 3, metric: 'euclidean' })
    const input = new Float32Array([1, 2, 3])
    db.vector.upsert('c', 'a', input)
    input[0] = 100
    const got = db.vector.get('c', 'a')!
    expect(got.vector).toEqual(new Float32Array([1, 2, 3]))
    got.vector[1] = -50
    got.vector.fill(9)
    const again = db.vector.get('c', 'a')!
    expect(again.vector).toEqual(new Float32Array([1, 2, 3]))
    expect(again.vector).not.toBe(got.vector)
    expect(again.vector.buffer).not.toBe(got.vector.buffer)
    expect(db.vector.search('c', [1, 2, 3])).toEqual([{ key: 'a', score: 0, metadata: null }])
  })

  it('Float32Array (including a view at an offset) and number[] inputs give the same result', () => {
    const db = Strata.cache()
    const items = dataset(11, 60, 8)
    db.vector.createCollection('f32', { dimension: 8, metric: 'dot' })
    db.vector.createCollection('arr', { dimension: 8, metric: 'dot' })
    db.vector.createCollection('view', { dimension: 8, metric: 'dot' })
    for (const it of items) {
      db.vector.upsert('f32', it.key, it.vector, it.metadata)
      db.vector.upsert('arr', it.key, Array.from(it.vector), it.metadata)
      const big = new Float32Array(20).fill(77)
      big.set(it.vector, 5)
      db.vector.upsert('view', it.key, big.subarray(5, 13), it.metadata)
    }
    for (const it of items) {
      const a = db.vector.get('f32', it.key)!
      expect(db.vector.get('arr', it.key)).toEqual(a)
      expect(db.vector.get('view', it.key)).toEqual(a)
      expect(a.vector).toEqual(it.vector)
    }
    const rnd = random(99)
    for (let i = 0; i < 10; i++) {
      const q = randomQuery(rnd, 8)
      const expected = db.vector.search('f32', q, { k: 7 })
      expect(db.vector.search('f32', Array.from(q), { k: 7 })).toEqual(expected)
      expect(db.vector.search('arr', q, { k: 7 })).toEqual(expected)
      expect(db.vector.search('arr', Array.from(q), { k: 7 })).toEqual(expected)
      const big = new Float32Array(30).fill(-3)
      big.set(q, 11)
      expect(db.vector.search('view', big.subarray(11, 19), { k: 7 })).toEqual(expected)
    }
  })

  it('dimension 65536 works end to end', () => {
    const db = Strata.cache()
    db.vector.createCollection('huge', { dimension: 65_536, metric: 'euclidean' })
    const v = new Float32Array(65_536).map((_, i) => (i % 7) - 3)
    db.vector.upsert('huge', 'a', v)
    expect(db.vector.get('huge', 'a')!.vector).toEqual(v)
    expect(db.vector.search('huge', v)).toEqual([{ key: 'a', score: 0, metadata: null }])
    expectCode(() => db.vector.search('huge', new Float32Array(65_535)), 'INVALID_VALUE')
  })
})

describe('vector search against a brute-force reference', () => {
  const items = dataset(20240611)

  for (const metric of METRICS) {
    it(`${metric}: 300 vectors of dimension 16, random queries, k = 1, 10 (default), 37, 300`, () => {
      const db = Strata.cache()
      load(db, 'c', metric, items)
      expect(db.vector.listCollections()).toEqual([{ name: 'c', dimension: 16, metric, count: 300 }])
      const rnd = random(metric.length * 7919)
      for (let i = 0; i < 25; i++) {
        const q = randomQuery(rnd, 16)
        expectMatchesReference(metric, db.vector.search('c', q), items, q, 10)
        expectMatchesReference(metric, db.vector.search('c', q, {}), items, q, 10)
        for (const k of [1, 37, 300]) expectMatchesReference(metric, db.vector.search('c', q, { k }), items, q, k)
      }
      // A stored vector as the query: itself first (cosine 1, euclidean 0).
      for (const it of items.slice(0, 20)) {
        const hits = db.vector.search('c', it.vector, { k: 5 })
        expectMatchesReference(metric, hits, items, it.vector, 5)
        if (metric === 'cosine') {
          expect(hits[0]!.key).toBe(it.key)
          expect(Math.abs(hits[0]!.score - 1)).toBeLessThanOrEqual(TOL)
        }
        if (metric === 'euclidean') expect(hits[0]).toEqual({ key: it.key, score: 0, metadata: it.metadata })
      }
    })

    it(`${metric}: k larger than the collection returns every vector, best first; k = 0 returns none`, () => {
      const db = Strata.cache()
      load(db, 'c', metric, items.slice(0, 40))
      const q = randomQuery(random(5), 16)
      for (const k of [41, 1000, 100_000]) {
        const hits = db.vector.search('c', q, { k })
        expectMatchesReference(metric, hits, items.slice(0, 40), q, k)
        expect(hits).toHaveLength(40)
      }
      expect(db.vector.search('c', q, { k: 0 })).toEqual([])
      db.vector.createCollection('empty', { dimension: 16, metric })
      expect(db.vector.search('empty', q)).toEqual([])
      expect(db.vector.search('empty', q, { k: 5, filter: { group: 1 } })).toEqual([])
    })

    it(`${metric}: after overwrites and deletes, search matches the reference over the live vectors`, () => {
      const db = Strata.cache()
      load(db, 'c', metric, items)
      const live = new Map(items.map((it) => [it.key, it]))
      const rnd = random(77)
      for (let i = 0; i < 120; i++) {
        const it = items[Math.floor(rnd() * items.length)]!
        if (rnd() < 0.5) {
          expect(db.vector.delete('c', it.key)).toBe(live.has(it.key))
          live.delete(it.key)
        } else {
          const vector = randomQuery(rnd, 16)
          db.vector.upsert('c', it.key, vector, { rewritten: i })
          live.set(it.key, { key: it.key, vector, metadata: { rewritten: i } })
        }
      }
      expect(db.vector.listCollections()[0]!.count).toBe(live.size)
      for (let i = 0; i < 10; i++) {
        const q = randomQuery(rnd, 16)
        expectMatchesReference(metric, db.vector.search('c', q, { k: 25 }), [...live.values()], q, 25)
      }
      expectMatchesReference(metric, db.vector.search('c', items[0]!.vector, { k: 1000 }), [...live.values()], items[0]!.vector, 1000)
    })
  }

  it('scores are what each metric defines (cosine similarity, dot product, euclidean distance)', () => {
    const db = Strata.cache()
    for (const metric of METRICS) db.vector.createCollection(metric, { dimension: 2, metric })
    for (const metric of METRICS) {
      db.vector.upsert(metric, 'x', [3, 4])
      db.vector.upsert(metric, 'y', [-1, 0])
    }
    const q = [1, 0]
    const scores = (metric: Metric) => Object.fromEntries(db.vector.search(metric, q).map((h) => [h.key, h.score]))
    expect(scores('cosine')).toEqual({ x: expect.closeTo(0.6, 6), y: expect.closeTo(-1, 6) })
    expect(scores('dot')).toEqual({ x: 3, y: -1 })
    expect(scores('euclidean')).toEqual({ x: expect.closeTo(Math.sqrt(20), 5), y: 2 })
    // Best first: higher is better for cosine and dot, lower for euclidean.
    expect(db.vector.search('cosine', q).map((h) => h.key)).toEqual(['x', 'y'])
    expect(db.vector.search('dot', q).map((h) => h.key)).toEqual(['x', 'y'])
    expect(db.vector.search('euclidean', q).map((h) => h.key)).toEqual(['y', 'x'])
    expect(db.vector.search('euclidean', [-1, 0], { k: 1 })).toEqual([{ key: 'y', score: 0, metadata: null }])
  })

  it('equal scores all come back (ties aside, nothing is lost)', () => {
    const db = Strata.cache()
    db.vector.createCollection('c', { dimension: 2, metric: 'dot' })
    for (let i = 0; i < 10; i++) db.vector.upsert('c', `same${i}`, [1, 1])
    db.vector.upsert('c', 'best', [5, 5])
    const hits = db.vector.search('c', [1, 1], { k: 4 })
    expect(hits.map((h) => h.score)).toEqual([10, 2, 2, 2])
    expect(hits[0]!.key).toBe('best')
    expect(db.vector.search('c', [1, 1], { k: 50 })).toHaveLength(11)
  })
})

describe('vector search filters', () => {
  const items = dataset(4242)

  it('keeps only vectors whose metadata has every given field equal; k applies after filtering', () => {
    const db = Strata.cache()
    load(db, 'c', 'cosine', items)
    const rnd = random(3)
    const cases: { filter: { [f: string]: Value }; pick: (m: Value) => boolean }[] = [
      { filter: { group: 2 }, pick: (m) => (m as { group?: number } | null)?.group === 2 },
      { filter: { color: 'red' }, pick: (m) => (m as { color?: string } | null)?.color === 'red' },
      {
        filter: { group: 1, color: 'blue' },
        pick: (m) => (m as { group?: number } | null)?.group === 1 && (m as { color?: string }).color === 'blue',
      },
      { filter: { tags: ['t', 1] }, pick: (m) => ((m as { tags?: Value[] } | null)?.tags ?? [])[1] === 1 },
      { filter: { i: 123 }, pick: (m) => (m as { i?: number } | null)?.i === 123 },
    ]
    for (const { filter, pick } of cases) {
      const subset = items.filter((it) => pick(it.metadata))
      expect(subset.length).toBeGreaterThan(0)
      for (let i = 0; i < 5; i++) {
        const q = randomQuery(rnd, 16)
        for (const k of [3, 10, 500]) {
          const hits = db.vector.search('c', q, { k, filter })
          expectMatchesReference('cosine', hits, subset, q, k)
          for (const h of hits) expect(pick(h.metadata)).toBe(true)
        }
      }
    }
  })

  it('no match: a value no vector has, a field no vector has, or a field with the wrong kind of value', () => {
    const db = Strata.cache()
    load(db, 'c', 'dot', items)
    const q = randomQuery(random(8), 16)
    expect(db.vector.search('c', q, { filter: { color: 'purple' } })).toEqual([])
    expect(db.vector.search('c', q, { filter: { missing: 1 } })).toEqual([])
    expect(db.vector.search('c', q, { filter: { group: '2' } })).toEqual([])
    expect(db.vector.search('c', q, { filter: { group: 1, color: 'purple' } })).toEqual([])
    expect(db.vector.search('c', q, { filter: { tags: ['t'] } })).toEqual([])
    expect(db.vector.search('c', q, { filter: { i: 5, group: 1 } })).toEqual([]) // i 5 is group 0
  })

  it('numbers compare by value: an int field matches 1, 1.0 and 1n; floats and null match exactly', () => {
    const db = Strata.cache()
    db.vector.createCollection('c', { dimension: 1 })
    db.vector.upsert('c', 'int', [1], { n: 1, f: 0.5, z: null, b: true })
    db.vector.upsert('c', 'other', [1], { n: 2, f: 0.25, b: false })
    const keys = (filter: { [f: string]: Value }) => db.vector.search('c', [1], { filter }).map((h) => h.key)
    expect(keys({ n: 1 })).toEqual(['int'])
    expect(keys({ n: 1.0 })).toEqual(['int'])
    expect(keys({ n: 1n })).toEqual(['int'])
    expect(keys({ f: 0.5 })).toEqual(['int'])
    expect(keys({ f: 0.25, n: 2 })).toEqual(['other'])
    expect(keys({ z: null })).toEqual(['int'])
    expect(keys({ b: false })).toEqual(['other'])
    expect(keys({ n: 3 })).toEqual([])
  })

  it('nested values compare by structure: objects in any key order, arrays in order, bytes by content', () => {
    const db = Strata.cache()
    db.vector.createCollection('c', { dimension: 1 })
    const deep = { p: { list: [1, { y: 'z', w: true }], bin: new Uint8Array([1, 2]) }, q: null }
    db.vector.upsert('c', 'x', [1], { o: { a: 1, b: 2 }, deep, big: 2n ** 60n })
    db.vector.upsert('c', 'y', [1], { o: { a: 1 }, deep: { q: null } })
    const keys = (filter: { [f: string]: Value }) => db.vector.search('c', [1], { filter }).map((h) => h.key)
    expect(keys({ o: { a: 1, b: 2 } })).toEqual(['x'])
    expect(keys({ o: { b: 2, a: 1 } })).toEqual(['x'])
    expect(keys({ deep: { q: null, p: { bin: new Uint8Array([1, 2]), list: [1, { w: true, y: 'z' }] } } })).toEqual(['x'])
    // An object must have exactly the filter's keys; an array its elements in order; a null field is not a missing one.
    expect(keys({ o: { a: 1 } })).toEqual(['y'])
    expect(keys({ o: { b: 2 } })).toEqual([])
    expect(keys({ o: { a: 1, b: 2, c: 3 } })).toEqual([])
    expect(keys({ deep: { q: null, p: { bin: new Uint8Array([2, 1]), list: [1, { w: true, y: 'z' }] } } })).toEqual([])
    expect(keys({ deep: { q: null, p: { bin: new Uint8Array([1, 2]), list: [{ w: true, y: 'z' }, 1] } } })).toEqual([])
    expect(keys({ deep: { q: null, p: { bin: new Uint8Array([1, 2]), list: [1, { w: true }] } } })).toEqual([])
    expect(keys({ deep: {} })).toEqual([])
    expect(keys({ deep: { q: null, p: null } })).toEqual([])
    // Numbers compare by value whatever their stored form: 2 ** 60 is stored as a float, 2n ** 60n as an integer.
    expect(keys({ big: 2 ** 60 })).toEqual(['x'])
    expect(keys({ big: 2n ** 60n + 1n })).toEqual([])
  })

  it('an empty filter {} restricts nothing (also vectors without object metadata)', () => {
    const db = Strata.cache()
    db.vector.createCollection('c', { dimension: 2 })
    db.vector.upsert('c', 'obj', [1, 0], { a: 1 })
    db.vector.upsert('c', 'none', [0, 1])
    db.vector.upsert('c', 'str', [1, 1], 'just a string')
    const all = db.vector.search('c', [1, 0])
    expect(all).toHaveLength(3)
    expect(db.vector.search('c', [1, 0], { filter: {} })).toEqual(all)
  })

  it('a filter on an asOf search uses the metadata of that moment', () => {
    const db = Strata.cache()
    db.vector.createCollection('c', { dimension: 1 })
    db.vector.upsert('c', 'a', [1], { state: 'open' })
    const t = latest(db)
    db.vector.upsert('c', 'a', [1], { state: 'closed' })
    expect(db.vector.search('c', [1], { filter: { state: 'open' } })).toEqual([])
    expect(db.vector.search('c', [1], { filter: { state: 'open' }, asOf: t })).toEqual([
      { key: 'a', score: 1, metadata: { state: 'open' } },
    ])
  })
})

describe('vector search: errors', () => {
  it('a query of the wrong dimension, or not numbers, is INVALID_VALUE', () => {
    const db = Strata.cache()
    db.vector.createCollection('c', { dimension: 3 })
    db.vector.upsert('c', 'a', [1, 2, 3])
    const bad: unknown[] = [[1, 2], [1, 2, 3, 4], [], new Float32Array(2), [1, '2', 3], 'abc', null, undefined, new Float64Array(3)]
    for (const q of bad) expectCode(() => db.vector.search('c', q as number[]), 'INVALID_VALUE')
    expectCode(() => db.vector.search('c', [1, 2]), 'INVALID_VALUE', /2|dimension/)
  })

  it('a query with NaN or infinite components is INVALID_VALUE (not hits with NaN scores)', () => {
    const db = Strata.cache()
    for (const metric of METRICS) {
      db.vector.createCollection(metric, { dimension: 3, metric })
      db.vector.upsert(metric, 'a', [1, 2, 3])
      for (const q of [[Number.NaN, 0, 0], [0, Number.POSITIVE_INFINITY, 0], new Float32Array([0, 0, Number.NEGATIVE_INFINITY]), [1e39, 0, 0]]) {
        expectCode(() => db.vector.search(metric, q), 'INVALID_VALUE')
      }
    }
  })

  it('bad options are INVALID_VALUE: unknown option, k, filter, asOf, options not an object', () => {
    const db = Strata.cache()
    db.vector.createCollection('c', { dimension: 2 })
    db.vector.upsert('c', 'a', [1, 2], { x: 1 })
    const bad: unknown[] = [
      { limit: 5 },
      { k: 2, where: { x: 1 } },
      { k: -1 },
      { k: 1.5 },
      { k: Number.NaN },
      { k: Number.POSITIVE_INFINITY },
      { k: '3' },
      { k: 3n },
      { k: null },
      { filter: null },
      { filter: [] },
      { filter: ['x', 1] },
      { filter: 'x' },
      { filter: 5 },
      { filter: { x: undefined } },
      { filter: { x: new Date() } },
      { asOf: -1 },
      { asOf: 'now' },
      { asOf: Number.NaN },
      { asOf: null },
      null,
      'k',
      7,
    ]
    for (const opts of bad) {
      expectCode(() => (db.vector.search as (c: string, q: number[], o: unknown) => unknown)('c', [1, 2], opts), 'INVALID_VALUE')
    }
    expectCode(() => db.vector.search('c', [1, 2], { limit: 5 } as never), 'INVALID_VALUE', 'limit')
    expect(db.vector.search('c', [1, 2], { k: 1, filter: { x: 1 }, asOf: latest(db) })).toHaveLength(1)
    expect(db.vector.search('c', [1, 2], undefined)).toHaveLength(1)
  })

  describe('a huge k returns every vector or is rejected; it never crashes the process or the instance', () => {
    const DIST = fileURLToPath(new URL('../dist/index.js', import.meta.url))
    const child = `
      const { Strata } = await import(process.argv[1])
      const k = Number(process.argv[2])
      const db = Strata.cache()
      db.vector.createCollection('c', { dimension: 2 })
      db.vector.upsert('c', 'a', [1, 0]); db.vector.upsert('c', 'b', [0, 1]); db.vector.upsert('c', 'c', [1, 1])
      let first
      try { first = { len: db.vector.search('c', [1, 0], { k }).length } } catch (e) { first = { code: e.code, message: e.message } }
      let after
      try { after = db.vector.search('c', [1, 0]).length } catch (e) { after = e.code + ': ' + e.message }
      console.log(JSON.stringify({ first, after }))
    `
    for (const k of [2 ** 28, 2 ** 31, 2 ** 32, 2 ** 32 + 1, Number.MAX_SAFE_INTEGER]) {
      it(`k = ${k}`, () => {
        const r = spawnSync(process.execPath, ['--input-type=module', '-e', child, pathToFileURL(DIST).href, String(k)], {
          env: { ...process.env, STRATADB_BACKEND: BACKEND },
          encoding: 'utf8',
          timeout: 60_000,
        })
        expect(r.signal, `child killed by ${r.signal}; stderr: ${r.stderr.slice(0, 500)}`).toBeNull()
        expect(r.status, `child exited ${r.status}; stderr: ${r.stderr.slice(0, 500)}`).toBe(0)
        const out = JSON.parse(r.stdout.trim()) as { first: { len?: number; code?: string; message?: string }; after: number | string }
        if (out.first.code !== undefined) expect(['INVALID_VALUE', 'LIMIT_EXCEEDED'], out.first.message).toContain(out.first.code)
        else expect(out.first.len).toBe(3)
        expect(out.after).toBe(3)
      })
    }
  })
})

describe('vectors and time travel', () => {
  it('search with asOf sees the collection as it was: before an upsert, an overwrite, a delete, deleteCollection', () => {
    const db = Strata.cache()
    db.kv.put('before', 1)
    const t0 = latest(db)
    db.vector.createCollection('c', { dimension: 2, metric: 'euclidean' })
    const tCreated = latest(db)
    db.vector.upsert('c', 'a', [0, 0], { v: 1 })
    const t1 = latest(db)
    db.vector.upsert('c', 'b', [3, 4])
    const t2 = latest(db)
    db.vector.upsert('c', 'a', [6, 8], { v: 2 })
    const t3 = latest(db)
    db.vector.delete('c', 'b')
    const t4 = latest(db)
    const q = [0, 0]
    expectCode(() => db.vector.search('c', q, { asOf: t0 }), 'INVALID_NAME') // not created yet
    expect(db.vector.search('c', q, { asOf: tCreated })).toEqual([])
    expect(db.vector.search('c', q, { asOf: t1 })).toEqual([{ key: 'a', score: 0, metadata: { v: 1 } }])
    expect(db.vector.search('c', q, { asOf: t2 })).toEqual([
      { key: 'a', score: 0, metadata: { v: 1 } },
      { key: 'b', score: 5, metadata: null },
    ])
    expect(db.vector.search('c', q, { asOf: t3 })).toEqual([
      { key: 'b', score: 5, metadata: null },
      { key: 'a', score: 10, metadata: { v: 2 } },
    ])
    expect(db.vector.search('c', q, { asOf: t4 })).toEqual([{ key: 'a', score: 10, metadata: { v: 2 } }])
    expect(db.vector.search('c', q)).toEqual(db.vector.search('c', q, { asOf: t4 }))
    expect(db.vector.search('c', q, { asOf: t4 + 10_000_000 })).toEqual(db.vector.search('c', q))

    db.vector.deleteCollection('c')
    expectCode(() => db.vector.search('c', q), 'INVALID_NAME')
    expect(db.vector.search('c', q, { asOf: t2 })).toHaveLength(2) // the past is still there
    // Recreated with another dimension: the past keeps its own dimension.
    db.vector.createCollection('c', { dimension: 3 })
    db.vector.upsert('c', 'z', [1, 2, 3])
    expect(db.vector.search('c', q, { asOf: t2 }).map((h) => h.key)).toEqual(['a', 'b'])
    expectCode(() => db.vector.search('c', [0, 0, 0], { asOf: t2 }), 'INVALID_VALUE')
    expect(db.vector.search('c', [1, 2, 3]).map((h) => h.key)).toEqual(['z'])
  })

  it('db.at(ts).vector.search sees that moment', () => {
    const db = Strata.cache()
    db.vector.createCollection('c', { dimension: 1, metric: 'dot' })
    db.vector.upsert('c', 'a', [1])
    const t = latest(db)
    db.vector.upsert('c', 'b', [2])
    db.vector.delete('c', 'a')
    expect(db.at(t).vector.search('c', [1])).toEqual([{ key: 'a', score: 1, metadata: null }])
    expect(db.vector.search('c', [1])).toEqual([{ key: 'b', score: 2, metadata: null }])
  })

  it('db.at(ts).vector.get sees the vector of that moment', () => {
    const db = Strata.cache()
    db.vector.createCollection('c', { dimension: 2 })
    db.vector.upsert('c', 'a', [1, 0], { v: 1 })
    const t1 = latest(db)
    db.vector.upsert('c', 'a', [0, 1], { v: 2 })
    db.vector.upsert('c', 'later', [1, 1])
    const past = db.at(t1)
    expect(past.vector.get('c', 'a')).toEqual({ key: 'a', vector: new Float32Array([1, 0]), metadata: { v: 1 }, version: 1 })
    expect(past.vector.get('c', 'later')).toBeNull()
    db.vector.delete('c', 'a')
    expect(db.at(t1).vector.get('c', 'a')?.version).toBe(1)
  })

  it('db.at(ts).vector.listCollections sees the collections and counts of that moment', () => {
    const db = Strata.cache()
    db.vector.createCollection('c', { dimension: 2 })
    db.vector.upsert('c', 'a', [1, 0])
    const t1 = latest(db)
    db.vector.upsert('c', 'b', [0, 1])
    db.vector.createCollection('later', { dimension: 3 })
    expect(db.at(t1).vector.listCollections()).toEqual([{ name: 'c', dimension: 2, metric: 'cosine', count: 1 }])
  })

  it('get and listCollections take { asOf } as every read does; unknown options are INVALID_VALUE', () => {
    const db = Strata.cache()
    db.vector.createCollection('c', { dimension: 2 })
    db.vector.upsert('c', 'a', [1, 0], { v: 1 })
    const t1 = latest(db)
    db.vector.upsert('c', 'a', [0, 1], { v: 2 })
    db.vector.createCollection('later', { dimension: 3 })
    expect(db.vector.get('c', 'a', { asOf: t1 })).toEqual({ key: 'a', vector: new Float32Array([1, 0]), metadata: { v: 1 }, version: 1 })
    expect(db.vector.get('c', 'a')?.version).toBe(2)
    expect(db.vector.listCollections({ asOf: t1 })).toEqual([{ name: 'c', dimension: 2, metric: 'cosine', count: 1 }])
    expect(db.vector.listCollections().map((c) => c.name)).toEqual(['c', 'later'])
    expectCode(() => db.vector.get('c', 'a', { bogus: 1 } as never), 'INVALID_VALUE', 'bogus')
    expectCode(() => db.vector.listCollections({ asof: 1 } as never), 'INVALID_VALUE', 'asof')
    expectCode(() => db.vector.get('c', 'a', { asOf: -1 }), 'INVALID_VALUE', 'asOf')
  })

  it('writes through db.at(ts) are READ_ONLY and change nothing', () => {
    const db = Strata.cache()
    db.vector.createCollection('c', { dimension: 2 })
    db.vector.upsert('c', 'a', [1, 0])
    const past = db.at(latest(db))
    expectCode(() => past.vector.createCollection('d', { dimension: 2 }), 'READ_ONLY')
    expectCode(() => past.vector.deleteCollection('c'), 'READ_ONLY')
    expectCode(() => past.vector.upsert('c', 'a', [0, 1]), 'READ_ONLY')
    expectCode(() => past.vector.upsert('c', 'new', [0, 1]), 'READ_ONLY')
    expectCode(() => past.vector.delete('c', 'a'), 'READ_ONLY')
    expect(db.vector.listCollections()).toEqual([{ name: 'c', dimension: 2, metric: 'cosine', count: 1 }])
    expect(db.vector.get('c', 'a')).toMatchObject({ vector: new Float32Array([1, 0]), version: 1 })
  })

  it('writes through a readOnly database are READ_ONLY', () => {
    const dir = tempDir()
    const w = Strata.open(dir)
    w.vector.createCollection('c', { dimension: 2 })
    w.vector.upsert('c', 'a', [1, 0])
    w.close()
    const ro = Strata.open(dir, { readOnly: true })
    try {
      expect(ro.vector.search('c', [1, 0]).map((h) => h.key)).toEqual(['a'])
      expectCode(() => ro.vector.createCollection('d', { dimension: 2 }), 'READ_ONLY')
      expectCode(() => ro.vector.deleteCollection('c'), 'READ_ONLY')
      expectCode(() => ro.vector.upsert('c', 'b', [0, 1]), 'READ_ONLY')
      expectCode(() => ro.vector.delete('c', 'a'), 'READ_ONLY')
      expect(ro.vector.listCollections()[0]!.count).toBe(1)
    } finally {
      ro.close()
    }
  })
})

describe('vectors and branches', () => {
  it('a fork sees the collections and vectors; later writes on either side are invisible to the other', () => {
    const db = Strata.cache()
    const items = dataset(1, 50, 4)
    load(db, 'c', 'cosine', items)
    db.vector.createCollection('gone-on-fork', { dimension: 2 })
    const q = [0.3, -0.2, 0.9, 0.1]
    const before = db.vector.search('c', q, { k: 50 })
    db.forkBranch('f')
    const f = db.branch('f')
    expect(f.vector.listCollections().sort((x, y) => (x.name < y.name ? -1 : 1))).toEqual(
      db.vector.listCollections().sort((x, y) => (x.name < y.name ? -1 : 1)),
    )
    expect(f.vector.search('c', q, { k: 50 })).toEqual(before)
    expect(f.vector.get('c', items[3]!.key)).toEqual(db.vector.get('c', items[3]!.key))

    f.vector.upsert('c', 'fork-only', q)
    f.vector.delete('c', items[0]!.key)
    f.vector.createCollection('new-on-fork', { dimension: 1 })
    f.vector.deleteCollection('gone-on-fork')
    db.vector.upsert('c', 'main-only', q)
    db.vector.upsert('c', items[1]!.key, [1, 1, 1, 1])

    expect(db.vector.get('c', 'fork-only')).toBeNull()
    expect(db.vector.get('c', items[0]!.key)).not.toBeNull()
    expect(db.vector.listCollections().map((c) => c.name).sort()).toEqual(['c', 'gone-on-fork'])
    expect(f.vector.get('c', 'main-only')).toBeNull()
    expect(f.vector.get('c', items[1]!.key)!.vector).toEqual(items[1]!.vector)
    expect(f.vector.listCollections().map((c) => c.name).sort()).toEqual(['c', 'new-on-fork'])
    expect(db.vector.search('c', q, { k: 1 })[0]!.key).toBe('main-only')
    expect(f.vector.search('c', q, { k: 1 })[0]!.key).toBe('fork-only')
    expect(f.vector.listCollections().find((c) => c.name === 'c')!.count).toBe(50) // +1 -1
    expect(db.vector.listCollections().find((c) => c.name === 'c')!.count).toBe(51)

    // setBranch on the same handle switches what it sees.
    db.setBranch('f')
    expect(db.vector.get('c', 'fork-only')).not.toBeNull()
    db.setBranch('default')
    expect(db.vector.get('c', 'fork-only')).toBeNull()
  })

  it('a new empty branch has no collections', () => {
    const db = Strata.cache()
    db.vector.createCollection('c', { dimension: 1 })
    db.createBranch('empty')
    const e = db.branch('empty')
    expect(e.vector.listCollections()).toEqual([])
    expectCode(() => e.vector.search('c', [1]), 'INVALID_NAME')
  })

  it('mergeBranches brings new collections, new, changed and deleted vectors over', () => {
    const db = Strata.cache()
    const items = dataset(2, 40, 4)
    load(db, 'c', 'dot', items)
    db.forkBranch('f')
    const f = db.branch('f')
    f.vector.upsert('c', 'added', [1, 2, 3, 4], { on: 'f' })
    f.vector.upsert('c', items[0]!.key, [9, 9, 9, 9], { changed: true })
    f.vector.delete('c', items[1]!.key)
    f.vector.createCollection('fresh', { dimension: 2, metric: 'euclidean' })
    f.vector.upsert('fresh', 'x', [1, 1], 'meta')
    db.vector.upsert('c', 'main', [0, 0, 0, 1]) // unrelated change on the target
    const r = db.mergeBranches('f')
    expect(r.conflicts).toEqual([])
    expect(r.applied).toBeGreaterThan(0)
    expect(db.vector.get('c', 'added')).toMatchObject({ vector: new Float32Array([1, 2, 3, 4]), metadata: { on: 'f' } })
    expect(db.vector.get('c', items[0]!.key)).toMatchObject({ vector: new Float32Array([9, 9, 9, 9]), metadata: { changed: true } })
    expect(db.vector.get('c', items[1]!.key)).toBeNull()
    expect(db.vector.get('c', 'main')).not.toBeNull()
    expect(db.vector.listCollections().sort((x, y) => (x.name < y.name ? -1 : 1))).toEqual([
      { name: 'c', dimension: 4, metric: 'dot', count: 41 },
      { name: 'fresh', dimension: 2, metric: 'euclidean', count: 1 },
    ])
    expect(db.vector.search('fresh', [1, 1])).toEqual([{ key: 'x', score: 0, metadata: 'meta' }])
    const q = [0.5, -0.5, 0.25, 1]
    const expected = [...items.filter((it) => it.key !== items[1]!.key && it.key !== items[0]!.key)]
    expected.push({ key: 'added', vector: new Float32Array([1, 2, 3, 4]), metadata: { on: 'f' } })
    expected.push({ key: items[0]!.key, vector: new Float32Array([9, 9, 9, 9]), metadata: { changed: true } })
    expected.push({ key: 'main', vector: new Float32Array([0, 0, 0, 1]), metadata: null })
    expectMatchesReference('dot', db.vector.search('c', q, { k: 100 }), expected, q, 100)
    // The source is unchanged by the merge.
    expect(f.vector.get('c', 'main')).toBeNull()
  })

  it('a vector changed on both sides is a MERGE_CONFLICT naming it readably; theirs / ours resolve it', () => {
    const db = Strata.cache()
    db.vector.createCollection('docs', { dimension: 2 })
    db.vector.upsert('docs', 'shared-key', [1, 0])
    db.forkBranch('f')
    db.branch('f').vector.upsert('docs', 'shared-key', [0, 1], 'theirs')
    db.vector.upsert('docs', 'shared-key', [1, 1], 'ours')
    const e = expectCode(() => db.mergeBranches('f'), 'MERGE_CONFLICT', 'shared-key')
    expect(e.conflicts).toHaveLength(1)
    expect(e.conflicts![0]).toContain('shared-key')
    expect(e.conflicts![0]).not.toContain('\u0000')
    expect(e.message).not.toContain('\u0000')
    expect(db.vector.get('docs', 'shared-key')!.metadata).toBe('ours') // nothing written
    expect(db.mergeBranches('f', { strategy: 'ours' }).conflicts).toHaveLength(1)
    expect(db.vector.get('docs', 'shared-key')).toMatchObject({ vector: new Float32Array([1, 1]), metadata: 'ours' })
    db.forkBranch('g', { from: 'f' })
    db.branch('g').vector.upsert('docs', 'shared-key', [0, 2], 'theirs2')
    db.vector.upsert('docs', 'shared-key', [2, 2], 'ours2')
    expect(db.mergeBranches('g', { strategy: 'theirs' }).conflicts).toHaveLength(1)
    expect(db.vector.get('docs', 'shared-key')).toMatchObject({ vector: new Float32Array([0, 2]), metadata: 'theirs2' })
  })

  it('merging a deleteCollection never leaves orphan vectors behind (merge conflict, or a consistent result)', () => {
    const db = Strata.cache()
    db.vector.createCollection('c', { dimension: 2 })
    db.vector.upsert('c', 'a', [1, 2])
    db.forkBranch('f')
    db.branch('f').vector.deleteCollection('c')
    db.vector.upsert('c', 'b', [2, 1]) // the target adds to the collection the source deleted
    let merged = true
    try {
      db.mergeBranches('f')
    } catch (e) {
      expect(e).toBeInstanceOf(StrataError)
      expect((e as StrataError).code).toBe('MERGE_CONFLICT')
      merged = false
    }
    if (!merged) return
    const listed = db.vector.listCollections().find((c) => c.name === 'c')
    if (listed) {
      expect(db.vector.search('c', [1, 1], { k: 100 })).toHaveLength(listed.count)
      return
    }
    // Gone: a collection created under that name later starts empty, and never shows a vector of another dimension.
    db.vector.createCollection('c', { dimension: 5 })
    expect(db.vector.listCollections()).toEqual([{ name: 'c', dimension: 5, metric: 'cosine', count: 0 }])
    expect(db.vector.get('c', 'b')).toBeNull()
    expect(db.vector.search('c', [1, 1, 1, 1, 1], { k: 100 })).toEqual([])
  })

  describe('a collection changed as a whole on one side and in part on the other merges as one conflict', () => {
    type Case = { what: string; build: (db: Strata, f: Strata) => void }
    const cases: Case[] = [
      {
        what: 'the source deleted it, the target added a vector to it',
        build: (db, f) => {
          f.vector.deleteCollection('c')
          db.vector.upsert('c', 'added-on-target', [0, 1])
        },
      },
      {
        what: 'the source deleted it, the target changed a vector in it',
        build: (db, f) => {
          f.vector.deleteCollection('c')
          db.vector.upsert('c', 'a', [5, 5])
        },
      },
      {
        what: 'the target deleted it, the source added a vector to it',
        build: (db, f) => {
          db.vector.deleteCollection('c')
          f.vector.upsert('c', 'added-on-source', [0, 1])
        },
      },
      {
        what: 'both sides made it anew with other dimensions',
        build: (db, f) => {
          for (const [h, dim] of [[db, 3], [f, 4]] as const) {
            h.vector.deleteCollection('c')
            h.vector.createCollection('c', { dimension: dim })
            h.vector.upsert('c', `made-with-${dim}`, Array.from({ length: dim }, () => 1))
          }
        },
      },
    ]
    /** The collection `c` on a handle, all of it: definition and every vector. */
    const whole = (h: Strata) => {
      const def = h.vector.listCollections().find((c) => c.name === 'c')
      if (!def) return null
      const probe = Array.from({ length: def.dimension }, () => 1)
      const keys = h.vector.search('c', probe, { k: 1000, filter: {} }).map((hit) => hit.key).sort()
      return { def, vectors: keys.map((k) => [k, Array.from(h.vector.get('c', k)!.vector)]) }
    }
    for (const { what, build } of cases) {
      it(what, () => {
        const setup = () => {
          const db = Strata.cache()
          db.vector.createCollection('c', { dimension: 2 })
          db.vector.upsert('c', 'a', [1, 2])
          db.vector.upsert('c', 'b', [2, 1])
          db.kv.put('k', 1)
          db.forkBranch('f')
          const f = db.branch('f')
          build(db, f)
          f.kv.put('k', 2) // an unrelated change merges as usual
          return { db, f }
        }
        const strict = setup()
        const before = whole(strict.db)
        const e = expectCode(() => strict.db.mergeBranches('f'), 'MERGE_CONFLICT')
        expect(e.conflicts).toEqual(['c'])
        expect([whole(strict.db), strict.db.kv.get('k')]).toEqual([before, 1])

        const ours = setup()
        const kept = whole(ours.db)
        expect(ours.db.mergeBranches('f', { strategy: 'ours' }).conflicts).toEqual(['c'])
        expect([whole(ours.db), ours.db.kv.get('k')]).toEqual([kept, 2])

        const theirs = setup()
        expect(theirs.db.mergeBranches('f', { strategy: 'theirs' }).conflicts).toEqual(['c'])
        expect([whole(theirs.db), theirs.db.kv.get('k')]).toEqual([whole(theirs.f), 2])
        // Every vector left has the collection's dimension.
        const w = whole(theirs.db)
        for (const [, v] of w?.vectors ?? []) expect((v as number[]).length).toBe(w!.def.dimension)
      })
    }
  })

  it('diffBranches works when branches differ in vectors (it is not required to list them)', () => {
    const db = Strata.cache()
    db.vector.createCollection('c', { dimension: 2 })
    db.vector.upsert('c', 'a', [1, 2])
    db.forkBranch('f')
    const f = db.branch('f')
    f.vector.upsert('c', 'b', [3, 4], { m: 1 })
    f.vector.upsert('c', 'a', [5, 6])
    f.vector.createCollection('fresh', { dimension: 3 })
    f.kv.put('k', 'v')
    const diff = db.diffBranches('default', 'f')
    expect(diff.kv.added.map((e) => e.key)).toEqual(['k'])
    expect(diff.kv.removed).toEqual([])
    expect(diff.kv.modified).toEqual([])
    expect(diff.state).toEqual({ added: [], removed: [], modified: [] })
    expect(diff.json).toEqual({ added: [], removed: [], modified: [] })
    expect(diff.events).toEqual({ added: [], removed: [] })
  })
})

describe('vectors and spaces', () => {
  it('collections are per space', () => {
    const db = Strata.cache()
    db.vector.createCollection('c', { dimension: 2, metric: 'dot' })
    db.vector.upsert('c', 'a', [1, 0], 'default-space')
    const s = uniq('space')
    db.setSpace(s)
    expect(db.vector.listCollections()).toEqual([])
    expectCode(() => db.vector.search('c', [1, 0]), 'INVALID_NAME')
    expectCode(() => db.vector.get('c', 'a'), 'INVALID_NAME')
    db.vector.createCollection('c', { dimension: 3, metric: 'euclidean' }) // same name, another space: fine
    db.vector.upsert('c', 'a', [1, 2, 3], 'other-space')
    expect(db.vector.listCollections()).toEqual([{ name: 'c', dimension: 3, metric: 'euclidean', count: 1 }])
    expect(db.vector.get('c', 'a')!.metadata).toBe('other-space')
    expect(db.listSpaces()).toContain(s)
    db.setSpace('default')
    expect(db.vector.listCollections()).toEqual([{ name: 'c', dimension: 2, metric: 'dot', count: 1 }])
    expect(db.vector.search('c', [1, 0])).toEqual([{ key: 'a', score: 1, metadata: 'default-space' }])
    expect(db.vector.deleteCollection('c')).toBe(true)
    db.setSpace(s)
    expect(db.vector.get('c', 'a')!.metadata).toBe('other-space') // untouched by the other space's delete
    db.setSpace('default')
    expectCode(() => db.deleteSpace(s), 'INVALID_NAME') // not empty: it holds a collection
    expect(db.deleteSpace(s, { force: true })).toBe(true)
    db.setSpace(s)
    expect(db.vector.listCollections()).toEqual([])
  })
})

describe('vectors: closed handles and durability', () => {
  it('every method is CLOSED after close', () => {
    const db = Strata.cache()
    db.vector.createCollection('c', { dimension: 1 })
    db.vector.upsert('c', 'a', [1])
    db.close()
    expectCode(() => db.vector.createCollection('d', { dimension: 1 }), 'CLOSED')
    expectCode(() => db.vector.deleteCollection('c'), 'CLOSED')
    expectCode(() => db.vector.listCollections(), 'CLOSED')
    expectCode(() => db.vector.upsert('c', 'a', [1]), 'CLOSED')
    expectCode(() => db.vector.get('c', 'a'), 'CLOSED')
    expectCode(() => db.vector.delete('c', 'a'), 'CLOSED')
    expectCode(() => db.vector.search('c', [1]), 'CLOSED')
    expectCode(() => db.vector.search('c', [1], { k: 1, filter: {}, asOf: 1 }), 'CLOSED')
  })

  it('a stored database gives the same collections, vectors and search results after close and reopen (and after a checkpoint)', () => {
    const dir = tempDir()
    const items = dataset(777)
    const rnd = random(4)
    const queries = Array.from({ length: 8 }, () => randomQuery(rnd, 16))
    const snapshot = (db: Strata) => ({
      collections: db.vector.listCollections().sort((x, y) => (x.name < y.name ? -1 : 1)),
      results: METRICS.flatMap((m) => queries.map((q) => db.vector.search(m, q, { k: 15 }))),
      filtered: db.vector.search('dot', queries[0]!, { k: 50, filter: { group: 3 } }),
      gets: items.slice(0, 30).map((it) => db.vector.get('euclidean', it.key)),
    })
    const db = Strata.open(dir)
    for (const m of METRICS) load(db, m, m, items)
    db.vector.delete('euclidean', items[5]!.key)
    db.vector.upsert('euclidean', items[6]!.key, items[7]!.vector, { moved: true })
    db.vector.createCollection('dropped', { dimension: 2 })
    db.vector.upsert('dropped', 'x', [1, 1])
    db.vector.deleteCollection('dropped')
    db.setSpace('other')
    db.vector.createCollection('elsewhere', { dimension: 1 })
    db.vector.upsert('elsewhere', 'e', [2])
    db.setSpace('default')
    const before = snapshot(db)
    for (const m of METRICS) {
      for (const q of queries.slice(0, 3)) expectMatchesReference(m, db.vector.search(m, q, { k: 15 }), m === 'euclidean' ? [...items.filter((_, i) => i !== 5 && i !== 6), { key: items[6]!.key, vector: items[7]!.vector, metadata: { moved: true } }] : items, q, 15)
    }
    db.close()

    const again = Strata.open(dir)
    expect(snapshot(again)).toEqual(before)
    expect(again.vector.get('euclidean', items[5]!.key)).toBeNull()
    expect(again.vector.get('euclidean', items[6]!.key)).toMatchObject({ vector: items[7]!.vector, metadata: { moved: true }, version: 2 })
    expectCode(() => again.vector.search('dropped', [1, 1]), 'INVALID_NAME')
    again.setSpace('other')
    expect(again.vector.search('elsewhere', [1])).toEqual([{ key: 'e', score: 1, metadata: null }])
    again.setSpace('default')
    again.checkpoint()
    again.close()

    const third = Strata.open(dir)
    try {
      expect(snapshot(third)).toEqual(before)
      expect(third.vector.upsert('euclidean', items[6]!.key, [...items[6]!.vector])).toBe(3)
    } finally {
      third.close()
    }
  })
})

describe('vector search through the approximate index', () => {
  // Past 2,000 live vectors a collection's current-state searches go through its HNSW index.
  const N = 3_000
  const DIM = 32

  /** A mixture of 25 Gaussian clusters (standard normal centres, spread 0.5): embeddings are clustered. */
  function clustered(seed: number, n: number): Item[] {
    const rnd = random(seed)
    const normal = (): number => Math.sqrt(-2 * Math.log(Math.max(rnd(), 1e-300))) * Math.cos(2 * Math.PI * rnd())
    const centres = Array.from({ length: 25 }, () => Array.from({ length: DIM }, normal))
    return Array.from({ length: n }, (_, i) => {
      const c = centres[Math.floor(rnd() * centres.length)]!
      return { key: `v${i}`, vector: Float32Array.from(c, (x) => x + 0.5 * normal()), metadata: { i, group: i % 5 } }
    })
  }

  it('finds at least 95% of the exact top 10 for every metric, each hit with its exact score', () => {
    const queries = clustered(2, 40).map((q) => q.vector)
    for (const metric of METRICS) {
      const db = Strata.cache()
      const items = clustered(1, N)
      load(db, 'c', metric, items)
      let found = 0
      for (const q of queries) {
        const ref = reference(metric, items, q)
        const byKey = new Map(ref.map((r) => [r.key, r]))
        const top = new Set(ref.slice(0, 10).map((r) => r.key))
        const hits = db.vector.search('c', q)
        expect(hits).toHaveLength(10)
        for (const h of hits) {
          expect(Math.abs(h.score - byKey.get(h.key)!.score)).toBeLessThanOrEqual(TOL)
          expect(h.metadata).toEqual(byKey.get(h.key)!.metadata)
          if (top.has(h.key)) found++
        }
      }
      expect(found / (queries.length * 10), metric).toBeGreaterThanOrEqual(0.95)
      db.close()
    }
  })

  it('filtered and asOf searches stay exact', () => {
    const db = Strata.cache()
    const items = clustered(3, N)
    load(db, 'c', 'cosine', items)
    const before = latest(db)
    const moved = items.slice(0, 500).map((it) => ({ ...it, vector: it.vector.map((x) => -x) }))
    for (const it of moved) db.vector.upsert('c', it.key, it.vector, it.metadata)
    const now = [...moved, ...items.slice(500)]
    for (const q of clustered(4, 10).map((x) => x.vector)) {
      const group1 = now.filter((it) => (it.metadata as { group: number }).group === 1)
      expectMatchesReference('cosine', db.vector.search('c', q, { k: 10, filter: { group: 1 } }), group1, q, 10)
      expectMatchesReference('cosine', db.vector.search('c', q, { k: 10, asOf: before }), items, q, 10)
    }
  })
})
