/**
 * The workloads in the order they run and are reported. A workload is a module here exporting:
 *   title, kind ('throughput': ops/s compared across drivers; 'custom': its own metrics),
 *   params(quick) → sizes, drivers: { <family>: (ctx, p) => … }, and optionally
 *   input(p, sample) (untimed per-sample data), na / notes: { <family>: text }, needs: [feature] (stratadb features
 *   such as 'open', 'events', 'json', 'vector': until the build has them the trial reports "not implemented"),
 *   quick: false (skipped by --quick) or quickDrivers: [names], processes (custom: one sample per fresh process),
 *   nodeFlags (for the trial's node), timeout (seconds, default 300).
 * A workload for events, JSON documents or vectors slots in as one more module and one more name below.
 */
export const WORKLOADS = [
  'put-seq',
  'put-random',
  'get-hit',
  'get-miss',
  'get-sizes',
  'list-prefix',
  'cas',
  'tx-10',
  'put-10',
  'fork-1k',
  'fork-1m',
  'get-as-of',
  'fork-depth',
  'memory-versions',
  'memory-forks',
  'threads-contended',
  'threads-scaling',
  'put-durable',
  'events-append',
  'vector-search',
]
