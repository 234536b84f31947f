/**
 * The Node entry: the native addon when one fits this platform, else WebAssembly, instantiated synchronously so
 * that `require('stratadb')` and a synchronous `Strata.cache()` work. `STRATADB_BACKEND=native|wasm` forces one.
 */
import { StrataError } from '../errors.js'
import { loadNative, loadNativeOrExplain } from '../loader/native.js'
import { loadWasmFromFs } from '../loader/wasm-fs.js'
import { useBackend } from '../strata.js'
import type { Backend } from '../backend.js'

function choose(): Backend {
  const forced = process.env.STRATADB_BACKEND
  if (forced === 'wasm') return loadWasmFromFs()
  if (forced === 'native') return loadNativeOrExplain('unset STRATADB_BACKEND to use WebAssembly')
  if (forced !== undefined && forced !== '') {
    throw new StrataError('UNSUPPORTED', `STRATADB_BACKEND=${forced} is not a backend; use 'native' or 'wasm'`)
  }
  try {
    return loadNative()
  } catch {
    return loadWasmFromFs()
  }
}

useBackend(choose())

export * from '../index.js'
