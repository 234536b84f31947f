/**
 * The public API, written once against the `Backend` contract: the same code drives the native addon and the
 * WebAssembly module. A `Strata` is a handle: it owns its current branch and space and its own binding handle on
 * the shared engine, so handles made with `db.branch(name)` or `db.at(ts)` never disturb each other.
 */
import { Ns, type Backend, type Binding, type Durability, type ReadBuffer, type TxBinding } from './backend.js'
import { Encoder, decode } from './codec.js'
import { StrataError } from './errors.js'
import { deleteAt, getAt, parsePath, setAt } from './json-path.js'
import type { Value } from './value.js'

let backend: Backend | undefined

/** Called once by the runtime entry (`entry/node.ts`, `entry/browser.ts`) with the backend it loaded. */
export function useBackend(b: Backend): void {
  backend = b
}

function loaded(): Backend {
  if (backend === undefined) throw new StrataError('UNSUPPORTED', 'no stratadb backend is loaded in this runtime')
  return backend
}

/** A value together with the version that wrote it. */
export interface Versioned {
  value: Value
  /** The key's version: 1 for the first write, +1 for every put or delete. */
  version: number
  /** Microseconds since the epoch when the version was committed. */
  timestamp: number
}

/** One entry of a key's history, newest first. Deletes appear with `deleted: true` and `value: null`. */
export interface HistoryEntry extends Versioned {
  deleted?: true
}

/** Options of every read: `asOf` reads the state at that timestamp (microseconds since the epoch). */
export interface ReadOptions {
  asOf?: number
}

export interface ListOptions extends ReadOptions {
  /** Only keys starting with this. */
  prefix?: string
  /** At most this many keys. */
  limit?: number
  /** Exclusive start key, for paging: pass the last key of the previous page. */
  after?: string
}

export interface BranchInfo {
  name: string
  /** When the branch was created (microseconds since the epoch). */
  createdAt: number
  /** The branch it was forked from, or `null` for `default` and branches made with `createBranch`. */
  parent: string | null
  /** The fork point's timestamp, or `null`. */
  forkedAt: number | null
}

/** One key that differs between two branches: `a` and `b` are its values there (`null` where it is absent). */
export interface DiffEntry {
  key: string
  space: string
  a: Value
  b: Value
}

/** Keys only in `b` (added), only in `a` (removed), or in both with different values (modified). */
export interface DiffSection {
  added: DiffEntry[]
  removed: DiffEntry[]
  modified: DiffEntry[]
}

export interface BranchDiff {
  kv: DiffSection
  state: DiffSection
  json: DiffSection
  events: { added: number[]; removed: number[] }
}

export type MergeStrategy = 'strict' | 'theirs' | 'ours'

export interface MergeResult {
  /** How many keys the merge wrote. */
  applied: number
  /** Keys changed on both sides since the common ancestor (resolved by `theirs`/`ours`). */
  conflicts: string[]
}

export interface OpenOptions {
  /**
   * When a write returns: `'always'` after its log record is fsynced (concurrent writers share fsyncs),
   * `'standard'` (default) after it reaches the OS, with an fsync within 100 ms, `'none'` only at `flush()`,
   * `checkpoint()` and `close()`.
   */
  durability?: Durability
  /**
   * Open without writing: writes throw `READ_ONLY`. The handle shares the engine of every other open of the
   * directory in this process, before or after it, so it sees every write of a writer of this process at once;
   * beside a writer in another process, it sees the directory as of the open. A read-only open never creates the
   * directory.
   */
  readOnly?: boolean
  /** Create the directory when it is missing (default `true`). */
  create?: boolean
  /**
   * How much history `compact()` and every checkpoint keep: at most `maxVersions` versions per key, and what is
   * younger than `maxAgeMs` (plus the version current at that age). The latest version of every key always stays.
   */
  retention?: RetentionOptions
}

export interface RetentionOptions {
  maxVersions?: number
  maxAgeMs?: number
}

function checkRetention(r: RetentionOptions | undefined, where: string): RetentionOptions {
  checkOptions(r, ['maxVersions', 'maxAgeMs'], where)
  const maxVersions = optionalNumber(r?.maxVersions, 'maxVersions', true)
  if (maxVersions === 0) throw new StrataError('INVALID_VALUE', `${where}: maxVersions must be at least 1; the latest version always stays`)
  return { maxVersions, maxAgeMs: optionalNumber(r?.maxAgeMs, 'maxAgeMs', false) }
}

export interface CacheOptions {
  /** A process-wide named in-memory database: every `Strata.cache({ name })` with this name shares its data. */
  name?: string
}

/** Rejects options the method does not know, so a typo never silently changes behaviour. */
function checkOptions(options: object | undefined, allowed: readonly string[], where: string): void {
  if (options === undefined) return
  if (options === null || typeof options !== 'object') {
    throw new StrataError('INVALID_VALUE', `${where}: options must be an object, got ${options === null ? 'null' : typeof options}`)
  }
  for (const k of Object.keys(options)) {
    if (!allowed.includes(k)) {
      const known = allowed.length ? allowed.join(', ') : 'none'
      throw new StrataError('INVALID_VALUE', `${where}: unknown option '${k}' (known: ${known})`)
    }
  }
}

function checkKey(key: unknown, what = 'key'): string {
  if (typeof key !== 'string') {
    throw new StrataError('INVALID_KEY', `${what} must be a string, got ${key === null ? 'null' : typeof key}`)
  }
  // A lone surrogate has no UTF-8 form; the bindings would silently replace it, so reject it here.
  if (!key.isWellFormed()) {
    throw new StrataError('INVALID_KEY', `${what} ${JSON.stringify(key)} contains a lone surrogate, which UTF-8 cannot hold`)
  }
  return key
}

function checkName(name: unknown, what: string): string {
  if (typeof name !== 'string') {
    throw new StrataError('INVALID_NAME', `${what} name must be a string, got ${name === null ? 'null' : typeof name}`)
  }
  return name
}

function optionalNumber(n: unknown, what: string, integer: boolean): number | undefined {
  if (n === undefined) return undefined
  if (typeof n !== 'number' || !Number.isFinite(n) || n < 0 || (integer && !Number.isInteger(n))) {
    const kind = integer ? 'a non-negative integer' : 'a non-negative number'
    throw new StrataError('INVALID_VALUE', `${what} must be ${kind}, got ${shown(n)}`)
  }
  return n
}

/** A bad argument as a message shows it: its type too where its text alone would pass for a good one (`'5'`, `5n`). */
function shown(v: unknown): string {
  switch (typeof v) {
    case 'number':
      return String(v)
    case 'string':
      return `the string ${JSON.stringify(v)}`
    case 'bigint':
      return `the bigint ${v}n (pass a number)`
    case 'object':
      return v === null ? 'null' : Array.isArray(v) ? 'an array' : 'an object'
    default:
      return typeof v
  }
}

/** A boolean option: `undefined` is `fallback`; anything but a boolean is refused rather than read as truthy. */
function optionalFlag(v: unknown, what: string, where: string, fallback: boolean): boolean {
  if (v === undefined) return fallback
  if (typeof v !== 'boolean') throw new StrataError('INVALID_VALUE', `${where}: ${what} must be a boolean, got ${shown(v)}`)
  return v
}

/**
 * The moment a read looks at: its `asOf` option, but never later than the handle's own moment (a `db.at(ts)`
 * handle is the database as it was at `ts`, which knew nothing later).
 */
function readAsOf(requested: unknown, handle: number | undefined): number | undefined {
  const asOf = optionalNumber(requested, 'asOf', false)
  if (asOf === undefined) return handle
  return handle === undefined ? asOf : Math.min(asOf, handle)
}

const encoder = new Encoder()

/** The engine state a handle shares with the handles made from it. */
class Shared {
  poisoned: StrataError | undefined
  /**
   * Opened with `readOnly: true`. Its engine may be a writer's of this process (shared so that it sees every write),
   * so the handles refuse writes themselves.
   */
  constructor(
    readonly backend: Backend,
    readonly readOnly = false,
  ) {}
}

