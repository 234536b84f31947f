/**
 * `Binding` and `TxBinding` over the addon. The addon exports free functions that take a handle first, and a
 * handle is a number: the id of an entry in a table of the calling thread, because every other way napi-rs offers
 * to pass a handle takes a process-wide lock on each call (see crates/strata-node/src/lib.rs). Each object here
 * owns the handle it holds: the addon frees the handle when the object is collected, so it lives as long as
 * anything can still call it. The methods forward with a fixed argument list, which V8 inlines; a rest/spread
 * forwarder or methods made in a loop would lose both that and the types.
 *
 * The hottest calls (get, put, delete, cas, event append and read) take no arguments at all: napi-rs skips its
 * per-call borrow scope for those. Their arguments go into the thread's call frame (`frame.ts`) just before the
 * call; a key or value too long for the frame goes through the call's export that takes arguments instead, which
 * answers exactly as before (a key that long is always `LIMIT_EXCEEDED`). Every argument written is a number or a
 * string the public API checked, so writing the frame runs no user code between the writes and the call.
 */
import type { Binding, Ns, TxBinding } from '../backend.js'
import { type CallFrame, type FrameAddon, Layout } from './frame.js'

declare const kind: unique symbol
/** A handle the addon made: a number only the thread that made it can use. */
type Handle<Kind extends string> = number & { readonly [kind]: Kind }
type DbHandle = Handle<'database'>
type TxHandle = Handle<'transaction'>

/** A method as the addon exports it: the handle first. */
type Free<H, F> = F extends (...args: infer A) => infer R ? (handle: H, ...args: A) => R : never
/** Database calls carry a `db` prefix and transaction calls a `tx` prefix, so each name means one thing. */
type DbCalls = {
  [K in Exclude<keyof Binding, 'share' | 'begin' | 'getEvent'> as `db${Capitalize<K>}`]: Free<DbHandle, Binding[K]>
}
type TxCalls = { [K in keyof TxBinding as `tx${Capitalize<K>}`]: Free<TxHandle, TxBinding[K]> }
/** A call's framed export: `<name>Framed`, no arguments, the same result. */
type Framed<C, K extends keyof C & string> = { [P in K as `${P}Framed`]: () => C[P] extends (...args: never[]) => infer R ? R : never }
type Hot = 'Get' | 'Put' | 'Delete' | 'Cas' | 'AppendEvent'

/**
 * The addon's exports (crates/strata-node/src), typed from the interfaces they serve. Calls that make a handle
 * take its `owner`, the object whose collection frees it.
 */
export interface Addon extends DbCalls, TxCalls, Framed<DbCalls, `db${Hot}`>, Framed<TxCalls, `tx${Hot}`>, FrameAddon {
  /** Takes its arguments (handle, branch, space, seq, as of) from the call frame only: they always fit. */
  dbGetEvent(): number
  dbMemory(owner: object, name: string | null): DbHandle
  dbOpen(
    owner: object,
    path: string,
    durability: string,
    readOnly: boolean,
    create: boolean,
    maxVersions: number | undefined,
    maxAgeMs: number | undefined,
  ): DbHandle
  dbShare(db: DbHandle, owner: object): DbHandle
  dbBegin(db: DbHandle, owner: object, branch: number, readOnly: boolean): TxHandle
  dbSetReadBuffer(db: DbHandle, buffer: Uint8Array): void
  errorCodes(): string[]
}

export class NativeDatabase implements Binding {
  private readonly handle: DbHandle

  /** `open` makes the handle, owned by the object being constructed. */
  constructor(
    private readonly addon: Addon,
    private readonly frame: CallFrame,
    open: (owner: object) => DbHandle,
  ) {
    this.handle = open(this)
  }

  share(): Binding { return new NativeDatabase(this.addon, this.frame, (owner) => this.addon.dbShare(this.handle, owner)) }
  begin(branch: number, readOnly: boolean): TxBinding { return new NativeTransaction(this.addon, this.frame, (owner) => this.addon.dbBegin(this.handle, owner, branch, readOnly)) }
  setReadBuffer(buffer: Uint8Array): void { this.addon.dbSetReadBuffer(this.handle, buffer) }
  close(): void { this.addon.dbClose(this.handle) }

  get(ns: Ns, branch: number, space: number, key: string, asOf: number | undefined): number {
    const f = this.frame
    if (!f.key(key)) return this.addon.dbGet(this.handle, ns, branch, space, key, asOf)
    this.at(ns, branch, space)
    f.slots[Layout.AsOf] = asOf ?? -1
    return this.addon.dbGetFramed()
  }

