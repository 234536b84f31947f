/**
 * Model-based property test: random sequences of kv put/delete, state cas, forkBranch, setBranch, list and get,
 * run against the database and against a tiny in-TS model (a Map per namespace per branch, copied on fork). After
 * every command the two must agree.
 */
import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { Strata } from 'stratadb'
import { utf8Compare } from './helpers.js'

interface Entry {
  /** The live value, or null when the key does not exist (never written or deleted). */
  value: number | null
  /** The last version the model knows of (0: never written). */
  version: number
  /**
   * Whether `version` is exact. The spec leaves open whether deleting a key that is not live is a write, so after
   * such a delete the model only knows a lower bound until the next write tells it the version.
   */
  exact: boolean
}

type Space = Map<string, Entry>
interface Branch {
  kv: Space
  state: Space
}

class Model {
  branches = new Map<string, Branch>([['default', { kv: new Map(), state: new Map() }]])
  current = 'default'
  get b(): Branch {
    return this.branches.get(this.current)!
  }
  fork(name: string): void {
    const copy = (s: Space): Space => new Map([...s].map(([k, e]) => [k, { ...e }]))
    this.branches.set(name, { kv: copy(this.b.kv), state: copy(this.b.state) })
  }
}

const KEYS = ['a', 'b', 'ab', 'b/c', 'Z', 'é', '😀', 'ｆ']
const PREFIXES = ['', 'a', 'b', 'é', 'x']

type Cmd =
  | { t: 'put'; key: string; value: number }
  | { t: 'del'; key: string }
  | { t: 'get'; key: string }
  | { t: 'list'; prefix: string; limit: number | undefined }
  | { t: 'cas'; key: string; mode: 'null' | 'current' | 'wrong'; value: number }
  | { t: 'sdel'; key: string }
  | { t: 'sget'; key: string }
  | { t: 'fork' }
  | { t: 'switch'; index: number }

const key = fc.constantFrom(...KEYS)
const cmd: fc.Arbitrary<Cmd> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ t: fc.constant('put' as const), key, value: fc.integer({ min: -1000, max: 1000 }) }) },
  { weight: 3, arbitrary: fc.record({ t: fc.constant('del' as const), key }) },
  { weight: 3, arbitrary: fc.record({ t: fc.constant('get' as const), key }) },
  {
    weight: 2,
    arbitrary: fc.record({
      t: fc.constant('list' as const),
      prefix: fc.constantFrom(...PREFIXES),
      limit: fc.option(fc.integer({ min: 0, max: 5 }), { nil: undefined }),
    }),
  },
  {
    weight: 5,
    arbitrary: fc.record({
      t: fc.constant('cas' as const),
      key,
      mode: fc.constantFrom('null' as const, 'current' as const, 'wrong' as const),
      value: fc.integer({ min: 0, max: 99 }),
    }),
  },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('sdel' as const), key }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('sget' as const), key }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('fork' as const) }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('switch' as const), index: fc.nat({ max: 20 }) }) },
)

function entry(s: Space, k: string): Entry {
  let e = s.get(k)
  if (e === undefined) {
    e = { value: null, version: 0, exact: true }
    s.set(k, e)
  }
  return e
}

/** Records a write the engine reported as version `v`. */
function wrote(e: Entry, v: number, value: number | null): void {
  if (e.exact) expect(v).toBe(e.version + 1)
  else expect(v).toBeGreaterThan(e.version)
  e.version = v
  e.exact = true
  e.value = value
}

function deleteIn(s: Space, k: string, real: boolean): void {
  const e = entry(s, k)
  expect(real).toBe(e.value !== null)
  if (e.value !== null) {
    e.version += 1
    e.value = null
  } else {
    e.exact = false
  }
}

function live(s: Space, prefix: string): string[] {
  return [...s].filter(([k, e]) => e.value !== null && k.startsWith(prefix)).map(([k]) => k).sort(utf8Compare)
}

function step(db: Strata, m: Model, c: Cmd, run: string): void {
  const b = m.b
  switch (c.t) {
    case 'put': {
      const v = db.kv.put(c.key, c.value)
      wrote(entry(b.kv, c.key), v, c.value)
      break
    }
    case 'del':
      deleteIn(b.kv, c.key, db.kv.delete(c.key))
      break
    case 'get': {
      const e = entry(b.kv, c.key)
      expect(db.kv.get(c.key)).toBe(e.value)
      const gv = db.kv.getVersioned(c.key)
      if (e.value === null) expect(gv).toBeNull()
      else expect(gv).toMatchObject({ value: e.value, version: e.version })
      break
    }
    case 'list': {
      const expected = live(b.kv, c.prefix)
      const opts = c.limit === undefined ? { prefix: c.prefix } : { prefix: c.prefix, limit: c.limit }
      expect(db.kv.list(opts)).toEqual(c.limit === undefined ? expected : expected.slice(0, c.limit))
      expect(db.state.list({ prefix: c.prefix })).toEqual(live(b.state, c.prefix))
      break
    }
    case 'cas': {
      const e = entry(b.state, c.key)
      if (c.mode === 'null') {
        const r = db.state.cas(c.key, null, c.value)
        if (e.value === null) {
          expect(r).not.toBeNull()
          wrote(e, r!, c.value)
        } else {
          expect(r).toBeNull()
        }
      } else if (c.mode === 'current') {
        if (e.value === null) break // the version of a missing cell is not a live version: nothing to expect
        expect(db.state.cas(c.key, e.version, c.value)).toBe(e.version + 1)
        wrote(e, e.version + 1, c.value)
      } else {
        const wrong = e.value === null ? e.version + 1000 : e.version + 1 + (c.value % 3)
        expect(db.state.cas(c.key, wrong, c.value)).toBeNull()
      }
      break
    }
    case 'sdel':
      deleteIn(b.state, c.key, db.state.delete(c.key))
      break
    case 'sget': {
      const e = entry(b.state, c.key)
      expect(db.state.get(c.key)).toBe(e.value)
      break
    }
    case 'fork': {
      const name = `${run}-${m.branches.size}`
      db.forkBranch(name)
      m.fork(name)
      break
    }
    case 'switch': {
      const names = [...m.branches.keys()]
      const name = names[c.index % names.length]!
      db.setBranch(name)
      m.current = name
      break
    }
  }
  expect(db.currentBranch()).toBe(m.current)
}

describe('model-based: kv, state cells and branches agree with a reference model', () => {
  it('random command sequences', () => {
    let runs = 0
    fc.assert(
      fc.property(fc.array(cmd, { minLength: 1, maxLength: 60 }), (cmds) => {
        const run = `r${runs++}`
        const db = Strata.cache()
        const m = new Model()
        try {
          for (const c of cmds) step(db, m, c, run)
          // Finally, every branch agrees in full.
          for (const [name, b] of m.branches) {
            const h = db.branch(name)
            expect(h.kv.list()).toEqual(live(b.kv, ''))
            expect(h.state.list()).toEqual(live(b.state, ''))
            for (const k of KEYS) {
              expect(h.kv.get(k)).toBe(entry(b.kv, k).value)
              expect(h.state.get(k)).toBe(entry(b.state, k).value)
            }
          }
          expect(db.listBranches().map((x) => x.name).sort()).toEqual([...m.branches.keys()].sort())
        } finally {
          db.close()
        }
      }),
      { numRuns: 150 },
    )
  })
})
