/**
 * better-sqlite3 as its docs recommend: prepared statements reused, WAL for a file database (with
 * `synchronous = NORMAL`, the usual WAL pairing), `db.transaction()` for groups. Values are JSON text, the common
 * way to keep objects in SQLite; `WITHOUT ROWID` because the key is the primary key.
 */
import { join } from 'node:path'

export async function open({ dir, mode }) {
  const { default: Database } = await import('better-sqlite3')
  const db = mode === 'memory' ? new Database(':memory:') : new Database(join(dir, 'bench.sqlite'))
  if (mode === 'wal') {
    db.pragma('journal_mode = WAL')
    db.pragma('synchronous = NORMAL')
  }
  db.exec(`CREATE TABLE IF NOT EXISTS kv (k TEXT PRIMARY KEY, v TEXT NOT NULL) WITHOUT ROWID;
           CREATE TABLE IF NOT EXISTS cells (k TEXT PRIMARY KEY, version INTEGER NOT NULL, v TEXT NOT NULL) WITHOUT ROWID`)
  return {
    db,
    mode,
    // A put is an upsert, as stratadb's is.
    put: db.prepare('INSERT INTO kv (k, v) VALUES (?, ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v'),
    get: db.prepare('SELECT v FROM kv WHERE k = ?').pluck(),
  }
}

export function fill(ctx, n, keyOf, valueOf) {
  ctx.db.transaction(() => {
    for (let i = 0; i < n; i++) ctx.put.run(keyOf(i), JSON.stringify(valueOf(i)))
  })()
}

export async function close(ctx) {
  ctx.db.close()
}
