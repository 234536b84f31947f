// On-disk databases: reopening, durability modes, checkpoints, one engine per directory, the directory lock,
// read-only opens, damaged files, and directories written by one backend and read by the other. Every test uses a
// fresh directory under os.tmpdir(); other processes are fixture scripts in test/fixtures/ that load the built
// package by absolute path.
import { spawn, type ChildProcess } from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { Worker } from 'node:worker_threads'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { Strata, type OpenOptions, type Value } from 'stratadb'
import { BACKEND, expectCode, expectEachCode, tempDir } from './helpers.js'

const DIST = fileURLToPath(new URL('../dist/index.js', import.meta.url))
const fixture = (name: string): string => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url))
const OTHER = BACKEND === 'native' ? 'wasm' : 'native'
type Backend = 'native' | 'wasm'

/** What lib.mjs exports (loaded at run time, so the in-process side uses exactly the fixtures' code). */
interface DatasetLib {
  sampleObject(): Value
  writeDataset(db: Strata, options?: { checkpoint?: boolean }): void
  writeMore(db: Strata): void
  dump(db: Strata): unknown
}
let lib: DatasetLib
beforeAll(async () => {
  lib = (await import(pathToFileURL(fixture('lib.mjs')).href)) as DatasetLib
})

// ---- temp directories and child processes -----------------------------------------------------------------



const children = new Set<ChildProcess>()
afterEach(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL')
  children.clear()
})

interface Child {
  proc: ChildProcess
  /** The next stdout line (rejects when the process exits first, or after `ms`). */
  next(ms?: number): Promise<string>
  /** Sends one command to hold.mjs and returns its answer line. */
  send(cmd: Record<string, unknown>): Promise<string>
  /** SIGKILL, resolved once the process is gone. */
  kill(): Promise<void>
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>
}

