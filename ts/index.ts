/**
 * stratadb's public API. Runtime entries (`entry/node.ts`, `entry/browser.ts`) load a backend and re-export this.
 */
export { Strata, Kv, State, Events, Json, Vectors, Transaction } from './strata.js'
export type {
  BranchDiff,
  BranchInfo,
  CacheOptions,
  CollectionInfo,
  DiffEntry,
  DiffSection,
  Event,
  HistoryEntry,
  ListOptions,
  MergeResult,
  MergeStrategy,
  Metric,
  OpenOptions,
  ReadOptions,
  RetentionOptions,
  SearchHit,
  TransactionOptions,
  VectorEntry,
  Versioned,
} from './strata.js'
export type { Durability } from './backend.js'
export { Value } from './value.js'
export type { ValueKind } from './value.js'
export { StrataError, ERROR_CODES } from './errors.js'
export type { ErrorCode } from './errors.js'