/** Turns anything a binding threw into a `StrataError`, remembering a WebAssembly trap: the instance is unusable. */
function fail(shared: Shared, err: unknown): StrataError {
  if (typeof WebAssembly !== 'undefined' && err instanceof WebAssembly.RuntimeError) {
    shared.poisoned = new StrataError(
      'IO',
      `the WebAssembly instance trapped (${err.message}) and cannot be used any more; reload stratadb to continue`,
    )
    return shared.poisoned
  }
  return StrataError.from(err)
}

type Lifecycle = 'open' | 'closed'

/**
 * Where the calls of `db.kv` and `db.state` go: a handle (its current branch and space) or a transaction (its
 * snapshot and pending writes). Each method throws what the binding threw, already turned into a `StrataError`.
 */
interface Target {
  /** Throws `CLOSED` (or the trap of a broken WebAssembly instance) before any argument is looked at. */
  open(): void
  /** As `open`, and throws `READ_ONLY` where writes are refused. */
  writable(): void
  /** The fixed read time of a handle from `db.at(ts)`. */
  readonly asOf: number | undefined
  /** The buffer the last `get` landed in. */
  readonly reads: ReadBuffer
  get(ns: Ns, key: string, asOf: number | undefined): number
  put(ns: Ns, key: string, value: Uint8Array): number
  delete(ns: Ns, key: string): boolean
  cas(ns: Ns, key: string, expected: number | undefined, value: Uint8Array): number | null | undefined
  list(ns: Ns, prefix: string | undefined, after: string | undefined, limit: number | undefined, asOf: number | undefined): Uint8Array
  history(ns: Ns, key: string, limit: number | undefined): Uint8Array
  appendEvent(type: string, payload: Uint8Array): number
  /** Reads event `seq` into `reads`; returns its length or -1. */
  getEvent(seq: number, asOf: number | undefined): number
  listEvents(type: string | undefined, after: number | undefined, limit: number | undefined, asOf: number | undefined): Uint8Array
  countEvents(type: string | undefined, asOf: number | undefined): number
  verifyEvents(): number | null | undefined
}

const NAMESPACE_NAMES = { [Ns.Kv]: 'kv', [Ns.State]: 'state', [Ns.Json]: 'json', [Ns.Events]: 'events' } as const

/** Reads and writes of one namespace (KV or state cells) through a handle or a transaction. */
class Keyspace {
  /** @internal */
  constructor(
    protected readonly target: Target,
    protected readonly ns: Ns,
    protected readonly what: 'key' | 'cell',
  ) {}

  private read(key: string, options: ReadOptions | undefined, method: string): number {
    checkKey(key, this.what)
    let asOf = this.target.asOf
    if (options !== undefined) {
      checkOptions(options, ['asOf'], `${NAMESPACE_NAMES[this.ns]}.${method}`)
      asOf = readAsOf(options.asOf, asOf)
    }
    return this.target.get(this.ns, key, asOf)
  }

  /**
   * The live value of `key`, or `null` when it does not exist.
   * @param key 1 to 1024 bytes of UTF-8.
   * @param options `asOf`: read the value as of that timestamp.
   * @throws {StrataError} `INVALID_KEY`, `LIMIT_EXCEEDED`, `BRANCH_NOT_FOUND`, `CLOSED`.
   */
  get(key: string, options?: ReadOptions): Value | null {
    this.target.open()
    const n = this.read(key, options, 'get')
    if (n < 0) return null
    const r = this.target.reads
    return decode(r.bytes, r.base + 16, r.base + n)
  }

  /**
   * The live value of `key` with its version and timestamp, or `null`.
   * @throws {StrataError} `INVALID_KEY`, `LIMIT_EXCEEDED`, `BRANCH_NOT_FOUND`, `CLOSED`.
   */
  getVersioned(key: string, options?: ReadOptions): Versioned | null {
    this.target.open()
    const n = this.read(key, options, 'getVersioned')
    if (n < 0) return null
    const r = this.target.reads
    return {
      value: decode(r.bytes, r.base + 16, r.base + n),
      version: r.view.getFloat64(r.base, true),
      timestamp: r.view.getFloat64(r.base + 8, true),
    }
  }

  /**
   * Deletes `key`; returns whether a live value existed. A delete is a new version (a tombstone) in the history.
   * @throws {StrataError} `INVALID_KEY`, `READ_ONLY`, `BRANCH_NOT_FOUND`, `CLOSED`.
   */
  delete(key: string): boolean {
    this.target.open()
    return this.target.delete(this.ns, checkKey(key, this.what))
  }

  /**
   * Live keys in the UTF-8 byte order of their names.
   * @param options `prefix`, `limit`, `after` (exclusive start key for paging), `asOf`.
   * @throws {StrataError} `INVALID_VALUE` (bad option), `BRANCH_NOT_FOUND`, `CLOSED`.
   */
  list(options?: ListOptions): string[] {
    this.target.open()
    checkOptions(options, ['prefix', 'limit', 'after', 'asOf'], `${NAMESPACE_NAMES[this.ns]}.list`)
    const prefix = options?.prefix === undefined ? undefined : checkKeyPart(options.prefix, 'prefix')
    const after = options?.after === undefined ? undefined : checkKeyPart(options.after, 'after')
    const limit = optionalNumber(options?.limit, 'limit', true)
    const asOf = readAsOf(options?.asOf, this.target.asOf)
    return decodeKeys(this.target.list(this.ns, prefix, after, limit, asOf))
  }

  /**
   * Every version of `key`, newest first; deletes appear with `deleted: true` and `value: null`. Unknown key: `[]`.
   * @throws {StrataError} `INVALID_KEY`, `BRANCH_NOT_FOUND`, `CLOSED`.
   */
  history(key: string, options?: { limit?: number; asOf?: number }): HistoryEntry[] {
    this.target.open()
    checkKey(key, this.what)
    checkOptions(options, ['limit', 'asOf'], `${NAMESPACE_NAMES[this.ns]}.history`)
    const limit = optionalNumber(options?.limit, 'limit', true)
    const asOf = readAsOf(options?.asOf, this.target.asOf)
    // As of a time, the newest versions are the ones to leave out, so the limit applies after that filter.
    const rows = decodeAll(this.target.history(this.ns, key, asOf === undefined ? limit : undefined)) as [number, number, boolean, Value][]
    const entries: HistoryEntry[] = []
    for (const [version, timestamp, deleted, value] of rows) {
      if (asOf !== undefined && timestamp > asOf) continue
      if (limit !== undefined && entries.length >= limit) break
      entries.push(deleted ? { value: null, version, timestamp, deleted: true } : { value, version, timestamp })
    }
    return entries
  }

  protected write(key: string, value: unknown): number {
    checkKey(key, this.what)
    return this.target.put(this.ns, key, encoder.encode(value))
  }
}

function checkKeyPart(s: unknown, what: string): string {
  if (typeof s !== 'string') throw new StrataError('INVALID_VALUE', `${what} must be a string, got ${typeof s}`)
  if (!s.isWellFormed()) throw new StrataError('INVALID_KEY', `${what} contains a lone surrogate, which UTF-8 cannot hold`)
  return s
}

const keyDecoder = new TextDecoder()

/** The keys of a list as the bindings return them: UTF-8, joined by NUL, which no key holds. */
function decodeKeys(bytes: Uint8Array): string[] {
  return bytes.length === 0 ? [] : keyDecoder.decode(bytes).split('\0')
}

function decodeAll(bytes: Uint8Array): unknown {
  return decode(bytes, 0, bytes.length)
}

/** `db.kv`: key-value memory. */
export class Kv extends Keyspace {
  /**
   * Writes `value` under `key`; returns the key's new version (in a transaction: the version it gets at commit).
   * @throws {StrataError} `INVALID_KEY`, `INVALID_VALUE` (naming the bad part's path), `LIMIT_EXCEEDED`,
   *   `READ_ONLY`, `BRANCH_NOT_FOUND`, `CLOSED`.
   * @example db.kv.put('user:1', { name: 'Ada' }) // → 1
   */
  put(key: string, value: Value): number {
    this.target.open()
    return this.write(key, value)
  }
}

