// Durability figures, native and WASM side by side in one run: puts per mode, group commit with 1 and 4 writer
// threads ('always'), recovery of a ~100 MB log, and a checkpoint of 1M keys.
//
//   npm run build && node bench/durability.mjs          (STRATADB_BACKEND is set per child run)
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads'

const DIST = new URL('../dist/index.js', import.meta.url).href
const median = (xs) => xs.sort((a, b) => a - b)[xs.length >> 1]
const fresh = (name) => join(mkdtempSync(join(tmpdir(), 'stratadb-bench-')), name)

async function measure() {
  const { Strata } = await import(DIST)
  const out = { backend: Strata.backend }
  for (const durability of ['standard', 'none']) {
    const samples = []
    for (let s = 0; s < 3; s++) {
      const db = Strata.open(fresh('puts'), { durability })
      const n = 100_000
      const t0 = performance.now()
      for (let i = 0; i < n; i++) db.kv.put(`key:${i % 10_000}`, { n: i, s: 'hello' })
      samples.push(n / ((performance.now() - t0) / 1000))
      db.close()
    }
    out[`puts/s ${durability}`] = Math.round(median(samples))
  }
  if (Strata.backend === 'native') {
    for (const threads of [1, 4]) {
      const dir = fresh('always')
      const db = Strata.open(dir, { durability: 'always' })
      const start = new SharedArrayBuffer(4)
      const t0 = performance.now()
      const counts = await Promise.all(
        Array.from({ length: threads }, (_, i) => new Promise((resolve, reject) => {
          const w = new Worker(new URL(import.meta.url), { workerData: { dir, i, start, threads } })
          w.once('message', resolve)
          w.once('error', reject)
        })),
      )
      out[`puts/s always, ${threads} writer thread(s)`] = Math.round(counts.reduce((a, b) => a + b) / ((performance.now() - t0) / 1000))
      db.close()
    }
  }
  const dir = fresh('recovery')
  let db = Strata.open(dir, { durability: 'none' })
  const big = 'x'.repeat(1000)
  for (let i = 0; i < 100_000; i++) db.kv.put(`k${i % 50_000}`, { i, big })
  db.close()
  const size = readdirSync(dir).filter((f) => f.endsWith('.wal')).reduce((a, f) => a + statSync(join(dir, f)).size, 0)
  let t = performance.now()
  db = Strata.open(dir)
  out[`recovery of a ${(size / 1e6).toFixed(0)} MB log, ms`] = Math.round(performance.now() - t)
  db.close()
  db = Strata.open(fresh('checkpoint'), { durability: 'none' })
  db.transaction((tx) => { for (let i = 0; i < 1_000_000; i++) tx.kv.put(`key:${i}`, i) })
  t = performance.now()
  db.checkpoint()
  out['checkpoint of 1M keys, ms'] = Math.round(performance.now() - t)
  db.close()
  return out
}

if (!isMainThread) {
  const { Strata } = await import(DIST)
  const db = Strata.open(workerData.dir, { durability: 'always' })
  const g = new Int32Array(workerData.start)
  Atomics.add(g, 0, 1)
  while (Atomics.load(g, 0) < workerData.threads) {}
  const end = performance.now() + 2000
  let n = 0
  while (performance.now() < end) db.kv.put(`w${workerData.i}:${n}`, n++)
  db.close()
  parentPort.postMessage(n)
} else if (process.argv[2] === '--child') {
  console.log(JSON.stringify(await measure()))
} else {
  const rows = ['native', 'wasm'].map((backend) => {
    const r = spawnSync(process.execPath, [new URL(import.meta.url).pathname, '--child'], {
      env: { ...process.env, STRATADB_BACKEND: backend },
      encoding: 'utf8',
    })
    if (r.status !== 0) throw new Error(r.stderr)
    return JSON.parse(r.stdout.trim().split('\n').pop())
  })
  console.log('| figure | native | wasm |\n|---|---:|---:|')
  for (const k of Object.keys(rows[0]).filter((k) => k !== 'backend')) console.log(`| ${k} | ${rows[0][k]} | ${rows[1][k] ?? 'n/a (no shared engine across threads)'} |`)
}
