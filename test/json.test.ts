// db.json: JSON documents changed by JSONPath (API.md "JSON documents — db.json", plus what Branches, Spaces, Time
// travel, Transactions and Errors say about them).
import { describe, expect, it } from 'vitest'
import { Strata, StrataError, type Value } from 'stratadb'
import { BACKEND, byKey, expectCode, nowMicros, uniq, inWorker } from './helpers.js'

/**
 * `json.set` / `json.delete` with a path other than `$` are read-modify-CAS loops. If the CAS does not land on the
 * document it read (say, it writes another namespace), the loop never ends, and a synchronous endless loop would
 * hang the whole test file rather than fail a test. So: one probe that cannot loop (the first write of a new
 * document), and every test that path-writes an existing document checks it first and fails fast instead.
 */
function pathWritesLand(): boolean {
  const db = Strata.cache()
  try {
    db.json.set('probe', '$.a', 1)
    return db.json.get('probe', '$.a') === 1
  } finally {
    db.close()
  }
}
const PATH_WRITES_LAND = pathWritesLand()
function needsPathWrites(): void {
  if (!PATH_WRITES_LAND) {
    throw new Error(
      'json.set(key, path, value) with a path other than $ does not write the document it read (see the test ' +
        '"set with a path writes the document that get reads"); a further path write on an existing document would ' +
        'loop forever, so this test stops here instead of hanging the suite',
    )
  }
}

/** A value whose getter runs `hook` the first time it is encoded, and fails (instead of spinning) past `max` tries. */
function onEncode(hook: () => void, max = 1000): { value: Value; encodes: () => number } {
  let n = 0
  const value = {
    get by() {
      n += 1
      if (n === 1) hook()
      if (n > max) throw new Error(`encoded ${n} times: the CAS loop does not end`)
      return 'db'
    },
  } as unknown as Value
  return { value, encodes: () => n }
}

describe('json: whole documents ($)', () => {
  it('set($) stores a document and returns its version; get reads it, by default at $', () => {
    const db = Strata.cache()
    const doc = { name: 'Ada', tags: ['x', 'y'], n: 1, f: 1.5, ok: true, none: null, big: 2n ** 62n, b: new Uint8Array([1, 2]) }
    expect(db.json.set('user:1', '$', doc)).toBe(1)
    expect(db.json.get('user:1')).toEqual(doc)
    expect(db.json.get('user:1', '$')).toEqual(doc)
    expect(db.json.get('user:1', undefined, {})).toEqual(doc)
    expect(db.json.set('user:1', '$', { name: 'Grace' })).toBe(2)
    expect(db.json.get('user:1')).toEqual({ name: 'Grace' })
  })

  it('any value can be a document: scalars, arrays, null', () => {
    const db = Strata.cache()
    for (const [k, v] of [['n', 42], ['s', 'text'], ['a', [1, [2]]], ['z', null], ['t', true]] as [string, Value][]) {
      expect(db.json.set(k, '$', v)).toBe(1)
      expect(db.json.get(k)).toEqual(v)
    }
    expect(db.json.list()).toEqual(['a', 'n', 's', 't', 'z'])
  })

  it('get of a missing document is null, at any path', () => {
    const db = Strata.cache()
    expect(db.json.get('missing')).toBeNull()
    expect(db.json.get('missing', '$.a.b[0]')).toBeNull()
  })

  it('delete($) removes the document and says whether it existed; versions continue after it', () => {
    const db = Strata.cache()
    db.json.set('d', '$', { a: 1 })
    expect(db.json.delete('d')).toBe(true)
    expect(db.json.get('d')).toBeNull()
    expect(db.json.list()).toEqual([])
    expect(db.json.delete('d')).toBe(false)
    expect(db.json.delete('d', '$')).toBe(false)
    expect(db.json.delete('never')).toBe(false)
    expect(db.json.set('d', '$', { a: 2 })).toBe(3)
    expect(db.json.delete('d', '$')).toBe(true)
  })

  it('documents are their own namespace: kv and state keys of the same name are separate', () => {
    const db = Strata.cache()
    db.kv.put('same', 'kv')
    db.state.set('same', 'state')
    expect(db.json.get('same')).toBeNull()
    expect(db.json.set('same', '$', { from: 'json' })).toBe(1)
    expect(db.kv.get('same')).toBe('kv')
    expect(db.state.get('same')).toBe('state')
    expect(db.json.list()).toEqual(['same'])
    db.json.delete('same')
    expect(db.kv.get('same')).toBe('kv')
    expect(db.state.get('same')).toBe('state')
  })

  it('read documents are copies: changing one does not change what is stored', () => {
    const db = Strata.cache()
    db.json.set('d', '$', { a: { b: [1] } })
    const got = db.json.get('d') as { a: { b: number[] } }
    got.a.b.push(2)
    expect(db.json.get('d')).toEqual({ a: { b: [1] } })
    const sub = db.json.get('d', '$.a.b') as number[]
    sub.push(3)
    expect(db.json.get('d', '$.a.b')).toEqual([1])
  })
})

