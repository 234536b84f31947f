/**
 * The N-API backend: the prebuilt addon for this platform, through the loader `napi build` generates (it picks
 * the `stratadb-<platform>` package, or the `.node` file built in a source checkout).
 */
import { createRequire } from 'node:module'

import type { Backend, Binding, ReadBuffer, TxBinding } from '../backend.js'

/** Databases and transactions of the addon both take a read buffer. */
type NativeBinding = (Binding | TxBinding) & { setReadBuffer(buffer: Uint8Array): void }

interface Addon {
  Database: {
    memory(name?: string | null): Binding
    open(
      path: string,
      durability: string,
      readOnly: boolean,
      create: boolean,
      maxVersions?: number,
      maxAgeMs?: number,
    ): Binding
  }
  errorCodes(): string[]
}

const INITIAL_READ_BUFFER = 4096

/** Reads land in a JavaScript-owned buffer the addon keeps a reference to; it is replaced when a value outgrows it. */
function ownedReadBuffer(binding: NativeBinding): ReadBuffer {
  const rb: ReadBuffer = {
    bytes: new Uint8Array(INITIAL_READ_BUFFER),
    view: undefined as unknown as DataView,
    base: 0,
    grow(length) {
      rb.bytes = new Uint8Array(Math.max(length, rb.bytes.length * 2))
      rb.view = new DataView(rb.bytes.buffer)
      binding.setReadBuffer(rb.bytes)
    },
    refresh() {},
  }
  rb.view = new DataView(rb.bytes.buffer)
  binding.setReadBuffer(rb.bytes)
  return rb
}

/** Loads the addon; throws whatever the napi loader threw when no binary fits this platform. */
export function loadNative(): Backend {
  // The path is relative to the built entry in dist/; the generated loader sits in native/ at the package root.
  const require = createRequire(import.meta.url)
  const addon = require('../native/index.cjs') as Addon
  return {
    name: 'native',
    memory: (name) => addon.Database.memory(name ?? null),
    open: (path, o) => addon.Database.open(path, o.durability, o.readOnly, o.create, o.maxVersions, o.maxAgeMs),
    readBuffer: (binding) => ownedReadBuffer(binding as NativeBinding),
    errorCodes: () => addon.errorCodes(),
  }
}
