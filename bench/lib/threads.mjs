/**
 * Worker threads that hammer one store together. Each worker opens the store itself (stratadb: the same named
 * in-memory database; peers: the same file), waits at a barrier so that none starts before all are ready, runs its
 * workload's task until the main thread raises the stop flag, and reports what it counted.
 */
import { Worker } from 'node:worker_threads'

const READY = 0
const STOP = 1
const GO = 2

export async function runWorkers({ workload, family, mode, dir, shared, cells, durationMs }) {
  const flags = new Int32Array(new SharedArrayBuffer(12))
  const workers = cells.map(
    (cell) => new Worker(new URL('./worker.mjs', import.meta.url), { workerData: { workload, family, mode, dir, shared, cell, flags } }),
  )
  let failure
  const results = workers.map(
    (w) =>
      new Promise((resolve, reject) => {
        w.once('message', resolve)
        w.once('error', (e) => reject((failure = e)))
      }),
  )
  // Opening the store and loading code are not part of the measurement; a worker that failed to open never arrives.
  while (Atomics.load(flags, READY) < workers.length) {
    if (failure) throw failure
    await sleep(5)
  }
  const t0 = performance.now()
  Atomics.store(flags, GO, 1)
  Atomics.notify(flags, GO)
  await sleep(durationMs)
  Atomics.store(flags, STOP, 1)
  const seconds = (performance.now() - t0) / 1000
  const counts = await Promise.all(results)
  await Promise.all(workers.map((w) => w.terminate()))
  return { seconds, counts }
}

/** Called by the worker: marks it ready, waits for the go, returns the stop check for its loop. */
export function barrier(flags) {
  Atomics.add(flags, READY, 1)
  Atomics.wait(flags, GO, 0)
  return () => Atomics.load(flags, STOP) === 1
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