describe('json: reading by path', () => {
  const doc = {
    a: { b: [10, { c: 'deep' }, null], e: '' },
    'a.b': 'dotted',
    "it's": 'quoted',
    'a b': [1, 2],
    '': 'empty key',
    é: 'accent',
    back: { 'sl\\ash': 'backslash' },
    n: 0,
    s: 'str',
    bytes: new Uint8Array([1, 2, 3]),
  }

  it('.name, [index] and [\'name\'] steps', () => {
    const db = Strata.cache()
    db.json.set('d', '$', doc)
    expect(db.json.get('d', '$.a')).toEqual(doc.a)
    expect(db.json.get('d', '$.a.b')).toEqual([10, { c: 'deep' }, null])
    expect(db.json.get('d', '$.a.b[0]')).toBe(10)
    expect(db.json.get('d', '$.a.b[1].c')).toBe('deep')
    expect(db.json.get('d', "$['a']['b'][1]['c']")).toBe('deep')
    expect(db.json.get('d', "$.a['b'][1].c")).toBe('deep')
    expect(db.json.get('d', "$['a.b']")).toBe('dotted')
    expect(db.json.get('d', "$['it\\'s']")).toBe('quoted')
    expect(db.json.get('d', "$['a b'][1]")).toBe(2)
    expect(db.json.get('d', "$['']")).toBe('empty key')
    expect(db.json.get('d', "$['é']")).toBe('accent')
    expect(db.json.get('d', "$.back['sl\\\\ash']")).toBe('backslash')
    expect(db.json.get('d', '$.n')).toBe(0)
    expect(db.json.get('d', '$.a.e')).toBe('')
    expect(db.json.get('d', '$.bytes')).toEqual(new Uint8Array([1, 2, 3]))
    expect(db.json.get('d', '$.a_b')).toBeNull()
    expect(db.json.get('d', '$._x$-1')).toBeNull() // a valid .name, just not there
  })

  it('a missing path is null: absent key, index past the end, a step into a scalar, wrong container kind', () => {
    const db = Strata.cache()
    db.json.set('d', '$', doc)
    expect(db.json.get('d', '$.nope')).toBeNull()
    expect(db.json.get('d', '$.a.nope.deeper')).toBeNull()
    expect(db.json.get('d', '$.a.b[3]')).toBeNull()
    expect(db.json.get('d', '$.a.b[999999]')).toBeNull()
    expect(db.json.get('d', '$.n.x')).toBeNull()
    expect(db.json.get('d', '$.s[0]')).toBeNull() // strings are not arrays
    expect(db.json.get('d', '$.s.length')).toBeNull()
    expect(db.json.get('d', '$.bytes[0]')).toBeNull() // bytes are a scalar
    expect(db.json.get('d', '$.a[0]')).toBeNull() // an index into an object
    expect(db.json.get('d', '$.a.b.length')).toBeNull() // a name on an array
    expect(db.json.get('d', '$.a.b[2]')).toBeNull() // a stored null reads as null too
  })

  it('only own keys are found: prototype names are missing paths', () => {
    const db = Strata.cache()
    db.json.set('d', '$', { a: {}, list: [] })
    for (const p of ['$.constructor', '$.toString', '$.__proto__', "$['__proto__']", '$.a.hasOwnProperty', '$.list.map', '$.valueOf']) {
      expect(db.json.get('d', p)).toBeNull()
    }
  })

  it('a stored __proto__ key is an own property, readable by path, and pollutes nothing', () => {
    const db = Strata.cache()
    const evil = JSON.parse('{"__proto__": {"polluted": "yes"}, "constructor": {"prototype": {"polluted": "yes"}}}') as Value
    db.json.set('d', '$', evil)
    const got = db.json.get('d') as Record<string, Value>
    expect(Object.getPrototypeOf(got)).toBe(Object.prototype)
    expect(Object.getOwnPropertyNames(got).sort()).toEqual(['__proto__', 'constructor'])
    expect(db.json.get('d', '$.__proto__')).toEqual({ polluted: 'yes' })
    expect(db.json.get('d', "$['__proto__'].polluted")).toBe('yes')
    expect(db.json.get('d', '$.constructor.prototype.polluted')).toBe('yes')
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
    expect((got as { polluted?: unknown }).polluted).toBeUndefined()
  })
})

