// Typechecked by `scripts/ci/lint.sh`, with the project and alone under node16 resolution; never run. A CommonJS
// consumer (`.cts`) of the package gets its declarations through the `require` condition (dist/index.d.cts): under
// node16 resolution the ESM `.d.ts` alone is refused to a `require`.
import stratadb = require('stratadb')

const db: stratadb.Strata = stratadb.Strata.cache()
const version: number = db.kv.put('k', { n: 1 })
const read: stratadb.Value | null = db.kv.get('k', { asOf: version })
const kind: stratadb.ValueKind = stratadb.Value.kind(read)
const err: stratadb.StrataError = new stratadb.StrataError('INVALID_KEY', 'example')
module.exports = [kind, err.code]
