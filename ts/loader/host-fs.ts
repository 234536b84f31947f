/**
 * File access for the WebAssembly engine on Node and Deno: the methods of the engine's `Storage` trait
 * (crates/strata-core/src/storage.rs), implemented with synchronous `node:fs` calls, which Deno supports too.
 * Only the runtime entries that have a file system import this module.
 */
import * as fs from 'node:fs'
import * as path from 'node:path'

import { StrataError } from '../errors.js'

/** What the WASM binding calls (`HostFs` in crates/strata-wasm). */
export interface HostFs {
  read(name: string): Uint8Array | undefined
  append(name: string, data: Uint8Array): void
  sync(name: string): void
  replace(name: string, data: Uint8Array): void
  truncate(name: string, len: number): void
  createNew(name: string, data: Uint8Array): boolean
  remove(name: string): void
  list(): string[]
  processAlive(pid: number): boolean
  pid(): number
  describe(): string
}

function writeAll(fd: number, data: Uint8Array): void {
  for (let off = 0; off < data.length; ) off += fs.writeSync(fd, data, off)
}

function code(e: unknown): string | undefined {
  return (e as { code?: string }).code
}

/** The database directory `dir`, created (mode 0700) when `create` is set; files are created 0600. */
export function nodeHostFs(dir: string, create: boolean): HostFs {
  try {
    if (create) fs.mkdirSync(dir, { recursive: true, mode: 0o700 })
    dir = fs.realpathSync(dir)
    if (!fs.statSync(dir).isDirectory()) throw new Error('not a directory')
  } catch (e) {
    const why = code(e) === 'ENOENT' ? 'does not exist (readOnly: true and create: false never make one)' : `cannot be opened (${(e as Error).message})`
    throw new StrataError('IO', `${dir} ${why}`)
  }
  const file = (name: string) => path.join(dir, name)
  let log: { name: string; fd: number } | undefined
  const closeLog = () => {
    if (log !== undefined) fs.closeSync(log.fd)
    log = undefined
  }
  return {
    read(name) {
      try {
        return fs.readFileSync(file(name))
      } catch (e) {
        if (code(e) === 'ENOENT') return undefined
        throw e
      }
    },
    append(name, data) {
      if (log?.name !== name) {
        closeLog()
        log = { name, fd: fs.openSync(file(name), 'a', 0o600) }
      }
      writeAll(log.fd, data)
    },
    sync(name) {
      if (log?.name === name) return fs.fdatasyncSync(log.fd)
      const fd = fs.openSync(file(name), 'r')
      try {
        fs.fdatasyncSync(fd)
      } finally {
        fs.closeSync(fd)
      }
    },
    replace(name, data) {
      const tmp = file(`${name}.tmp`)
      const fd = fs.openSync(tmp, 'w', 0o600)
      try {
        writeAll(fd, data)
        fs.fsyncSync(fd)
      } finally {
        fs.closeSync(fd)
      }
      fs.renameSync(tmp, file(name))
      if (process.platform !== 'win32') {
        const d = fs.openSync(dir, 'r')
        try {
          fs.fsyncSync(d)
        } finally {
          fs.closeSync(d)
        }
      }
    },
    truncate(name, len) {
      if (log?.name === name) closeLog()
      const fd = fs.openSync(file(name), 'r+')
      try {
        fs.ftruncateSync(fd, len)
        fs.fsyncSync(fd)
      } finally {
        fs.closeSync(fd)
      }
    },
    createNew(name, data) {
      let fd: number
      try {
        fd = fs.openSync(file(name), 'wx', 0o600)
      } catch (e) {
        if (code(e) === 'EEXIST') return false
        throw e
      }
      try {
        writeAll(fd, data)
        fs.fsyncSync(fd)
      } finally {
        fs.closeSync(fd)
      }
      return true
    },
    remove(name) {
      if (log?.name === name) closeLog()
      fs.rmSync(file(name), { force: true })
    },
    list: () => fs.readdirSync(dir),
    processAlive(pid) {
      try {
        process.kill(pid, 0)
        return true
      } catch (e) {
        return code(e) === 'EPERM'
      }
    },
    pid: () => process.pid,
    describe: () => dir,
  }
}