describe('json: set by path', () => {
  it('set with a path writes the document that get reads (in db.json, not db.state)', () => {
    const db = Strata.cache()
    expect(db.json.set('d', '$.a', 1)).toBe(1)
    expect(db.json.get('d')).toEqual({ a: 1 })
    expect(db.json.get('d', '$.a')).toBe(1)
    expect(db.json.list()).toEqual(['d'])
    expect(db.json.history('d').map((h) => h.version)).toEqual([1])
    expect(db.state.get('d')).toBeNull()
    expect(db.state.list()).toEqual([])
  })

  it('a path set on an existing document changes that part and returns the next version', () => {
    needsPathWrites()
    const db = Strata.cache()
    expect(db.json.set('d', '$', { a: { b: 1 }, keep: [1, 2] })).toBe(1)
    expect(db.json.set('d', '$.a.b', 2)).toBe(2)
    expect(db.json.set('d', '$.a.c', { x: true })).toBe(3)
    expect(db.json.set('d', '$.keep[1]', 20)).toBe(4)
    expect(db.json.get('d')).toEqual({ a: { b: 2, c: { x: true } }, keep: [1, 20] })
    expect(db.json.history('d').map((h) => h.version)).toEqual([4, 3, 2, 1])
    expect(db.json.history('d')[3]!.value).toEqual({ a: { b: 1 }, keep: [1, 2] })
  })

  it('missing intermediate objects are created; an array when the next step is an index', () => {
    needsPathWrites()
    const db = Strata.cache()
    db.json.set('a', '$.x.y.z', 1)
    expect(db.json.get('a')).toEqual({ x: { y: { z: 1 } } })
    db.json.set('b', '$.list[0].name', 'first')
    expect(db.json.get('b')).toEqual({ list: [{ name: 'first' }] })
    db.json.set('c', '$[0]', 'root array')
    expect(db.json.get('c')).toEqual(['root array'])
    db.json.set('d', '$[0][0].k', 1)
    expect(db.json.get('d')).toEqual([[{ k: 1 }]])
    db.json.set('e', '$', { existing: {} })
    db.json.set('e', '$.existing.new.deeper[0]', 'v')
    expect(db.json.get('e')).toEqual({ existing: { new: { deeper: ['v'] } } })
    db.json.set('e', '$.existing.new.other', 2)
    expect(db.json.get('e')).toEqual({ existing: { new: { deeper: ['v'], other: 2 } } })
  })

  it("['quoted'] steps create keys with dots, spaces, quotes and nothing in them", () => {
    needsPathWrites()
    const db = Strata.cache()
    db.json.set('d', "$['a.b']", 1)
    db.json.set('d', "$['it\\'s']['x y']", 2)
    db.json.set('d', "$['']", 3)
    db.json.set('d', "$['a.b.c'][0]", 4)
    expect(db.json.get('d')).toEqual({ 'a.b': 1, "it's": { 'x y': 2 }, '': 3, 'a.b.c': [4] })
    expect(db.json.get('d', '$.a')).toBeNull() // 'a.b' is one key, not a path
  })

  it('arrays: replace an element, append at index == length; past the end is INVALID_PATH naming the step', () => {
    needsPathWrites()
    const db = Strata.cache()
    db.json.set('d', '$', { list: [1, 2] })
    expect(db.json.set('d', '$.list[0]', 'one')).toBe(2)
    expect(db.json.set('d', '$.list[2]', 3)).toBe(3)
    expect(db.json.get('d', '$.list')).toEqual(['one', 2, 3])
    expectCode(() => db.json.set('d', '$.list[4]', 'gap'), 'INVALID_PATH', '4', '$.list')
    expectCode(() => db.json.set('d', '$.list[100].x', 'gap'), 'INVALID_PATH', '100')
    expect(db.json.get('d', '$.list')).toEqual(['one', 2, 3])
    expect(db.json.history('d')[0]!.version).toBe(3) // nothing written by the failures
  })

  it('on a new document, an index past the end of the created array is INVALID_PATH and nothing is written', () => {
    const db = Strata.cache()
    expectCode(() => db.json.set('d', '$[1]', 'x'), 'INVALID_PATH', '1')
    expectCode(() => db.json.set('d', '$.a[3]', 'x'), 'INVALID_PATH', '3', '$.a')
    expect(db.json.get('d')).toBeNull()
    expect(db.json.history('d')).toEqual([])
  })

  it('a step into a non-container, or the wrong kind of container, is INVALID_PATH naming the step', () => {
    const db = Strata.cache()
    db.json.set('d', '$', { n: 5, s: 'text', z: null, b: new Uint8Array([1]), list: [1], obj: { k: 1 } })
    expectCode(() => db.json.set('d', '$.n.x', 1), 'INVALID_PATH', '$.n')
    expectCode(() => db.json.set('d', '$.s[0]', 1), 'INVALID_PATH', '$.s')
    expectCode(() => db.json.set('d', '$.z.x', 1), 'INVALID_PATH', '$.z')
    expectCode(() => db.json.set('d', '$.b[0]', 1), 'INVALID_PATH', '$.b')
    expectCode(() => db.json.set('d', '$.list.x', 1), 'INVALID_PATH', '.x', '$.list')
    expectCode(() => db.json.set('d', '$.obj[0]', 1), 'INVALID_PATH', '[0]', '$.obj')
    expectCode(() => db.json.set('d', '$.list[0].deeper', 1), 'INVALID_PATH', '$.list[0]')
    db.json.set('scalar', '$', 5)
    expectCode(() => db.json.set('scalar', '$.a', 1), 'INVALID_PATH', '$')
    expectCode(() => db.json.set('scalar', '$[0]', 1), 'INVALID_PATH', '$')
    expect(db.json.get('scalar')).toBe(5)
    expect(db.json.history('d')).toHaveLength(1)
  })

  it('a document that is null is a non-container too: a path into it is INVALID_PATH', () => {
    needsPathWrites()
    const db = Strata.cache()
    db.json.set('d', '$', null)
    expectCode(() => db.json.set('d', '$.a', 1), 'INVALID_PATH', '$')
    expect(db.json.history('d').map((h) => h.value)).toEqual([null])
  })

  it('a deleted document is missing: a path set creates it afresh, with the next version', () => {
    needsPathWrites()
    const db = Strata.cache()
    db.json.set('d', '$', { old: true })
    db.json.delete('d')
    expect(db.json.set('d', '$.fresh', 1)).toBe(3)
    expect(db.json.get('d')).toEqual({ fresh: 1 })
  })

  it('__proto__ written by path stays an own key and pollutes nothing', () => {
    needsPathWrites()
    const db = Strata.cache()
    db.json.set('d', "$['__proto__'].polluted", 'yes')
    db.json.set('d', '$.__proto__.more', 1)
    db.json.set('d', '$.constructor.prototype.polluted', 'yes')
    const got = db.json.get('d') as Record<string, Value>
    expect(Object.getPrototypeOf(got)).toBe(Object.prototype)
    expect(Object.getOwnPropertyNames(got).sort()).toEqual(['__proto__', 'constructor'])
    expect(got['__proto__']).toEqual({ polluted: 'yes', more: 1 })
    expect(db.json.get('d', '$.constructor')).toEqual({ prototype: { polluted: 'yes' } })
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
    expect(db.json.delete('d', "$['__proto__'].polluted")).toBe(true)
    expect(db.json.get('d', '$.__proto__')).toEqual({ more: 1 })
    expect(db.json.delete('d', '$.__proto__')).toBe(true)
    expect(Object.getOwnPropertyNames(db.json.get('d'))).toEqual(['constructor'])
  })

  it('a bad value is INVALID_VALUE naming its path within the document; too big or deep is LIMIT_EXCEEDED', () => {
    const db = Strata.cache()
    db.json.set('d', '$', { a: 1 })
    expectCode(() => db.json.set('d', '$', undefined as never), 'INVALID_VALUE', '$')
    expectCode(() => db.json.set('d', '$', { a: [1, () => 1] } as never), 'INVALID_VALUE', '$.a[1]')
    expectCode(() => db.json.set('d', '$.a', { b: undefined } as never), 'INVALID_VALUE', '$.a.b')
    expectCode(() => db.json.set('d', '$.x.y', [new Date()] as never), 'INVALID_VALUE', '$.x.y[0]')
    expectCode(() => db.json.set('new', '$.n', NaN), 'INVALID_VALUE', '$.n')
    expectCode(() => db.json.set('d', '$', 2n ** 64n), 'INVALID_VALUE', '$')
    let deep: Value = 1
    for (let i = 0; i < 200; i++) deep = [deep]
    expectCode(() => db.json.set('d', '$', deep), 'LIMIT_EXCEEDED', '128')
    expectCode(() => db.json.set('d', '$', 'x'.repeat(17 * 1024 * 1024)), 'LIMIT_EXCEEDED', '16 MiB')
    expect(db.json.get('d')).toEqual({ a: 1 })
    expect(db.json.get('new')).toBeNull()
    expect(db.json.history('d')).toHaveLength(1)
  })
})

