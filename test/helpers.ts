/**
 * Shared helpers of the conformance suite. Every test file imports the public API from 'stratadb' (the built
 * package) and runs once per backend; `BACKEND` says which one this run uses.
 */
import { afterAll, expect } from 'vitest'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { fileURLToPath } from 'node:url'
import * as v8 from 'node:v8'
import * as vm from 'node:vm'
import { Worker } from 'node:worker_threads'
import { StrataError } from 'stratadb'

export const BACKEND = process.env.STRATADB_BACKEND as 'native' | 'wasm'

/**
 * Expects `fn` to throw a `StrataError` (which is an `Error`) with exactly `code`, whose message contains each
 * of `parts` (strings, or regular expressions it must match). Returns the error for further checks.
 */
/** Runs every named call and fails listing each that did not throw a `StrataError` with `code`. */
export function expectEachCode(calls: [string, () => unknown][], code: string): void {
  const wrong = calls.flatMap(([what, fn]) => {
    try {
      return [`${what}: returned ${JSON.stringify(fn())}`]
    } catch (e) {
      const got = e instanceof StrataError ? e.code : String(e)
      return got === code ? [] : [`${what}: ${got}`]
    }
  })
  expect(wrong).toEqual([])
}

export function expectCode(fn: () => unknown, code: string, ...parts: (string | RegExp)[]): StrataError {
  let thrown = false
  let err: unknown
  try {
    fn()
  } catch (e) {
    thrown = true
    err = e
  }
  expect(thrown, `expected a StrataError ${code}, but nothing was thrown`).toBe(true)
  expect(err).toBeInstanceOf(Error)
  expect(err, `expected a StrataError ${code}, got ${String(err)}`).toBeInstanceOf(StrataError)
  const e = err as StrataError
  expect(e.code, `wrong code; message: ${e.message}`).toBe(code)
  expect(typeof e.message).toBe('string')
  expect(e.message.length).toBeGreaterThan(0)
  for (const p of parts) {
    if (typeof p === 'string') expect(e.message).toContain(p)
    else expect(e.message).toMatch(p)
  }
  return e
}

/** The code `fn` throws, or 'none'. */
export function codeOf(fn: () => unknown): string {
  try {
    fn()
    return 'none'
  } catch (e) {
    return String((e as { code?: unknown }).code)
  }
}

let counter = 0
const run = Math.random().toString(36).slice(2, 8)

/** A name no other test uses (valid as a branch, space or cache name). */
export function uniq(prefix = 'b'): string {
  counter += 1
  return `${prefix}-${run}-${counter}`
}

/** Yields to the event loop, so async agents interleave between a read and the write that depends on it. */
export const tick = (): Promise<void> => new Promise((r) => setImmediate(r))

v8.setFlagsFromString('--expose-gc')
const gc = vm.runInNewContext('gc') as () => void

/**
 * Collects garbage and lets finalizers run (Node runs N-API finalizers from the event loop), so that handles a test
 * dropped are freed and their slots can be reused.
 */
export async function collect(): Promise<void> {
  for (let i = 0; i < 3; i++) {
    gc()
    await tick()
  }
}

/** Compares strings by the bytes of their UTF-8 encoding (the order `list` returns keys in). */
export function utf8Compare(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'))
}

/** Current time in microseconds since the epoch. */
export const nowMicros = (): number => Date.now() * 1000

/** Sorts diff entries by space then key so sections compare independently of the engine's order. */
export function byKey<T extends { key: string; space?: string }>(xs: T[]): T[] {
  return [...xs].sort((x, y) => utf8Compare(`${x.space ?? ''}\u0001${x.key}`, `${y.space ?? ''}\u0001${y.key}`))
}

const roots: string[] = []
afterAll(() => {
  for (const r of roots) fs.rmSync(r, { recursive: true, force: true })
})

/** A path for a database directory that does not exist yet, inside a fresh temp directory removed after the file. */
export function tempDir(): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'stratadb-test-'))
  roots.push(root)
  return path.join(root, 'db')
}

/** A small seeded generator (xorshift32), so data and failures repeat. */
export function random(seed: number): () => number {
  let s = seed >>> 0 || 1
  return () => {
    s ^= s << 13
    s ^= s >>> 17
    s ^= s << 5
    return (s >>> 0) / 2 ** 32
  }
}

const DIST_CJS = fileURLToPath(new URL('../dist/index.cjs', import.meta.url))

/** Makes the workers of one test start their work together, so that they really contend. */
export function gate(workers: number): { gate: SharedArrayBuffer; workers: number } {
  return { gate: new SharedArrayBuffer(4), workers }
}

/**
 * Runs `body` (CommonJS source with `db` = `Strata.cache({ name: workerData.name })`, `Strata`, `Value`,
 * `workerData` and `now()` in scope) in a worker thread; resolves what it returns (or resolves to). With a `gate`
 * in `workerData`, the body starts only when every worker of the gate is ready. Fails after `timeoutMs`.
 */
export function inWorker<T>(body: string, workerData: Record<string, unknown>, timeoutMs = 60_000): Promise<T> {
  const code = `
    const { parentPort, workerData } = require('node:worker_threads')
    const { Strata, Value } = require(workerData.dist)
    const now = () => performance.timeOrigin + performance.now()
    const db = Strata.cache({ name: workerData.name })
    if (workerData.gate) {
      const g = new Int32Array(workerData.gate)
      Atomics.add(g, 0, 1)
      while (Atomics.load(g, 0) < workerData.workers) {}
    }
    Promise.resolve((() => { ${body} })()).then((r) => parentPort.postMessage(r))
  `
  return new Promise((resolve, reject) => {
    const w = new Worker(code, { eval: true, workerData: { ...workerData, dist: DIST_CJS } })
    const timer = setTimeout(() => {
      void w.terminate()
      reject(new Error(`worker did not finish within ${timeoutMs} ms`))
    }, timeoutMs)
    w.once('message', (m: T) => {
      clearTimeout(timer)
      resolve(m)
    })
    w.once('error', (e) => {
      clearTimeout(timer)
      reject(e)
    })
  })
}
