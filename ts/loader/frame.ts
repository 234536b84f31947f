/**
 * The call frame, JavaScript's side (crates/strata-node/src/frame.rs says why it exists): the hottest addon calls
 * take no arguments, because N-API arguments cost napi-rs a borrow scope per call; their arguments are written
 * into this buffer first. There is one frame per thread, shared by every copy of this package loaded in it (ESM
 * and CommonJS are two copies, each with its own module state): the addon makes it on the thread's first
 * `frame()` and hands the same buffer to every later copy, so whichever copy writes, the call reads those bytes.
 */

/**
 * Where each argument sits in the frame, mirroring `layout` in crates/strata-node/src/frame.rs (the one table of
 * it on this side; `CallFrame` checks it against the addon's `frameLayout()`). Slots are f64 numbers at byte
 * `8 * slot`; then the key's UTF-8 bytes at `KeyOffset`, then the value's bytes at `ValueOffset`. A key of more than
 * `KeyUnits` UTF-16 units or a value of more than `ValueRoom` bytes goes through the export that takes arguments.
 */
export const enum Layout {
  Handle = 0,
  Ns = 1,
  Branch = 2,
  Space = 3,
  /** A negative number for none. */
  AsOf = 4,
  /** A negative number for none. */
  Expected = 5,
  Seq = 6,
  KeyLength = 7,
  ValueLength = 8,
  Slots = 9,
  KeyUnits = 1024,
  KeyOffset = 72,
  KeyRoom = 3072,
  ValueOffset = 3144,
  Bytes = 8192,
  ValueRoom = 5048,
}

/** The layout as the addon reports it (`frame_layout` in frame.rs). */
export interface FrameLayout {
  bytes: number
  slots: number
  handle: number
  ns: number
  branch: number
  space: number
  asOf: number
  expected: number
  seq: number
  keyLength: number
  valueLength: number
  keyUnits: number
  keyOffset: number
  keyRoom: number
  valueOffset: number
  valueRoom: number
}

/** The addon's frame exports. */
export interface FrameAddon {
  /** This thread's frame: made by the thread's first call, the same buffer for every later one. */
  frame(): Uint8Array
  frameLayout(): FrameLayout
}

const LAYOUT: FrameLayout = {
  bytes: Layout.Bytes,
  slots: Layout.Slots,
  handle: Layout.Handle,
  ns: Layout.Ns,
  branch: Layout.Branch,
  space: Layout.Space,
  asOf: Layout.AsOf,
  expected: Layout.Expected,
  seq: Layout.Seq,
  keyLength: Layout.KeyLength,
  valueLength: Layout.ValueLength,
  keyUnits: Layout.KeyUnits,
  keyOffset: Layout.KeyOffset,
  keyRoom: Layout.KeyRoom,
  valueOffset: Layout.ValueOffset,
  valueRoom: Layout.ValueRoom,
}

/** Throws when the addon's frame layout is not this file's, which would make every framed call read garbage. */
export function checkLayout(addon: FrameLayout): void {
  const names = new Set([...Object.keys(LAYOUT), ...Object.keys(addon)])
  for (const name of names) {
    const ours = (LAYOUT as unknown as Record<string, unknown>)[name]
    const theirs = (addon as unknown as Record<string, unknown>)[name]
    if (ours !== theirs) {
      throw new Error(`the addon's call frame layout differs from this package's (${name}: ${String(theirs)}, expected ${String(ours)}); the addon was built from other sources`)
    }
  }
}

const utf8 = new TextEncoder()

/** This thread's frame, as a copy of the package writes into it. */
export class CallFrame {
  /** The slots, a view of the frame's first bytes. */
  readonly slots: Float64Array
  private readonly bytes: Uint8Array
  private readonly keyRegion: Uint8Array

  constructor(addon: FrameAddon) {
    checkLayout(addon.frameLayout())
    this.bytes = addon.frame()
    this.slots = new Float64Array(this.bytes.buffer, this.bytes.byteOffset, Layout.Slots)
    this.keyRegion = this.bytes.subarray(Layout.KeyOffset, Layout.KeyOffset + Layout.KeyRoom)
  }

  /**
   * Writes `key` as UTF-8, and its length; false, writing nothing, when it has more than `KeyUnits` UTF-16 units.
   * ASCII is copied by hand, which for short keys beats `encodeInto`.
   */
  key(key: string): boolean {
    const n = key.length
    if (n > Layout.KeyUnits) return false
    const bytes = this.bytes
    let i = 0
    for (; i < n; i++) {
      const c = key.charCodeAt(i)
      if (c >= 0x80) break
      bytes[Layout.KeyOffset + i] = c
    }
    this.slots[Layout.KeyLength] = i === n ? n : utf8.encodeInto(key, this.keyRegion).written
    return true
  }

  /** Writes `value`'s bytes, and their length; false, writing nothing, when there are more than `ValueRoom`. */
  value(value: Uint8Array): boolean {
    const n = value.length
    if (n > Layout.ValueRoom) return false
    this.bytes.set(value, Layout.ValueOffset)
    this.slots[Layout.ValueLength] = n
    return true
  }
}
