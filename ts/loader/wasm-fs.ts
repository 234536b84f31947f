/**
 * The WebAssembly backend on runtimes with a file system (Node, Deno): the `.wasm` read synchronously with
 * `node:fs` and instantiated with `initSync`, so the API stays synchronous and CommonJS works; `Strata.open` reaches
 * files through the `node:fs` host.
 */
import { readFileSync } from 'node:fs'

import type { Backend } from '../backend.js'
import { nodeHostFs } from './host-fs.js'
import { wasmBackend } from './wasm.js'
import * as wasm from '../../wasm/strata_wasm.js'

export function loadWasmFromFs(): Backend {
  // Relative to the built entry in dist/: the module sits in wasm/ at the package root.
  const bytes = readFileSync(new URL('../wasm/strata_wasm_bg.wasm', import.meta.url))
  const { memory } = wasm.initSync({ module: bytes })
  return wasmBackend(wasm, memory, nodeHostFs)
}
