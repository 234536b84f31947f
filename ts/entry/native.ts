/**
 * `import 'stratadb/native'`: the N-API addon or nothing. Importing it where no addon fits this platform throws a
 * `StrataError` (`UNSUPPORTED`) naming the platform, instead of falling back to WebAssembly as `'stratadb'` does.
 * `STRATADB_BACKEND` is not read here: the import path already says which backend.
 */
import { StrataError } from '../errors.js'
import { loadNative } from '../loader/native.js'
import { useBackend } from '../strata.js'
import type { Backend } from '../backend.js'

function load(): Backend {
  try {
    return loadNative()
  } catch (err) {
    const platform = `${process.platform}-${process.arch}`
    const reason = err instanceof Error ? err.message.split('\n')[0] : String(err)
    throw new StrataError(
      'UNSUPPORTED',
      `stratadb/native: no native stratadb addon fits ${platform} (${reason}); install the stratadb package for ${platform} or import 'stratadb' to fall back to WebAssembly`,
    )
  }
}

useBackend(load())

export * from '../index.js'
