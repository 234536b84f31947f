// Process crashes. A child process (fixtures/crash-writer.mjs) writes in a loop and prints a line after every
// acknowledged write; the test kills it with SIGKILL at a random moment, many rounds on the same directory, and after
// each kill reopens the directory here and checks that every acknowledged write is there (or a newer version of its
// key) and every transaction is whole. Then a systematic variant (fixtures/fault-writer.mjs, WASM, whose file access
// goes through node:fs): a kill at every file-system call of a fixed script, including in the middle of a log append
// and during the first open and checkpoints.
import { spawn } from 'node:child_process'
import * as fs from 'node:fs'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { Strata, type Value } from 'stratadb'
import { BACKEND, tempDir, random } from './helpers.js'

const DIST = fileURLToPath(new URL('../dist/index.js', import.meta.url))
const fixture = (name: string): string => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url))



interface Run {
  /** Complete stdout lines (a line cut by the kill is dropped: it was never fully acknowledged). */
  lines: string[]
  code: number | null
  signal: NodeJS.Signals | null
  stderr: string
}

/**
 * Runs a fixture; with `killAfter`, SIGKILLs it that many ms after the `ready` line (or after the spawn, with
 * `fromSpawn`).
 */
async function runChild(
  script: string,
  args: string[],
  backend: 'native' | 'wasm',
  killAfter?: { ms: number; fromSpawn: boolean },
): Promise<Run> {
  const proc = spawn(process.execPath, [fixture(script), DIST, ...args], {
    env: { ...process.env, STRATADB_BACKEND: backend },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  let stderr = ''
  let timer: NodeJS.Timeout | undefined
  const arm = () => {
    timer ??= setTimeout(() => proc.kill('SIGKILL'), killAfter!.ms)
  }
  proc.stdout.setEncoding('utf8').on('data', (d: string) => {
    out += d
    if (killAfter && !killAfter.fromSpawn && out.startsWith('ready ')) arm()
  })
  proc.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d))
  if (killAfter?.fromSpawn) arm()
  // A child that never gets ready (or never ends) must not hang the test.
  const guard = setTimeout(() => proc.kill('SIGKILL'), 30_000)
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((r) => proc.on('close', (c, s) => r([c, s])))
  clearTimeout(timer)
  clearTimeout(guard)
  const lines = out.split('\n')
  lines.pop() // the text after the last newline: empty, or a line the kill cut short
  return { lines, code, signal, stderr }
}

/** What the acknowledgements promise: for each key the newest acknowledged version and what it holds. */
class Acked {
  kv = new Map<string, { version: number; value: Value; deleted: boolean }>()
  state = new Map<string, { version: number; value: Value }>()
  txs = new Set<string>()
  forks = new Map<string, number | undefined>()
  seq = { version: 0, value: 0 }

  private setKv(key: string, version: number, value: Value, deleted: boolean): void {
    const old = this.kv.get(key)
    if (old === undefined || version >= old.version) this.kv.set(key, { version, value, deleted })
  }

  /** Takes in one acknowledgement line of crash-writer.mjs or fault-writer.mjs. */
  add(l: string): void {
    const [what, a, b, ...rest] = l.split(' ')
    const c = rest.join(' ')
    switch (what) {
      case 'ready':
        // The writer starts from the counter it finds: never behind what was acknowledged.
        expect(Number(a), 'a new writer found seq behind an acknowledged value').toBeGreaterThanOrEqual(this.seq.value)
        break
      case 'put':
        this.setKv(a!, Number(b), c.startsWith('"') ? (JSON.parse(c) as Value) : Number(c), false)
        break
      case 'del':
        this.setKv(a!, Number(b), null, true)
        break
      case 'cas':
        this.seq = { version: Number(b), value: Number(c) }
        break
      case 'state':
        this.state.set(a!, { version: Number(b), value: JSON.parse(c) as Value })
        break
      case 'tx':
        this.txs.add(a!)
        break
      case 'fork':
        this.forks.set(a!, b === undefined ? undefined : Number(b))
        break
      case 'checkpoint':
      case 'closed':
      case 'trace':
        break
      default:
        throw new Error(`unknown acknowledgement ${JSON.stringify(l)}`)
    }
  }

