/**
 * The N-API backend: the prebuilt addon for this platform, through the loader `napi build` generates (it picks
 * the `stratadb-<platform>` package, or the `.node` file built in a source checkout).
 */
import { createRequire } from 'node:module'

import { type Backend, type Binding, NO_BYTES, NO_VIEW, type ReadBuffer } from '../backend.js'
import { StrataError } from '../errors.js'
import { CallFrame } from './frame.js'
import { type Addon, NativeDatabase } from './native-binding.js'

/** A database handle of the addon keeps the read buffer it is given; its transactions read into it too. */
type NativeBinding = Binding & { setReadBuffer(buffer: Uint8Array): void }

const INITIAL_READ_BUFFER = 4096

/**
 * Reads land in a JavaScript-owned buffer the addon keeps a reference to; it is replaced when a value outgrows it.
 * It is made at the first read, as WebAssembly's is, and the first read costs one more call, which finds the
 * buffer missing and asks for it.
 */
function ownedReadBuffer(binding: NativeBinding): ReadBuffer {
  const rb: ReadBuffer = {
    bytes: NO_BYTES,
    view: NO_VIEW,
    base: 0,
    landed(length) {
      if (length <= rb.bytes.length) return true
      rb.bytes = new Uint8Array(Math.max(length, rb.bytes.length * 2, INITIAL_READ_BUFFER))
      rb.view = new DataView(rb.bytes.buffer)
      binding.setReadBuffer(rb.bytes)
      return false
    },
  }
  return rb
}

/**
 * The addon, or a `StrataError` (`UNSUPPORTED`) naming the platform and what to do, `hint` saying how to get
 * WebAssembly instead.
 */
export function loadNativeOrExplain(hint: string): Backend {
  try {
    return loadNative()
  } catch (err) {
    const platform = `${process.platform}-${process.arch}`
    const reason = err instanceof Error ? err.message.split('\n')[0] : String(err)
    throw new StrataError(
      'UNSUPPORTED',
      `no native stratadb addon fits ${platform} (${reason}); install the stratadb package for ${platform}, or ${hint}`,
    )
  }
}

/** Loads the addon; throws whatever the napi loader threw when no binary fits this platform. */
export function loadNative(): Backend {
  // A platform package of another version than this one counts as absent: the napi loader then throws, and the
  // caller falls back to WebAssembly rather than run a binary built for other code. The loader reads this switch
  // from the environment; it is set only while the loader runs.
  const require = createRequire(import.meta.url)
  const previous = process.env.NAPI_RS_ENFORCE_VERSION_CHECK
  process.env.NAPI_RS_ENFORCE_VERSION_CHECK = '1'
  let addon: Addon
  try {
    // The path is relative to the built entry in dist/; the generated loader sits in native/ at the package root.
    addon = require('../native/index.cjs') as Addon
  } finally {
    if (previous === undefined) delete process.env.NAPI_RS_ENFORCE_VERSION_CHECK
    else process.env.NAPI_RS_ENFORCE_VERSION_CHECK = previous
  }
  // This thread's call frame, shared with any other copy of this package loaded in the thread.
  const frame = new CallFrame(addon)
  return {
    name: 'native',
    memory: (name) => new NativeDatabase(addon, frame, (owner) => addon.dbMemory(owner, name ?? null)),
    open: (path, o) =>
      new NativeDatabase(addon, frame, (owner) =>
        addon.dbOpen(owner, path, o.durability, o.readOnly, o.create, o.maxVersions, o.maxAgeMs),
      ),
    readBuffer: (binding) => ownedReadBuffer(binding as NativeBinding),
    errorCodes: () => addon.errorCodes(),
  }
}
