/** The facts a result is meaningless without: the machine, the runtime, and the exact builds measured. */
import os from 'node:os'
import { readFileSync, statSync } from 'node:fs'
import { execFileSync } from 'node:child_process'
import { PEER_PACKAGES } from '../drivers/index.mjs'

const readJson = (url) => {
  try {
    return JSON.parse(readFileSync(url, 'utf8'))
  } catch {
    return undefined
  }
}

function gitCommit() {
  try {
    const cwd = new URL('../..', import.meta.url)
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd, encoding: 'utf8' }).trim()
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'crates', 'ts', 'native', 'wasm'], { cwd, encoding: 'utf8' }).trim()
    return dirty ? `${head} + uncommitted changes` : head
  } catch {
    return 'unknown'
  }
}

/**
 * CPU seconds the whole machine spent busy, and those this process and its finished children spent (Linux). Their
 * difference over a run is what other work took from it: on a 2-core machine, enough to skew every figure.
 */
export function cpuSeconds() {
  try {
    const tick = 100 // USER_HZ on Linux
    const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number)
    const busy = cpu.reduce((a, b) => a + b, 0) - cpu[3] - cpu[4] // all but idle and iowait
    const self = readFileSync('/proc/self/stat', 'utf8').split(') ')[1].split(' ')
    const ours = [11, 12, 13, 14].reduce((a, i) => a + Number(self[i]), 0) // utime, stime, cutime, cstime
    return { machine: busy / tick, ours: ours / tick }
  } catch {
    return undefined
  }
}

/** When each stratadb artifact was built: others may rebuild dist/ while a run is going on. */
export function builds() {
  const at = (p) => {
    try {
      return statSync(new URL(`../../${p}`, import.meta.url)).mtime.toISOString()
    } catch {
      return 'missing'
    }
  }
  return { dist: at('dist/index.js'), native: at('native/stratadb.linux-x64-gnu.node'), wasm: at('wasm/strata_wasm_bg.wasm') }
}

export function machine() {
  const cpus = os.cpus()
  const peers = Object.fromEntries(
    Object.values(PEER_PACKAGES).map((name) => [name, readJson(new URL(`../node_modules/${name}/package.json`, import.meta.url))?.version ?? 'not installed']),
  )
  return {
    cpu: cpus[0]?.model ?? 'unknown',
    cores: cpus.length,
    memory: `${Math.round(os.totalmem() / 2 ** 30)} GiB`,
    os: `${os.type()} ${os.release()} (${process.platform}-${process.arch})`,
    node: process.version,
    // Other work on a 2-core machine skews every figure: the load when the run started says whether it was quiet.
    loadAtStart: os.loadavg().map((x) => +x.toFixed(2)),
    stratadb: {
      version: readJson(new URL('../../package.json', import.meta.url))?.version,
      commit: gitCommit(),
      backends: ['native', 'wasm'],
      built: builds(),
    },
    peers,
  }
}
