#!/usr/bin/env node
/**
 * The benchmark harness: every workload (workloads/) against every driver (drivers/), each trial in a fresh child
 * process (lib/trial.mjs), then results/<date>.json, RESULTS.md and chart.svg.
 *
 *   npm run bench                   the full run (about 10 minutes on 2 cores); writes RESULTS.md and chart.svg
 *   npm run bench -- --quick        under a minute: fewer ops and samples, slowest trials left out;
 *                                   writes results/<date>-quick.json and prints the tables
 *   npm run bench -- --only=get-hit,cas --drivers=stratadb-native,lmdb
 *   npm run bench -- --render=bench/results/2025-01-01.json   re-render RESULTS.md and chart.svg from a saved run
 */
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync, readFileSync, mkdirSync, cpSync } from 'node:fs'
import os, { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createRequire } from 'node:module'
import { drivers } from './drivers/index.mjs'
import { WORKLOADS } from './workloads/index.mjs'
import { ensureDeps } from './lib/deps.mjs'
import { machine, builds, cpuSeconds } from './lib/machine.mjs'
import { merge } from './lib/measure.mjs'
import { evaluate } from './lib/targets.mjs'
import { render } from './lib/report.mjs'
import { chart } from './lib/chart.mjs'
import * as f from './lib/format.mjs'

const here = (p) => fileURLToPath(new URL(p, import.meta.url))
const args = Object.fromEntries(
  process.argv.slice(2).map((a) => {
    const [k, v] = a.replace(/^--/, '').split('=')
    return [k, v ?? true]
  }),
)
const list = (v) => (typeof v === 'string' ? v.split(',') : undefined)

/** Only a full run of everything replaces RESULTS.md and chart.svg; a quick or partial run prints its tables. */
function write(results, { full }) {
  const name = `${results.date}${full ? '' : `-${results.mode}`}.json`
  mkdirSync(here('./results'), { recursive: true })
  writeFileSync(here(`./results/${name}`), JSON.stringify(results, null, 2) + '\n')
  const markdown = render(results)
  if (full) {
    writeFileSync(here('./RESULTS.md'), markdown + '\n')
    writeFileSync(here('./chart.svg'), chart(results))
    console.log(`\nbench: wrote bench/results/${name}, bench/RESULTS.md, bench/chart.svg`)
  } else {
    console.log(`\n${markdown}\n\nbench: wrote bench/results/${name} (only a full run replaces RESULTS.md and chart.svg)`)
  }
}

if (args.render) {
  const results = JSON.parse(readFileSync(args.render, 'utf8'))
  results.targets = evaluate(results)
  write(results, { full: results.mode === 'full' })
  process.exit(0)
}

const quick = args.quick === true
const workloadNames = list(args.only) ?? WORKLOADS
const driverNames = list(args.drivers) ?? Object.keys(drivers)
const partial = workloadNames.length < WORKLOADS.length || driverNames.length < Object.keys(drivers).length
const mode = quick ? 'quick' : partial ? 'partial' : 'full'
for (const n of workloadNames) if (!WORKLOADS.includes(n)) throw new Error(`unknown workload ${n} (known: ${WORKLOADS.join(', ')})`)
for (const n of driverNames) if (!drivers[n]) throw new Error(`unknown driver ${n} (known: ${Object.keys(drivers).join(', ')})`)

ensureDeps()

// The build measured: a copy of dist/, native/ and wasm/ taken now (same layout, so the entry finds its addon and
// module), because others may rebuild them while a run takes minutes.
const build = mkdtempSync(join(tmpdir(), 'stratadb-bench-build-'))
for (const part of ['package.json', 'dist', 'native', 'wasm']) cpSync(here(`../${part}`), join(build, part), { recursive: true })
process.env.STRATADB_BENCH_DIST = join(build, 'dist', 'index.js')
process.on('exit', () => rmSync(build, { recursive: true, force: true }))

const started = performance.now()
const cpuAtStart = cpuSeconds()
const unavailable = {} // driver → reason, once a trial found it cannot load: no need to try again
const results = {
  date: new Date().toLocaleDateString('sv'), // YYYY-MM-DD, local time
  mode,
  command: ['npm run bench', ...(process.argv.length > 2 ? ['--', ...process.argv.slice(2)] : [])].join(' '),
  machine: { ...machine(), sqlite: sqliteVersion() },
  workloads: [],
}

