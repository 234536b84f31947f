/**
 * The one error class of stratadb. Every failure, on either backend, is a `StrataError` with a stable `code`.
 * The codes are defined once, in the engine (`ErrorCode` in crates/strata-core/src/error.rs); this list mirrors it
 * and a test checks that the two agree.
 */
export const ERROR_CODES = [
  'INVALID_KEY',
  'INVALID_VALUE',
  'INVALID_PATH',
  'INVALID_NAME',
  'LIMIT_EXCEEDED',
  'BRANCH_NOT_FOUND',
  'BRANCH_EXISTS',
  'CONFLICT',
  'MERGE_CONFLICT',
  'READ_ONLY',
  'CLOSED',
  'LOCKED',
  'IO',
  'CORRUPT',
  'UNSUPPORTED',
] as const

/** A stable, machine-readable error code. */
export type ErrorCode = (typeof ERROR_CODES)[number]

const KNOWN = new Set<string>(ERROR_CODES)

/**
 * Marks a `StrataError` from any copy of this package: the ESM and CommonJS entries each carry their own class, and
 * an application that loads both (directly and through a dependency) still gets `instanceof StrataError` right.
 */
const BRAND = Symbol.for('stratadb.StrataError')

/** A failure of a stratadb call: `code` says what kind, `message` names the problem and the fix. */
export class StrataError extends Error {
  /** The stable error code. */
  readonly code: ErrorCode
  /** For `MERGE_CONFLICT`: the keys changed on both sides since the fork point. */
  declare readonly conflicts?: string[]

  static [Symbol.hasInstance](v: unknown): boolean {
    return typeof v === 'object' && v !== null && (v as { [BRAND]?: unknown })[BRAND] === true
  }

  constructor(code: ErrorCode, message: string, conflicts?: string[]) {
    super(message)
    this.name = 'StrataError'
    this.code = code
    if (conflicts !== undefined) this.conflicts = conflicts
  }

  /**
   * Turns whatever a backend threw into a `StrataError`. Both bindings throw errors whose `code` is one of the
   * engine's codes; anything else (a trap in the WASM instance, a bug) becomes `IO` with the original message, so
   * callers only ever see one error type.
   */
  static from(err: unknown): StrataError {
    if (err instanceof StrataError) return err
    const e = err as { code?: unknown; message?: unknown }
    const message = typeof e?.message === 'string' ? e.message : String(err)
    if (typeof e?.code === 'string' && KNOWN.has(e.code)) return new StrataError(e.code as ErrorCode, message)
    return new StrataError('IO', `internal error: ${message}`)
  }
}

Object.defineProperty(StrataError.prototype, BRAND, { value: true })
