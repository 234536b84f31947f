/**
 * The WebAssembly backend, once its module is instantiated. Shared by every runtime entry: how the module bytes
 * are found and instantiated differs per runtime (sync from the file system on Node and Deno, `fetch` in browsers),
 * nothing after that does. No Node built-ins here, so the browser entry stays clean.
 */
import type { Backend, Binding, ReadBuffer, TxBinding } from '../backend.js'

/** What `wasm-bindgen --target web` generates for crates/strata-wasm, as the backend uses it. */
export interface WasmModule {
  Database: { memory(name?: string): Binding }
  errorCodes(): string[]
}

/** Databases and transactions of the module both own a read buffer in linear memory. */
type WasmBinding = (Binding | TxBinding) & { setReadBuffer(capacity: number): number }

const INITIAL_READ_BUFFER = 4096

/** Reads land in a buffer inside linear memory that the binding owns; JavaScript decodes them in place. */
function linearReadBuffer(binding: WasmBinding, memory: WebAssembly.Memory): ReadBuffer {
  let capacity = INITIAL_READ_BUFFER
  let ptr = binding.setReadBuffer(capacity)
  const rb: ReadBuffer = {
    bytes: new Uint8Array(memory.buffer, ptr, capacity),
    view: new DataView(memory.buffer),
    base: 0,
    grow(length) {
      capacity = Math.max(length, capacity * 2)
      ptr = binding.setReadBuffer(capacity)
      rb.refresh()
    },
    refresh() {
      // Memory growth detaches the old views (their length drops to 0); a new buffer also moves `ptr` relative to it.
      if (rb.view.buffer !== memory.buffer || rb.bytes.byteOffset !== ptr || rb.bytes.length !== capacity) {
        rb.bytes = new Uint8Array(memory.buffer, ptr, capacity)
        rb.view = new DataView(memory.buffer, ptr, capacity)
      }
    },
  }
  rb.view = new DataView(memory.buffer, ptr, capacity)
  return rb
}

export function wasmBackend(mod: WasmModule, memory: WebAssembly.Memory): Backend {
  return {
    name: 'wasm',
    memory: (name) => mod.Database.memory(name),
    readBuffer: (binding) => linearReadBuffer(binding as WasmBinding, memory),
    errorCodes: () => mod.errorCodes(),
  }
}