function start(script: string, args: string[], backend: Backend): Child {
  const proc = spawn(process.execPath, [fixture(script), DIST, ...args], {
    env: { ...process.env, STRATADB_BACKEND: backend },
    stdio: ['pipe', 'pipe', 'pipe'],
  })
  children.add(proc)
  const lines: string[] = []
  let waiting: (() => void) | undefined
  let buf = ''
  let stderr = ''
  proc.stdout!.setEncoding('utf8').on('data', (d: string) => {
    buf += d
    for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
      lines.push(buf.slice(0, i))
      buf = buf.slice(i + 1)
    }
    waiting?.()
  })
  proc.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d))
  let done = false
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((resolve) =>
    proc.on('close', (code, signal) => {
      done = true
      waiting?.()
      resolve({ code, signal, stderr })
    }),
  )
  const next = (ms = 20_000): Promise<string> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${script}: no output within ${ms} ms; stderr: ${stderr}`)), ms)
      const check = () => {
        if (lines.length > 0) {
          clearTimeout(timer)
          waiting = undefined
          resolve(lines.shift()!)
        } else if (done) {
          clearTimeout(timer)
          waiting = undefined
          reject(new Error(`${script} exited (${proc.exitCode ?? proc.signalCode}) without output; stderr: ${stderr}`))
        }
      }
      waiting = check
      check()
    })
  return {
    proc,
    next,
    send: (cmd) => {
      proc.stdin!.write(`${JSON.stringify(cmd)}\n`)
      return next()
    },
    kill: async () => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL')
      await exited
    },
    exited,
  }
}

/** A process (hold.mjs) that has `dir` open until it is killed. */
async function hold(dir: string, backend: Backend, options?: OpenOptions): Promise<Child> {
  const c = start('hold.mjs', options ? [dir, JSON.stringify(options)] : [dir], backend)
  const first = await c.next()
  expect(first, `hold.mjs on ${backend} could not open ${dir}`).toMatch(/^ready /)
  expect(first.split(' ')[1]).toBe(backend)
  return c
}

/** Runs dataset.mjs to its end; returns its `dump` (or throws with what it printed). */
async function dataset(backend: Backend, mode: 'write' | 'more' | 'dump', dir: string, ...flags: string[]): Promise<unknown> {
  const c = start('dataset.mjs', [mode, dir, ...flags], backend)
  const out = await c.next(60_000)
  const { stderr } = await c.exited
  const m = /^dump (\w+) (.*)$/.exec(out)
  if (m === null) throw new Error(`dataset.mjs ${mode} on ${backend}: ${out}\n${stderr}`)
  expect(m[1]).toBe(backend)
  return JSON.parse(m[2]!)
}

/**
 * Runs `fn` on a handle of branch `name`, then closes that handle: a handle left open keeps the engine (and so the
 * directory's lock and its in-memory state) alive, and the next open would join it instead of reading the files.
 */
function onBranch<T>(db: Strata, name: string, fn: (h: Strata) => T): T {
  const h = db.branch(name)
  try {
    return fn(h)
  } finally {
    h.close()
  }
}

/** Opens `dir`, runs `fn`, closes, even when `fn` throws. */
function withDb<T>(dir: string, options: OpenOptions | undefined, fn: (db: Strata) => T): T {
  const db = Strata.open(dir, options)
  try {
    return fn(db)
  } finally {
    db.close()
  }
}

/**
 * Runs `check` on a read-only open of `dir` (which always reads the files: it has an engine of its own) and then
 * on a normal open, so a reopen that merely joined an engine still alive in this process cannot pass vacuously.
 */
function reopened<T>(dir: string, check: (db: Strata) => T): T {
  withDb(dir, { readOnly: true }, check)
  return withDb(dir, undefined, check)
}

const logFiles = (dir: string): string[] => fs.readdirSync(dir).filter((f) => /^log-\d{8}\.wal$/.test(f)).sort()
const generation = (file: string): number => Number(/^log-(\d{8})\.wal$/.exec(file)![1])
const mode = (p: string): string => (fs.statSync(p).mode & 0o777).toString(8)

// ---- reopening --------------------------------------------------------------------------------------------

describe('open, close, reopen', () => {
  it('keeps KV, state, branches (forks), spaces, deletes, merges, history and versions', () => {
    const dir = tempDir()
    const before = withDb(dir, undefined, (db) => {
      lib.writeDataset(db)
      return lib.dump(db)
    })
    reopened(dir, (db) => {
      expect(lib.dump(db)).toEqual(before)
      // Spot checks of what the dump holds, so a dump that lost something on both sides cannot pass silently.
      expect(db.kv.get('a')).toBe(4)
      expect(db.kv.history('a').map((h) => h.version)).toEqual([4, 3, 2, 1])
      expect(db.kv.history('a').map((h) => h.value)).toEqual([4, 'three', 2, 1])
      expect(db.kv.history('del')).toMatchObject([{ deleted: true, value: null, version: 2 }, { value: 'x', version: 1 }])
      expect(db.kv.get('obj')).toEqual(lib.sampleObject())
      expect((db.kv.get('big') as string).length).toBe(100_000)
      expect(db.state.getVersioned('counter')).toMatchObject({ value: 5, version: 6 })
      expect(db.state.get('leader')).toBe('agent-1')
      expect([db.kv.get('tx:a'), db.kv.get('tx:b'), db.state.get('tx:c')]).toEqual([1, 2, 3])
      const branches = Object.fromEntries(db.listBranches().map((b) => [b.name, b]))
      expect(Object.keys(branches).sort()).toEqual(['default', 'empty', 'exp', 'mt'])
      expect(branches.exp).toMatchObject({ parent: 'default' })
      expect(branches.empty).toMatchObject({ parent: null, forkedAt: null })
      expect(onBranch(db, 'exp', (h) => h.kv.get('a'))).toBe('exp-only')
      expect(onBranch(db, 'exp', (h) => h.kv.history('a')).map((h) => h.value)).toEqual(['exp-only', 'three', 2, 1])
      expect(onBranch(db, 'mt', (h) => h.kv.get('exp:new'))).toBe(1) // merged
      expect(onBranch(db, 'empty', (h) => h.kv.list())).toEqual([])
      expect(db.branchExists('gone')).toBe(false)
      db.setSpace('s1')
      expect(db.kv.get('x')).toBe('s1-x')
      expect(db.state.get('sx')).toBe(1)
      db.setSpace('trash')
      expect(db.kv.get('t')).toBeNull()
    })
  })

  it('continues versions and timestamps where they were, over many reopens', () => {
    const dir = tempDir()
    let last = 0
    for (let i = 1; i <= 6; i++) {
      withDb(dir, undefined, (db) => {
        expect(db.kv.put('n', i)).toBe(i)
        const v = db.kv.getVersioned('n')!
        expect(v.timestamp).toBeGreaterThan(last)
        last = v.timestamp
        expect(db.timeRange().latest).toBe(last)
        if (i % 2 === 0) db.checkpoint()
      })
    }
    withDb(dir, undefined, (db) => {
      expect(db.kv.history('n').map((h) => h.value)).toEqual([6, 5, 4, 3, 2, 1])
      const ts = db.kv.history('n').map((h) => h.timestamp)
      expect([...ts].sort((a, b) => b - a)).toEqual(ts)
      expect(new Set(ts).size).toBe(6)
      // Time travel into a version written by an earlier session.
      expect(db.kv.get('n', { asOf: ts[3]! })).toBe(3)
    })
  })

  it('a transaction that wrote a key several times reopens with every version, from the log and from a checkpoint', () => {
    const dir = tempDir()
    const before = withDb(dir, undefined, (db) => {
      db.kv.put('k', 0)
      expect(db.transaction((tx) => [tx.kv.put('k', 1), tx.kv.delete('k'), tx.kv.put('k', 2), tx.state.set('c', 1), tx.state.set('c', 2)])).toEqual([2, true, 4, 1, 2])
      return [db.kv.history('k'), db.state.history('c')]
    })
    expect(before[0]!.map((e) => [e.version, e.value, e.deleted ?? false])).toEqual([
      [4, 2, false],
      [3, null, true],
      [2, 1, false],
      [1, 0, false],
    ])
    reopened(dir, (db) => expect([db.kv.history('k'), db.state.history('c')]).toEqual(before))
    withDb(dir, undefined, (db) => {
      expect(db.kv.put('k', 3)).toBe(5)
      db.checkpoint()
    })
    reopened(dir, (db) => {
      expect(db.kv.history('k').slice(1)).toEqual(before[0])
      expect(db.state.history('c')).toEqual(before[1])
    })
  })

  it('create: false on a missing directory is IO naming the path, and creates nothing', () => {
    const dir = tempDir()
    expectCode(() => Strata.open(dir, { create: false }), 'IO', dir)
    expect(fs.existsSync(dir)).toBe(false)
    expect(fs.existsSync(path.dirname(dir))).toBe(true)
    // An existing directory opens with create: false.
    withDb(dir, undefined, (db) => db.kv.put('k', 1))
    expect(withDb(dir, { create: false }, (db) => db.kv.get('k'))).toBe(1)
  })

  it('a path that is a file is IO', () => {
    const dir = tempDir()
    fs.mkdirSync(path.dirname(dir), { recursive: true })
    fs.writeFileSync(dir, 'not a directory')
    expectCode(() => Strata.open(dir), 'IO', dir)
  })

  it('creates the directory with mode 0700 and its files with 0600', () => {
    const dir = tempDir()
    withDb(dir, undefined, (db) => {
      db.kv.put('k', 1)
      db.forkBranch('f')
      db.checkpoint()
      db.kv.put('k', 2)
      expect(mode(dir)).toBe('700')
      const files = fs.readdirSync(dir)
      expect(files).toContain('LOCK')
      expect(files).toContain('strata.snap')
      expect(logFiles(dir).length).toBe(1)
      for (const f of files) expect(`${f} ${mode(path.join(dir, f))}`).toBe(`${f} 600`)
    })
    for (const f of fs.readdirSync(dir)) expect(`${f} ${mode(path.join(dir, f))}`).toBe(`${f} 600`)
  })

  it('creates missing parent directories', () => {
    const dir = path.join(tempDir(), 'a', 'b')
    withDb(dir, undefined, (db) => db.kv.put('k', 1))
    expect(withDb(dir, undefined, (db) => db.kv.get('k'))).toBe(1)
    expect(mode(dir)).toBe('700')
  })

  it('releases the directory (removes LOCK) when the last handle closes', () => {
    const dir = tempDir()
    const db = Strata.open(dir)
    const other = db.branch('default')
    db.kv.put('k', 1)
    db.close()
    expect(fs.existsSync(path.join(dir, 'LOCK'))).toBe(true) // `other` still holds the engine
    expect(other.kv.get('k')).toBe(1)
    other.close()
    expect(fs.existsSync(path.join(dir, 'LOCK'))).toBe(false)
  })

  it('releases the directory at close also after transactions (committed, failed or rolled back)', async () => {
    for (const use of ['transaction', 'begin/commit', 'begin/rollback', 'conflict', 'readOnly tx'] as const) {
      const dir = tempDir()
      const db = Strata.open(dir)
      db.kv.put('k', 1)
      if (use === 'transaction') db.transaction((tx) => tx.kv.put('t', 1))
      if (use === 'begin/commit') {
        const tx = db.begin()
        tx.kv.put('t', 1)
        tx.commit()
      }
      if (use === 'begin/rollback') db.begin().rollback()
      if (use === 'conflict') {
        expectCode(() => db.transaction((tx) => (tx.kv.get('k'), db.kv.put('k', 2), tx.kv.put('k', 3))), 'CONFLICT')
      }
      if (use === 'readOnly tx') db.transaction((tx) => tx.kv.get('k'), { readOnly: true })
      db.close()
      expect(fs.existsSync(path.join(dir, 'LOCK')), `LOCK still there after ${use} and close`).toBe(false)
      const child = start('dataset.mjs', ['dump', dir], BACKEND)
      expect((await child.next()).slice(0, 5), `another process opening after ${use} and close`).toBe('dump ')
    }
  })

  it("'none': a process that exits without close() writes its changes as it exits, on either backend", async () => {
    const dir = tempDir()
    const c = await hold(dir, BACKEND, { durability: 'none' })
    await c.send({ op: 'put', key: 'a', value: 1 })
    expect(await c.send({ op: 'tx', puts: { t: 2 } })).toBe('ok null')
    c.proc.stdin!.end() // hold.mjs calls process.exit(0) when stdin closes, without close()
    expect((await c.exited).code).toBe(0)
    reopened(dir, (db) => expect([db.kv.get('a'), db.kv.get('t')]).toEqual([1, 2]))
  })

  it("'none': close() writes every change, also after a transaction, before the process exits", async () => {
    const dir = tempDir()
    const c = await hold(dir, BACKEND, { durability: 'none' })
    await c.send({ op: 'put', key: 'before', value: 1 })
    expect(await c.send({ op: 'tx', puts: { t1: 1, t2: 2 } })).toBe('ok null')
    await c.send({ op: 'put', key: 'after', value: 1 })
    expect(await c.send({ op: 'close' })).toBe('ok null')
    c.proc.stdin!.end() // hold.mjs exits when stdin closes
    expect((await c.exited).code).toBe(0)
    reopened(dir, (db) => expect(db.kv.list()).toEqual(['after', 'before', 't1', 't2']))
  })
})

// ---- durability modes and checkpoints ---------------------------------------------------------------------

describe('durability modes', () => {
  for (const durability of ['always', 'standard', 'none'] as const) {
    it(`'${durability}' round-trips through close and reopen`, () => {
      const dir = tempDir()
      withDb(dir, { durability }, (db) => {
        for (let i = 0; i < 50; i++) db.kv.put(`k${i}`, { i, mode: durability })
        db.state.init('c', 0)
        expect(db.state.cas('c', 1, 1)).toBe(2)
        db.transaction((tx) => {
          tx.kv.put('t1', 1)
          tx.kv.put('t2', 2)
        })
        db.forkBranch('f')
        db.branch('f').close()
        db.kv.delete('k0')
      })
      for (const again of [{ readOnly: true }, { durability }, { durability: 'standard' as const }]) {
        withDb(dir, again, (db) => {
          expect(db.kv.list().length).toBe(51)
          expect(db.kv.get('k49')).toEqual({ i: 49, mode: durability })
          expect(db.kv.get('k0')).toBeNull()
          expect(db.state.getVersioned('c')).toMatchObject({ value: 1, version: 2 })
          expect([db.kv.get('t1'), db.kv.get('t2')]).toEqual([1, 2])
          expect(db.branchExists('f')).toBe(true)
          expect(onBranch(db, 'f', (h) => h.kv.get('k0'))).toEqual({ i: 0, mode: durability })
        })
      }
    })
  }

  it("'standard' and 'always' write each record to the OS before returning; 'none' only on flush", () => {
    for (const durability of ['always', 'standard', 'none'] as const) {
      const dir = tempDir()
      withDb(dir, { durability }, (db) => {
        const log = path.join(dir, logFiles(dir).at(-1)!)
        const size0 = fs.statSync(log).size
        db.kv.put('k', 'v')
        const size1 = fs.statSync(log).size
        if (durability === 'none') expect(size1, durability).toBe(size0)
        else expect(size1, durability).toBeGreaterThan(size0)
        db.flush()
        expect(fs.statSync(log).size, durability).toBeGreaterThan(size0)
      })
    }
  })

  for (const durability of ['always', 'standard'] as const) {
    it(`'${durability}': every acknowledged write survives a SIGKILL of the writing process`, async () => {
      const dir = tempDir()
      const c = await hold(dir, BACKEND, { durability })
      for (let i = 0; i < 20; i++) expect(await c.send({ op: 'put', key: `k${i}`, value: i })).toBe("ok 1")
      await c.kill()
      withDb(dir, undefined, (db) => {
        for (let i = 0; i < 20; i++) expect(db.kv.get(`k${i}`)).toBe(i)
      })
    })
  }

  it("a second open asking for more durability raises it for the shared engine: what it acknowledges survives a SIGKILL", async () => {
    const dir = tempDir()
    const c = await hold(dir, BACKEND, { durability: 'none' })
    expect(await c.send({ op: 'put', key: 'before', value: 1 })).toBe('ok 1')
    expect(await c.send({ op: 'open', options: { durability: 'always' } })).toBe('ok null')
    for (let i = 0; i < 5; i++) expect(await c.send({ op: 'put', key: `k${i}`, value: i })).toBe('ok 1')
    await c.kill()
    withDb(dir, undefined, (db) => {
      // What the 'none' open held back was written out when the engine took the stronger promise.
      expect(db.kv.get('before')).toBe(1)
      for (let i = 0; i < 5; i++) expect(db.kv.get(`k${i}`)).toBe(i)
    })
  })

  it('a second open asking for less durability keeps the stronger one', () => {
    const dir = tempDir()
    withDb(dir, { durability: 'standard' }, (first) => {
      const log = path.join(dir, logFiles(dir).at(-1)!)
      const weak = Strata.open(dir, { durability: 'none' })
      const size0 = fs.statSync(log).size
      weak.kv.put('k', 1)
      expect(fs.statSync(log).size).toBeGreaterThan(size0)
      weak.close()
      expect(first.kv.get('k')).toBe(1)
    })
  })

  it("'none': what was flushed survives a SIGKILL", async () => {
    const dir = tempDir()
    const c = await hold(dir, BACKEND, { durability: 'none' })
    for (let i = 0; i < 10; i++) await c.send({ op: 'put', key: `k${i}`, value: i })
    expect(await c.send({ op: 'flush' })).toBe('ok null')
    await c.send({ op: 'put', key: 'unflushed', value: 1 })
    await c.kill()
    withDb(dir, undefined, (db) => {
      for (let i = 0; i < 10; i++) expect(db.kv.get(`k${i}`)).toBe(i)
    })
  })

  it('checkpoint() then reopen keeps everything; the covered log is gone and the new one is empty', () => {
    const dir = tempDir()
    const expected = withDb(dir, undefined, (db) => {
      lib.writeDataset(db)
      const logsBefore = logFiles(dir)
      db.checkpoint()
      const logsAfter = logFiles(dir)
      expect(logsAfter.length).toBe(1)
      expect(generation(logsAfter[0]!)).toBeGreaterThan(generation(logsBefore.at(-1)!))
      expect(fs.statSync(path.join(dir, logsAfter[0]!)).size).toBe(16) // header only
      return lib.dump(db)
    })
    expect(withDb(dir, { readOnly: true }, (db) => lib.dump(db))).toEqual(expected)
    const more = withDb(dir, undefined, (db) => {
      expect(lib.dump(db)).toEqual(expected)
      // Snapshot plus log: write after the checkpoint, reopen again.
      lib.writeMore(db)
      return lib.dump(db)
    })
    expect(withDb(dir, { readOnly: true }, (db) => lib.dump(db))).toEqual(more)
    withDb(dir, undefined, (db) => {
      db.checkpoint()
      expect(lib.dump(db)).toEqual(more)
    })
    reopened(dir, (db) => expect(lib.dump(db)).toEqual(more))
  })

  it('many writes then checkpoint drops old logs: only the newest log file remains', () => {
    const dir = tempDir()
    withDb(dir, { durability: 'none' }, (db) => {
      let gen = generation(logFiles(dir)[0]!)
      for (let round = 0; round < 5; round++) {
        for (let i = 0; i < 300; i++) db.kv.put(`r${round}:${i}`, { round, i, pad: 'p'.repeat(100) })
        db.forkBranch(`fork-${round}`)
        db.checkpoint()
        const logs = logFiles(dir)
        expect(logs.length).toBe(1)
        expect(generation(logs[0]!)).toBeGreaterThan(gen)
        gen = generation(logs[0]!)
        expect(fs.readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([])
      }
    })
    reopened(dir, (db) => {
      expect(db.kv.list().length).toBe(1500)
      expect(db.kv.get('r4:299')).toEqual({ round: 4, i: 299, pad: 'p'.repeat(100) })
      expect(onBranch(db, 'fork-0', (h) => h.kv.list()).length).toBe(300)
      expect(onBranch(db, 'fork-3', (h) => h.kv.list()).length).toBe(1200)
    })
  })

  it('flush and checkpoint after close are CLOSED', () => {
    const db = Strata.open(tempDir())
    db.close()
    expectCode(() => db.flush(), 'CLOSED')
    expectCode(() => db.checkpoint(), 'CLOSED')
  })
})

// ---- one engine per directory per process -----------------------------------------------------------------

describe('two opens of one directory in a process', () => {
  it('share the engine: writes are visible at once, CAS is atomic across them', () => {
    const dir = tempDir()
    const a = Strata.open(dir)
    const b = Strata.open(dir)
    try {
      expect(a.kv.put('k', 1)).toBe(1)
      expect(b.kv.getVersioned('k')).toMatchObject({ value: 1, version: 1 })
      expect(b.kv.put('k', 2)).toBe(2)
      expect(a.kv.get('k')).toBe(2)
      // CAS: both expect "absent"; only the first wins.
      expect(a.state.cas('leader', null, 'a')).toBe(1)
      expect(b.state.cas('leader', null, 'b')).toBeNull()
      // Both read version 1, both try to move it on: one wins.
      const va = a.state.getVersioned('leader')!.version
      const vb = b.state.getVersioned('leader')!.version
      expect(b.state.cas('leader', vb, 'b')).toBe(2)
      expect(a.state.cas('leader', va, 'a')).toBeNull()
      expect(a.state.get('leader')).toBe('b')
      // A transaction on one conflicts with a write through the other.
      expectCode(
        () =>
          a.transaction((tx) => {
            tx.kv.get('k')
            b.kv.put('k', 3)
            tx.kv.put('k', 4)
          }),
        'CONFLICT',
      )
      expect(a.kv.get('k')).toBe(3)
      // Branches made through one are seen by the other.
      a.forkBranch('f')
      expect(b.branchExists('f')).toBe(true)
    } finally {
      a.close()
      b.close()
    }
  })

  it('a worker thread of this process opening the directory shares the engine (native; WASM: LOCKED)', async () => {
    const dir = tempDir()
    const db = Strata.open(dir)
    try {
      db.kv.put('from-main', 1)
      const code = `
        const { parentPort, workerData } = require('node:worker_threads')
        import(workerData.url).then(({ Strata }) => {
          try {
            const d = Strata.open(workerData.dir)
            const seen = d.kv.get('from-main')
            d.kv.put('from-worker', 2)
            const won = d.state.cas('leader', null, 'worker')
            d.close()
            parentPort.postMessage({ seen, won })
          } catch (e) {
            parentPort.postMessage({ error: e.code + ' ' + e.message })
          }
        })`
      const result = await new Promise((resolve, reject) => {
        const w = new Worker(code, { eval: true, workerData: { url: pathToFileURL(DIST).href, dir } })
        w.once('message', resolve)
        w.once('error', reject)
      })
      if (BACKEND === 'wasm') {
        // Every worker has its own WebAssembly instance, so it cannot join this thread's engine: it is locked out,
        // with a message that says why, rather than writing the directory behind this engine's back.
        expect(result).toEqual({ error: expect.stringMatching(/^LOCKED .*WebAssembly/) })
        return
      }
      expect(result).toEqual({ seen: 1, won: 1 })
      expect(db.kv.get('from-worker')).toBe(2)
      expect(db.state.cas('leader', null, 'main')).toBeNull()
    } finally {
      db.close()
    }
  })

  it('a path through a symlink reaches the same engine', () => {
    const dir = tempDir()
    const link = `${dir}-link`
    fs.mkdirSync(dir, { recursive: true })
    fs.symlinkSync(dir, link)
    const a = Strata.open(dir)
    const b = Strata.open(link)
    try {
      a.kv.put('k', 'via dir')
      expect(b.kv.get('k')).toBe('via dir')
    } finally {
      a.close()
      b.close()
    }
  })

  it('closing one leaves the other working; the last close releases the directory', async () => {
    const dir = tempDir()
    const a = Strata.open(dir)
    const b = Strata.open(dir)
    a.kv.put('k', 1)
    a.close()
    expectCode(() => a.kv.get('k'), 'CLOSED')
    expect(b.kv.get('k')).toBe(1)
    expect(b.kv.put('k', 2)).toBe(2)
    b.checkpoint()
    b.flush()
    // A new open while b is still open joins b's engine.
    const c = Strata.open(dir)
    expect(c.kv.get('k')).toBe(2)
    c.close()
    expect(b.kv.get('k')).toBe(2)
    b.close()
    // Released: another process can take it.
    const child = await hold(dir, BACKEND)
    expect(await child.send({ op: 'get', key: 'k' })).toBe('ok 2')
    await child.kill()
  })
})

// ---- the directory lock -----------------------------------------------------------------------------------

describe('LOCKED', () => {
  for (const holder of [BACKEND, OTHER] as const) {
    it(`a ${holder} process holding the directory makes a ${BACKEND} open LOCKED; once it is killed, opening works`, async () => {
      const dir = tempDir()
      const c = await hold(dir, holder)
      expect(await c.send({ op: 'put', key: 'k', value: 'from the holder' })).toBe('ok 1')
      const real = fs.realpathSync(dir)
      expectCode(() => Strata.open(dir), 'LOCKED', real)
      expectCode(() => Strata.open(dir, { durability: 'none' }), 'LOCKED', real)
      // The failed open left the holder's lock alone.
      expect(fs.readFileSync(path.join(dir, 'LOCK'), 'utf8').trim()).toBe(String(c.proc.pid))
      expect(await c.send({ op: 'put', key: 'k2', value: 2 })).toBe('ok 1')
      await c.kill()
      withDb(dir, undefined, (db) => {
        expect(db.kv.get('k')).toBe('from the holder')
        expect(db.kv.get('k2')).toBe(2)
      })
    })
  }

  it(`a ${BACKEND} process holding the directory makes a ${OTHER} process's open LOCKED`, async () => {
    const dir = tempDir()
    const c = await hold(dir, BACKEND)
    const opener = start('dataset.mjs', ['dump', dir], OTHER)
    const out = await opener.next()
    expect(out).toMatch(/^error LOCKED /)
    expect(out).toContain(fs.realpathSync(dir))
    await c.kill()
    expect(await dataset(OTHER, 'dump', dir)).toBeTruthy()
  })

  it('a LOCK left by a dead process, or an empty one (a crash while taking it), never blocks', async () => {
    const dir = tempDir()
    withDb(dir, undefined, (db) => db.kv.put('k', 1))
    const dead = spawn(process.execPath, ['-e', ''])
    await new Promise((r) => dead.on('close', r))
    fs.writeFileSync(path.join(dir, 'LOCK'), String(dead.pid), { mode: 0o600 })
    expect(withDb(dir, undefined, (db) => db.kv.get('k'))).toBe(1)
    expect(fs.existsSync(path.join(dir, 'LOCK'))).toBe(false)
    fs.writeFileSync(path.join(dir, 'LOCK'), '', { mode: 0o600 })
    expect(withDb(dir, undefined, (db) => db.kv.get('k'))).toBe(1)
  })
})

