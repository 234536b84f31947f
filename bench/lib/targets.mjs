/**
 * The performance targets of the issue, each judged met or missed on the measured medians, with the figure. A
 * target whose figures were not measured (a failed or skipped trial) is "not measured", never met.
 */
import { perOp, rate, ratio, bytes } from './format.mjs'

const NATIVE = 'stratadb-native'

export function evaluate(results) {
  const m = (workload, driver, metric = 'ops') => {
    const row = results.workloads.find((w) => w.name === workload)?.rows[driver]
    return row?.status === 'ok' ? row.metrics[metric]?.median : undefined
  }
  const targets = []
  /** `figures` are the medians the target needs; `check` judges them and `say` states them. */
  const target = (text, figures, check, say) => {
    const measured = figures.every((x) => typeof x === 'number' && Number.isFinite(x))
    targets.push({ text, met: measured ? check(...figures) : null, measured: measured ? say(...figures) : 'not measured' })
  }

  target('kv.get (native) ≥ 1.5x lmdb-js get', [m('get-hit', NATIVE), m('get-hit', 'lmdb')], (s, l) => s / l >= 1.5,
    (s, l) => `${ratio(s / l)} (${rate(s)}/s vs ${rate(l)}/s)`)
  target('kv.put in memory ≥ 2x better-sqlite3 in-memory insert', [m('put-seq', NATIVE), m('put-seq', 'sqlite-memory')], (s, q) => s / q >= 2,
    (s, q) => `${ratio(s / q)} (${rate(s)}/s vs ${rate(q)}/s)`)
  target('state.cas ≥ 1M ops/s', [m('cas', NATIVE)], (c) => c >= 1e6, (c) => `${rate(c)}/s`)

  // WASM within 3x of native on every workload (every throughput workload, and every read of fork-depth and
  // get-sizes). Forks compare by their median time: a sample's mean is dominated by a few stray slow forks.
  const pairs = []
  for (const w of results.workloads) {
    const names = w.kind === 'throughput' ? ['ops'] : ['fork-depth', 'get-sizes'].includes(w.name) ? Object.keys(w.rows[NATIVE]?.metrics ?? {}) : []
    for (const metric of names) {
      const perFork = m(w.name, NATIVE, 'µs per fork') !== undefined
      const n = m(w.name, NATIVE, perFork ? 'µs per fork' : metric)
      const x = m(w.name, 'stratadb-wasm', perFork ? 'µs per fork' : metric)
      if (n !== undefined && x !== undefined) pairs.push({ what: metric === 'ops' ? w.name : `${w.name}: ${metric}`, slower: perFork ? x / n : n / x })
    }
  }
  pairs.sort((a, b) => b.slower - a.slower)
  const over = pairs.filter((p) => p.slower > 3)
  target('WASM within 3x of native on every workload', [pairs.length ? pairs[0].slower : undefined], (worst) => worst <= 3, (worst) =>
    over.length
      ? `${over.length} of ${pairs.length} over 3x: ${over.map((p) => `${p.what} ${ratio(p.slower)}`).join(', ')}`
      : `worst ${ratio(worst)} slower (${pairs[0].what}), over ${pairs.length} workloads`)

  // Forks by their median time (µs per fork); a copy by its time (one op).
  const fork1m = m('fork-1m', NATIVE, 'µs per fork')
  const copies = ['lmdb', 'sqlite-memory', 'sqlite-wal', 'classic-level'].map((d) => [d, m('fork-1m', d)]).filter(([, v]) => v !== undefined)
  const fastestCopy = copies.sort((a, b) => b[1] - a[1])[0]
  const us = (x) => `${x.toFixed(2)} µs`
  target('fork of 1M keys ≥ 1000x faster than copying the data in any peer', [fork1m, fastestCopy?.[1]], (f, c) => 1e6 / c / f >= 1000,
    (f, c) => `${ratio(1e6 / c / f)} faster than the fastest copy (${fastestCopy[0]}, ${perOp(c)})`)
  target('fork of 1M keys under 20 µs (median)', [fork1m], (f) => f < 20, us)
  target('fork of 1M keys within 2x of forking 1k keys', [fork1m, m('fork-1k', NATIVE, 'µs per fork')], (big, small) => big / small <= 2,
    (big, small) => `${ratio(big / small)} (${us(big)} vs ${us(small)})`)
  // Judged on get-hit (100k keys); get-sizes shows the same reads on smaller and larger stores beside it.
  const bySize = Object.entries(results.workloads.find((w) => w.name === 'get-sizes')?.rows[NATIVE]?.metrics ?? {})
  target('native kv.get ≥ 1.5M ops/s', [m('get-hit', NATIVE)], (g) => g >= 1.5e6, (g) =>
    [`${rate(g)}/s (get-hit, 100k keys)`, ...(bySize.length ? [`get-sizes: ${bySize.map(([size, s]) => `${rate(s.median)}/s on ${size}`).join(', ')}`] : [])].join('; '))
  target('native kv.put ≥ 1M ops/s', [m('put-seq', NATIVE)], (p) => p >= 1e6, (p) => `${rate(p)}/s`)

  const depth = (space) => [m('fork-depth', NATIVE, `${space}.get on default`), m('fork-depth', NATIVE, `${space}.get at depth 100`)]
  target('get at fork depth 100 within 1.5x of default', [...depth('kv'), ...depth('state')], (kd, kx, sd, sx) => kd / kx <= 1.5 && sd / sx <= 1.5,
    (kd, kx, sd, sx) => `kv.get ${ratio(kd / kx)} slower, state.get ${ratio(sd / sx)} slower`)

  const perVersion = [
    m('memory-versions', NATIVE, 'bytes/version beyond key+value, new keys'),
    m('memory-versions', NATIVE, 'bytes/version beyond value, overwrites'),
  ]
  // A version is what an overwrite adds; a new key adds a version and its map entry, reported beside it.
  target('bytes per version < 100', perVersion, (_, b) => b < 100,
    (a, b) => `${bytes(b)} per version (overwrites); a new key, with its map entry: ${bytes(a)}`)
  // The target is about forks; the writes after them copy their path of map nodes, reported beside it.
  target('100 forks of 1M keys add < 1 MB', [m('memory-forks', NATIVE, '100 forks'), m('memory-forks', NATIVE, '100 forks + 10 writes each')],
    (f) => f < 1e6, (f, w) => `${bytes(f)} for the forks; ${bytes(w)} with 10 writes on each fork after it`)
  target('2 threads on different cells ≥ 1.6x one thread', [m('threads-scaling', NATIVE, '2 threads'), m('threads-scaling', NATIVE, '1 thread')],
    (two, one) => two / one >= 1.6, (two, one) => `${ratio(two / one)} (${rate(two)}/s vs ${rate(one)}/s)`)

  const vs = (metric) => m('vector-search', NATIVE, `clustered: ${metric}`)
  target('vector search, 100k x 384, k=10: indexed ≥ 20x faster than exact at recall@10 ≥ 0.95 (native)',
    [vs('exact, µs per search'), vs('indexed, µs per search'), vs('recall@10')], (e, i, r) => e / i >= 20 && r >= 0.95,
    (e, i, r) => `${ratio(e / i)} (${us(i)} vs ${us(e)}), recall@10 ${r.toFixed(3)}`)
  target('events.append (native, in memory) ≥ 1M ops/s', [m('events-append', NATIVE)], (a) => a >= 1e6, (a) => `${rate(a)}/s`)
  return targets
}