/** `db.state`: state cells for coordination, with compare-and-swap. */
export class State extends Keyspace {
  /**
   * Writes `value` unconditionally; returns the cell's new version.
   * @throws {StrataError} `INVALID_KEY`, `INVALID_VALUE`, `LIMIT_EXCEEDED`, `READ_ONLY`, `CLOSED`.
   */
  set(cell: string, value: Value): number {
    this.target.open()
    return this.write(cell, value)
  }

  /**
   * Creates the cell with `value` if it does not exist; returns the version if this call created it, else `null`.
   * @throws {StrataError} `INVALID_KEY`, `INVALID_VALUE`, `READ_ONLY`, `CLOSED`.
   */
  init(cell: string, value: Value): number | null {
    this.target.open()
    return this.cas(cell, null, value)
  }

  /**
   * Writes `value` only if the cell's current version is `expectedVersion` (`null`: only if the cell does not
   * exist). Returns the new version, or `null` when the expectation failed (nothing written). Atomic against every
   * other writer of the database; inside a transaction, checked again at commit.
   * @throws {StrataError} `INVALID_VALUE` (bad `expectedVersion` or value), `INVALID_KEY`, `READ_ONLY`, `CLOSED`.
   * @example const v = db.state.getVersioned('leader'); db.state.cas('leader', v?.version ?? null, 'agent-1')
   */
  cas(cell: string, expectedVersion: number | null, value: Value): number | null {
    this.target.open()
    checkKey(cell, 'cell')
    if (
      expectedVersion !== null &&
      (typeof expectedVersion !== 'number' || !Number.isSafeInteger(expectedVersion) || expectedVersion < 1)
    ) {
      throw new StrataError(
        'INVALID_VALUE',
        `expectedVersion must be a positive integer version (from getVersioned) or null for "only if the cell does not exist", got ${String(expectedVersion)}`,
      )
    }
    return this.target.cas(this.ns, cell, expectedVersion ?? undefined, encoder.encode(value)) ?? null
  }

  /**
   * Reads the cell, applies `fn` to its value (`null` if absent) and writes the result with CAS, re-reading and
   * retrying when another writer got there first. Returns the new version.
   * @param options `retries` (default 100): how many times to retry after a lost CAS.
   * @throws {StrataError} `CONFLICT` after `retries` lost attempts; whatever `fn` throws is rethrown as is.
   */
  update(cell: string, fn: (current: Value | null) => Value, options?: { retries?: number }): number {
    this.target.open()
    checkOptions(options, ['retries'], 'state.update')
    if (typeof fn !== 'function') throw new StrataError('INVALID_VALUE', 'state.update needs a function (current) => next')
    const retries = optionalNumber(options?.retries, 'retries', true) ?? 100
    for (let attempt = 0; attempt <= retries; attempt++) {
      const current = this.getVersioned(cell)
      const version = this.cas(cell, current?.version ?? null, fn(current?.value ?? null))
      if (version !== null) return version
    }
    throw new StrataError('CONFLICT', `state.update of ${JSON.stringify(cell)} lost the race ${retries + 1} times; retry later or raise { retries }`)
  }
}

/** An event as `db.events` returns it. */
export interface Event {
  sequence: number
  type: string
  payload: Value
  /** Microseconds since the epoch when it was appended. */
  timestamp: number
}

/** `db.events`: an append-only log per branch and space, numbered 0, 1, 2, ... and chained by hash. */
export class Events {
  /** @internal */
  constructor(private readonly target: Target) {}

  /**
   * Appends an event; returns its sequence number. In a transaction, the transaction's own reads see it at once
   * (with timestamp 0 until the commit); everyone else sees its events at commit, all together.
   * @throws {StrataError} `INVALID_KEY` (bad type), `INVALID_VALUE` (bad payload), `READ_ONLY`, `CLOSED`.
   * @example db.events.append('task.claimed', { task: 3, by: 'ada' }) // → 0
   */
  append(type: string, payload: Value): number {
    this.target.open()
    checkKey(type, 'event type')
    return this.target.appendEvent(type, encoder.encode(payload))
  }

  /**
   * Event `sequence`, or `null` when there is none (at `asOf`, if given).
   * @throws {StrataError} `INVALID_VALUE` (not a sequence number), `CLOSED`.
   */
  get(sequence: number, options?: ReadOptions): Event | null {
    this.target.open()
    checkOptions(options, ['asOf'], 'events.get')
    const seq = optionalNumber(sequence, 'sequence', true)
    if (seq === undefined) throw new StrataError('INVALID_VALUE', 'events.get needs a sequence number')
    const n = this.target.getEvent(seq, readAsOf(options?.asOf, this.target.asOf))
    if (n < 0) return null
    const r = this.target.reads
    const [type, payload] = decode(r.bytes, r.base + 16, r.base + n) as [string, Value]
    return { sequence: seq, type, payload, timestamp: r.view.getFloat64(r.base + 8, true) }
  }

  /**
   * Events in sequence order: of one `type`, after sequence `after` (exclusive), at most `limit`, as of `asOf`.
   * @throws {StrataError} `INVALID_VALUE` (bad option), `CLOSED`.
   */
  list(options?: { type?: string; after?: number; limit?: number; asOf?: number }): Event[] {
    this.target.open()
    checkOptions(options, ['type', 'after', 'limit', 'asOf'], 'events.list')
    const type = options?.type === undefined ? undefined : checkKeyPart(options.type, 'type')
    const after = optionalNumber(options?.after, 'after', true)
    const limit = optionalNumber(options?.limit, 'limit', true)
    const asOf = readAsOf(options?.asOf, this.target.asOf)
    const rows = decodeAll(this.target.listEvents(type, after, limit, asOf)) as [number, number, string, Value][]
    return rows.map(([sequence, timestamp, type, payload]) => ({ sequence, type, payload, timestamp }))
  }

  /** How many events the log holds (of one `type`, if given; as of `asOf`, if given). */
  count(options?: { type?: string; asOf?: number }): number {
    this.target.open()
    checkOptions(options, ['type', 'asOf'], 'events.count')
    const type = options?.type === undefined ? undefined : checkKeyPart(options.type, 'type')
    return this.target.countEvents(type, readAsOf(options?.asOf, this.target.asOf))
  }

  /** Checks the hash chain: `ok`, or the first event that does not match its predecessor's hash. */
  verify(): { ok: boolean; firstBadSequence: number | null } {
    this.target.open()
    const bad = this.target.verifyEvents() ?? null
    return { ok: bad === null, firstBadSequence: bad }
  }
}

/** `db.json`: JSON documents, read and changed by JSONPath; every change is a new version of the whole document. */
export class Json {
  private readonly docs: State

  /** @internal */
  constructor(private readonly target: Target) {
    this.docs = new State(target, Ns.Json, 'key')
  }

  /**
   * Sets the value at `path` (`$` for the whole document), creating missing intermediate objects; returns the
   * document's new version. Atomic against concurrent changes to the same document.
   * @throws {StrataError} `INVALID_PATH` (naming the step), `INVALID_KEY`, `INVALID_VALUE`, `READ_ONLY`, `CLOSED`.
   * @example db.json.set('agent:1', '$.memory.goals[0]', 'ship it')
   */
  set(key: string, path: string, value: Value): number {
    this.target.writable()
    const steps = parsePath(path)
    if (steps.length === 0) return this.docs.set(key, value)
    for (;;) {
      const current = this.docs.getVersioned(key)
      const doc = setAt(current === null ? undefined : current.value, steps, value)
      const version = this.docs.cas(key, current?.version ?? null, doc)
      if (version !== null) return version
    }
  }

  /** The value at `path` of document `key` (at `asOf`, if given), or `null` when the document or path is missing. */
  get(key: string, path: string = '$', options?: ReadOptions): Value | null {
    this.target.open()
    const steps = parsePath(path)
    const doc = this.docs.get(key, options)
    return doc === null ? null : (getAt(doc, steps) ?? null)
  }

  /** Removes the value at `path` (`$`: the whole document); returns whether anything was removed. */
  delete(key: string, path: string = '$'): boolean {
    this.target.writable()
    const steps = parsePath(path)
    if (steps.length === 0) return this.docs.delete(key)
    for (;;) {
      const current = this.docs.getVersioned(key)
      if (current === null) return false
      const doc = deleteAt(current.value, steps)
      if (doc === undefined) return false
      if (this.docs.cas(key, current.version, doc) !== null) return true
    }
  }