// ---- read-only opens --------------------------------------------------------------------------------------

describe('readOnly', () => {
  it('opens alongside a writer in another process, sees the state as of its open, and refuses writes', async () => {
    const dir = tempDir()
    const w = await hold(dir, BACKEND)
    await w.send({ op: 'put', key: 'a', value: 1 })
    await w.send({ op: 'put', key: 'b', value: 1 })
    await w.send({ op: 'checkpoint' })
    await w.send({ op: 'put', key: 'a', value: 2 }) // in the log only
    const r = Strata.open(dir, { readOnly: true })
    try {
      expect(r.kv.get('a')).toBe(2)
      expect(r.kv.get('b')).toBe(1)
      expect(r.kv.history('a').map((h) => h.value)).toEqual([2, 1])
      await w.send({ op: 'put', key: 'a', value: 3 })
      await w.send({ op: 'put', key: 'c', value: 1 })
      expect(r.kv.get('a')).toBe(2)
      expect(r.kv.get('c')).toBeNull()
      expectCode(() => r.kv.put('x', 1), 'READ_ONLY')
      expectCode(() => r.kv.delete('a'), 'READ_ONLY')
      expectCode(() => r.state.set('s', 1), 'READ_ONLY')
      expectCode(() => r.state.cas('s', null, 1), 'READ_ONLY')
      expectCode(() => r.forkBranch('f'), 'READ_ONLY')
      expectCode(() => r.createBranch('g'), 'READ_ONLY')
      expectCode(() => r.transaction((tx) => tx.kv.put('x', 1)), 'READ_ONLY')
      expectCode(() => r.checkpoint(), 'READ_ONLY')
      expect(r.transaction((tx) => tx.kv.get('a'), { readOnly: true })).toBe(2)
      // A later read-only open sees the later writes.
      expect(withDb(dir, { readOnly: true }, (r2) => [r2.kv.get('a'), r2.kv.get('c')])).toEqual([3, 1])
    } finally {
      r.close()
    }
    // Closing the reader left the writer's lock and the writer alone.
    expect(fs.readFileSync(path.join(dir, 'LOCK'), 'utf8').trim()).toBe(String(w.proc.pid))
    expect(await w.send({ op: 'put', key: 'a', value: 4 })).toBe('ok 4')
    expectCode(() => Strata.open(dir), 'LOCKED')
    await w.kill()
    expect(withDb(dir, undefined, (db) => db.kv.get('a'))).toBe(4)
  })

  it(`works across backends: a ${OTHER} writer, a ${BACKEND} reader`, async () => {
    const dir = tempDir()
    const w = await hold(dir, OTHER)
    await w.send({ op: 'put', key: 'a', value: 'x' })
    expect(withDb(dir, { readOnly: true }, (r) => r.kv.get('a'))).toBe('x')
    await w.kill()
  })

  it('in the same process as a writer, shares its engine: sees every write at once, and refuses every write', () => {
    const dir = tempDir()
    const w = Strata.open(dir)
    try {
      w.kv.put('a', 1)
      w.vector.createCollection('c', { dimension: 2 })
      const r = Strata.open(dir, { readOnly: true })
      w.kv.put('a', 2)
      w.forkBranch('later')
      expect(r.kv.get('a')).toBe(2)
      expect(r.branchExists('later')).toBe(true)
      expect(r.transaction((tx) => tx.kv.get('a'), { readOnly: true })).toBe(2)
      const writes: [string, () => unknown][] = [
        ['kv.put', () => r.kv.put('a', 3)],
        ['kv.delete', () => r.kv.delete('a')],
        ['state.set', () => r.state.set('s', 1)],
        ['state.init', () => r.state.init('s', 1)],
        ['state.cas', () => r.state.cas('s', null, 1)],
        ['state.update', () => r.state.update('s', () => 1)],
        ['events.append', () => r.events.append('t', 1)],
        ['json.set', () => r.json.set('d', '$', 1)],
        ['json.delete', () => r.json.delete('d')],
        ['vector.createCollection', () => r.vector.createCollection('d', { dimension: 2 })],
        ['vector.upsert', () => r.vector.upsert('c', 'k', [1, 0])],
        ['vector.delete', () => r.vector.delete('c', 'k')],
        ['vector.deleteCollection', () => r.vector.deleteCollection('c')],
        ['createBranch', () => r.createBranch('x')],
        ['forkBranch', () => r.forkBranch('y')],
        ['deleteBranch', () => r.deleteBranch('later')],
        ['mergeBranches', () => r.mergeBranches('later')],
        ['deleteSpace', () => r.deleteSpace('s', { force: true })],
        ['transaction', () => r.transaction((tx) => tx.kv.put('a', 3))],
        ['begin().kv.put', () => r.begin().kv.put('a', 3)],
        ['branch(...).kv.put', () => r.branch('later').kv.put('a', 3)],
        ['checkpoint', () => r.checkpoint()],
        ['compact', () => r.compact({ maxVersions: 1 })],
      ]
      expectEachCode(writes, 'READ_ONLY')
      // A transaction's write names the readOnly open as the cause, not the transaction.
      expectCode(() => r.transaction((tx) => tx.kv.put('a', 3)), 'READ_ONLY', 'opened with readOnly')
      r.close()
      // Closing the reader left the writer's engine open, with nothing of the refused writes.
      expect([w.kv.get('a'), w.kv.history('a').length, w.events.count()]).toEqual([2, 2, 0])
      expect(w.kv.put('a', 4)).toBe(3)
    } finally {
      w.close()
    }
  })

  it('opened before any writer of this process, shares the engine the writer opens later: sees its writes', async () => {
    const dir = tempDir()
    withDb(dir, undefined, (w) => w.kv.put('a', 1))
    const r = Strata.open(dir, { readOnly: true })
    try {
      // Another process writes meanwhile; a second reader of this process reads the directory as of its open,
      // and the first, sharing its engine, sees the same.
      const other = await hold(dir, OTHER)
      expect(await other.send({ op: 'put', key: 'a', value: 2 })).toBe('ok 2')
      await other.kill()
      expect(r.kv.get('a')).toBe(1)
      const r2 = Strata.open(dir, { readOnly: true })
      expect([r2.kv.get('a'), r.kv.get('a')]).toEqual([2, 2])
      // A writer of this process joins them: every write it makes is theirs at once, and they still refuse writes.
      withDb(dir, undefined, (w) => {
        expect(w.kv.get('a')).toBe(2)
        w.kv.put('b', 'new')
        w.forkBranch('later')
        expect([r.kv.get('b'), r2.kv.get('b'), r.branchExists('later')]).toEqual(['new', 'new', true])
        expectCode(() => r.kv.put('c', 1), 'READ_ONLY')
      })
      r2.close()
    } finally {
      r.close()
    }
    // The last handle released the directory.
    expect(fs.existsSync(path.join(dir, 'LOCK'))).toBe(false)
    withDb(dir, undefined, (w) => expect([w.kv.get('b'), w.branchExists('later')]).toEqual(['new', true]))
  })

  it('never creates a directory: a missing one is IO, naming it', () => {
    const dir = path.join(tempDir(), 'missing')
    expectCode(() => Strata.open(dir, { readOnly: true }), 'IO', 'does not exist')
    expectCode(() => Strata.open(dir, { readOnly: true, create: true }), 'IO', 'readOnly')
    expect(fs.existsSync(dir)).toBe(false)
  })

  it('a checkpoint by the writer while a reader is opening never hides logged writes from it', async () => {
    // The reader (WASM, so its file reads can be paused) reads strata.snap, then waits while the writer
    // checkpoints (which deletes the log the reader is about to read), then goes on.
    const dir = tempDir()
    const w = await hold(dir, BACKEND)
    for (let i = 0; i < 5; i++) await w.send({ op: 'put', key: `k${i}`, value: i })
    const go = `${dir}-go`
    const r = start('ro-race.mjs', [dir, go], 'wasm')
    expect(await r.next()).toBe('paused')
    expect(await w.send({ op: 'checkpoint' })).toBe('ok null')
    fs.writeFileSync(go, '')
    const out = await r.next()
    await w.kill()
    // Whatever the reader sees, it must not be the snapshot without the log (k0..k4 were logged before it opened).
    expect(out).toBe(`keys ${JSON.stringify(['k0', 'k1', 'k2', 'k3', 'k4'])}`)
  })
})