  put(ns: Ns, branch: number, space: number, key: string, value: Uint8Array): number {
    const f = this.frame
    if (!f.value(value) || !f.key(key)) return this.addon.dbPut(this.handle, ns, branch, space, key, value)
    this.at(ns, branch, space)
    return this.addon.dbPutFramed()
  }

  delete(ns: Ns, branch: number, space: number, key: string): boolean {
    if (!this.frame.key(key)) return this.addon.dbDelete(this.handle, ns, branch, space, key)
    this.at(ns, branch, space)
    return this.addon.dbDeleteFramed()
  }

  cas(ns: Ns, branch: number, space: number, key: string, expected: number | undefined, value: Uint8Array): number | null | undefined {
    const f = this.frame
    if (!f.value(value) || !f.key(key)) return this.addon.dbCas(this.handle, ns, branch, space, key, expected, value)
    this.at(ns, branch, space)
    f.slots[Layout.Expected] = expected ?? -1
    return this.addon.dbCasFramed()
  }

  appendEvent(branch: number, space: number, type: string, payload: Uint8Array): number {
    const f = this.frame
    if (!f.value(payload) || !f.key(type)) return this.addon.dbAppendEvent(this.handle, branch, space, type, payload)
    const s = f.slots
    s[Layout.Handle] = this.handle
    s[Layout.Branch] = branch
    s[Layout.Space] = space
    return this.addon.dbAppendEventFramed()
  }

  getEvent(branch: number, space: number, seq: number, asOf: number | undefined): number {
    const s = this.frame.slots
    s[Layout.Handle] = this.handle
    s[Layout.Branch] = branch
    s[Layout.Space] = space
    s[Layout.Seq] = seq
    s[Layout.AsOf] = asOf ?? -1
    return this.addon.dbGetEvent()
  }

  /** Writes the frame's slots every keyed call fills. */
  private at(ns: Ns, branch: number, space: number): void {
    const s = this.frame.slots
    s[Layout.Handle] = this.handle
    s[Layout.Ns] = ns
    s[Layout.Branch] = branch
    s[Layout.Space] = space
  }

  list(ns: Ns, branch: number, space: number, prefix: string | undefined, after: string | undefined, limit: number | undefined, asOf: number | undefined): Uint8Array { return this.addon.dbList(this.handle, ns, branch, space, prefix, after, limit, asOf) }
  history(ns: Ns, branch: number, space: number, key: string, limit: number | undefined): Uint8Array { return this.addon.dbHistory(this.handle, ns, branch, space, key, limit) }
  listEvents(branch: number, space: number, type: string | undefined, after: number | undefined, limit: number | undefined, asOf: number | undefined): Uint8Array { return this.addon.dbListEvents(this.handle, branch, space, type, after, limit, asOf) }
  countEvents(branch: number, space: number, type: string | undefined, asOf: number | undefined): number { return this.addon.dbCountEvents(this.handle, branch, space, type, asOf) }
  verifyEvents(branch: number, space: number): number | null | undefined { return this.addon.dbVerifyEvents(this.handle, branch, space) }
  createCollection(branch: number, space: number, name: string, dimension: number, metric: string): void { this.addon.dbCreateCollection(this.handle, branch, space, name, dimension, metric) }
  deleteCollection(branch: number, space: number, name: string): boolean { return this.addon.dbDeleteCollection(this.handle, branch, space, name) }
  listCollections(branch: number, space: number, asOf: number | undefined): Uint8Array { return this.addon.dbListCollections(this.handle, branch, space, asOf) }
  upsertVector(branch: number, space: number, collection: string, key: string, vector: Float32Array, metadata: Uint8Array): number { return this.addon.dbUpsertVector(this.handle, branch, space, collection, key, vector, metadata) }
  getVector(branch: number, space: number, collection: string, key: string, asOf: number | undefined): Uint8Array | null | undefined { return this.addon.dbGetVector(this.handle, branch, space, collection, key, asOf) }
  deleteVector(branch: number, space: number, collection: string, key: string): boolean { return this.addon.dbDeleteVector(this.handle, branch, space, collection, key) }
  search(branch: number, space: number, collection: string, query: Float32Array, k: number, filter: Uint8Array | undefined, asOf: number | undefined): Uint8Array { return this.addon.dbSearch(this.handle, branch, space, collection, query, k, filter, asOf) }
  branchId(name: string): number { return this.addon.dbBranchId(this.handle, name) }
  branchName(id: number): string { return this.addon.dbBranchName(this.handle, id) }
  branchExists(name: string): boolean { return this.addon.dbBranchExists(this.handle, name) }
  createBranch(name: string): number { return this.addon.dbCreateBranch(this.handle, name) }
  forkBranch(name: string, from: number): number { return this.addon.dbForkBranch(this.handle, name, from) }
  deleteBranch(name: string): void { this.addon.dbDeleteBranch(this.handle, name) }
  listBranches(): Uint8Array { return this.addon.dbListBranches(this.handle) }
  timeRange(branch: number, asOf: number | undefined): Uint8Array { return this.addon.dbTimeRange(this.handle, branch, asOf) }
  spaceId(name: string): number { return this.addon.dbSpaceId(this.handle, name) }
  listSpaces(branch: number): Uint8Array { return this.addon.dbListSpaces(this.handle, branch) }
  deleteSpace(branch: number, name: string, force: boolean): boolean { return this.addon.dbDeleteSpace(this.handle, branch, name, force) }
  diff(a: number, b: number): Uint8Array { return this.addon.dbDiff(this.handle, a, b) }
  merge(source: number, target: number, strategy: string): Uint8Array { return this.addon.dbMerge(this.handle, source, target, strategy) }
  flush(): void { this.addon.dbFlush(this.handle) }
  checkpoint(): void { this.addon.dbCheckpoint(this.handle) }
  compact(maxVersions: number | undefined, maxAgeMs: number | undefined): number { return this.addon.dbCompact(this.handle, maxVersions, maxAgeMs) }
}

