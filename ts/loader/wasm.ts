/**
 * The WebAssembly backend, once its module is instantiated. Shared by every runtime entry: how the module bytes
 * are found and instantiated differs per runtime (sync from the file system on Node and Deno, `fetch` in browsers),
 * nothing after that does. No Node built-ins here, so the browser entry stays clean.
 */
import { type Backend, type Binding, NO_BYTES, NO_VIEW, type ReadBuffer } from '../backend.js'
import { StrataError } from '../errors.js'
import type { HostFs } from './host-fs.js'

/** What `wasm-bindgen --target web` generates for crates/strata-wasm, as the backend uses it. */
export interface WasmModule {
  Database: {
    memory(name?: string): Binding
    open(host: HostFs, durability: string, readOnly: boolean, maxVersions?: number, maxAgeMs?: number): Binding
  }
  errorCodes(): string[]
}

/** A database handle of the module owns a read buffer in linear memory, which its transactions read into too. */
type WasmBinding = Binding & { setReadBuffer(capacity: number): number }

const INITIAL_READ_BUFFER = 4096

/**
 * Reads land in a buffer inside linear memory that the binding owns; JavaScript decodes them in place. The buffer
 * is allocated at the first read.
 */
function linearReadBuffer(binding: WasmBinding, memory: WebAssembly.Memory): ReadBuffer {
  let capacity = 0
  let ptr = 0
  const rb: ReadBuffer = {
    bytes: NO_BYTES,
    view: NO_VIEW,
    base: 0,
    landed(length) {
      const fits = length <= capacity
      if (!fits) {
        capacity = Math.max(length, capacity * 2, INITIAL_READ_BUFFER)
        ptr = binding.setReadBuffer(capacity)
      }
      // Memory growth (any allocation of the engine's) detaches the old views: their length drops to 0 although the
      // buffer is large enough. A new buffer also moves `ptr` relative to them.
      if (rb.view.buffer !== memory.buffer || rb.bytes.byteOffset !== ptr || rb.bytes.length !== capacity) {
        rb.bytes = new Uint8Array(memory.buffer, ptr, capacity)
        rb.view = new DataView(memory.buffer, ptr, capacity)
      }
      return fits
    },
  }
  return rb
}

/** `standard` durability promises an fsync within 100 ms; without threads, a timer does it while the handle lives. */
function syncInBackground(db: Binding): void {
  const handle = new WeakRef(db)
  const timer = setInterval(() => {
    try {
      const live = handle.deref()
      if (live === undefined) clearInterval(timer)
      else live.flush()
    } catch {
      clearInterval(timer) // closed: the engine synced at its close
    }
  }, 100)
  ;(timer as { unref?: () => void }).unref?.()
}

/** Databases opened with `'none'` durability, for `flushAtExit`. */
const unwritten = new Set<WeakRef<Binding>>()
let listening = false

/**
 * At a normal exit, writes what a `'none'` database still holds, as the native addon does when Node tears its
 * handles down: a process that exits without `close()` keeps its writes on both backends (a killed one loses what
 * it had not flushed, on both). One listener serves every database; closed ones throw `CLOSED` and are skipped.
 */
function flushAtExit(db: Binding): void {
  const exits = (globalThis as { process?: { once?: (event: 'exit', f: () => void) => void } }).process
  if (typeof exits?.once !== 'function') return
  if (!listening) {
    listening = true
    exits.once('exit', () => {
      for (const ref of unwritten) {
        try {
          ref.deref()?.flush()
        } catch {
          // Closed: it wrote everything at its close.
        }
      }
    })
  }
  for (const ref of unwritten) if (ref.deref() === undefined) unwritten.delete(ref)
  unwritten.add(new WeakRef(db))
}

/**
 * @param hostFs file access for `Strata.open`, where the runtime has a file system (Node, Deno); `undefined` in
 *   browsers, where opening a directory is `UNSUPPORTED`.
 */
export function wasmBackend(mod: WasmModule, memory: WebAssembly.Memory, hostFs?: (dir: string, create: boolean) => HostFs): Backend {
  return {
    name: 'wasm',
    memory: (name) => mod.Database.memory(name),
    open: (path, o) => {
      if (hostFs === undefined) {
        throw new StrataError('UNSUPPORTED', 'Strata.open needs a file system, which this runtime does not have; use Strata.cache()')
      }
      const db = mod.Database.open(hostFs(path, o.create), o.durability, o.readOnly, o.maxVersions, o.maxAgeMs)
      if (o.durability === 'standard' && !o.readOnly) syncInBackground(db)
      if (o.durability === 'none' && !o.readOnly) flushAtExit(db)
      return db
    },
    readBuffer: (binding) => linearReadBuffer(binding as WasmBinding, memory),
    errorCodes: () => mod.errorCodes(),
  }
}