// ---- damaged files ----------------------------------------------------------------------------------------

/** A directory with a snapshot (a, b, a fork) and a log of `records` puts after it; returns the file paths. */
function damagedFixture(records = 4): { dir: string; snap: string; log: string; snapBytes: Buffer; logBytes: Buffer } {
  const dir = tempDir()
  withDb(dir, undefined, (db) => {
    db.kv.put('a', 1)
    db.kv.put('b', { nested: [1, 2, 3] })
    db.forkBranch('f')
    db.checkpoint()
    for (let i = 0; i < records; i++) db.kv.put(`log${i}`, `value ${i}`)
  })
  const snap = path.join(dir, 'strata.snap')
  const log = path.join(dir, logFiles(dir).at(-1)!)
  return { dir, snap, log, snapBytes: fs.readFileSync(snap), logBytes: fs.readFileSync(log) }
}

/** The record offsets of a log: [start, length of payload]. */
function records(bytes: Buffer): [number, number][] {
  const out: [number, number][] = []
  for (let at = 16; at + 8 <= bytes.length; ) {
    const len = bytes.readUInt32LE(at)
    out.push([at, len])
    at += 8 + len
  }
  return out
}

/**
 * Expects `dir` not to open (`code`, message parts), on a normal and on a read-only open, without taking the lock
 * for good or changing any file; then that it opens again with the original bytes restored.
 */