describe('json: delete by path', () => {
  it('removes a key or an array element and says so; the rest stays', () => {
    needsPathWrites()
    const db = Strata.cache()
    db.json.set('d', '$', { a: { b: 1, c: 2 }, list: ['x', 'y', 'z'], z: null })
    expect(db.json.delete('d', '$.a.b')).toBe(true)
    expect(db.json.get('d', '$.a')).toEqual({ c: 2 })
    expect(db.json.delete('d', '$.list[1]')).toBe(true)
    expect(db.json.get('d', '$.list')).toEqual(['x', 'z'])
    expect(db.json.delete('d', "$['z']")).toBe(true) // a stored null is something
    expect(db.json.get('d')).toEqual({ a: { c: 2 }, list: ['x', 'z'] })
    expect(db.json.history('d').map((h) => h.version)).toEqual([4, 3, 2, 1])
    expect(db.json.delete('d', '$.a')).toBe(true)
    expect(db.json.delete('d', '$.list')).toBe(true)
    expect(db.json.get('d')).toEqual({})
    expect(db.json.list()).toEqual(['d']) // the document stays, empty
  })

  it('a missing path or document removes nothing: false, no new version', () => {
    needsPathWrites()
    const db = Strata.cache()
    db.json.set('d', '$', { a: { b: [1] }, s: 'str' })
    expect(db.json.delete('d', '$.nope')).toBe(false)
    expect(db.json.delete('d', '$.a.nope.deeper')).toBe(false)
    expect(db.json.delete('d', '$.a.b[1]')).toBe(false)
    expect(db.json.delete('d', '$.s.x')).toBe(false)
    expect(db.json.delete('d', '$.a[0]')).toBe(false)
    expect(db.json.delete('d', '$.constructor')).toBe(false)
    expect(db.json.delete('missing', '$.a')).toBe(false)
    expect(db.json.history('d')).toHaveLength(1)
    expect(db.json.history('missing')).toEqual([])
  })

  it('a bad path is INVALID_PATH', () => {
    const db = Strata.cache()
    db.json.set('d', '$', { a: 1 })
    expectCode(() => db.json.delete('d', '$.'), 'INVALID_PATH')
    expectCode(() => db.json.delete('d', 'a'), 'INVALID_PATH')
    expect(db.json.get('d')).toEqual({ a: 1 })
  })
})

describe('json: paths that are not paths', () => {
  it('get, set and delete reject malformed paths with INVALID_PATH naming the path', () => {
    const db = Strata.cache()
    db.json.set('d', '$', { a: 1 })
    const bad = ['', 'a', '.a', '$a', '$.', '$..a', '$.1a', '$.a.', '$[', '$[]', '$[-1]', '$[1.5]', '$[x]', "$['a", "$['a'", '$["a\']', '$[01]', '$ .a', '$.a b', '$*', '$.a[0']
    for (const p of bad) {
      expectCode(() => db.json.get('d', p), 'INVALID_PATH', JSON.stringify(p))
      expectCode(() => db.json.set('d', p, 1), 'INVALID_PATH')
      expectCode(() => db.json.delete('d', p), 'INVALID_PATH')
    }
    for (const p of [5, null, {}, ['$']]) {
      expectCode(() => db.json.get('d', p as never), 'INVALID_PATH')
      expectCode(() => db.json.set('d', p as never, 1), 'INVALID_PATH')
      expectCode(() => db.json.delete('d', p as never), 'INVALID_PATH')
    }
    expect(db.json.get('d')).toEqual({ a: 1 })
    expect(db.json.history('d')).toHaveLength(1)
  })
})

describe('json: path forms of RFC 9535 beyond the three the spec names', () => {
  it('a .name may hold non-ASCII characters; a bracketed name may be double-quoted; escapes work in both quotes', () => {
    const db = Strata.cache()
    db.json.set('d', '$.ünï.日本', 1)
    db.json.set('d', '$["we ird"]["it\\"s"]', 2)
    db.json.set('d', "$['o\\'k']", 3)
    expect(db.json.get('d')).toEqual({ ünï: { 日本: 1 }, 'we ird': { 'it"s': 2 }, "o'k": 3 })
    expect(db.json.get('d', "$['ünï']['日本']")).toBe(1)
    expect(db.json.get('d', `$['we ird']['it"s']`)).toBe(2)
    expect(db.json.get('d', '$["o\'k"]')).toBe(3)
  })

  it('errors write a name that is no .name as a bracketed step, so the path in the message parses back', () => {
    const db = Strata.cache()
    db.json.set('d', '$', { 'we ird': 5 })
    const e = expectCode(() => db.json.set('d', "$['we ird'].x", 1), 'INVALID_PATH', "$['we ird']")
    expect(e.message).not.toContain('$.we ird')
  })
})