  /** Document keys, as `db.kv.list`. */
  list(options?: ListOptions): string[] {
    return this.docs.list(options)
  }

  /** Every version of a document, newest first, as `db.kv.history`. */
  history(key: string, options?: { limit?: number; asOf?: number }): HistoryEntry[] {
    return this.docs.history(key, options)
  }
}

export type Metric = 'cosine' | 'euclidean' | 'dot'

/** A vector collection as `listCollections` reports it. */
export interface CollectionInfo {
  name: string
  dimension: number
  metric: Metric
  count: number
}

/** A stored vector. */
export interface VectorEntry {
  key: string
  vector: Float32Array
  metadata: Value
  version: number
}

/** A search result: `score` is the cosine similarity or dot product (higher is better), or for `euclidean` the distance (lower is better). */
export interface SearchHit {
  key: string
  score: number
  metadata: Value
}

const METRICS: readonly string[] = ['cosine', 'euclidean', 'dot']

/** Vectors cross the boundary as one `Float32Array`; plain arrays are converted once. */
function toFloat32(v: unknown, what: string): Float32Array {
  if (v instanceof Float32Array) return v
  if (Array.isArray(v) && v.every((x) => typeof x === 'number')) return Float32Array.from(v as number[])
  throw new StrataError('INVALID_VALUE', `${what} must be a Float32Array or an array of numbers`)
}

/** `db.vector`: collections of vectors with metadata, searched by similarity; branch-aware and versioned. */
export class Vectors {
  /** @internal */
  constructor(private readonly db: Strata) {}

  private call<T>(write: boolean, f: (b: Binding, branch: number, space: number) => T): T {
    const h = write ? this.db.enterWrite() : this.db.enter()
    try {
      return f(h.binding, this.db.branchId, this.db.spaceId)
    } catch (e) {
      throw fail(this.db.shared, e)
    }
  }

  /**
   * Creates a collection of `dimension`-sized vectors compared by `metric` (default `'cosine'`).
   * @throws {StrataError} `INVALID_NAME` (bad or existing name), `INVALID_VALUE` (bad dimension or metric), `READ_ONLY`.
   */
  createCollection(name: string, options: { dimension: number; metric?: Metric }): void {
    this.db.enter()
    checkName(name, 'collection')
    checkOptions(options, ['dimension', 'metric'], 'vector.createCollection')
    const dimension = optionalNumber(options?.dimension, 'dimension', true)
    if (dimension === undefined) throw new StrataError('INVALID_VALUE', 'vector.createCollection needs { dimension }')
    const metric = options.metric ?? 'cosine'
    if (!METRICS.includes(metric)) {
      throw new StrataError('INVALID_VALUE', `metric must be 'cosine', 'euclidean' or 'dot', got ${String(metric)}`)
    }
    this.call(true, (b, branch, space) => b.createCollection(branch, space, name, dimension, metric))
  }

  /** Deletes a collection and its vectors; returns whether it existed. */
  deleteCollection(name: string): boolean {
    this.db.enter()
    checkName(name, 'collection')
    return this.call(true, (b, branch, space) => b.deleteCollection(branch, space, name))
  }

  /** The collections of the current branch and space (as of `asOf`, if given). */
  listCollections(options?: ReadOptions): CollectionInfo[] {
    checkOptions(options, ['asOf'], 'vector.listCollections')
    const asOf = readAsOf(options?.asOf, this.db.asOf)
    const rows = decodeAll(this.call(false, (b, branch, space) => b.listCollections(branch, space, asOf))) as [string, number, Metric, number][]
    return rows.map(([name, dimension, metric, count]) => ({ name, dimension, metric, count }))
  }

  /**
   * Writes `vector` (and `metadata`) under `key`, replacing what was there; returns its new version.
   * @throws {StrataError} `INVALID_VALUE` (wrong dimension, non-finite component, bad metadata), `INVALID_NAME`
   *   (unknown collection), `INVALID_KEY`, `READ_ONLY`.
   */
  upsert(collection: string, key: string, vector: Float32Array | number[], metadata: Value = null): number {
    this.db.enter()
    checkName(collection, 'collection')
    checkKey(key)
    const v = toFloat32(vector, 'vector')
    const meta = encoder.encode(metadata)
    return this.call(true, (b, branch, space) => b.upsertVector(branch, space, collection, key, v, meta))
  }

  /** The vector under `key` (as of `asOf`, if given), or `null`. */
  get(collection: string, key: string, options?: ReadOptions): VectorEntry | null {
    this.db.enter()
    checkName(collection, 'collection')
    checkKey(key)
    checkOptions(options, ['asOf'], 'vector.get')
    const asOf = readAsOf(options?.asOf, this.db.asOf)
    const raw = this.call(false, (b, branch, space) => b.getVector(branch, space, collection, key, asOf))
    if (raw === null || raw === undefined) return null
    const [version, bytes, metadata] = decodeAll(raw) as [number, Uint8Array, Value]
    return { key, vector: new Float32Array(bytes.slice().buffer), metadata, version }
  }

  /** Deletes the vector under `key`; returns whether it existed. */
  delete(collection: string, key: string): boolean {
    this.db.enter()
    checkName(collection, 'collection')
    checkKey(key)
    return this.call(true, (b, branch, space) => b.deleteVector(branch, space, collection, key))
  }

  /**
   * The `k` (default 10) vectors most similar to `query`, best first; `filter` keeps those whose metadata has
   * every given field equal to the given value (objects in any key order, arrays in order, numbers by value, a
   * `null` field not a missing one); `asOf` searches the collection as it was then.
   * @throws {StrataError} `INVALID_VALUE` (wrong dimension, bad options), `INVALID_NAME` (unknown collection).
   */
  search(collection: string, query: Float32Array | number[], options?: { k?: number; filter?: { [field: string]: Value }; asOf?: number }): SearchHit[] {
    this.db.enter()
    checkName(collection, 'collection')
    checkOptions(options, ['k', 'filter', 'asOf'], 'vector.search')
    const q = toFloat32(query, 'query')
    const k = optionalNumber(options?.k, 'k', true) ?? 10
    const filter = options?.filter
    if (filter !== undefined && (typeof filter !== 'object' || filter === null || Array.isArray(filter))) {
      throw new StrataError('INVALID_VALUE', 'vector.search: filter must be an object of metadata fields')
    }
    const filterBytes = filter === undefined ? undefined : encoder.encode(filter).slice()
    const asOf = readAsOf(options?.asOf, this.db.asOf)
    const rows = decodeAll(this.call(false, (b, branch, space) => b.search(branch, space, collection, q, k, filterBytes, asOf))) as [string, number, Value][]
    return rows.map(([key, score, metadata]) => ({ key, score, metadata }))
  }
}

/** The handle as a `Target`: every call goes to its binding with its current branch and space. */
class HandleTarget implements Target {
  constructor(private readonly db: Strata) {}

  open(): void {
    this.db.enter()
  }

  writable(): void {
    this.db.enterWrite()
  }

  get asOf(): number | undefined {
    return this.db.asOf
  }

  get reads(): ReadBuffer {
    return this.db.handle.reads
  }

  get(ns: Ns, key: string, asOf: number | undefined): number {
    const db = this.db
    const h = db.enter()
    try {
      for (;;) {
        const n = h.binding.get(ns, db.branchId, db.spaceId, key, asOf)
        if (h.reads.landed(n)) return n
      }
    } catch (e) {
      throw fail(db.shared, e)
    }
  }

  put(ns: Ns, key: string, value: Uint8Array): number {
    const db = this.db
    const h = db.enterWrite()
    try {
      return h.binding.put(ns, db.branchId, db.spaceId, key, value)
    } catch (e) {
      throw fail(db.shared, e)
    }
  }

  delete(ns: Ns, key: string): boolean {
    const db = this.db
    const h = db.enterWrite()
    try {
      return h.binding.delete(ns, db.branchId, db.spaceId, key)
    } catch (e) {
      throw fail(db.shared, e)
    }
  }