function expectRefused(
  f: ReturnType<typeof damagedFixture>,
  damage: { file: string; bytes: Buffer } | { remove: string },
  code: string,
  ...parts: (string | RegExp)[]
): void {
  if ('remove' in damage) fs.rmSync(damage.remove)
  else fs.writeFileSync(damage.file, damage.bytes)
  const listing = () => fs.readdirSync(f.dir).map((n) => `${n}:${fs.statSync(path.join(f.dir, n)).size}`).sort()
  const before = listing()
  const snapNow = fs.existsSync(f.snap) ? fs.readFileSync(f.snap) : undefined
  const logNow = fs.readFileSync(f.log)
  expectCode(() => Strata.open(f.dir), code, ...parts)
  expectCode(() => Strata.open(f.dir, { readOnly: true }), code, ...parts)
  expectCode(() => Strata.open(f.dir), code, ...parts) // the first refusal left no lock behind
  expect(listing()).toEqual(before)
  expect(fs.existsSync(f.snap) ? fs.readFileSync(f.snap) : undefined).toEqual(snapNow)
  expect(fs.readFileSync(f.log)).toEqual(logNow)
  fs.writeFileSync(f.snap, f.snapBytes, { mode: 0o600 })
  fs.writeFileSync(f.log, f.logBytes, { mode: 0o600 })
  withDb(f.dir, undefined, (db) => {
    expect(db.kv.get('a')).toBe(1)
    expect(db.kv.get('log3')).toBe('value 3')
    expect(onBranch(db, 'f', (h) => h.kv.get('b'))).toEqual({ nested: [1, 2, 3] })
  })
}

