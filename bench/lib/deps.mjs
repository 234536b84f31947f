/**
 * Installs bench/'s own dependencies (the peers) when they are missing, from bench/package-lock.json. They are not
 * the package's dependencies: they live in bench/node_modules. A peer that fails to install is not fatal: its
 * trials report it as unavailable.
 */
import { spawnSync } from 'node:child_process'
import { createRequire } from 'node:module'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { PEER_PACKAGES } from '../drivers/index.mjs'

const BENCH = fileURLToPath(new URL('..', import.meta.url))

function missing() {
  const require = createRequire(new URL('../package.json', import.meta.url))
  return Object.values(PEER_PACKAGES).filter((name) => {
    try {
      require.resolve(name)
      return false
    } catch {
      return true
    }
  })
}

const npm = (...args) => spawnSync('npm', [...args, '--prefix', BENCH, '--no-audit', '--no-fund'], { stdio: 'inherit' }).status === 0

export function ensureDeps() {
  let absent = missing()
  if (absent.length === 0) return
  console.log(`bench: installing the peers (${absent.join(', ')}) into bench/node_modules`)
  const lock = existsSync(new URL('../package-lock.json', import.meta.url))
  if (npm(lock ? 'ci' : 'install')) return
  // `npm ci` is all or nothing: when one peer fails to build, install the others one by one.
  absent = missing()
  for (const name of absent) {
    if (!npm('install', '--no-save', name)) console.warn(`bench: ${name} did not install; its driver is reported as unavailable`)
  }
}