  cas(ns: Ns, key: string, expected: number | undefined, value: Uint8Array): number | null | undefined {
    const db = this.db
    const h = db.enterWrite()
    try {
      return h.binding.cas(ns, db.branchId, db.spaceId, key, expected, value)
    } catch (e) {
      throw fail(db.shared, e)
    }
  }

  list(ns: Ns, prefix: string | undefined, after: string | undefined, limit: number | undefined, asOf: number | undefined): Uint8Array {
    const db = this.db
    const h = db.enter()
    try {
      return h.binding.list(ns, db.branchId, db.spaceId, prefix, after, limit, asOf)
    } catch (e) {
      throw fail(db.shared, e)
    }
  }

  history(ns: Ns, key: string, limit: number | undefined): Uint8Array {
    const db = this.db
    const h = db.enter()
    try {
      return h.binding.history(ns, db.branchId, db.spaceId, key, limit)
    } catch (e) {
      throw fail(db.shared, e)
    }
  }

  appendEvent(type: string, payload: Uint8Array): number {
    const db = this.db
    const h = db.enterWrite()
    try {
      return h.binding.appendEvent(db.branchId, db.spaceId, type, payload)
    } catch (e) {
      throw fail(db.shared, e)
    }
  }

  getEvent(seq: number, asOf: number | undefined): number {
    const db = this.db
    const h = db.enter()
    try {
      for (;;) {
        const n = h.binding.getEvent(db.branchId, db.spaceId, seq, asOf)
        if (h.reads.landed(n)) return n
      }
    } catch (e) {
      throw fail(db.shared, e)
    }
  }

  listEvents(type: string | undefined, after: number | undefined, limit: number | undefined, asOf: number | undefined): Uint8Array {
    const db = this.db
    const h = db.enter()
    try {
      return h.binding.listEvents(db.branchId, db.spaceId, type, after, limit, asOf)
    } catch (e) {
      throw fail(db.shared, e)
    }
  }

  countEvents(type: string | undefined, asOf: number | undefined): number {
    const db = this.db
    const h = db.enter()
    try {
      return h.binding.countEvents(db.branchId, db.spaceId, type, asOf)
    } catch (e) {
      throw fail(db.shared, e)
    }
  }

  verifyEvents(): number | null | undefined {
    const db = this.db
    const h = db.enter()
    try {
      return h.binding.verifyEvents(db.branchId, db.spaceId)
    } catch (e) {
      throw fail(db.shared, e)
    }
  }
}

/**
 * A transaction: `tx.kv` and `tx.state` read a snapshot of the branch taken at its start plus its own writes;
 * `commit()` applies every write atomically, or throws `CONFLICT` (nothing written) when a key it read or wrote
 * was changed by someone else in the meantime, also when it wrote nothing. A `readOnly` one never conflicts: it
 * reads one consistent snapshot. Reads with `{ asOf }` and `history` read committed data. One begun on a handle
 * from `db.at(ts)` reads everything as of `ts` and cannot write.
 */
export class Transaction implements Target {
  /**
   * The time of the `db.at(ts)` handle it was begun on: then every read goes to the database as of `ts`, as an
   * explicit `{ asOf }` read does, and every write is `READ_ONLY`. Otherwise reads see the snapshot.
   */
  readonly asOf: number | undefined
  // The namespaces are made at first use: most transactions touch one namespace, and making all four up front
  // was a twentieth of a 10-put transaction.
  private kvNs?: Kv
  private stateNs?: State
  private eventsNs?: Events
  private jsonNs?: Json
  /** Committed or rolled back: its binding may already serve another transaction, so nothing may reach it. */
  private finished = false

  /** @internal */
  constructor(
    private readonly db: Strata,
    private readonly tx: TxBinding,
    private readonly branchId: number,
    private readonly spaceId: number,
    private readonly readOnly: boolean,
  ) {
    this.asOf = db.asOf
  }

  /** @internal Every read lands in the database handle's buffer, the transaction's own reads included. */
  get reads(): ReadBuffer {
    return this.db.handle.reads
  }

  /** Key-value memory, in this transaction. */
  get kv(): Kv {
    return (this.kvNs ??= new Kv(this, Ns.Kv, 'key'))
  }

  /** State cells, in this transaction. */
  get state(): State {
    return (this.stateNs ??= new State(this, Ns.State, 'cell'))
  }

  /**
   * Event logs, in this transaction: reads see the snapshot's events plus the transaction's own appends (numbered
   * on from the snapshot, with timestamp 0 until the commit gives them theirs); others see the appends at commit,
   * all together. `verify()` checks the committed log.
   */
  get events(): Events {
    return (this.eventsNs ??= new Events(this))
  }

  /** JSON documents, in this transaction. */
  get json(): Json {
    return (this.jsonNs ??= new Json(this))
  }

  /** @internal A transaction lives on its handle: once the handle is closed, so is the transaction. */
  open(): void {
    this.db.enter()
  }

  /** @internal Committed or rolled back. */
  get done(): boolean {
    return this.finished
  }

  /** @internal */
  writable(): void {
    this.open()
    this.refuseWrites()
  }

  /**
   * Throws `READ_ONLY` naming why this transaction cannot write, if it cannot. The engine refuses the write of a
   * read-only transaction too, but only this side knows whether that came from `db.at()` or a `readOnly` open.
   */
  private refuseWrites(): void {
    if (this.asOf !== undefined) {
      throw new StrataError(
        'READ_ONLY',
        `this transaction reads the database as of ${String(this.asOf)}, as the db.at() handle it was begun on, and cannot write; write through the handle you called at() on`,
      )
    }
    if (this.db.shared.readOnly) throw new StrataError('READ_ONLY', 'this database was opened with readOnly: true; open it without to write')
    if (this.readOnly) throw new StrataError('READ_ONLY', 'this transaction is read-only; begin one without readOnly to write')
  }

  /** Reads of committed data (with `asOf`, history, event logs) go to the database, on this transaction's branch and space. */
  private committed<T>(f: (b: Binding) => T): T {
    return this.call(() => f(this.db.enter().binding))
  }

  /** Runs `f` on the binding if this transaction is still open (and, for a write, can write). */
  private call<T>(f: () => T, write = false): T {
    const shared = this.db.shared
    this.db.enter()
    if (this.finished) throw new StrataError('CLOSED', 'this transaction has already committed or rolled back; begin a new one')
    if (write) this.refuseWrites()
    try {
      return f()
    } catch (e) {
      throw fail(shared, e)
    }
  }

  /** @internal */
  get(ns: Ns, key: string, asOf: number | undefined): number {
    if (asOf !== undefined) {
      return this.committed((b) => {
        for (;;) {
          const n = b.get(ns, this.branchId, this.spaceId, key, asOf)
          if (this.reads.landed(n)) return n
        }
      })
    }
    return this.call(() => {
      for (;;) {
        const n = this.tx.get(ns, this.spaceId, key)
        if (this.reads.landed(n)) return n
      }
    })
  }

  /** @internal */
  put(ns: Ns, key: string, value: Uint8Array): number {
    return this.call(() => this.tx.put(ns, this.spaceId, key, value), true)
  }

  /** @internal */
  delete(ns: Ns, key: string): boolean {
    return this.call(() => this.tx.delete(ns, this.spaceId, key), true)
  }

  /** @internal */
  cas(ns: Ns, key: string, expected: number | undefined, value: Uint8Array): number | null | undefined {
    return this.call(() => this.tx.cas(ns, this.spaceId, key, expected, value), true)
  }

  /** @internal */
  list(ns: Ns, prefix: string | undefined, after: string | undefined, limit: number | undefined, asOf: number | undefined): Uint8Array {
    if (asOf !== undefined) return this.committed((b) => b.list(ns, this.branchId, this.spaceId, prefix, after, limit, asOf))
    return this.call(() => this.tx.list(ns, this.spaceId, prefix, after, limit))
  }

  /** @internal */
  history(ns: Ns, key: string, limit: number | undefined): Uint8Array {
    return this.committed((b) => b.history(ns, this.branchId, this.spaceId, key, limit))
  }

  /** @internal */
  appendEvent(type: string, payload: Uint8Array): number {
    return this.call(() => this.tx.appendEvent(this.spaceId, type, payload), true)
  }