const flip = (b: Buffer, at: number, mask = 0x01): Buffer => {
  const c = Buffer.from(b)
  c[at]! ^= mask
  return c
}

describe('damaged files are refused with a clear error, never loaded in part', () => {
  it('a truncated snapshot is CORRUPT naming strata.snap', () => {
    const f = damagedFixture()
    expectRefused(f, { file: f.snap, bytes: f.snapBytes.subarray(0, Math.floor(f.snapBytes.length / 2)) }, 'CORRUPT', 'strata.snap')
  })

  it('a snapshot cut inside its header is CORRUPT naming strata.snap', () => {
    const f = damagedFixture()
    expectRefused(f, { file: f.snap, bytes: f.snapBytes.subarray(0, 18) }, 'CORRUPT', 'strata.snap')
  })

  it('a bit flip in the snapshot body is CORRUPT naming strata.snap', () => {
    const f = damagedFixture()
    for (const at of [20, Math.floor(f.snapBytes.length / 2), f.snapBytes.length - 1]) {
      expectRefused(f, { file: f.snap, bytes: flip(f.snapBytes, at) }, 'CORRUPT', 'strata.snap')
    }
  })

  it('a bit flip in the snapshot checksum is CORRUPT naming strata.snap', () => {
    const f = damagedFixture()
    expectRefused(f, { file: f.snap, bytes: flip(f.snapBytes, 17) }, 'CORRUPT', 'strata.snap')
  })

  it('a zero-length snapshot is CORRUPT naming strata.snap', () => {
    const f = damagedFixture()
    expectRefused(f, { file: f.snap, bytes: Buffer.alloc(0) }, 'CORRUPT', 'strata.snap')
  })

  it('a wrong magic is CORRUPT (snapshot and log)', () => {
    const f = damagedFixture()
    expectRefused(f, { file: f.snap, bytes: Buffer.concat([Buffer.from('STRATSNX'), f.snapBytes.subarray(8)]) }, 'CORRUPT', 'strata.snap')
    expectRefused(f, { file: f.log, bytes: Buffer.concat([Buffer.from('NOTALOG!'), f.logBytes.subarray(8)]) }, 'CORRUPT', path.basename(f.log))
  })

  it('a missing snapshot next to a log is CORRUPT', () => {
    const f = damagedFixture()
    expectRefused(f, { remove: f.snap }, 'CORRUPT', 'strata.snap')
  })

  it('a snapshot or log of format version 2 is UNSUPPORTED naming both versions', () => {
    const f = damagedFixture()
    const v2 = (b: Buffer) => {
      const c = Buffer.from(b)
      c.writeUInt32LE(2, 8)
      return c
    }
    expectRefused(f, { file: f.snap, bytes: v2(f.snapBytes) }, 'UNSUPPORTED', 'strata.snap', /\b2\b/, /\b1\b/)
    expectRefused(f, { file: f.log, bytes: v2(f.logBytes) }, 'UNSUPPORTED', path.basename(f.log), /\b2\b/, /\b1\b/)
  })

  it('a bit flip in a log record followed by more records is CORRUPT naming the log and the byte offset', () => {
    const f = damagedFixture()
    const recs = records(f.logBytes)
    expect(recs.length).toBe(4)
    const name = path.basename(f.log)
    for (const [at, len] of recs.slice(0, 3)) {
      const payloadByte = at + 8 + Math.floor(len / 2)
      const e = expectRefused.bind(null, f)
      e({ file: f.log, bytes: flip(f.logBytes, payloadByte) }, 'CORRUPT', name, new RegExp(`\\b(${at}|${payloadByte})\\b`))
      e({ file: f.log, bytes: flip(f.logBytes, at + 5) }, 'CORRUPT', name, new RegExp(`\\b(${at}|${at + 5})\\b`)) // its checksum
    }
  })

  it('a bit flip in the length of a log record followed by more records is CORRUPT, not a silent cut', () => {
    const f = damagedFixture()
    const [[at]] = records(f.logBytes) as [[number, number]]
    const name = path.basename(f.log)
    // Shorter: the checksum covers the wrong bytes. Longer than anything a record can be: not a torn tail either,
    // since records follow it; taking it for one would silently drop (and truncate away) the three after it.
    expectRefused(f, { file: f.log, bytes: flip(f.logBytes, at, 0x01) }, 'CORRUPT', name)
    expectRefused(f, { file: f.log, bytes: flip(f.logBytes, at + 3, 0x80) }, 'CORRUPT', name, new RegExp(`\\b${at}\\b`))
  })

  it('a torn last record (a crash mid-write) opens without the last write, and the log goes on from there', () => {
    for (const cut of [1, 3, 8, 12]) {
      const f = damagedFixture()
      const recs = records(f.logBytes)
      const [lastAt, lastLen] = recs.at(-1)!
      if (cut >= 8 + lastLen) continue
      fs.writeFileSync(f.log, f.logBytes.subarray(0, f.logBytes.length - cut))
      // A read-only open sees the same and changes nothing.
      withDb(f.dir, { readOnly: true }, (db) => {
        expect(db.kv.get('log2')).toBe('value 2')
        expect(db.kv.get('log3')).toBeNull()
      })
      expect(fs.statSync(f.log).size).toBe(f.logBytes.length - cut)
      withDb(f.dir, undefined, (db) => {
        expect(db.kv.get('a')).toBe(1)
        expect(db.kv.get('log2')).toBe('value 2')
        expect(db.kv.get('log3')).toBeNull()
        expect(db.kv.history('log3')).toEqual([])
        db.kv.put('after', 'the tear')
      })
      expect(fs.statSync(f.log).size).toBeGreaterThan(lastAt)
      withDb(f.dir, undefined, (db) => {
        expect(db.kv.get('log2')).toBe('value 2')
        expect(db.kv.get('after')).toBe('the tear')
        expect(db.kv.get('log3')).toBeNull()
      })
    }
  })
})

