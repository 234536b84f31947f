/**
 * The entry for browsers and Deno: WebAssembly only, instantiated with top-level await, the `.wasm` found next to
 * the package by URL. No Node built-ins are reachable from here.
 */
import { wasmBackend } from '../loader/wasm.js'
import { useBackend } from '../strata.js'
import init, * as wasm from '../../wasm/strata_wasm.js'

const { memory } = await init({ module_or_path: new URL('../wasm/strata_wasm_bg.wasm', import.meta.url) })
useBackend(wasmBackend(wasm, memory))

export * from '../index.js'