  /** @internal */
  getEvent(seq: number, asOf: number | undefined): number {
    if (asOf !== undefined) {
      return this.committed((b) => {
        for (;;) {
          const n = b.getEvent(this.branchId, this.spaceId, seq, asOf)
          if (this.reads.landed(n)) return n
        }
      })
    }
    return this.call(() => {
      for (;;) {
        const n = this.tx.getEvent(this.spaceId, seq)
        if (this.reads.landed(n)) return n
      }
    })
  }

  /** @internal */
  listEvents(type: string | undefined, after: number | undefined, limit: number | undefined, asOf: number | undefined): Uint8Array {
    if (asOf !== undefined) return this.committed((b) => b.listEvents(this.branchId, this.spaceId, type, after, limit, asOf))
    return this.call(() => this.tx.listEvents(this.spaceId, type, after, limit))
  }

  /** @internal */
  countEvents(type: string | undefined, asOf: number | undefined): number {
    if (asOf !== undefined) return this.committed((b) => b.countEvents(this.branchId, this.spaceId, type, asOf))
    return this.call(() => this.tx.countEvents(this.spaceId, type))
  }

  /** @internal */
  verifyEvents(): number | null | undefined {
    return this.committed((b) => b.verifyEvents(this.branchId, this.spaceId))
  }

  /**
   * Applies every write of the transaction as one atomic commit.
   * @throws {StrataError} `CONFLICT` (nothing written), `LIMIT_EXCEEDED` (a write went past the cap of 1,000,000
   *   writes or 256 MiB of values, even if that error was caught: nothing written), `CLOSED` (already committed or
   *   rolled back, or the handle it was begun on closed), `BRANCH_NOT_FOUND`.
   */
  commit(): void {
    try {
      this.call(() => this.tx.commit())
    } finally {
      this.finish()
    }
  }

  /** Drops every write of the transaction. Idempotent. */
  rollback(): void {
    if (this.finished) return
    try {
      this.call(() => this.tx.rollback())
    } catch (e) {
      // Closing the handle ended the transaction with it: nothing is left to drop.
      if (!(e instanceof StrataError && e.code === 'CLOSED')) throw e
    } finally {
      this.finish()
    }
  }

  /** Ends this object's use of its binding, which goes back to the handle for a later transaction. */
  private finish(): void {
    if (this.finished) return
    this.finished = true
    const spare = this.db.handle.spare
    if (spare.length < SPARE_TRANSACTIONS) spare.push(this.tx)
  }
}

export interface TransactionOptions {
  /** How many times to run `fn` again when the commit fails with `CONFLICT` (default 0). */
  retries?: number
  /**
   * Refuse writes (`READ_ONLY`). Reads see one consistent snapshot, and the commit never conflicts, however the
   * data changed since the snapshot. Without it, the commit checks every key read as well as written.
   */
  readOnly?: boolean
}

function isPromiseLike(v: unknown): v is PromiseLike<unknown> {
  return typeof (v as { then?: unknown } | null)?.then === 'function'
}

/** The binding a handle talks through and the buffer its reads land in. */
interface Handle {
  binding: Binding
  reads: ReadBuffer
  /**
   * Bindings of this handle's finished transactions, for later ones to restart: a binding made per transaction
   * (on the native backend a handle whose release N-API ties to its object's collection) was a fifth of a small
   * transaction. A `Transaction` gives its binding back when it ends and never touches it again.
   */
  spare: TxBinding[]
}

/** How many finished transactions' bindings a handle keeps for reuse. */
const SPARE_TRANSACTIONS = 4

function openHandle(b: Backend, binding: Binding): Handle {
  return { binding, reads: b.readBuffer(binding), spare: [] }
}

/**
 * A spare binding of the handle, restarted on `branch`. One that cannot restart is dropped: the caller then makes
 * a new one, whose error, if any, is the one to report.
 */
function restartSpare(h: Handle, branch: number, readOnly: boolean): TxBinding | undefined {
  const spare = h.spare.pop()
  if (spare === undefined) return undefined
  try {
    spare.restart(branch, readOnly)
    return spare
  } catch {
    return undefined
  }
}

function emptySection(): DiffSection {
  return { added: [], removed: [], modified: [] }
}

/**
 * A handle on a stratadb database. Open one with `Strata.cache()`; make more with `db.branch(name)` and
 * `db.at(timestamp)`. Every method is synchronous and acts on the handle's current branch and space.
 */
export class Strata {
  /** Key-value memory. */
  readonly kv: Kv
  /** State cells with compare-and-swap. */
  readonly state: State
  /** Append-only event logs. */
  readonly events: Events
  /** JSON documents. */
  readonly json: Json
  /** Vector collections and similarity search. */
  readonly vector: Vectors

  /** @internal */ handle: Handle
  /** @internal */ readonly target: HandleTarget
  /** @internal */ readonly shared: Shared
  /** @internal */ branchId: number
  /** @internal */ spaceId: number
  /** @internal The fixed read time of a handle from `db.at(ts)`. */
  readonly asOf: number | undefined
  private branchName: string
  private spaceName: string
  private lifecycle: Lifecycle = 'open'

  private constructor(shared: Shared, handle: Handle, branch: [string, number], space: [string, number], asOf?: number) {
    this.shared = shared
    this.handle = handle
    ;[this.branchName, this.branchId] = branch
    ;[this.spaceName, this.spaceId] = space
    this.asOf = asOf
    this.target = new HandleTarget(this)
    this.kv = new Kv(this.target, Ns.Kv, 'key')
    this.state = new State(this.target, Ns.State, 'cell')
    this.events = new Events(this.target)
    this.json = new Json(this.target)
    this.vector = new Vectors(this)
  }

  /** Which backend this runtime loaded: `'native'` (the N-API addon) or `'wasm'`. */
  static get backend(): 'native' | 'wasm' {
    return loaded().name
  }

  /**
   * An in-memory database. With `{ name }`, the process-wide database of that name (native backend; on WASM the
   * name is private to the instance): every `Strata.cache({ name })` with the same name reaches the same data, also
   * after every earlier handle on it was closed (a named database lives as long as the process).
   * @throws {StrataError} `INVALID_VALUE` for unknown options.
   * @example const db = Strata.cache(); db.kv.put('a', 1)
   */
  static cache(options?: CacheOptions): Strata {
    checkOptions(options, ['name'], 'Strata.cache')
    const name = options?.name
    if (name !== undefined && (typeof name !== 'string' || name.length === 0)) {
      throw new StrataError('INVALID_VALUE', 'Strata.cache: name must be a non-empty string')
    }
    const b = loaded()
    let binding: Binding
    try {
      binding = b.memory(name)
    } catch (e) {
      throw StrataError.from(e)
    }
    return new Strata(new Shared(b), openHandle(b, binding), ['default', 0], ['default', 0])
  }

  /**
   * The database stored in directory `path` (created if missing unless `create: false`). Every open of the same
   * directory in this process (symlinks resolved) shares one engine; another process holding it gets `LOCKED`.
   * @throws {StrataError} `LOCKED`, `CORRUPT` (a damaged file, named with the byte offset), `UNSUPPORTED` (a newer
   *   format, or no file system in this runtime), `IO`, `INVALID_VALUE` (bad options).
   * @example const db = Strata.open('./agents.db', { durability: 'always' })
   */
  static open(path: string, options?: OpenOptions): Strata {
    checkOptions(options, ['durability', 'readOnly', 'create', 'retention'], 'Strata.open')
    const retention = checkRetention(options?.retention, 'Strata.open retention')
    if (typeof path !== 'string' || path.length === 0) {
      throw new StrataError('INVALID_VALUE', 'Strata.open needs the path of a directory')
    }
    const durability = options?.durability === undefined ? 'standard' : options.durability
    if (!['always', 'standard', 'none'].includes(durability)) {
      throw new StrataError('INVALID_VALUE', `Strata.open: durability must be 'always', 'standard' or 'none', got ${String(durability)}`)
    }
    const readOnly = optionalFlag(options?.readOnly, 'readOnly', 'Strata.open', false)
    const create = optionalFlag(options?.create, 'create', 'Strata.open', true) && !readOnly
    const b = loaded()
    let binding: Binding
    try {
      binding = b.open(path, {
        durability,
        readOnly,
        create,
        maxVersions: retention.maxVersions,
        maxAgeMs: retention.maxAgeMs,
      })
    } catch (e) {
      throw StrataError.from(e)
    }
    return new Strata(new Shared(b, readOnly), openHandle(b, binding), ['default', 0], ['default', 0])
  }