// ---- across backends --------------------------------------------------------------------------------------

describe('a directory written by one backend opens under the other', () => {
  // Writes and normal opens happen in child processes (each backend in turn), reads also in this process with
  // readOnly (its own engine, reading the files): both directions run in both projects.
  for (const [how, flags] of [
    ['closed cleanly, snapshot + log', ['--checkpoint']],
    ['killed without close, log only', ['--kill']],
  ] as const) {
    it(`${OTHER} writes (${how}); ${BACKEND} reads and writes more; ${OTHER} reads that back`, async () => {
      const dir = tempDir()
      const written = await dataset(OTHER, 'write', dir, ...flags)
      expect(withDb(dir, { readOnly: true }, (db) => lib.dump(db))).toEqual(written)
      expect(withDb(dir, { readOnly: true }, (db) => onBranch(db, 'exp', (h) => h.kv.get('a')))).toBe('exp-only')
      const more = await dataset(BACKEND, 'more', dir, ...flags)
      expect(await dataset(OTHER, 'dump', dir)).toEqual(more)
      expect(await dataset(OTHER, 'dump', dir, '--read-only')).toEqual(more)
      expect(withDb(dir, { readOnly: true }, (db) => lib.dump(db))).toEqual(more)
      expect(await dataset(BACKEND, 'dump', dir)).toEqual(more)
    })
  }

  it(`${BACKEND} writes in this process, ${OTHER} reads`, async () => {
    const dir = tempDir()
    const written = withDb(dir, undefined, (db) => {
      // No transactions here: a transaction keeps the engine (and the lock) alive past close (see above).
      db.kv.put('a', 1)
      db.kv.put('a', { two: 2n ** 62n, bytes: new Uint8Array([9]) })
      db.kv.put('d', 1)
      db.kv.delete('d')
      db.state.cas('c', null, 'x')
      db.forkBranch('f')
      db.checkpoint()
      onBranch(db, 'f', (h) => h.kv.put('a', 'f only'))
      db.setSpace('s')
      db.kv.put('in s', true)
      return lib.dump(db)
    })
    expect(fs.existsSync(path.join(dir, 'LOCK'))).toBe(false)
    expect(await dataset(OTHER, 'dump', dir)).toEqual(written)
  })
})

