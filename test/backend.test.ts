import { describe, expect, it } from 'vitest'
import { ERROR_CODES, Strata, StrataError } from 'stratadb'
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'

const expected = process.env.STRATADB_BACKEND

describe('backend loading', () => {
  it('loads the backend the suite asked for', () => {
    expect(Strata.backend).toBe(expected)
    const db = Strata.cache()
    expect(db.backend).toBe(expected)
    db.close()
  })

  it('works through the CommonJS entry too', () => {
    const require = createRequire(import.meta.url)
    const cjs = require('../dist/index.cjs') as typeof import('stratadb')
    expect(cjs.Strata.backend).toBe(expected)
    const db = cjs.Strata.cache()
    expect(db.kv.put('k', 1)).toBe(1)
    expect(db.kv.get('k')).toBe(1)
  })

  it('an error from either entry is an instance of both entries\' StrataError (an app may load both copies)', () => {
    const require = createRequire(import.meta.url)
    const cjs = require('../dist/index.cjs') as typeof import('stratadb')
    const fromCjs = (() => { try { cjs.Strata.cache().kv.get('') } catch (e) { return e } })()
    const fromEsm = (() => { try { Strata.cache().kv.get('') } catch (e) { return e } })()
    expect(cjs.StrataError).not.toBe(StrataError)
    for (const e of [fromCjs, fromEsm]) {
      expect(e).toBeInstanceOf(StrataError)
      expect(e).toBeInstanceOf(cjs.StrataError)
      expect(e).toBeInstanceOf(Error)
    }
    expect(new Error('x')).not.toBeInstanceOf(StrataError)
    expect({ code: 'IO' }).not.toBeInstanceOf(StrataError)
  })

  it('defines the same error codes as both engine builds', async () => {
    const native = createRequire(import.meta.url)('../native/index.cjs') as { errorCodes(): string[] }
    const wasm = await import('../wasm/strata_wasm.js')
    wasm.initSync({ module: readFileSync(new URL('../wasm/strata_wasm_bg.wasm', import.meta.url)) })
    expect([...ERROR_CODES]).toEqual(native.errorCodes())
    expect([...ERROR_CODES]).toEqual(wasm.errorCodes())
  })

  it('StrataError is an Error with a code', () => {
    const e = new StrataError('CONFLICT', 'x')
    expect(e).toBeInstanceOf(Error)
    expect(e.code).toBe('CONFLICT')
    expect(StrataError.from(new Error('boom')).code).toBe('IO')
  })
})