  /** Which backend this handle uses. */
  get backend(): 'native' | 'wasm' {
    return this.shared.backend.name
  }

  /** @internal Checks the handle is usable and returns its binding. */
  enter(): Handle {
    if (this.lifecycle !== 'open') throw new StrataError('CLOSED', 'this database handle is closed; open the database again')
    if (this.shared.poisoned !== undefined) throw this.shared.poisoned
    return this.handle
  }

  /** As `enter`, refusing a handle of a `readOnly` open (`checkpoint` too, which an `at()` handle may call). */
  private enterReadWrite(): Handle {
    const h = this.enter()
    if (this.shared.readOnly) {
      throw new StrataError('READ_ONLY', 'this database was opened with readOnly: true; open it without to write')
    }
    return h
  }

  /** @internal As `enter`, for writes: a handle from `db.at(ts)` is read-only. */
  enterWrite(): Handle {
    const h = this.enterReadWrite()
    if (this.asOf !== undefined) {
      throw new StrataError('READ_ONLY', `this handle reads the database as of ${this.asOf} and cannot write; write through the handle you called at() on`)
    }
    return h
  }

  private call<T>(f: (b: Binding) => T): T {
    const h = this.enter()
    try {
      return f(h.binding)
    } catch (e) {
      throw fail(this.shared, e)
    }
  }

  private callWrite<T>(f: (b: Binding) => T): T {
    this.enterWrite()
    return this.call(f)
  }

  private derive(branch: [string, number], asOf: number | undefined): Strata {
    const h = this.enter()
    const binding = this.call(() => h.binding.share())
    return new Strata(this.shared, openHandle(this.shared.backend, binding), branch, [this.spaceName, this.spaceId], asOf)
  }

  // ---- branches ---------------------------------------------------------------------------------------------

  /**
   * As `enter`, and fails with `BRANCH_NOT_FOUND` once another handle deleted this handle's branch: the calls that
   * do not reach the engine (`currentBranch`, `setSpace` …) say so too, not only reads and writes.
   */
  private enterBranch(): void {
    this.enter()
    this.call((b) => b.branchName(this.branchId))
  }

  /** The handle's current branch. @throws {StrataError} `BRANCH_NOT_FOUND` (deleted by another handle), `CLOSED`. */
  currentBranch(): string {
    this.enterBranch()
    return this.branchName
  }

  /**
   * Switches this handle (only this one) to branch `name`.
   * @throws {StrataError} `BRANCH_NOT_FOUND`, `CLOSED`.
   */
  setBranch(name: string): void {
    this.enter()
    checkName(name, 'branch')
    this.branchId = this.call((b) => b.branchId(name))
    this.branchName = name
  }

  /**
   * Creates an empty branch.
   * @throws {StrataError} `INVALID_NAME`, `BRANCH_EXISTS`, `READ_ONLY`, `CLOSED`.
   */
  createBranch(name: string): void {
    this.enter()
    checkName(name, 'branch')
    this.callWrite((b) => b.createBranch(name))
  }

  /**
   * Creates branch `name` holding exactly what `from` (default: the current branch) holds now, history included.
   * O(1) however much data there is: the two branches share it until either writes.
   * @throws {StrataError} `INVALID_NAME`, `BRANCH_EXISTS`, `BRANCH_NOT_FOUND` (unknown `from`), `READ_ONLY`, `CLOSED`.
   * @example db.forkBranch('experiment'); db.branch('experiment').kv.put('k', 'draft')
   */
  forkBranch(name: string, options?: { from?: string }): void {
    this.enter()
    checkName(name, 'branch')
    checkOptions(options, ['from'], 'forkBranch')
    const from = options?.from
    this.callWrite((b) => b.forkBranch(name, from === undefined ? this.branchId : b.branchId(checkName(from, 'branch'))))
  }

  /** Every branch, by name, with where it was forked from. */
  listBranches(): BranchInfo[] {
    const rows = decodeAll(this.call((b) => b.listBranches())) as [string, number, string | null, number | null][]
    return rows.map(([name, createdAt, parent, forkedAt]) => ({ name, createdAt, parent, forkedAt }))
  }

  /** Whether branch `name` exists. */
  branchExists(name: string): boolean {
    this.enter()
    checkName(name, 'branch')
    return this.call((b) => b.branchExists(name))
  }

  /**
   * Deletes branch `name` and frees what only it referenced. Other handles standing on it get `BRANCH_NOT_FOUND`.
   * @throws {StrataError} `INVALID_NAME` (`default`, or this handle's current branch), `BRANCH_NOT_FOUND`,
   *   `READ_ONLY`, `CLOSED`.
   */
  deleteBranch(name: string): void {
    this.enterWrite()
    checkName(name, 'branch')
    // `default` is never deleted: saying so first spares the advice to move off it, which would not help.
    if (name === this.branchName && name !== 'default') {
      throw new StrataError('INVALID_NAME', `cannot delete ${JSON.stringify(name)}: it is this handle's current branch; setBranch to another first`)
    }
    this.call((b) => b.deleteBranch(name))
  }

  /**
   * A new handle on the same database whose current branch is `name`, in this handle's current space.
   * @throws {StrataError} `BRANCH_NOT_FOUND`.
   */
  branch(name: string): Strata {
    this.enter()
    checkName(name, 'branch')
    const id = this.call((b) => b.branchId(name))
    return this.derive([name, id], this.asOf)
  }

  /**
   * What differs from branch `a` to branch `b`: keys only in `b` are `added`, only in `a` `removed`, in both with
   * different values `modified`; each entry carries both values.
   * @throws {StrataError} `BRANCH_NOT_FOUND`, `CLOSED`.
   */
  diffBranches(a: string, b: string): BranchDiff {
    this.enter()
    checkName(a, 'branch')
    checkName(b, 'branch')
    const rows = decodeAll(this.call((x) => x.diff(x.branchId(a), x.branchId(b)))) as [Ns, string, string, 0 | 1 | 2, Value, Value][]
    const out: BranchDiff = { kv: emptySection(), state: emptySection(), json: emptySection(), events: { added: [], removed: [] } }
    const sections = { [Ns.Kv]: out.kv, [Ns.State]: out.state, [Ns.Json]: out.json }
    for (const [ns, space, key, kind, va, vb] of rows) {
      if (ns === Ns.Events) {
        // An event at a sequence number in one branch only, or different events there on the two sides.
        if (kind !== 1) out.events.added.push(Number(key))
        if (kind !== 0) out.events.removed.push(Number(key))
        continue
      }
      const section = sections[ns]
      const list = kind === 0 ? section.added : kind === 1 ? section.removed : section.modified
      list.push({ key, space, a: va, b: vb })
    }
    return out
  }

  /**
   * Merges branch `source` into the current branch: a three-way merge against their common ancestor, as one
   * atomic commit. Keys changed on both sides are conflicts: `strict` (default) throws `MERGE_CONFLICT` listing
   * them and writes nothing; `theirs` takes the source's value; `ours` keeps the current branch's.
   * @throws {StrataError} `MERGE_CONFLICT` (with `conflicts`), `BRANCH_NOT_FOUND`, `INVALID_VALUE`, `READ_ONLY`.
   */
  mergeBranches(source: string, options?: { strategy?: MergeStrategy }): MergeResult {
    this.enter()
    checkName(source, 'branch')
    checkOptions(options, ['strategy'], 'mergeBranches')
    const strategy = options?.strategy ?? 'strict'
    const [applied, conflicts, committed] = decodeAll(
      this.callWrite((b) => b.merge(b.branchId(source), this.branchId, strategy)),
    ) as [number, string[], boolean]
    if (!committed) {
      throw new StrataError(
        'MERGE_CONFLICT',
        `merging ${JSON.stringify(source)} into ${JSON.stringify(this.branchName)}: ${conflicts.length} key(s) changed on both sides (${conflicts.slice(0, 10).join(', ')}); nothing was written. Pass { strategy: 'theirs' } or { strategy: 'ours' } to resolve`,
        conflicts,
      )
    }
    return { applied, conflicts }
  }