  /** Checks `db` against every acknowledgement; returns the problems found (empty: all good). */
  check(db: Strata): string[] {
    const problems: string[] = []
    const fail = (s: string) => problems.length < 20 && problems.push(s)
    for (const [key, want] of this.kv) {
      const got = db.kv.history(key, { limit: 1 })[0]
      if (got === undefined) fail(`${key}: acknowledged version ${want.version} is missing (no history at all)`)
      else if (got.version < want.version) fail(`${key}: newest version ${got.version} < acknowledged ${want.version}`)
      else if (got.version === want.version) {
        if (want.deleted && got.deleted !== true) fail(`${key}: acknowledged delete (v${want.version}) not there`)
        if (!want.deleted && JSON.stringify(got.value) !== JSON.stringify(want.value)) {
          fail(`${key}@${want.version}: ${JSON.stringify(got.value)} instead of ${JSON.stringify(want.value)}`)
        }
      }
    }
    for (const [cell, want] of this.state) {
      const got = db.state.getVersioned(cell)
      if (got === null || got.version < want.version) fail(`state ${cell}: acknowledged version ${want.version} missing`)
      else if (got.version === want.version && JSON.stringify(got.value) !== JSON.stringify(want.value)) fail(`state ${cell}: wrong value`)
    }
    const seq = db.state.getVersioned('seq')
    if (this.seq.version > 0) {
      if (seq === null || seq.version < this.seq.version) fail(`seq: version ${seq?.version} < acknowledged ${this.seq.version}`)
    }
    if (seq !== null) {
      if (seq.value !== seq.version - 1) fail(`seq: value ${String(seq.value)} at version ${seq.version}`)
      const versions = db.state.history('seq').map((h) => h.version)
      if (versions.length !== seq.version || versions.some((v, i) => v !== seq.version - i)) fail('seq: history has gaps')
    }
    // Transactions: acknowledged ones are there, and none is in part.
    const txKeys = new Map<string, Set<string>>()
    for (const k of db.kv.list({ prefix: 'tx:' })) {
      const [, id, part] = k.split(':')
      txKeys.set(id!, (txKeys.get(id!) ?? new Set()).add(part!))
    }
    for (const id of this.txs) if (!txKeys.has(id)) fail(`transaction ${id} was acknowledged but is missing`)
    for (const [id, parts] of txKeys) if (parts.size !== 2) fail(`transaction ${id} is in part: only ${[...parts].join()}`)
    const accounts = db.kv.list({ prefix: 'acct:' })
    if (accounts.length > 0) {
      const sum = accounts.reduce((s, k) => s + (db.kv.get(k) as number), 0)
      if (accounts.length !== 5 || sum !== 5000) fail(`accounts: ${accounts.length} of them, sum ${sum} (transfers not atomic)`)
    }
    const lasttx = db.state.get('lasttx')
    if (lasttx !== null && !txKeys.has(String(lasttx))) fail(`lasttx ${String(lasttx)} without its transaction`)
    for (const [name, n] of this.forks) {
      if (!db.branchExists(name)) {
        fail(`branch ${name} was acknowledged but is missing`)
        continue
      }
      const h = db.branch(name)
      try {
        if (n !== undefined && h.state.get('seq') !== n) fail(`branch ${name}: seq ${String(h.state.get('seq'))}, not ${n}`)
        if (n !== undefined && h.kv.get(`tx:${n}:b`) !== n) fail(`branch ${name}: its transaction ${n} is missing`)
      } finally {
        h.close()
      }
    }
    return problems
  }
}

const logFiles = (dir: string): string[] => fs.readdirSync(dir).filter((f) => /^log-\d{8}\.wal$/.test(f))

describe('SIGKILL at random moments', () => {
  const ROUNDS = 18
  for (const durability of ['standard', 'always'] as const) {
    it(`'${durability}': every acknowledged write survives, every transaction is whole (${ROUNDS} kills)`, async () => {
      const seed = Math.floor(Math.random() * 2 ** 31)
      const rnd = random(seed)
      const dir = tempDir()
      const acked = new Acked()
      let total = 0
      let sawRecovery = false
      for (let round = 0; round < ROUNDS; round++) {
        // Mostly mid-loop; every fourth round counts from the spawn, so some kills land in the open itself.
        const fromSpawn = round % 4 === 3
        const ms = Math.round(20 + rnd() * 180)
        const run = await runChild('crash-writer.mjs', [dir, durability], BACKEND, { ms, fromSpawn })
        const where = `seed ${seed}, round ${round}, kill after ${ms} ms${fromSpawn ? ' from spawn' : ''}`
        expect(run.signal, `${where}: the writer was not killed but ended on its own (${run.code}): ${run.stderr}`).toBe('SIGKILL')
        for (const l of run.lines) acked.add(l)
        total += run.lines.length
        if (run.lines.length > 0) sawRecovery = true
        const problems = (() => {
          const db = Strata.open(dir, { durability })
          try {
            return acked.check(db)
          } finally {
            db.close()
          }
        })()
        expect(problems, `${where} (${run.lines.length} acknowledgements this round)`).toEqual([])
      }
      // The test did test something: many acknowledged writes, transactions and at least one checkpoint or fork.
      expect(sawRecovery).toBe(true)
      expect(total).toBeGreaterThan(ROUNDS * 10)
      expect(acked.txs.size).toBeGreaterThan(ROUNDS)
      // Finally the directory is still a healthy database: it checkpoints and reopens the same. (Whether a kill
      // inside a checkpoint left a log file behind is checked deterministically by the fault-injection tests below.)
      const db = Strata.open(dir)
      try {
        db.checkpoint()
      } finally {
        db.close()
      }
      withReadOnly(dir, (r) => expect(acked.check(r)).toEqual([]))
    }, 90_000)
  }
})