describe('json: list and history', () => {
  it('list: live document keys in order, with prefix, limit, after and asOf', () => {
    const db = Strata.cache()
    for (const k of ['b', 'a', 'doc:2', 'doc:1', 'doc:10', 'é']) db.json.set(k, '$', { k })
    expect(db.json.list()).toEqual(['a', 'b', 'doc:1', 'doc:10', 'doc:2', 'é'])
    expect(db.json.list({ prefix: 'doc:' })).toEqual(['doc:1', 'doc:10', 'doc:2'])
    expect(db.json.list({ prefix: 'doc:', limit: 2 })).toEqual(['doc:1', 'doc:10'])
    expect(db.json.list({ prefix: 'doc:', after: 'doc:10' })).toEqual(['doc:2'])
    expect(db.json.list({ after: 'doc:2' })).toEqual(['é'])
    expect(db.json.list({ limit: 0 })).toEqual([])
    const t = db.json.history('é')[0]!.timestamp
    db.json.delete('a')
    db.json.set('c', '$', 1)
    expect(db.json.list({ limit: 3 })).toEqual(['b', 'c', 'doc:1'])
    expect(db.json.list({ asOf: t })).toEqual(['a', 'b', 'doc:1', 'doc:10', 'doc:2', 'é'])
    expectCode(() => db.json.list({ prefix: 5 } as never), 'INVALID_VALUE', 'prefix')
    expectCode(() => db.json.list({ limit: -1 }), 'INVALID_VALUE', 'limit')
    expectCode(() => db.json.list({ asOf: -1 }), 'INVALID_VALUE', 'asOf')
    expectCode(() => db.json.list({ type: 'x' } as never), 'INVALID_VALUE', 'type')
  })

  it('history: every version newest first, deletes as { deleted: true, value: null }, limit; unknown key []', () => {
    const db = Strata.cache()
    db.json.set('d', '$', { v: 1 })
    db.json.set('d', '$', { v: 2 })
    db.json.delete('d')
    db.json.set('d', '$', { v: 4 })
    const h = db.json.history('d')
    expect(h.map((e) => e.version)).toEqual([4, 3, 2, 1])
    expect(h.map((e) => e.value)).toEqual([{ v: 4 }, null, { v: 2 }, { v: 1 }])
    expect(h[1]).toMatchObject({ deleted: true, value: null, version: 3 })
    expect(h[0]!.deleted).toBeUndefined()
    for (let i = 1; i < h.length; i++) expect(h[i - 1]!.timestamp).toBeGreaterThan(h[i]!.timestamp)
    expect(db.json.history('d', { limit: 2 }).map((e) => e.version)).toEqual([4, 3])
    expect(db.json.history('unknown')).toEqual([])
    expectCode(() => db.json.history('d', { limit: -1 }), 'INVALID_VALUE', 'limit')
    expectCode(() => db.json.history('d', { lim: 1 } as never), 'INVALID_VALUE', 'lim')
  })
})

describe('json: time travel', () => {
  it('get(key, path, { asOf }) reads the document as it was then, by path too', () => {
    const db = Strata.cache()
    db.json.set('d', '$', { a: { b: 1 }, list: [1] })
    const t1 = db.json.history('d')[0]!.timestamp
    db.json.set('d', '$', { a: { b: 2 }, list: [1, 2] })
    const t2 = db.json.history('d')[0]!.timestamp
    db.json.delete('d')
    const t3 = db.json.history('d')[0]!.timestamp
    expect(db.json.get('d', '$', { asOf: t1 - 1 })).toBeNull()
    expect(db.json.get('d', '$.a.b', { asOf: t1 - 1 })).toBeNull()
    expect(db.json.get('d', '$', { asOf: t1 })).toEqual({ a: { b: 1 }, list: [1] })
    expect(db.json.get('d', '$.a.b', { asOf: t1 })).toBe(1)
    expect(db.json.get('d', '$.list[1]', { asOf: t1 })).toBeNull()
    expect(db.json.get('d', '$.list[1]', { asOf: t2 })).toBe(2)
    expect(db.json.get('d', undefined, { asOf: t2 })).toEqual({ a: { b: 2 }, list: [1, 2] })
    expect(db.json.get('d', '$', { asOf: t3 })).toBeNull()
    expect(db.json.get('d')).toBeNull()
  })

  it('a handle from db.at(ts) reads documents as of ts with get, list and history', () => {
    const db = Strata.cache()
    db.json.set('d', '$', { v: 1 })
    const t = db.json.history('d')[0]!.timestamp
    db.json.set('d', '$', { v: 2 })
    db.json.set('later', '$', 1)
    const then = db.at(t)
    expect(then.json.get('d')).toEqual({ v: 1 })
    expect(then.json.get('d', '$.v')).toBe(1)
    expect(then.json.get('later')).toBeNull()
    expect(then.json.list()).toEqual(['d'])
    expect(then.json.history('d').map((h) => h.version)).toEqual([1])
  })

  it('a handle from db.at(ts) cannot write: set and delete are READ_ONLY, whatever the path', () => {
    const db = Strata.cache()
    db.json.set('d', '$', { a: 1, b: 2 })
    const then = db.at(nowMicros() + 60_000_000)
    expectCode(() => then.json.set('d', '$', {}), 'READ_ONLY')
    expectCode(() => then.json.set('d', '$.a', 5), 'READ_ONLY')
    expectCode(() => then.json.set('new', '$.a', 5), 'READ_ONLY')
    expectCode(() => then.json.delete('d'), 'READ_ONLY')
    expectCode(() => then.json.delete('d', '$.a'), 'READ_ONLY')
    expectCode(() => then.json.delete('missing'), 'READ_ONLY')
    expect(db.json.get('d')).toEqual({ a: 1, b: 2 })
    expect(db.json.list()).toEqual(['d'])
  })

  it('a read-only handle refuses a path delete even when there is nothing to delete', () => {
    // Every write on a db.at() handle is READ_ONLY, like kv.delete of a missing key; it must not depend on data.
    const db = Strata.cache()
    db.json.set('d', '$', { a: 1 })
    const then = db.at(nowMicros() + 60_000_000)
    expectCode(() => then.json.delete('missing', '$.a'), 'READ_ONLY')
    expectCode(() => then.json.delete('d', '$.nope'), 'READ_ONLY')
    db.transaction(
      (tx) => {
        expectCode(() => tx.json.delete('missing', '$.a'), 'READ_ONLY')
      },
      { readOnly: true },
    )
  })

  it('asOf must be a non-negative number; unknown options are refused', () => {
    const db = Strata.cache()
    expectCode(() => db.json.get('d', '$', { asOf: -1 }), 'INVALID_VALUE', 'asOf')
    expectCode(() => db.json.get('d', '$', { asOf: 'now' } as never), 'INVALID_VALUE', 'asOf')
    expectCode(() => db.json.get('d', '$', { asof: 1 } as never), 'INVALID_VALUE', 'asof')
    expectCode(() => db.json.get('d', '$', 5 as never), 'INVALID_VALUE')
  })
})