  // ---- spaces -----------------------------------------------------------------------------------------------

  /** The handle's current space (`default` to begin with). @throws {StrataError} `BRANCH_NOT_FOUND`, `CLOSED`. */
  currentSpace(): string {
    this.enterBranch()
    return this.spaceName
  }

  /**
   * Switches this handle to space `name`; the space comes into being with its first write.
   * @throws {StrataError} `INVALID_NAME`, `BRANCH_NOT_FOUND`, `CLOSED`.
   */
  setSpace(name: string): void {
    this.enterBranch()
    checkName(name, 'space')
    this.spaceId = this.call((b) => b.spaceId(name))
    this.spaceName = name
  }

  /**
   * Spaces of the current branch that hold or held data, and `default`. Spaces keep no history of their own, so on
   * a `db.at(ts)` handle this still lists the branch's spaces as they are now.
   */
  listSpaces(): string[] {
    return decodeAll(this.call((b) => b.listSpaces(this.branchId))) as string[]
  }

  /**
   * Deletes a space of the current branch (its keys become deletes in the history); returns whether it existed.
   * Event logs are append-only: a forced delete leaves a space's events, and the space with them.
   * @throws {StrataError} `INVALID_NAME` (`default`, a non-empty space without `{ force: true }`, or a space holding
   *   nothing but events), `INVALID_VALUE` (`force` not a boolean), `READ_ONLY`.
   */
  deleteSpace(name: string, options?: { force?: boolean }): boolean {
    this.enter()
    checkName(name, 'space')
    checkOptions(options, ['force'], 'deleteSpace')
    const force = optionalFlag(options?.force, 'force', 'deleteSpace', false)
    return this.callWrite((b) => b.deleteSpace(this.branchId, name, force))
  }

  // ---- time travel ------------------------------------------------------------------------------------------

  /**
   * A read-only handle that sees the current branch as of `timestamp` (microseconds since the epoch).
   * @throws {StrataError} `INVALID_VALUE` for a timestamp that is not a non-negative number, `BRANCH_NOT_FOUND`.
   */
  at(timestamp: number): Strata {
    this.enterBranch()
    const ts = optionalNumber(timestamp, 'timestamp', false)
    if (ts === undefined) throw new StrataError('INVALID_VALUE', 'at() needs a timestamp in microseconds since the epoch')
    return this.derive([this.branchName, this.branchId], ts)
  }

  /**
   * The oldest and latest version timestamps of the current branch (`null`s when it is empty). On a handle from
   * `db.at(ts)`, as the branch was at `ts`: the latest is the newest version at or before it.
   */
  timeRange(): { oldest: number | null; latest: number | null } {
    const [oldest, latest] = decodeAll(this.call((b) => b.timeRange(this.branchId, this.asOf))) as [number | null, number | null]
    return { oldest, latest }
  }

  // ---- transactions -----------------------------------------------------------------------------------------

  /**
   * Starts a transaction on the current branch and space; finish it with `commit()` or `rollback()`. It reads a
   * snapshot taken now plus its own writes, and its `commit()` throws `CONFLICT` (nothing written) when a key it
   * read or wrote was changed by someone else since, even if it wrote nothing, so what it read was still current
   * when it committed. With `readOnly`, writes throw `READ_ONLY` and the commit never conflicts: the transaction
   * reads one consistent snapshot, however old it is by the time it ends. On a handle from `db.at(ts)`, the
   * transaction reads everything as of `ts` and is read-only whatever `readOnly` says: its writes throw `READ_ONLY`;
   * so is one on a database opened `readOnly`.
   * @throws {StrataError} `BRANCH_NOT_FOUND`, `CLOSED`.
   * @example const tx = db.begin(); tx.kv.put('a', tx.kv.get('b')); tx.commit()
   */
  begin(options?: { readOnly?: boolean }): Transaction {
    this.enter()
    checkOptions(options, ['readOnly'], 'begin')
    // A handle on a past moment reads it, in a transaction too, and never writes: refusing the transaction itself
    // would refuse the reads a user opens one for.
    // The same for a readOnly open, whose engine may be a writer's it shares.
    const readOnly = optionalFlag(options?.readOnly, 'readOnly', 'begin', false) || this.asOf !== undefined || this.shared.readOnly
    const tx = this.call((b) => restartSpare(this.handle, this.branchId, readOnly) ?? b.begin(this.branchId, readOnly))
    return new Transaction(this, tx, this.branchId, this.spaceId, readOnly)
  }

  /**
   * Runs `fn` in a transaction and commits its writes atomically when it returns (or, if it returns a Promise,
   * when that resolves). If `fn` throws, nothing is written and the error is rethrown. If a key `fn` read or wrote
   * was changed by another writer meanwhile (also when `fn` only read), the commit conflicts and `fn` runs again up
   * to `retries` times before `CONFLICT` is thrown. With `readOnly`, writes throw `READ_ONLY` and the commit never
   * conflicts: `fn` reads one consistent snapshot. On a handle from `db.at(ts)`, `fn` reads everything as of `ts`
   * and its writes throw `READ_ONLY`, with or without `readOnly`. Returns what `fn` returned; a `fn` that commits
   * or rolls back `tx` itself ends the transaction there, and nothing more is committed.
   * @throws {StrataError} `CONFLICT`, `READ_ONLY`, `LIMIT_EXCEEDED` (over 1,000,000 writes or 256 MiB), `CLOSED`.
   * @example db.transaction((tx) => { tx.kv.put('a', 1); tx.kv.put('b', 2) })
   */
  transaction<T>(fn: (tx: Transaction) => T, options?: TransactionOptions): T {
    this.enter()
    checkOptions(options, ['retries', 'readOnly'], 'transaction')
    if (typeof fn !== 'function') throw new StrataError('INVALID_VALUE', 'transaction needs a function (tx) => result')
    const retries = optionalNumber(options?.retries, 'retries', true) ?? 0
    const readOnly = optionalFlag(options?.readOnly, 'readOnly', 'transaction', false)
    const attempt = (left: number): T => {
      const tx = this.begin({ readOnly })
      const commit = (result: T): T => {
        if (tx.done) return result
        try {
          tx.commit()
        } catch (e) {
          if (e instanceof StrataError && e.code === 'CONFLICT' && left > 0) return attempt(left - 1)
          throw e
        }
        return result
      }
      let result: T
      try {
        result = fn(tx)
      } catch (e) {
        tx.rollback()
        throw e
      }
      if (isPromiseLike(result)) {
        return Promise.resolve(result).then(
          (value) => commit(value as T),
          (e: unknown) => {
            tx.rollback()
            throw e
          },
        ) as T
      }
      return commit(result)
    }
    return attempt(retries)
  }

  // ---- lifecycle --------------------------------------------------------------------------------------------

  /**
   * Drops old versions of every branch: by the given limits, or else by the `retention` given to `Strata.open`
   * (without either, nothing). The latest version of every key always stays, and so do the versions current at
   * or after the age limit, so reads as of any time since then are unchanged. Returns how many versions it dropped.
   * @throws {StrataError} `INVALID_VALUE` (bad limits), `READ_ONLY`, `IO`, `CLOSED`.
   */
  compact(options?: RetentionOptions): number {
    this.enterWrite()
    const r = checkRetention(options, 'compact')
    return this.call((b) => b.compact(r.maxVersions, r.maxAgeMs))
  }

  /** Makes every acknowledged write durable now (for `'none'`: writes them). A no-op in memory. */
  flush(): void {
    this.call((b) => b.flush())
  }

  /**
   * Writes a snapshot of the database and drops the log it covers (also done automatically as the log grows).
   * @throws {StrataError} `READ_ONLY`, `IO`, `CLOSED`.
   */
  checkpoint(): void {
    this.enterReadWrite()
    this.call((b) => b.checkpoint())
  }

  /** Closes this handle (other handles stay open); the engine is released with its last handle. Idempotent. */
  close(): void {
    if (this.lifecycle === 'closed') return
    this.lifecycle = 'closed'
    this.handle.binding.close()
  }
}