// ---- arguments --------------------------------------------------------------------------------------------

describe('Strata.open arguments', () => {
  it('an unknown option is INVALID_VALUE naming it', () => {
    const dir = tempDir()
    expectCode(() => Strata.open(dir, { durabilty: 'always' } as never), 'INVALID_VALUE', 'durabilty')
    expectCode(() => Strata.open(dir, { readonly: true } as never), 'INVALID_VALUE', 'readonly')
    expect(fs.existsSync(dir)).toBe(false)
  })

  it('a bad durability is INVALID_VALUE', () => {
    const dir = tempDir()
    for (const d of ['fast', 'ALWAYS', '', 1, true, {}]) {
      expectCode(() => Strata.open(dir, { durability: d } as never), 'INVALID_VALUE', 'durability')
    }
    expect(fs.existsSync(dir)).toBe(false)
  })

  it('durability: null is INVALID_VALUE, as readOnly: null and create: null are', () => {
    const dir = tempDir()
    expectCode(() => Strata.open(dir, { readOnly: null } as never), 'INVALID_VALUE', 'readOnly')
    expectCode(() => Strata.open(dir, { create: null } as never), 'INVALID_VALUE', 'create')
    expectCode(() => Strata.open(dir, { durability: null } as never), 'INVALID_VALUE', 'durability')
    expect(fs.existsSync(dir)).toBe(false)
  })

  it('a path that is not a non-empty string is INVALID_VALUE', () => {
    for (const p of [123, undefined, null, {}, ['dir'], new URL('file:///tmp/x'), '']) {
      expectCode(() => Strata.open(p as never), 'INVALID_VALUE')
    }
  })

  it('non-boolean readOnly / create and non-object options are INVALID_VALUE', () => {
    const dir = tempDir()
    expectCode(() => Strata.open(dir, { readOnly: 'yes' } as never), 'INVALID_VALUE', 'readOnly')
    expectCode(() => Strata.open(dir, { create: 0 } as never), 'INVALID_VALUE', 'create')
    expectCode(() => Strata.open(dir, 'always' as never), 'INVALID_VALUE')
    expectCode(() => Strata.open(dir, null as never), 'INVALID_VALUE')
    expect(fs.existsSync(dir)).toBe(false)
  })
})
