/**
 * WebAssembly on a runtime with a file system: `import 'stratadb/wasm'` on Node (forcing WebAssembly whatever
 * `STRATADB_BACKEND` says), and Deno's entry for `'stratadb'` itself. The `.wasm` is read synchronously with
 * `node:fs` (Deno implements it) and instantiated with `initSync`, so the API stays synchronous and CommonJS works;
 * `Strata.open` reaches the file system through the same `node:fs` host as on Node.
 *
 * Deno matches the `node` export condition too; package.json lists `deno` first and sends it here rather than to
 * `entry/node.ts`, which would try the N-API addon (Deno needs `--allow-ffi` for that) and read `process.env`.
 */
import { readFileSync } from 'node:fs'

import { nodeHostFs } from '../loader/host-fs.js'
import { wasmBackend } from '../loader/wasm.js'
import { useBackend } from '../strata.js'
import * as wasm from '../../wasm/strata_wasm.js'

const bytes = readFileSync(new URL('../wasm/strata_wasm_bg.wasm', import.meta.url))
const { memory } = wasm.initSync({ module: bytes })
useBackend(wasmBackend(wasm, memory, nodeHostFs))

export * from '../index.js'
