// The value codec against msgpackr, side by side in one process: stratadb encodes and validates in one pass (it
// must reject undefined, NaN, Date, cycles... naming the path) and decodes keeping `__proto__` keys; msgpackr does
// neither, so it is measured alone and with the separate validation walk it would need to be used here.
//
//   npx tsx bench/codec.ts
import { createRequire } from 'node:module'
import { Encoder, decode } from '../ts/codec.js'

// The package's own msgpackr (a devDependency, the version users compare with), resolved from the repository root:
// a plain import from bench/ would find bench/node_modules first, where lmdb-js brings an older major.
const { Packr, Unpackr } = createRequire(new URL('../package.json', import.meta.url))('msgpackr') as typeof import('msgpackr')

const values: Record<string, unknown> = {
  'small object': { id: 42, name: 'agent-7', active: true, score: 0.93, tags: ['a', 'b'], parent: null },
  'short string': 'task:claimed',
  integer: 123456,
  'array of 50 objects': Array.from({ length: 50 }, (_, i) => ({ i, name: `item ${i}`, ok: i % 2 === 0 })),
}

/** The checks the stratadb codec does while encoding, as a separate walk. */
function validate(v: unknown, seen = new Set<object>()): void {
  if (v === null || typeof v === 'boolean' || typeof v === 'string' || typeof v === 'bigint') return
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new Error('not finite')
    return
  }
  if (v instanceof Uint8Array) return
  if (typeof v !== 'object') throw new Error('not a value')
  if (seen.has(v)) throw new Error('cycle')
  seen.add(v)
  if (Array.isArray(v)) v.forEach((x) => validate(x, seen))
  else {
    const proto = Object.getPrototypeOf(v)
    if (proto !== Object.prototype && proto !== null) throw new Error('not a plain object')
    for (const k of Object.keys(v)) validate((v as Record<string, unknown>)[k], seen)
  }
  seen.delete(v)
}

function time(f: () => void): number {
  const samples: number[] = []
  for (let s = 0; s < 7; s++) {
    const n = 20_000
    const t0 = performance.now()
    for (let i = 0; i < n; i++) f()
    samples.push(((performance.now() - t0) * 1e6) / n)
  }
  return samples.sort((a, b) => a - b)[3]!
}

const ours = new Encoder()
const packr = new Packr({ useRecords: false })
const unpackr = new Unpackr({ useRecords: false, int64AsType: 'bigint' })
console.log('median ns per operation (7 samples of 20k); ratio = msgpackr / stratadb (above 1: stratadb faster)\n')
console.log('| value | encode stratadb | msgpackr | msgpackr + validation | decode stratadb | msgpackr |')
console.log('|---|---:|---:|---:|---:|---:|')
for (const [name, v] of Object.entries(values)) {
  const bytes = ours.encode(v).slice()
  const enc = time(() => ours.encode(v))
  const encM = time(() => packr.pack(v))
  const encMV = time(() => (validate(v), packr.pack(v)))
  const dec = time(() => decode(bytes, 0, bytes.length))
  const decM = time(() => unpackr.unpack(bytes))
  const r = (a: number, b: number) => `${b.toFixed(0)} (${(b / a).toFixed(2)}x)`
  console.log(`| ${name} | ${enc.toFixed(0)} | ${r(enc, encM)} | ${r(enc, encMV)} | ${dec.toFixed(0)} | ${r(dec, decM)} |`)
}
