/**
 * stratadb through its public API, as built in dist/ (the child's STRATADB_BACKEND picks native or wasm). run.mjs
 * copies the build aside first and points STRATADB_BENCH_DIST at the copy, so that a rebuild during a run cannot
 * mix two builds in one result.
 */
import { pathToFileURL } from 'node:url'

const DIST = process.env.STRATADB_BENCH_DIST ? pathToFileURL(process.env.STRATADB_BENCH_DIST) : new URL('../../dist/index.js', import.meta.url)

/**
 * `shared`: the name of a process-wide database, so that worker threads reach the same engine
 * (`Strata.cache({ name })`); otherwise a private in-memory database.
 */
export async function open({ shared } = {}) {
  const lib = await import(DIST)
  const db = shared ? lib.Strata.cache({ name: shared }) : lib.Strata.cache()
  return { lib, db, backend: db.backend, features: features(lib, db) }
}

/** What this build implements, so that workloads of later features report "not implemented yet" and slot in. */
function features(lib, db) {
  return {
    open: typeof lib.Strata.open === 'function',
    transactions: typeof db.transaction === 'function',
    events: db.events !== undefined,
    json: db.json !== undefined,
    vector: db.vector !== undefined,
  }
}

export function fill(ctx, n, keyOf, valueOf) {
  const kv = ctx.db.kv
  for (let i = 0; i < n; i++) kv.put(keyOf(i), valueOf(i))
}

export async function close(ctx) {
  ctx.db.close()
}