function withReadOnly(dir: string, fn: (db: Strata) => void): void {
  const db = Strata.open(dir, { readOnly: true })
  try {
    fn(db)
  } finally {
    db.close()
  }
}

// The writer is always WASM (only its file access can be intercepted) and the directory is reopened by this
// process; run once, in the native project, so a WASM crash is recovered by the native engine (the random kills
// above already cover each backend recovering its own crashes). The two projects run side by side, so this keeps the
// file well within its time.
describe.runIf(BACKEND === 'native')('SIGKILL before every write, rename and removal, and mid log append (WASM writer, faults injected through node:fs)', () => {
  /** Runs fault-writer.mjs to the end without a kill; returns its trace of file-system calls. */
  async function trace(dir: string, tag: string): Promise<[string, string][]> {
    const run = await runChild('fault-writer.mjs', [dir, tag, '0', 'before'], 'wasm')
    const last = run.lines.at(-1) ?? ''
    if (!last.startsWith('trace ')) throw new Error(`fault-writer did not finish: ${run.lines.join('\n')}\n${run.stderr}`)
    return JSON.parse(last.slice('trace '.length)) as [string, string][]
  }

  for (const start of ['a new directory', 'an existing directory'] as const) {
    it(`starting from ${start}: after a kill at any of them, the directory opens with every acknowledged write`, async () => {
      const base = tempDir()
      if (start === 'an existing directory') await trace(base, 'base')
      const probe = `${tempDir()}`
      if (fs.existsSync(base)) fs.cpSync(base, probe, { recursive: true })
      const calls = await trace(probe, 'run')
      expect(calls.length).toBeGreaterThan(20)
      const points: { at: number; variant: 'before' | 'torn'; call: string }[] = []
      // For a killed process (unlike a power loss) an fsync changes nothing and an open only makes an empty file,
      // so the distinct crash points are just before each write, rename, removal and truncation, and in the
      // middle of each log append.
      calls.forEach(([name, file], i) => {
        if (!['writeSync', 'renameSync', 'rmSync', 'ftruncateSync'].includes(name)) return
        points.push({ at: i + 1, variant: 'before', call: `${name} ${file}` })
        if (name === 'writeSync' && file.endsWith('.wal')) points.push({ at: i + 1, variant: 'torn', call: `torn ${name} ${file}` })
      })
      const failures: string[] = []
      const leaks: string[] = []
      const one = async (p: (typeof points)[number]): Promise<void> => {
        const dir = tempDir()
        if (fs.existsSync(base)) fs.cpSync(base, dir, { recursive: true })
        const run = await runChild('fault-writer.mjs', [dir, 'run', String(p.at), p.variant], 'wasm')
        const where = `kill at call ${p.at} (${p.call})`
        if (run.signal !== 'SIGKILL') {
          failures.push(`${where}: the writer was not killed (${run.code}): ${run.stderr.slice(0, 300)}`)
          return
        }
        const acked = new Acked()
        if (start === 'an existing directory') {
          for (const l of ['put p:base:2 1 2', 'del p:base:1 2', 'tx base', 'fork f-base']) acked.add(l)
        }
        for (const l of run.lines) acked.add(l)
        let db: Strata
        try {
          db = Strata.open(dir)
        } catch (e) {
          failures.push(`${where}: reopening failed: ${(e as Error).message}`)
          return
        }
        try {
          const problems = acked.check(db)
          if (problems.length > 0) failures.push(`${where}: ${problems.join('; ')}`)
          db.checkpoint()
          const logs = logFiles(dir)
          if (logs.length !== 1) leaks.push(`${where}: after a checkpoint the directory still holds ${logs.sort().join(', ')}`)
        } catch (e) {
          failures.push(`${where}: ${(e as Error).message}`)
        } finally {
          db.close()
        }
      }
      // Two at a time.
      const queue = [...points]
      await Promise.all(
        [0, 1].map(async () => {
          for (let p = queue.shift(); p !== undefined; p = queue.shift()) await one(p)
        }),
      )
      expect(failures, `${failures.length} of ${points.length} crash points lose data or leave a directory that does not open`).toEqual([])
      expect(leaks, 'a crash during a checkpoint leaves a log file behind that no later checkpoint removes').toEqual([])
    }, 90_000)
  }
})