export class NativeTransaction implements TxBinding {
  private readonly handle: TxHandle

  /** `open` makes the handle, owned by the object being constructed. */
  constructor(
    private readonly addon: Addon,
    private readonly frame: CallFrame,
    open: (owner: object) => TxHandle,
  ) {
    this.handle = open(this)
  }

  list(ns: Ns, space: number, prefix: string | undefined, after: string | undefined, limit: number | undefined): Uint8Array { return this.addon.txList(this.handle, ns, space, prefix, after, limit) }

  get(ns: Ns, space: number, key: string): number {
    if (!this.frame.key(key)) return this.addon.txGet(this.handle, ns, space, key)
    this.at(ns, space)
    return this.addon.txGetFramed()
  }

  put(ns: Ns, space: number, key: string, value: Uint8Array): number {
    const f = this.frame
    if (!f.value(value) || !f.key(key)) return this.addon.txPut(this.handle, ns, space, key, value)
    this.at(ns, space)
    return this.addon.txPutFramed()
  }

  delete(ns: Ns, space: number, key: string): boolean {
    if (!this.frame.key(key)) return this.addon.txDelete(this.handle, ns, space, key)
    this.at(ns, space)
    return this.addon.txDeleteFramed()
  }

  cas(ns: Ns, space: number, key: string, expected: number | undefined, value: Uint8Array): number | null | undefined {
    const f = this.frame
    if (!f.value(value) || !f.key(key)) return this.addon.txCas(this.handle, ns, space, key, expected, value)
    this.at(ns, space)
    f.slots[Layout.Expected] = expected ?? -1
    return this.addon.txCasFramed()
  }

  appendEvent(space: number, type: string, payload: Uint8Array): number {
    const f = this.frame
    if (!f.value(payload) || !f.key(type)) return this.addon.txAppendEvent(this.handle, space, type, payload)
    f.slots[Layout.Handle] = this.handle
    f.slots[Layout.Space] = space
    return this.addon.txAppendEventFramed()
  }

  getEvent(space: number, seq: number): number { return this.addon.txGetEvent(this.handle, space, seq) }
  listEvents(space: number, type: string | undefined, after: number | undefined, limit: number | undefined): Uint8Array { return this.addon.txListEvents(this.handle, space, type, after, limit) }
  countEvents(space: number, type: string | undefined): number { return this.addon.txCountEvents(this.handle, space, type) }

  /** Writes the frame's slots every keyed call fills. */
  private at(ns: Ns, space: number): void {
    const s = this.frame.slots
    s[Layout.Handle] = this.handle
    s[Layout.Ns] = ns
    s[Layout.Space] = space
  }

  commit(): void { this.addon.txCommit(this.handle) }
  rollback(): void { this.addon.txRollback(this.handle) }
  restart(branch: number, readOnly: boolean): void { this.addon.txRestart(this.handle, branch, readOnly) }
}
