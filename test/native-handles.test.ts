/**
 * The native addon's handle ids, called directly as a caller of the raw addon could: an id is a number, so these
 * tests hand it numbers that name nothing, or no longer, or name something on another thread. Each must answer
 * `CLOSED` and never act on another handle. (WebAssembly handles are objects, and JavaScript cannot forge those.)
 */
import { describe, expect, it } from 'vitest'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'
import { Worker } from 'node:worker_threads'
import { BACKEND, codeOf, collect } from './helpers.js'

/** The calls these tests use (typed in full in ts/loader/native-binding.ts). */
interface Addon {
  dbMemory(owner: object, name: string | null): number
  dbBegin(db: number, owner: object, branch: number, readOnly: boolean): number
  dbPut(db: number, ns: number, branch: number, space: number, key: string, value: Uint8Array): number
  dbBranchExists(db: number, name: string): boolean
  txCommit(tx: number): void
}

const ADDON = fileURLToPath(new URL('../native/index.cjs', import.meta.url))
const VALUE = new Uint8Array([0x01]) // MessagePack for 1

/** The slot an id names: ids are table number, then a 24-bit slot index, then a 16-bit generation (handles.rs). */
const slot = (id: number): number => Math.floor(id / 2 ** 16) % 2 ** 24

/** Runs CommonJS `body` (with `addon` and `workerData` in scope) in a worker; resolves what it posts. */
function inWorker<T>(body: string, workerData: unknown): Promise<T> {
  const code = `
    const { parentPort, workerData } = require('node:worker_threads')
    const addon = require(${JSON.stringify(ADDON)})
    parentPort.postMessage((() => { ${body} })())
  `
  return new Promise((resolve, reject) => {
    const w = new Worker(code, { eval: true, workerData })
    w.once('message', resolve)
    w.once('error', reject)
  })
}

describe.runIf(BACKEND === 'native')('native handle ids', () => {
  const addon = (BACKEND === 'native' ? createRequire(import.meta.url)(ADDON) : undefined) as Addon

  it('an id whose owner was collected answers CLOSED, also once its slot holds a new handle', async () => {
    const name = `native-handles-${process.pid}`
    const stale: number[] = []
    // Owners that nothing keeps, on a named database: a stale id that reached the new handles would find data.
    ;(() => {
      for (let i = 0; i < 50; i++) {
        const id = addon.dbMemory({}, name)
        addon.dbPut(id, 0, 0, 0, `k${i}`, VALUE)
        stale.push(id)
      }
    })()
    for (let i = 0; i < 20 && stale.some((id) => codeOf(() => addon.dbBranchExists(id, 'default')) !== 'CLOSED'); i++) {
      await collect()
    }
    const owners: object[] = []
    const fresh = Array.from({ length: 50 }, () => {
      const owner = {}
      owners.push(owner)
      return addon.dbMemory(owner, name)
    })
    const reused = fresh.filter((id) => stale.some((s) => slot(s) === slot(id)))
    expect(reused.length).toBeGreaterThan(0)
    for (const id of stale) {
      expect(codeOf(() => addon.dbBranchExists(id, 'default'))).toBe('CLOSED')
      expect(codeOf(() => addon.dbPut(id, 0, 0, 0, 'stale', VALUE))).toBe('CLOSED')
    }
    for (const id of fresh) expect(addon.dbBranchExists(id, 'default')).toBe(true)
    // The writes through stale ids above all failed, so the key is new here.
    expect(addon.dbPut(fresh[0]!, 0, 0, 0, 'stale', VALUE)).toBe(1)
    expect(owners).toHaveLength(50)
  })

  it('numbers that are not ids, and ids of the other kind, answer CLOSED', () => {
    const owner = {}
    const txOwner = {}
    const db = addon.dbMemory(owner, null)
    const tx = addon.dbBegin(db, txOwner, 0, false)
    for (const junk of [0, 1, -1, 0.5, db + 0.5, db + 1, db + 2 ** 16, NaN, Infinity, 2 ** 53, Number.MAX_VALUE]) {
      expect(codeOf(() => addon.dbBranchExists(junk, 'default')), String(junk)).toBe('CLOSED')
    }
    expect(codeOf(() => addon.dbBranchExists(tx, 'default'))).toBe('CLOSED')
    expect(codeOf(() => addon.txCommit(db))).toBe('CLOSED')
    expect(addon.dbBranchExists(db, 'default')).toBe(true)
    expect(codeOf(() => addon.txCommit(tx))).toBe('none')
    expect([owner, txOwner]).toHaveLength(2)
  })

  it('an id from another thread answers CLOSED there, even where that thread has a handle in the same slot', async () => {
    const first = `const owner = {}; globalThis.owner = owner; return addon.dbMemory(owner, null)`
    const theirs = await inWorker<number>(first, undefined)
    const [mine, code, own] = await inWorker<[number, string, boolean]>(
      `${first.replace('return ', 'const mine = ')}
       let code = 'none'
       try { addon.dbBranchExists(workerData, 'default') } catch (e) { code = e.code }
       return [mine, code, addon.dbBranchExists(mine, 'default')]`,
      theirs,
    )
    expect(slot(mine)).toBe(slot(theirs))
    expect(mine % 2 ** 16).toBe(theirs % 2 ** 16)
    expect(mine).not.toBe(theirs)
    expect(code).toBe('CLOSED')
    expect(own).toBe(true)
  })
})