describe('json: spaces and branches', () => {
  it('documents live in a space: each space has its own, with its own versions', () => {
    const db = Strata.cache()
    db.json.set('d', '$', { space: 'default' })
    db.setSpace('s')
    expect(db.json.get('d')).toBeNull()
    expect(db.json.list()).toEqual([])
    expect(db.json.set('d', '$', { space: 's' })).toBe(1)
    db.setSpace('default')
    expect(db.json.get('d')).toEqual({ space: 'default' })
    db.setSpace('s')
    expect(db.json.get('d', '$.space')).toBe('s')
    expect(db.listSpaces()).toContain('s')
  })

  it('path writes act on the current space', () => {
    needsPathWrites()
    const db = Strata.cache()
    db.json.set('d', '$', { a: 0 })
    db.setSpace('s')
    db.json.set('d', '$', { a: 'in s' })
    db.json.set('d', '$.b', 'also in s')
    expect(db.json.delete('d', '$.a')).toBe(true)
    expect(db.json.get('d')).toEqual({ b: 'also in s' })
    db.setSpace('default')
    expect(db.json.get('d')).toEqual({ a: 0 })
  })

  it('a fork holds the documents; later changes on either side are invisible to the other', () => {
    const db = Strata.cache()
    db.json.set('d', '$', { a: 1 })
    const name = uniq('jfork')
    db.forkBranch(name)
    const fork = db.branch(name)
    expect(fork.json.get('d')).toEqual({ a: 1 })
    expect(fork.json.history('d')).toHaveLength(1)
    fork.json.set('d', '$', { a: 'fork' })
    db.json.set('other', '$', 'main only')
    expect(db.json.get('d')).toEqual({ a: 1 })
    expect(fork.json.get('other')).toBeNull()
    expect(fork.json.get('d', '$.a')).toBe('fork')
  })

  it('diffBranches(a, b).json lists added, removed and modified documents with both values', () => {
    const db = Strata.cache()
    db.json.set('same', '$', 1)
    db.json.set('changed', '$', { v: 1 })
    db.json.set('gone', '$', { bye: true })
    const name = uniq('jdiff')
    db.forkBranch(name)
    const fork = db.branch(name)
    fork.json.set('changed', '$', { v: 2 })
    fork.json.delete('gone')
    fork.json.set('new', '$', [1])
    fork.setSpace('s')
    fork.json.set('spaced', '$', 's')
    const d = db.diffBranches('default', name)
    expect(byKey(d.json.added)).toEqual([
      { key: 'new', space: 'default', a: null, b: [1] },
      { key: 'spaced', space: 's', a: null, b: 's' },
    ])
    expect(d.json.removed).toEqual([{ key: 'gone', space: 'default', a: { bye: true }, b: null }])
    expect(d.json.modified).toEqual([{ key: 'changed', space: 'default', a: { v: 1 }, b: { v: 2 } }])
    expect(d.kv).toEqual({ added: [], removed: [], modified: [] })
    expect(d.state).toEqual({ added: [], removed: [], modified: [] })
    expect(d.events).toEqual({ added: [], removed: [] })
  })

  it('merges are per document: changes to different documents merge cleanly, once', () => {
    const db = Strata.cache()
    db.json.set('mine', '$', { v: 0 })
    db.json.set('theirs', '$', { v: 0 })
    const name = uniq('jmerge')
    db.forkBranch(name)
    const fork = db.branch(name)
    db.json.set('mine', '$', { v: 'main' })
    fork.json.set('theirs', '$', { v: 'fork' })
    fork.json.set('added', '$', { new: true })
    expect(db.mergeBranches(name)).toEqual({ applied: 2, conflicts: [] })
    expect(db.json.get('mine')).toEqual({ v: 'main' })
    expect(db.json.get('theirs')).toEqual({ v: 'fork' })
    expect(db.json.get('added')).toEqual({ new: true })
    expect(db.mergeBranches(name)).toEqual({ applied: 0, conflicts: [] })
  })

  it('a document changed on both sides is a conflict, even in different parts of it', () => {
    const db = Strata.cache()
    db.json.set('doc', '$', { a: 0, b: 0 })
    db.json.set('clean', '$', 0)
    const name = uniq('jconf')
    db.forkBranch(name)
    const fork = db.branch(name)
    db.json.set('doc', '$', { a: 'main', b: 0 }) // main changed a
    fork.json.set('doc', '$', { a: 0, b: 'fork' }) // the fork changed b
    fork.json.set('clean', '$', 'fork')
    const e = expectCode(() => db.mergeBranches(name), 'MERGE_CONFLICT', 'doc')
    expect(e.conflicts).toEqual(['doc'])
    expect(db.json.get('doc')).toEqual({ a: 'main', b: 0 })
    expect(db.json.get('clean')).toBe(0) // strict writes nothing at all
    expect(db.mergeBranches(name, { strategy: 'ours' })).toMatchObject({ conflicts: ['doc'] })
    expect(db.json.get('doc')).toEqual({ a: 'main', b: 0 })
    expect(db.json.get('clean')).toBe('fork')
  })

  it("strategy 'theirs' takes the source's whole document, not a field-by-field blend", () => {
    const db = Strata.cache()
    db.json.set('doc', '$', { a: 0, b: 0 })
    const name = uniq('jtheirs')
    db.forkBranch(name)
    const fork = db.branch(name)
    db.json.set('doc', '$', { a: 'main', b: 0 })
    fork.json.set('doc', '$', { a: 0, b: 'fork' })
    expect(db.mergeBranches(name, { strategy: 'theirs' })).toEqual({ applied: 1, conflicts: ['doc'] })
    expect(db.json.get('doc')).toEqual({ a: 0, b: 'fork' })
  })

  it('path writes on both sides of a fork conflict per document too', () => {
    needsPathWrites()
    const db = Strata.cache()
    db.json.set('doc', '$', { a: 0, b: 0 })
    const name = uniq('jpath')
    db.forkBranch(name)
    const fork = db.branch(name)
    db.json.set('doc', '$.a', 'main')
    fork.json.set('doc', '$.b', 'fork')
    fork.json.set('solo', '$.x', 1)
    const e = expectCode(() => db.mergeBranches(name), 'MERGE_CONFLICT')
    expect(e.conflicts).toEqual(['doc'])
    expect(db.json.get('solo')).toBeNull()
    expect(db.mergeBranches(name, { strategy: 'ours' })).toEqual({ applied: 1, conflicts: ['doc'] })
    expect(db.json.get('doc')).toEqual({ a: 'main', b: 0 })
    expect(db.json.get('solo')).toEqual({ x: 1 })
  })

  it('the same change on both sides, or a delete on one side only, is no conflict', () => {
    const db = Strata.cache()
    db.json.set('same', '$', { v: 0 })
    db.json.set('del', '$', { v: 0 })
    const name = uniq('jsame')
    db.forkBranch(name)
    const fork = db.branch(name)
    db.json.set('same', '$', { v: 1 })
    fork.json.set('same', '$', { v: 1 })
    fork.json.delete('del')
    expect(db.mergeBranches(name).conflicts).toEqual([])
    expect(db.json.get('same')).toEqual({ v: 1 })
    expect(db.json.get('del')).toBeNull()
  })
})

