/**
 * `import 'stratadb/native'`: the N-API addon or nothing. Where no addon fits this platform, importing it throws a
 * `StrataError` (`UNSUPPORTED`) naming the platform, instead of falling back to WebAssembly as `'stratadb'` does.
 * `STRATADB_BACKEND` is not read here: the import path already says which backend.
 */
import { loadNativeOrExplain } from '../loader/native.js'
import { useBackend } from '../strata.js'

useBackend(loadNativeOrExplain("import 'stratadb' to fall back to WebAssembly"))

export * from '../index.js'
