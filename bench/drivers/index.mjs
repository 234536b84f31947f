/**
 * The drivers a workload runs against, as in better-sqlite3's benchmark: a name, the family whose code the
 * workloads implement, and how the child process that runs the trial is set up. A family module (`./<family>.mjs`)
 * opens the store the way its docs recommend for speed and bulk-loads data for the workloads' setup.
 */
export const drivers = {
  // The addon, forced so that a missing binary fails loudly instead of falling back to WebAssembly.
  'stratadb-native': { family: 'stratadb', env: { STRATADB_BACKEND: 'native' } },
  // The same engine compiled to WebAssembly, on the same Node.
  'stratadb-wasm': { family: 'stratadb', env: { STRATADB_BACKEND: 'wasm' } },
  lmdb: { family: 'lmdb' },
  'sqlite-memory': { family: 'sqlite', mode: 'memory' },
  'sqlite-wal': { family: 'sqlite', mode: 'wal' },
  'classic-level': { family: 'level' },
}

/** What every ratio is taken against. */
export const BASELINE = 'stratadb-native'

/** The npm package each peer family needs (bench/package.json), so a failed install reports it as unavailable. */
export const PEER_PACKAGES = { lmdb: 'lmdb', sqlite: 'better-sqlite3', level: 'classic-level' }

export async function family(name) {
  return import(`./${name}.mjs`)
}
