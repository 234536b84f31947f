/**
 * The Node entry: the native addon when one fits this platform, else WebAssembly, instantiated synchronously so
 * that `require('stratadb')` and a synchronous `Strata.cache()` work. `STRATADB_BACKEND=native|wasm` forces one.
 */
import { readFileSync } from 'node:fs'

import { StrataError } from '../errors.js'
import { nodeHostFs } from '../loader/host-fs.js'
import { loadNative } from '../loader/native.js'
import { wasmBackend } from '../loader/wasm.js'
import { useBackend } from '../strata.js'
import type { Backend } from '../backend.js'
import * as wasm from '../../wasm/strata_wasm.js'

function loadWasm(): Backend {
  const bytes = readFileSync(new URL('../wasm/strata_wasm_bg.wasm', import.meta.url))
  const { memory } = wasm.initSync({ module: bytes })
  return wasmBackend(wasm, memory, nodeHostFs)
}

function choose(): Backend {
  const forced = process.env.STRATADB_BACKEND
  if (forced === 'wasm') return loadWasm()
  if (forced !== undefined && forced !== '' && forced !== 'native') {
    throw new StrataError('UNSUPPORTED', `STRATADB_BACKEND=${forced} is not a backend; use 'native' or 'wasm'`)
  }
  try {
    return loadNative()
  } catch (err) {
    if (forced === 'native') {
      const platform = `${process.platform}-${process.arch}`
      const reason = err instanceof Error ? err.message.split('\n')[0] : String(err)
      throw new StrataError(
        'UNSUPPORTED',
        `STRATADB_BACKEND=native, but no native stratadb addon fits ${platform} (${reason}); install the stratadb package for ${platform} or unset STRATADB_BACKEND to use WebAssembly`,
      )
    }
    return loadWasm()
  }
}

useBackend(choose())

export * from '../index.js'
