/**
 * lmdb-js as its README recommends for speed: synchronous reads, asynchronous puts batched per event turn, values
 * in its default msgpack encoding. `noSync`: stratadb's cache is not durable either, so lmdb is not made to fsync
 * (a `putSync` would otherwise pay an fsync, ~4K/s here). Versions (for CAS) live in their own database, since
 * `useVersions` changes the stored format.
 */
export async function open({ dir }) {
  const lib = await import('lmdb')
  // maxDbs: fork-1k copies into many named databases.
  const root = lib.open({ path: dir, noSync: true, maxDbs: 256 })
  return { lib, root, kv: root.openDB('kv'), cells: root.openDB('cells', { useVersions: true }) }
}

export async function fill(ctx, n, keyOf, valueOf) {
  // One write transaction for the whole load: the fastest bulk path, and setup is not timed.
  ctx.kv.transactionSync(() => {
    for (let i = 0; i < n; i++) ctx.kv.putSync(keyOf(i), valueOf(i))
  })
}

export async function close(ctx) {
  await ctx.root.close()
}
