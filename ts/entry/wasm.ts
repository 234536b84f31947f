/**
 * WebAssembly on a runtime with a file system: `import 'stratadb/wasm'` on Node (forcing WebAssembly whatever
 * `STRATADB_BACKEND` says), and Deno's entry for `'stratadb'` itself.
 *
 * Deno matches the `node` export condition too; package.json lists `deno` first and sends it here rather than to
 * `entry/node.ts`, which would try the N-API addon (Deno needs `--allow-ffi` for that) and read `process.env`.
 */
import { loadWasmFromFs } from '../loader/wasm-fs.js'
import { useBackend } from '../strata.js'

useBackend(loadWasmFromFs())

export * from '../index.js'
