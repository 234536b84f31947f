/** One worker thread of a threads workload (see threads.mjs): open, wait for the go, run the task, report. */
import { parentPort, workerData } from 'node:worker_threads'
import { barrier } from './threads.mjs'

const { workload, family, mode, dir, shared, cell, flags } = workerData
const store = await import(`../drivers/${family}.mjs`)
const ctx = await store.open({ dir, mode, shared })
const { tasks } = await import(`../workloads/${workload}.mjs`)
const stopped = barrier(flags)
const counts = tasks[family](ctx, cell, stopped)
await store.close(ctx)
parentPort.postMessage(counts)