/** One child process: the trial's result, or an error with the end of what it printed. */
function spawnTrial(workload, driver, { timeout = 300, nodeFlags = [] }) {
  const dir = mkdtempSync(join(tmpdir(), 'stratadb-bench-'))
  try {
    const child = spawnSync(process.execPath, ['--expose-gc', ...nodeFlags, here('./lib/trial.mjs'), workload, driver, quick ? 'quick' : 'full', dir], {
      env: { ...process.env, ...drivers[driver].env },
      encoding: 'utf8',
      timeout: timeout * 1000,
      maxBuffer: 64 << 20,
    })
    const line = child.stdout?.split('\n').find((l) => l.startsWith('@@result '))
    if (line) return JSON.parse(line.slice('@@result '.length))
    const why = child.error ? child.error.message : `exit ${child.status ?? child.signal}`
    return { status: 'error', reason: `${why}: ${(child.stderr ?? '').trim().split('\n').slice(-5).join(' / ')}` }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

function runTrial(name, workload, driver) {
  if (quick && workload.quick === false) return { status: 'skipped', reason: 'left out of --quick' }
  if (quick && workload.quickDrivers && !workload.quickDrivers.includes(driver)) return { status: 'skipped', reason: 'left out of --quick' }
  if (unavailable[driver]) return { status: 'unavailable', reason: unavailable[driver] }
  const family = drivers[driver].family
  if (!workload.drivers[family]) return { status: 'n/a', reason: workload.na?.[family] ?? 'no equivalent in this store' }
  // Memory workloads take one sample per process: the processes' samples are merged.
  const processes = (quick ? workload.quickProcesses : workload.processes) ?? 1
  const runs = []
  for (let i = 0; i < processes; i++) {
    const r = spawnTrial(name, driver, workload)
    if (r.status !== 'ok') {
      if (r.status === 'unavailable') unavailable[driver] = r.reason
      return r
    }
    runs.push(r)
  }
  const metrics = Object.fromEntries(Object.keys(runs[0].metrics).map((k) => [k, merge(runs.map((r) => r.metrics[k]))]))
  return { status: 'ok', metrics }
}

for (const name of workloadNames) {
  const workload = await import(`./workloads/${name}.mjs`)
  const entry = { name, title: workload.title, kind: workload.kind, notes: workload.notes, rows: {} }
  results.workloads.push(entry)
  for (const driver of driverNames) {
    const t0 = performance.now()
    const row = runTrial(name, workload, driver)
    row.seconds = (performance.now() - t0) / 1000
    entry.rows[driver] = row
    const shown = row.status === 'ok' ? Object.entries(row.metrics).map(([k, s]) => (k === 'ops' ? f.stat(s) : `${k}: ${f.stat(s)}`)).join('; ') : `${row.status}: ${row.reason}`
    console.log(`${name.padEnd(18)} ${driver.padEnd(16)} ${shown.split('\n')[0]}  [${row.seconds.toFixed(1)} s]`)
  }
}
results.seconds = (performance.now() - started) / 1000
results.machine.loadAtEnd = os.loadavg().map((x) => +x.toFixed(2))
results.warnings = []
if (JSON.stringify(builds()) !== JSON.stringify(results.machine.stratadb.built)) {
  results.warnings.push('the stratadb build was rebuilt during the run; the run measured the build as it was at its start')
}
const cpuAtEnd = cpuSeconds()
if (cpuAtStart && cpuAtEnd) {
  const others = cpuAtEnd.machine - cpuAtStart.machine - (cpuAtEnd.ours - cpuAtStart.ours)
  results.machine.otherWork = `${Math.max(0, others).toFixed(0)} CPU-seconds (${Math.max(0, (100 * others) / results.seconds).toFixed(0)}% of a core on average)`
  if (others / results.seconds > 0.2) {
    results.warnings.push(`other processes used ${results.machine.otherWork} during the run: figures are skewed, peers and stratadb alike`)
  }
}
results.targets = evaluate(results)
write(results, { full: mode === 'full' })

function sqliteVersion() {
  try {
    const Database = createRequire(import.meta.url)('better-sqlite3')
    const db = new Database(':memory:')
    const v = db.prepare('SELECT sqlite_version()').pluck().get()
    db.close()
    return v
  } catch {
    return undefined
  }
}