describe('json: transactions', () => {
  it('tx.json sees its own writes; they appear at commit, atomically with the rest', () => {
    const db = Strata.cache()
    db.json.set('d', '$', { v: 0 })
    db.transaction((tx) => {
      expect(tx.json.get('d')).toEqual({ v: 0 })
      expect(tx.json.set('d', '$', { v: 1 })).toBe(2)
      expect(tx.json.get('d', '$.v')).toBe(1)
      expect(tx.json.set('fresh', '$', [1])).toBe(1)
      expect(tx.json.list()).toEqual(['d', 'fresh'])
      expect(db.json.get('d')).toEqual({ v: 0 })
      expect(db.json.get('fresh')).toBeNull()
      tx.kv.put('k', 1)
    })
    expect(db.json.get('d')).toEqual({ v: 1 })
    expect(db.json.get('fresh')).toEqual([1])
    expect(db.json.history('d')[0]!.timestamp).toBe(db.kv.getVersioned('k')!.timestamp)
  })

  it('path writes inside a transaction build on its own view', () => {
    needsPathWrites()
    const db = Strata.cache()
    db.json.set('d', '$', { a: 1 })
    db.transaction((tx) => {
      tx.json.set('d', '$.b', 2)
      tx.json.set('d', '$.c[0]', 3)
      expect(tx.json.delete('d', '$.a')).toBe(true)
      expect(tx.json.get('d')).toEqual({ b: 2, c: [3] })
      expect(db.json.get('d')).toEqual({ a: 1 })
    })
    expect(db.json.get('d')).toEqual({ b: 2, c: [3] })
  })

  it('a throwing fn writes nothing; rollback drops the writes', () => {
    const db = Strata.cache()
    db.json.set('d', '$', { v: 0 })
    expect(() =>
      db.transaction((tx) => {
        tx.json.set('d', '$', { v: 1 })
        tx.json.delete('d')
        tx.json.set('other', '$', 1)
        throw new Error('abort')
      }),
    ).toThrow('abort')
    expect(db.json.get('d')).toEqual({ v: 0 })
    expect(db.json.get('other')).toBeNull()
    const tx = db.begin()
    tx.json.set('d', '$', { v: 2 })
    tx.rollback()
    expect(db.json.get('d')).toEqual({ v: 0 })
    expectCode(() => tx.json.set('d', '$', 1), 'CLOSED')
  })

  it('CONFLICT when another writer changed a document the transaction read', () => {
    const db = Strata.cache()
    db.json.set('d', '$', { v: 0 })
    expectCode(
      () =>
        db.transaction((tx) => {
          const v = tx.json.get('d', '$.v') as number
          db.json.set('d', '$', { v: 100 })
          tx.json.set('copy', '$', v)
        }),
      'CONFLICT',
    )
    expect(db.json.get('copy')).toBeNull()
    expect(db.json.get('d')).toEqual({ v: 100 })
  })

  it('a path set in a transaction conflicts with a concurrent change of that document, and retries', () => {
    needsPathWrites()
    const db = Strata.cache()
    db.json.set('d', '$', { a: 0, b: 0 })
    let runs = 0
    db.transaction(
      (tx) => {
        runs++
        tx.json.set('d', '$.a', runs)
        if (runs === 1) db.json.set('d', '$.b', 'outside')
      },
      { retries: 2 },
    )
    expect(runs).toBe(2)
    expect(db.json.get('d')).toEqual({ a: 2, b: 'outside' })
  })

  it('a read-only transaction refuses json writes with READ_ONLY', () => {
    const db = Strata.cache()
    db.json.set('d', '$', { a: 1 })
    db.transaction(
      (tx) => {
        expectCode(() => tx.json.set('d', '$', 1), 'READ_ONLY')
        expectCode(() => tx.json.set('d', '$.a', 2), 'READ_ONLY')
        expectCode(() => tx.json.delete('d'), 'READ_ONLY')
        expectCode(() => tx.json.delete('d', '$.a'), 'READ_ONLY')
        expect(tx.json.get('d', '$.a')).toBe(1)
      },
      { readOnly: true },
    )
    expect(db.json.get('d')).toEqual({ a: 1 })
  })
})

