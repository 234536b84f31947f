/**
 * A linearizability checker for one versioned register, as state cells are: every successful write creates the
 * next version, so the order of writes is known, and what remains is to check each operation against real time.
 *
 * Times are absolute milliseconds (`performance.timeOrigin + performance.now()`), comparable across threads.
 */
export type Op =
  | { kind: 'read'; start: number; end: number; version: number; value: unknown }
  | { kind: 'cas'; start: number; end: number; expected: number; value: unknown; created: number | null }

/** Returns the problems found; an empty list means the history is linearizable. */
export function checkRegister(ops: Op[], initial: { version: number; value: unknown }): string[] {
  const problems: string[] = []
  const writes = new Map<number, Extract<Op, { kind: 'cas' }>>()
  for (const op of ops) {
    if (op.kind !== 'cas' || op.created === null) continue
    if (writes.has(op.created)) problems.push(`version ${op.created} was created twice`)
    if (op.created !== op.expected + 1) problems.push(`cas expecting ${op.expected} created version ${op.created}`)
    writes.set(op.created, op)
  }
  const last = initial.version + writes.size
  for (let v = initial.version + 1; v <= last; v++) {
    if (!writes.has(v)) problems.push(`version ${v} is missing: a write was lost`)
  }
  // The write of each version, as an interval: [start of its operation, end of its operation].
  const began = (v: number) => (v <= initial.version ? -Infinity : (writes.get(v)?.start ?? Infinity))
  const ended = (v: number) => (v <= initial.version ? -Infinity : (writes.get(v)?.end ?? Infinity))
  const valueOf = (v: number) => (v === initial.version ? initial.value : writes.get(v)?.value)

  // Writes are ordered by version; real time must not contradict that order.
  for (let v = initial.version + 2; v <= last; v++) {
    if (ended(v) < began(v - 1)) problems.push(`version ${v} completed before version ${v - 1} began`)
  }
  for (const op of ops) {
    if (op.kind === 'read') {
      if (JSON.stringify(valueOf(op.version)) !== JSON.stringify(op.value)) {
        problems.push(`a read of version ${op.version} returned a value that version never had`)
      }
      if (began(op.version) > op.end) problems.push(`a read saw version ${op.version} before it was written`)
      if (ended(op.version + 1) < op.start) problems.push(`a read saw version ${op.version} after ${op.version + 1} completed`)
    } else if (op.created === null) {
      // A lost CAS needs a moment within it when the current version was not `expected`.
      const expectedHeldThroughout = ended(op.expected) < op.start && began(op.expected + 1) > op.end
      if (expectedHeldThroughout) problems.push(`a cas expecting ${op.expected} failed while that version was current`)
    }
  }
  return problems
}
