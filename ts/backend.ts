/**
 * The one byte-level contract both bindings satisfy (the WebAssembly module exports a `Database` class with these
 * methods under the same names; the N-API addon exports them as functions on a handle, which
 * `loader/native-binding.ts` puts back on a class). The public API in `strata.ts` is written once against it. Values cross as MessagePack bytes; structured results come back as one MessagePack array each (see
 * `crates/strata-core/src/wire.rs`).
 */

/** Namespaces of the engine, by number (`Namespace` in the engine). */
export const enum Ns {
  Kv = 0,
  State = 1,
  Json = 2,
  /** Event logs; only in diffs, their calls are separate. */
  Events = 3,
}

/** An engine handle as a binding exposes it. Branch ids are numbers the engine hands out; spaces are interned. */
export interface Binding {
  share(): Binding
  close(): void
  get(ns: Ns, branch: number, space: number, key: string, asOf: number | undefined): number
  put(ns: Ns, branch: number, space: number, key: string, value: Uint8Array): number
  delete(ns: Ns, branch: number, space: number, key: string): boolean
  cas(ns: Ns, branch: number, space: number, key: string, expected: number | undefined, value: Uint8Array): number | null | undefined
  /** Live keys as UTF-8 joined by NUL (`wire::key_list`), not a MessagePack array. */
  list(
    ns: Ns,
    branch: number,
    space: number,
    prefix: string | undefined,
    after: string | undefined,
    limit: number | undefined,
    asOf: number | undefined,
  ): Uint8Array
  history(ns: Ns, branch: number, space: number, key: string, limit: number | undefined): Uint8Array
  appendEvent(branch: number, space: number, type: string, payload: Uint8Array): number
  getEvent(branch: number, space: number, seq: number, asOf: number | undefined): number
  listEvents(
    branch: number,
    space: number,
    type: string | undefined,
    after: number | undefined,
    limit: number | undefined,
    asOf: number | undefined,
  ): Uint8Array
  countEvents(branch: number, space: number, type: string | undefined, asOf: number | undefined): number
  verifyEvents(branch: number, space: number): number | null | undefined
  createCollection(branch: number, space: number, name: string, dimension: number, metric: string): void
  deleteCollection(branch: number, space: number, name: string): boolean
  listCollections(branch: number, space: number, asOf: number | undefined): Uint8Array
  upsertVector(branch: number, space: number, collection: string, key: string, vector: Float32Array, metadata: Uint8Array): number
  getVector(branch: number, space: number, collection: string, key: string, asOf: number | undefined): Uint8Array | null | undefined
  deleteVector(branch: number, space: number, collection: string, key: string): boolean
  search(
    branch: number,
    space: number,
    collection: string,
    query: Float32Array,
    k: number,
    filter: Uint8Array | undefined,
    asOf: number | undefined,
  ): Uint8Array
  branchId(name: string): number
  branchName(id: number): string
  branchExists(name: string): boolean
  createBranch(name: string): number
  forkBranch(name: string, from: number): number
  deleteBranch(name: string): void
  listBranches(): Uint8Array
  timeRange(branch: number, asOf: number | undefined): Uint8Array
  spaceId(name: string): number
  listSpaces(branch: number): Uint8Array
  deleteSpace(branch: number, name: string, force: boolean): boolean
  diff(a: number, b: number): Uint8Array
  merge(source: number, target: number, strategy: string): Uint8Array
  begin(branch: number, readOnly: boolean): TxBinding
  flush(): void
  checkpoint(): void
  compact(maxVersions: number | undefined, maxAgeMs: number | undefined): number
}

export type Durability = 'always' | 'standard' | 'none'

/** Options of `Strata.open`, checked and with defaults applied. */
export interface DiskOptions {
  durability: Durability
  readOnly: boolean
  create: boolean
  maxVersions: number | undefined
  maxAgeMs: number | undefined
}

/** A transaction as a binding exposes it: the handle's calls, on its snapshot, without branch ids. */
export interface TxBinding {
  get(ns: Ns, space: number, key: string): number
  put(ns: Ns, space: number, key: string, value: Uint8Array): number
  delete(ns: Ns, space: number, key: string): boolean
  cas(ns: Ns, space: number, key: string, expected: number | undefined, value: Uint8Array): number | null | undefined
  /** As `Binding.list`: keys joined by NUL. */
  list(ns: Ns, space: number, prefix: string | undefined, after: string | undefined, limit: number | undefined): Uint8Array
  appendEvent(space: number, type: string, payload: Uint8Array): number
  /** Reads event `seq` into the read buffer; its own appends are in the transaction's view too (timestamp 0). */
  getEvent(space: number, seq: number): number
  listEvents(space: number, type: string | undefined, after: number | undefined, limit: number | undefined): Uint8Array
  countEvents(space: number, type: string | undefined): number
  commit(): void
  rollback(): void
  /** Begins a new transaction in this finished one, so that one binding serves many transactions in turn. */
  restart(branch: number, readOnly: boolean): void
}

/**
 * Where a binding's reads land. `get` copies `[version f64][timestamp f64][value]` into a buffer it reuses and
 * returns the length it needed; the reader decodes in place, so a read allocates nothing but its result.
 */
export interface ReadBuffer {
  /** Bytes that hold the last read, starting at `base`. */
  bytes: Uint8Array
  /** A view of the same memory, for the version and timestamp header. */
  view: DataView
  base: number
  /**
   * Whether a read that needed `length` bytes (-1: nothing found) is in `bytes`; if not, makes room for it and the
   * caller reads again. A method the caller loops on, not a helper taking the read as a closure: that closure was
   * ~20 ns of a ~400 ns `get`.
   */
  landed(length: number): boolean
}

/**
 * What every read buffer holds until its first read. Shared: when each transaction still made a read buffer, an
 * empty `ArrayBuffer` per buffer was half of an empty transaction (2.1 -> 1.0 us on the native backend).
 */
export const NO_BYTES = new Uint8Array(0)
export const NO_VIEW = new DataView(NO_BYTES.buffer)

/** A loaded backend: how to open databases with it and how its read buffers work. */
export interface Backend {
  readonly name: 'native' | 'wasm'
  /** An in-memory database; with `name`, the process-wide (native) or instance-wide (wasm) one of that name. */
  memory(name: string | undefined): Binding
  /** The on-disk database in directory `path`; throws `UNSUPPORTED` where there is no file system. */
  open(path: string, options: DiskOptions): Binding
  /** Attaches a fresh read buffer to a database handle; its transactions' reads land there too. */
  readBuffer(binding: Binding): ReadBuffer
  /** The engine's list of error codes. */
  errorCodes(): string[]
}
