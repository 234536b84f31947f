/**
 * classic-level (LevelDB) with its JSON value encoding: `getSync` for reads (its fast path), promises for writes,
 * `batch` for groups. Default options: writes reach the OS without fsync, like the other peers here.
 */
export async function open({ dir }) {
  const { ClassicLevel } = await import('classic-level')
  const db = new ClassicLevel(dir, { valueEncoding: 'json' })
  await db.open()
  return { db }
}

export async function fill(ctx, n, keyOf, valueOf) {
  for (let i = 0; i < n; i += 10000) {
    const ops = []
    for (let j = i; j < Math.min(n, i + 10000); j++) ops.push({ type: 'put', key: keyOf(j), value: valueOf(j) })
    await ctx.db.batch(ops)
  }
}

export async function close(ctx) {
  await ctx.db.close()
}