describe('json: keys, options and lifecycle errors', () => {
  it('a bad key is INVALID_KEY (LIMIT_EXCEEDED when too long) in every method', () => {
    const db = Strata.cache()
    const bad: unknown[] = [5, null, undefined, {}, '', 'a\u0000b', 'lone \ud800']
    for (const k of bad) {
      expectCode(() => db.json.set(k as never, '$', 1), 'INVALID_KEY')
      expectCode(() => db.json.set(k as never, '$.a', 1), 'INVALID_KEY')
      expectCode(() => db.json.get(k as never), 'INVALID_KEY')
      expectCode(() => db.json.get(k as never, '$.a'), 'INVALID_KEY')
      expectCode(() => db.json.delete(k as never), 'INVALID_KEY')
      expectCode(() => db.json.delete(k as never, '$.a'), 'INVALID_KEY')
      expectCode(() => db.json.history(k as never), 'INVALID_KEY')
    }
    const long = 'k'.repeat(1025)
    expectCode(() => db.json.set(long, '$', 1), 'LIMIT_EXCEEDED', '1024')
    expectCode(() => db.json.set(long, '$.a', 1), 'LIMIT_EXCEEDED', '1024')
    expect(db.json.set('k'.repeat(1024), '$', 1)).toBe(1)
    expect(db.json.list()).toEqual(['k'.repeat(1024)])
  })

  it('every call on a closed handle is CLOSED, checked before the arguments', () => {
    const db = Strata.cache()
    db.json.set('d', '$', { a: 1 })
    db.close()
    expectCode(() => db.json.set('d', '$', 1), 'CLOSED')
    expectCode(() => db.json.set('d', '$.a', 2), 'CLOSED')
    expectCode(() => db.json.set(5 as never, 'bad path', undefined as never), 'CLOSED')
    expectCode(() => db.json.get('d'), 'CLOSED')
    expectCode(() => db.json.get('d', '$.a', { asOf: 1 }), 'CLOSED')
    expectCode(() => db.json.get(5 as never, 'bad path'), 'CLOSED')
    expectCode(() => db.json.delete('d'), 'CLOSED')
    expectCode(() => db.json.delete('d', '$.a'), 'CLOSED')
    expectCode(() => db.json.delete('d', 'bad path'), 'CLOSED')
    expectCode(() => db.json.list(), 'CLOSED')
    expectCode(() => db.json.list({ bogus: 1 } as never), 'CLOSED')
    expectCode(() => db.json.history('d'), 'CLOSED')
  })

  it('a handle on a deleted branch gets BRANCH_NOT_FOUND', () => {
    const db = Strata.cache()
    const name = uniq('jgone')
    db.forkBranch(name)
    const other = db.branch(name)
    db.deleteBranch(name)
    expectCode(() => other.json.set('d', '$', 1), 'BRANCH_NOT_FOUND')
    expectCode(() => other.json.set('d', '$.a', 1), 'BRANCH_NOT_FOUND')
    expectCode(() => other.json.get('d'), 'BRANCH_NOT_FOUND')
    expectCode(() => other.json.delete('d', '$.a'), 'BRANCH_NOT_FOUND')
    expectCode(() => other.json.list(), 'BRANCH_NOT_FOUND')
  })

  it('failures are StrataErrors', () => {
    const db = Strata.cache()
    try {
      db.json.get('d', 'no dollar')
      expect.unreachable()
    } catch (e) {
      expect(e).toBeInstanceOf(StrataError)
      expect(e).toBeInstanceOf(Error)
      expect((e as StrataError).code).toBe('INVALID_PATH')
    }
  })
})

describe('json: concurrent path writes (set is a CAS loop)', () => {
  it('two handles setting different paths of one document both land, in either order', () => {
    needsPathWrites()
    const db = Strata.cache()
    const other = db.branch('default')
    db.json.set('doc', '$', { a: 0, b: 0 })
    // The getter runs while db.json.set encodes its new document: after it read version 1, before its CAS. The
    // other handle's write lands in between, so that CAS fails and set must read again and retry.
    const v = onEncode(() => {
      expect(other.json.set('doc', '$.b', 'other')).toBe(2)
    })
    expect(db.json.set('doc', '$.a', v.value)).toBe(3)
    expect(v.encodes()).toBeGreaterThanOrEqual(2)
    expect(db.json.get('doc')).toEqual({ a: { by: 'db' }, b: 'other' })
    expect(other.json.get('doc')).toEqual({ a: { by: 'db' }, b: 'other' })
    expect(db.json.history('doc').map((h) => h.version)).toEqual([3, 2, 1])
  })

  it('a path set racing a whole-document set and a delete still ends with its own change on the latest document', () => {
    needsPathWrites()
    const db = Strata.cache()
    const other = db.branch('default')
    db.json.set('doc', '$', { keep: 1 })
    const replaced = onEncode(() => other.json.set('doc', '$', { replaced: true }))
    expect(db.json.set('doc', '$.mine', replaced.value)).toBe(3)
    expect(db.json.get('doc')).toEqual({ replaced: true, mine: { by: 'db' } })
    // Deleted meanwhile: the retry creates the document afresh.
    const deleted = onEncode(() => other.json.delete('doc'))
    expect(db.json.set('doc', '$.again', deleted.value)).toBe(5)
    expect(db.json.get('doc')).toEqual({ again: { by: 'db' } })
  })

  it('a path delete racing another handle leaves the other handle change in place', () => {
    needsPathWrites()
    const db = Strata.cache()
    const other = db.branch('default')
    db.json.set('doc', '$', { a: 1, b: 1 })
    const v = onEncode(() => {
      other.json.set('doc', '$.c', 'other')
    })
    // A delete has no value to hook, so race a set with a delete on the other side instead.
    const w = onEncode(() => {
      expect(other.json.delete('doc', '$.b')).toBe(true)
    })
    db.json.set('doc', '$.x', v.value)
    db.json.set('doc', '$.y', w.value)
    expect(db.json.get('doc')).toEqual({ a: 1, c: 'other', x: { by: 'db' }, y: { by: 'db' } })
  })
})

// ---- worker threads (native: workers reach one engine through a named in-memory database) ----------------------



describe.runIf(BACKEND === 'native')('json: path writes from worker threads', () => {
  it('4 threads setting their own paths of one document at once: every write lands', async () => {
    needsPathWrites()
    const name = uniq('jthreads')
    const db = Strata.cache({ name })
    db.json.set('doc', '$', {})
    const workers = 4
    const per = 150
    const gate = new SharedArrayBuffer(4)
    const versions = await Promise.all(
      Array.from({ length: workers }, (_, w) =>
        inWorker<number[]>(
          `const out = []
           for (let i = 0; i < ${per}; i++) out.push(db.json.set('doc', "$.w${w}['k" + i + "']", i))
           return out`,
          { name, gate, workers },
          30_000,
        ),
      ),
    )
    const doc = db.json.get('doc') as Record<string, Record<string, number>>
    for (let w = 0; w < workers; w++) {
      expect(Object.keys(doc[`w${w}`]!)).toHaveLength(per)
      for (let i = 0; i < per; i++) expect(doc[`w${w}`]![`k${i}`]).toBe(i)
    }
    // Every set got its own version: 2 .. 1 + workers * per, each once.
    const all = versions.flat().sort((a, b) => a - b)
    expect(all).toEqual(Array.from({ length: workers * per }, (_, i) => i + 2))
    expect(db.json.history('doc', { limit: 1 })[0]!.version).toBe(1 + workers * per)
  })
})
