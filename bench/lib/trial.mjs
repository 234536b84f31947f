/**
 * One trial, in a fresh child process: one workload against one driver. Run by run.mjs as
 *   node --expose-gc bench/lib/trial.mjs <workload> <driver> <quick|full> <scratch dir>
 * with the driver's environment (STRATADB_BACKEND). Prints one line `@@result <json>` on stdout.
 */
import { drivers } from '../drivers/index.mjs'
import { throughput, Outcome } from './measure.mjs'
import { key, value } from './data.mjs'

const [workloadName, driverName, mode, dir] = process.argv.slice(2)
const quick = mode === 'quick'

async function trial() {
  const driver = drivers[driverName]
  const workload = await import(`../workloads/${workloadName}.mjs`)
  const impl = workload.drivers[driver.family]
  if (!impl) return { status: 'n/a', reason: workload.na?.[driver.family] ?? 'no equivalent in this store' }

  const store = await import(`../drivers/${driver.family}.mjs`)
  const shared = workload.shared ? `bench-${process.pid}` : undefined
  let ctx
  try {
    ctx = await store.open({ dir, mode: driver.mode, shared })
  } catch (e) {
    return { status: 'unavailable', reason: `cannot load or open: ${e.message.split('\n')[0]}` }
  }
  for (const need of workload.needs ?? []) {
    if (ctx.features && !ctx.features[need]) return { status: 'not implemented', reason: `stratadb has no ${need} yet` }
  }

  const p = {
    ...workload.params(quick),
    quick,
    dir,
    fill: (n, keyOf = key, valueOf = value) => store.fill(ctx, n, keyOf, valueOf),
    workers: { workload: workloadName, family: driver.family, mode: driver.mode, dir, shared },
  }
  const out = await impl(ctx, p)
  let metrics
  if (workload.kind === 'custom') metrics = out.metrics
  else {
    // A driver may run fewer, larger ops than the workload's default (a 1M-entry copy is one op).
    const run = typeof out === 'function' ? { run: out } : out
    const settings = { ...p, ...Object.fromEntries(Object.entries(run).filter(([, v]) => typeof v === 'number')) }
    metrics = { ops: await throughput(run, settings, workload.input && ((s) => workload.input(settings, s))) }
    if (run.extra) Object.assign(metrics, run.extra())
  }
  await store.close(ctx)
  return { status: 'ok', metrics, backend: ctx.backend }
}

let result
try {
  result = await trial()
} catch (e) {
  result = e instanceof Outcome ? { status: e.status, reason: e.message } : { status: 'error', reason: e.stack }
}
process.stdout.write(`\n@@result ${JSON.stringify(result)}\n`)
// lmdb and LevelDB keep threads that could hold the process open; the result is out.
process.exit(0)
